"""DescribeImageReferences: the caller's instances, launch templates and SSM parameters that use given AMIs.

moto 5.2.5 does not implement the action. EC2 searches the caller's own account and Region only, for any AMI id
(the AMI need not exist or be the caller's), and reports ``{ImageId, ResourceType, Arn}`` per referencing
resource:

- ``ec2:Instance``: instances launched from the AMI, in every state unless the ``state-name`` option narrows them
  (terminated ones included, for as long as moto keeps them);
- ``ec2:LaunchTemplate``: templates whose newest ``version-depth`` versions (default 10) name the AMI as ImageId,
  each template once; a version whose ImageId is a ``resolve:ssm:`` alias is not resolved (EC2 documents nothing
  about aliases; the parameter itself is reported as ``ssm:Parameter``);
- ``ssm:Parameter``: parameters of data type ``aws:ec2:image`` whose current value is the AMI id (names under the
  reserved ``/aws/`` prefix are AWS's public parameters, not the caller's);
- ``imagebuilder:ImageRecipe`` / ``imagebuilder:ContainerRecipe``: accepted, but moto has no Image Builder, so no
  recipe is ever reported.

IncludeAllResourceTypes checks every type with its default options; options given in ResourceTypes override the
defaults of the type they are given on only. MaxResults (5 to 1,000) and NextToken page the references.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidParameterValue, MalformedAMIIdError, MissingParameter
from moto.ec2.responses.amis import AmisResponse
from moto.ssm.models import ssm_backends
from moto.ssm.utils import parameter_arn

from .pagination import max_results_in_range, page

_IMAGE_IDS_RANGE = (1, 10)
_MAX_RESULTS_RANGE = (5, 1000)
_VERSION_DEPTH_RANGE = (1, 10000)
_DEFAULT_VERSION_DEPTH = 10
_INSTANCE_STATES = frozenset({"pending", "running", "shutting-down", "terminated", "stopping", "stopped"})
_INSTANCE, _LAUNCH_TEMPLATE, _PARAMETER = "ec2:Instance", "ec2:LaunchTemplate", "ssm:Parameter"
_RESOURCE_TYPES = (_INSTANCE, _LAUNCH_TEMPLATE, _PARAMETER, "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe")
_OPTIONS = {_INSTANCE: "state-name", _LAUNCH_TEMPLATE: "version-depth"}  # the one option each type takes
_IMAGE_DATA_TYPE = "aws:ec2:image"
_AWS_PARAMETER_PREFIX = "/aws/"


def install() -> None:
    AmisResponse.describe_image_references = _describe_image_references_action  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Scope:
    """What one request checks: the resource types, the instance states and the launch template version depth."""

    resource_types: frozenset[str]
    instance_states: frozenset[str] = field(default=_INSTANCE_STATES)
    version_depth: int = _DEFAULT_VERSION_DEPTH


def _describe_image_references_action(self: AmisResponse) -> ActionResult:
    image_ids: list[str] = self._get_param("ImageIds", [])
    scope = _scope(bool(self._get_param("IncludeAllResourceTypes")), self._get_param("ResourceTypes", []))
    max_results = max_results_in_range(self._get_param("MaxResults"), *_MAX_RESULTS_RANGE)
    next_token = self._get_param("NextToken")
    low, high = _IMAGE_IDS_RANGE
    if not low <= len(image_ids) <= high:
        raise InvalidParameterValue(f"ImageIds must list {low} to {high} image IDs; {len(image_ids)} were given.")
    malformed = [i for i in image_ids if not i.startswith("ami-")]
    if malformed:
        raise MalformedAMIIdError(malformed)
    self.error_on_dryrun()
    backend = self.ec2_backend
    partition = self.partition

    def select() -> list[tuple[str, str, str]]:
        return _references(backend, partition, list(dict.fromkeys(image_ids)), scope)

    keys, token = page(backend, "DescribeImageReferences", next_token, max_results, select)
    references = [{"ImageId": i, "ResourceType": t, "Arn": arn} for i, t, arn in keys]
    return ActionResult({"ImageReferences": references, "NextToken": token})


def _scope(include_all: bool, requested: list[dict[str, Any]]) -> _Scope:
    """The types to check and their options: the defaults, overridden per type by the options given on it.

    Either IncludeAllResourceTypes or ResourceTypes must be given (MissingParameter). An unknown type, an option
    on a type that takes none or another one, or an option value out of range is InvalidParameterValue.
    """
    if not include_all and not requested:
        raise MissingParameter("Either IncludeAllResourceTypes or ResourceTypes must be specified.")
    types = set(_RESOURCE_TYPES) if include_all else set()
    states, depth = _INSTANCE_STATES, _DEFAULT_VERSION_DEPTH
    for request in requested:
        resource_type = request.get("ResourceType", "")
        if resource_type not in _RESOURCE_TYPES:
            raise InvalidParameterValue(f"The resource type '{resource_type}' is not supported.")
        types.add(resource_type)
        for option in request.get("ResourceTypeOptions", []):
            name, values = option.get("OptionName", ""), [str(v) for v in option.get("OptionValues", [])]
            if _OPTIONS.get(resource_type) != name:
                raise InvalidParameterValue(f"The option '{name}' is not valid for resource type '{resource_type}'.")
            if name == "state-name":
                states = _instance_states(values)
            else:
                depth = _version_depth(values)
    return _Scope(frozenset(types), states, depth)


def _instance_states(values: list[str]) -> frozenset[str]:
    if not values or not set(values) <= _INSTANCE_STATES:
        raise InvalidParameterValue(f"state-name values must be among {', '.join(sorted(_INSTANCE_STATES))}.")
    return frozenset(values)


def _version_depth(values: list[str]) -> int:
    low, high = _VERSION_DEPTH_RANGE
    if len(values) != 1 or not values[0].isdigit() or not low <= int(values[0]) <= high:
        raise InvalidParameterValue(f"version-depth takes one integer between {low} and {high}.")
    return int(values[0])


def _references(backend: Any, partition: str, image_ids: list[str], scope: _Scope) -> list[tuple[str, str, str]]:
    """(ImageId, ResourceType, Arn) of every reference, by image in the order asked, then by resource type."""
    wanted = set(image_ids)
    found: dict[str, list[tuple[str, str]]] = {image_id: [] for image_id in image_ids}
    prefix = f"arn:{partition}:ec2:{backend.region_name}:{backend.account_id}"
    if _INSTANCE in scope.resource_types:
        for instance in backend.all_instances():
            if instance.image_id in wanted and instance.state in scope.instance_states:
                found[instance.image_id].append((_INSTANCE, f"{prefix}:instance/{instance.id}"))
    if _LAUNCH_TEMPLATE in scope.resource_types:
        for template in backend.launch_templates.values():
            newest = template.versions[-scope.version_depth :]
            for image_id in dict.fromkeys(v.image_id for v in newest if v.image_id in wanted):
                found[image_id].append((_LAUNCH_TEMPLATE, f"{prefix}:launch-template/{template.id}"))
    if _PARAMETER in scope.resource_types:
        for name, image_id in _image_parameters(backend.account_id, backend.region_name):
            if image_id in wanted:
                found[image_id].append((_PARAMETER, parameter_arn(backend.account_id, backend.region_name, name)))
    return [(image_id, t, arn) for image_id in image_ids for t, arn in found[image_id]]


def _image_parameters(account_id: str, region: str) -> list[tuple[str, str]]:
    """(name, value) of the caller's SSM parameters of data type aws:ec2:image, at their current version."""
    parameters: dict[str, list[Any]] = ssm_backends[account_id][region]._parameters
    current = [(name, versions[-1]) for name, versions in list(parameters.items()) if versions]
    return [
        (name, str(p.value))
        for name, p in current
        if p.data_type == _IMAGE_DATA_TYPE and not name.startswith(_AWS_PARAMETER_PREFIX)
    ]
