"""DescribeLaunchTemplates and DescribeLaunchTemplateVersions: every match, paged by MaxResults and NextToken.

moto stops at 15 launch templates or versions, ignores NextToken and the version Filters, and returns a version
twice when it is both ``$Latest`` and ``$Default``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    FilterNotImplementedError,
    InvalidLaunchTemplateIdNotFound,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateVersion
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import generic_filter, is_filter_matching

from ._common import MOTO
from .pagination import max_results_in_range, page

# DescribeLaunchTemplates and DescribeLaunchTemplateVersions MaxResults.
_LAUNCH_TEMPLATE_MAX_RESULTS_RANGE = (1, 200)
_ALL_TEMPLATES_VERSIONS_MESSAGE = (
    "To describe the launch template versions of all your launch templates, specify $Latest, $Default or both for "
    "Versions and omit the launch template ID and name. To describe versions of one launch template, specify its "
    "ID or name."
)


def install() -> None:
    MOTO.update(
        describe_launch_templates=LaunchTemplates.describe_launch_templates,
        describe_launch_template_versions=LaunchTemplates.describe_launch_template_versions,
    )
    LaunchTemplates.describe_launch_templates = _describe_launch_templates_action  # type: ignore[method-assign]
    LaunchTemplates.describe_launch_template_versions = _describe_versions_action  # type: ignore[method-assign]


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
        "LatestVersionNumber": template.latest_version_number,
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "Tags": template.get_tags(),
    }


def _describe_versions_action(self: LaunchTemplates) -> ActionResult:
    """DescribeLaunchTemplateVersions: every match, paged by MaxResults (1 to 200) and NextToken, with Filters.

    moto stops at 15, ignores Filters and returns a version twice when it is both ``$Latest`` and ``$Default``.
    """
    name = self._get_param("LaunchTemplateName")
    template_id = self._get_param("LaunchTemplateId")
    versions = [str(v) for v in self._get_param("Versions", [])]
    min_version = self._get_int_param("MinVersion")
    max_version = self._get_int_param("MaxVersion")
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
        if template is not None and number <= len(template.versions):
            views.append(_version_view(template, template.versions[number - 1], created_by))
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
        raise InvalidParameterCombination(
            "Specify either the launch template ID or the launch template name, not both."
        )
    if name or template_id:
        template = backend.get_launch_template_by_name(name) if name else backend.get_launch_template(template_id)
        if versions:
            chosen = [template.get_version(v) for v in versions]
        else:
            low, high = min_version or 1, max_version or len(template.versions)
            chosen = [v for v in template.versions if low <= v.number <= high]
        return [(template, v) for v in _distinct_versions(chosen)]
    if not versions:
        raise MissingParameter(_ALL_TEMPLATES_VERSIONS_MESSAGE)
    wanted = {v.lower() for v in versions}
    if not wanted <= {"$latest", "$default"}:
        raise InvalidParameterValue(_ALL_TEMPLATES_VERSIONS_MESSAGE)
    pairs = []
    for template in backend.launch_templates.values():
        chosen = [template.latest_version()] if "$latest" in wanted else []
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
