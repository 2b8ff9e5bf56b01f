"""DescribeLaunchTemplates and DescribeLaunchTemplateVersions: every match, paged by MaxResults and NextToken;
ResolveAlias; DeleteLaunchTemplateVersions; CreateLaunchTemplateVersion with SourceVersion and ClientToken;
ModifyLaunchTemplate DefaultVersion.

moto stops at 15 launch templates or versions, ignores NextToken, the version Filters and ResolveAlias, returns a
version twice when it is both ``$Latest`` and ``$Default``, and lacks DeleteLaunchTemplateVersions.

A deleted version is left in moto's list (moto numbers a new version by the list's length, so numbers are not
reused) and hidden from both describe actions; LatestVersionNumber is then the highest version left. What EC2
reports after its latest version is deleted is not documented: this is an assumption.

moto's CreateLaunchTemplateVersion ignores SourceVersion (the new version holds only the data given) and
ClientToken (every request adds a version), and its ModifyLaunchTemplate accepts a deleted version as default.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    FilterNotImplementedError,
    InvalidLaunchTemplateIdNotFound,
    InvalidLaunchTemplateVersionNotFound,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateVersion
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import generic_filter, is_filter_matching
from moto.ssm.exceptions import ParameterVersionNotFound
from moto.ssm.models import ssm_backends

from ._common import LOCK, MOTO, IdempotentParameterMismatch
from .pagination import max_results_in_range, page

# DescribeLaunchTemplates and DescribeLaunchTemplateVersions MaxResults.
_LAUNCH_TEMPLATE_MAX_RESULTS_RANGE = (1, 200)
_ALL_TEMPLATES_VERSIONS_MESSAGE = (
    "To describe the launch template versions of all your launch templates, specify $Latest, $Default or both for "
    "Versions and omit the launch template ID and name. To describe versions of one launch template, specify its "
    "ID or name."
)
_SSM_ALIAS = "resolve:ssm:"  # an ImageId naming a Systems Manager parameter whose value is the AMI
_DELETED_VERSIONS = "_fidelity_deleted_versions"  # kept on moto's LaunchTemplate
_VERSION_TOKENS = "_fidelity_launch_template_version_tokens"  # kept on moto's EC2 backend
_CLIENT_TOKEN_MAX = 128  # ASCII characters


def install() -> None:
    MOTO.update(
        describe_launch_templates=LaunchTemplates.describe_launch_templates,
        describe_launch_template_versions=LaunchTemplates.describe_launch_template_versions,
        create_launch_template_version=LaunchTemplates.create_launch_template_version,
        modify_launch_template=LaunchTemplates.modify_launch_template,
    )
    LaunchTemplates.describe_launch_templates = _describe_launch_templates_action  # type: ignore[method-assign]
    LaunchTemplates.describe_launch_template_versions = _describe_versions_action  # type: ignore[method-assign]
    LaunchTemplates.delete_launch_template_versions = _delete_versions_action  # type: ignore[attr-defined]
    LaunchTemplates.create_launch_template_version = _create_version_action  # type: ignore[method-assign]
    LaunchTemplates.modify_launch_template = _modify_launch_template_action  # type: ignore[method-assign]


def _describe_launch_templates_action(self: LaunchTemplates) -> ActionResult:
    """Every match, paged by MaxResults (1 to 200) and NextToken; moto stops at 15 and ignores NextToken."""
    names = self._get_param("LaunchTemplateNames", [])
    template_ids = self._get_param("LaunchTemplateIds", [])
    filters = self._filters_from_querystring()
    max_results = max_results_in_range(self._get_param("MaxResults"), *_LAUNCH_TEMPLATE_MAX_RESULTS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        return [template.id for template in _select_launch_templates(backend, template_ids, names, filters)]

    keys, token = page(backend, "DescribeLaunchTemplates", next_token, max_results, select)
    created_by = f"arn:{self.partition}:iam::{self.current_account}:root"
    templates = [_template_view(t, created_by) for t in map(backend.launch_templates.get, keys) if t is not None]
    return ActionResult({"LaunchTemplates": templates, "NextToken": token})


def _select_launch_templates(
    backend: Any, template_ids: list[str], names: list[str], filters: dict[str, Any]
) -> list[LaunchTemplate]:
    """LaunchTemplateIds and LaunchTemplateNames (together, if both are given), then Filters.

    Every id and name must exist: InvalidLaunchTemplateId.NotFound, InvalidLaunchTemplateName.NotFoundException.
    """
    if not template_ids and not names:
        templates = list(backend.launch_templates.values())
    else:
        wanted: list[str] = []
        for template_id in template_ids:
            if template_id not in backend.launch_templates:
                raise InvalidLaunchTemplateIdNotFound(template_id)
            wanted.append(template_id)
        for name in names:
            wanted.append(backend.get_launch_template_by_name(name).id)
        templates = [backend.launch_templates[template_id] for template_id in dict.fromkeys(wanted)]
    selected: list[LaunchTemplate] = generic_filter(filters, templates)
    return selected


def _template_view(template: LaunchTemplate, created_by: str) -> dict[str, Any]:
    """A LaunchTemplate element; Tags are the template's current tags (moto's copy dates from its creation)."""
    return {
        "CreateTime": template.create_time,
        "CreatedBy": created_by,
        "DefaultVersionNumber": template.default_version_number,
        "LatestVersionNumber": _live_versions(template)[-1].number,
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "Tags": template.get_tags(),
    }


def _describe_versions_action(self: LaunchTemplates) -> ActionResult:
    """DescribeLaunchTemplateVersions: every match, paged by MaxResults (1 to 200) and NextToken, with Filters
    and ResolveAlias.

    moto stops at 15, ignores Filters and ResolveAlias, and returns a version twice when it is both ``$Latest``
    and ``$Default``.
    """
    name = self._get_param("LaunchTemplateName")
    template_id = self._get_param("LaunchTemplateId")
    versions = [str(v) for v in self._get_param("Versions", [])]
    min_version = self._get_int_param("MinVersion")
    max_version = self._get_int_param("MaxVersion")
    resolve_alias = bool(self._get_bool_param("ResolveAlias", False))
    filters: dict[str, Any] = self._filters_from_querystring()  # moto annotates str values; they are lists
    max_results = max_results_in_range(self._get_param("MaxResults"), *_LAUNCH_TEMPLATE_MAX_RESULTS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[tuple[str, int]]:
        chosen = _select_versions(backend, name, template_id, versions, min_version, max_version)
        return [(t.id, v.number) for t, v in chosen if all(_version_matches(t, v, f, vs) for f, vs in filters.items())]

    keys, token = page(backend, "DescribeLaunchTemplateVersions", next_token, max_results, select)
    created_by = f"arn:{self.partition}:iam::{self.current_account}:root"
    views = []
    for key_template_id, number in keys:
        template = backend.launch_templates.get(key_template_id)
        if template is not None and number <= len(template.versions) and number not in _deleted_versions(template):
            view = _version_view(template, template.versions[number - 1], created_by)
            if resolve_alias:
                view["LaunchTemplateData"] = _resolved(view["LaunchTemplateData"], self.current_account, self.region)
            views.append(view)
    return ActionResult({"LaunchTemplateVersions": views, "NextToken": token})


def _select_versions(
    backend: Any,
    name: str | None,
    template_id: str | None,
    versions: list[str],
    min_version: int | None,
    max_version: int | None,
) -> list[tuple[LaunchTemplate, LaunchTemplateVersion]]:
    """The versions asked for, each once, templates in creation order and versions in the order asked.

    One template (by id or name, not both): the listed Versions (``$Latest``, ``$Default``, numbers), else every
    version from MinVersion to MaxVersion (both inclusive, as moto reads them). No template: Versions must be
    ``$Latest`` and/or ``$Default``, and those versions of every launch template in the account are described.
    """
    if name and template_id:
        _one_template(name, template_id)
    if name or template_id:
        template = backend.get_launch_template_by_name(name) if name else backend.get_launch_template(template_id)
        if versions:
            chosen = [_live_version(template, v) for v in versions]
        else:
            low, high = min_version or 1, max_version or len(template.versions)
            chosen = [v for v in _live_versions(template) if low <= v.number <= high]
        return [(template, v) for v in _distinct_versions(chosen)]
    if not versions:
        raise MissingParameter(_ALL_TEMPLATES_VERSIONS_MESSAGE)
    wanted = {v.lower() for v in versions}
    if not wanted <= {"$latest", "$default"}:
        raise InvalidParameterValue(_ALL_TEMPLATES_VERSIONS_MESSAGE)
    pairs = []
    for template in backend.launch_templates.values():
        chosen = [_live_versions(template)[-1]] if "$latest" in wanted else []
        chosen += [template.default_version()] if "$default" in wanted else []
        pairs += [(template, v) for v in _distinct_versions(chosen)]
    return pairs


def _distinct_versions(versions: list[LaunchTemplateVersion]) -> list[LaunchTemplateVersion]:
    """A version is described once, even when it is both ``$Latest`` and ``$Default``."""
    return list({v.number: v for v in versions}.values())


def _version_matches(template: LaunchTemplate, version: LaunchTemplateVersion, name: str, values: list[str]) -> bool:
    """One DescribeLaunchTemplateVersions filter (moto's matching: wildcards, booleans as true/false)."""
    data: dict[str, Any] = version.data
    metadata: dict[str, Any] = data.get("MetadataOptions") or {}
    readers: dict[str, Callable[[], Any]] = {
        "create-time": lambda: version.create_time,
        "ebs-optimized": lambda: bool(data.get("EbsOptimized", False)),
        "http-endpoint": lambda: metadata.get("HttpEndpoint"),
        "http-protocol-ipv4": lambda: metadata.get("HttpProtocolIpv4"),
        "http-tokens": lambda: metadata.get("HttpTokens"),
        "iam-instance-profile": lambda: (data.get("IamInstanceProfile") or {}).get("Arn"),
        "image-id": lambda: data.get("ImageId"),
        "instance-type": lambda: data.get("InstanceType"),
        "is-default-version": lambda: template.is_default(version),
        "kernel-id": lambda: data.get("KernelId"),
        "ram-disk-id": lambda: data.get("RamDiskId"),
    }
    if name not in readers:
        raise FilterNotImplementedError(name, "DescribeLaunchTemplateVersions")
    return bool(is_filter_matching(_FilterValue(readers[name]()), name, values))


@dataclass(frozen=True)
class _FilterValue:
    """Adapts one value to moto's filter matching, which asks the object for it."""

    value: Any

    def get_filter_value(self, filter_name: str) -> Any:
        return self.value


def _version_view(template: LaunchTemplate, version: LaunchTemplateVersion, created_by: str) -> dict[str, Any]:
    return {
        "CreateTime": version.create_time,
        "CreatedBy": created_by,
        "DefaultVersion": template.is_default(version),
        "LaunchTemplateData": version.data,
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "VersionDescription": version.description,
        "VersionNumber": version.number,
    }


def _resolved(data: dict[str, Any], account_id: str, region: str) -> dict[str, Any]:
    """ResolveAlias: an ImageId ``resolve:ssm:<name>[:<version or label>]`` becomes the parameter's value now.

    A parameter (or version) that does not exist leaves the alias as given: what EC2 answers then is not
    documented, and the product accepts nothing but an AMI id.
    """
    image_id = data.get("ImageId") or ""
    if not image_id.startswith(_SSM_ALIAS):
        return data
    try:
        parameter = ssm_backends[account_id][region].get_parameter(image_id.removeprefix(_SSM_ALIAS))
    except ParameterVersionNotFound:
        parameter = None
    return data if parameter is None else {**data, "ImageId": parameter.value}


def _deleted_versions(template: LaunchTemplate) -> set[int]:
    deleted: set[int] = template.__dict__.setdefault(_DELETED_VERSIONS, set())
    return deleted


def _live_versions(template: LaunchTemplate) -> list[LaunchTemplateVersion]:
    """The versions not deleted, oldest first; the default version is never deleted, so one is always left."""
    deleted = _deleted_versions(template)
    return [v for v in template.versions if v.number not in deleted]


def _live_version(template: LaunchTemplate, version: str) -> LaunchTemplateVersion:
    """``$Latest``, ``$Default`` or a number; a deleted version is InvalidLaunchTemplateId.VersionNotFound."""
    if version.lower() == "$latest":
        return _live_versions(template)[-1]
    found: LaunchTemplateVersion = template.get_version(version)
    if found.number in _deleted_versions(template):
        raise InvalidLaunchTemplateVersionNotFound(version, template.id)
    return found


def _one_template(name: str | None, template_id: str | None) -> None:
    """A request names its template by ID or by name: exactly one."""
    if name and template_id:
        raise InvalidParameterCombination(
            "Specify either the launch template ID or the launch template name, not both."
        )
    if not name and not template_id:
        raise MissingParameter("launch template ID or launch template name")


def _delete_versions_action(self: LaunchTemplates) -> ActionResult:
    """DeleteLaunchTemplateVersions: up to 200 versions of one template, each reported deleted or not.

    A version that does not exist (or is deleted already) is launchTemplateVersionDoesNotExist, an unknown
    template launchTemplateIdDoesNotExist or launchTemplateNameDoesNotExist. The default version cannot be
    deleted; the code EC2 reports for it is not documented, unexpectedError is assumed.
    """
    name = self._get_param("LaunchTemplateName")
    template_id = self._get_param("LaunchTemplateId")
    versions = [str(v) for v in self._get_param("Versions", [])]
    self.error_on_dryrun()
    _one_template(name, template_id)
    if not versions or len(versions) > 200:
        raise InvalidParameterValue("Specify between 1 and 200 launch template versions to delete.")
    backend = self.ec2_backend
    template_id = backend.launch_template_name_to_ids.get(name) if name else template_id
    template: LaunchTemplate | None = backend.launch_templates.get(template_id or "")
    deleted: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for version in versions:
        item: dict[str, Any] = {"LaunchTemplateId": template_id or "", "LaunchTemplateName": name or ""}
        number = int(version) if version.isdigit() else 0
        item["VersionNumber"] = number
        if template is None:
            code = "launchTemplateNameDoesNotExist" if name else "launchTemplateIdDoesNotExist"
            refused.append(item | {"ResponseError": {"Code": code, "Message": "The launch template does not exist."}})
            continue
        item["LaunchTemplateName"] = template.name
        with LOCK:
            live = {v.number for v in _live_versions(template)}
            if number not in live:
                error = {"Code": "launchTemplateVersionDoesNotExist", "Message": f"Version {version} does not exist."}
                refused.append(item | {"ResponseError": error})
            elif number == template.default_version_number:
                error = {"Code": "unexpectedError", "Message": "The default version cannot be deleted."}
                refused.append(item | {"ResponseError": error})
            else:
                _deleted_versions(template).add(number)
                deleted.append(item)
    return ActionResult(
        {"SuccessfullyDeletedLaunchTemplateVersions": deleted, "UnsuccessfullyDeletedLaunchTemplateVersions": refused}
    )


def _create_version_action(self: LaunchTemplates) -> ActionResult:
    """CreateLaunchTemplateVersion with SourceVersion and ClientToken.

    SourceVersion: the new version inherits the source version's launch parameters, and those given in
    LaunchTemplateData overwrite the corresponding inherited ones; snapshots in the inherited block device mappings
    are not inherited (only explicitly given ones are kept). ClientToken (at most 128 ASCII characters): the same
    token and request in this account and region returns the version the first request created; the same token
    with another request is IdempotentParameterMismatch.
    """
    name = self._get_param("LaunchTemplateName")
    template_id = self._get_param("LaunchTemplateId")
    source_version = self._get_param("SourceVersion")
    description = self._get_param("VersionDescription")
    data: dict[str, Any] = self._get_param("LaunchTemplateData", {})
    client_token = self._get_param("ClientToken")
    self.error_on_dryrun()
    _one_template(name, template_id)
    if client_token is not None and (len(client_token) > _CLIENT_TOKEN_MAX or not client_token.isascii()):
        raise InvalidParameterValue(f"ClientToken must be at most {_CLIENT_TOKEN_MAX} ASCII characters.")
    backend = self.ec2_backend
    with LOCK:
        template: LaunchTemplate = (
            backend.get_launch_template_by_name(name) if name else backend.get_launch_template(template_id)
        )
        request = (template.id, str(source_version or ""), repr(sorted(data.items())), description or "")
        tokens: dict[str, tuple[tuple[str, str, str, str], LaunchTemplateVersion]] = backend.__dict__.setdefault(
            _VERSION_TOKENS, {}
        )
        if client_token is not None and client_token in tokens:
            first, version = tokens[client_token]
            if first != request:
                raise IdempotentParameterMismatch(client_token)
        else:
            if source_version is not None:
                data = _inherited(_live_version(template, str(source_version)).data) | data
            version = template.create_version(data, description)
            if client_token is not None:
                tokens[client_token] = (request, version)
    created_by = f"arn:{self.partition}:iam::{self.current_account}:root"
    return ActionResult({"LaunchTemplateVersion": _version_view(template, version, created_by)})


def _inherited(data: dict[str, Any]) -> dict[str, Any]:
    """A source version's launch parameters as a new version inherits them: without its mappings' snapshots."""
    inherited = copy.deepcopy(data)
    for mapping in inherited.get("BlockDeviceMappings") or []:
        ebs = mapping.get("Ebs")
        if isinstance(ebs, dict):
            ebs.pop("SnapshotId", None)
    return inherited


def _modify_launch_template_action(self: LaunchTemplates) -> ActionResult:
    """ModifyLaunchTemplate DefaultVersion: a deleted version cannot become the default
    (InvalidLaunchTemplateId.VersionNotFound); otherwise moto's behaviour."""
    name = self._get_param("LaunchTemplateName")
    template_id = self._get_param("LaunchTemplateId")
    default_version = self._get_param("DefaultVersion")
    backend = self.ec2_backend
    if default_version is not None and (name or template_id) and not (name and template_id):
        template_id = backend.launch_template_name_to_ids.get(name) if name else template_id
        template: LaunchTemplate | None = backend.launch_templates.get(template_id or "")
        if template is not None:
            _live_version(template, str(default_version))
    result: ActionResult = MOTO["modify_launch_template"](self)
    return result
