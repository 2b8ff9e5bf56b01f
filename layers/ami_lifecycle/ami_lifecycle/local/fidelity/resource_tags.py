"""Tags: a resource's tags read by direct lookup, the TagSpecifications of CopyImage and RegisterImage, and
EC2's limits on tags.

EC2 limits (EC2 User Guide, "Tag your Amazon EC2 resources", tag restrictions; CreateTags API reference): at
most 50 user tags per resource, keys of 1-128 and values of at most 256 characters, keys starting with `aws:`
reserved (they cannot be set and do not count towards the 50). A request breaking a limit fails as a whole:
`TagLimitExceeded` for too many tags, `InvalidParameterValue` for a key or value EC2 does not accept.
moto 5.2.5 checks the count only (and counts `aws:` tags already on a resource); it accepts any length and
lets CreateTags and TagSpecifications set `aws:` keys. Here CreateTags, the TagSpecifications of CopyImage,
RegisterImage and RunInstances (instances and volumes) are checked before anything is created or written.
moto's own `aws:` tags (launch templates, fleets) are still set through the backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    InvalidParameterValue,
    InvalidParameterValueErrorTagNull,
    InvalidTaggableResourceType,
    TagLimitExceeded,
)
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.models.tags import TagBackend
from moto.ec2.responses.tags import TagResponse
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

from ._common import MOTO

MAX_USER_TAGS = 50
MAX_KEY_LENGTH = 128
MAX_VALUE_LENGTH = 256


def install() -> None:
    """Every EC2 resource reads its own tags instead of scanning the region's; EC2's tag limits hold."""
    MOTO.update(
        get_tags=TaggedEC2Resource.get_tags,
        create_tags_action=TagResponse.create_tags,
        run_instances=InstanceBackend.run_instances,
    )
    TaggedEC2Resource.get_tags = _resource_tags  # type: ignore[method-assign]
    TagBackend.create_tags = _create_tags  # type: ignore[method-assign]
    TagResponse.create_tags = _create_tags_action  # type: ignore[method-assign]
    InstanceBackend.run_instances = _run_instances  # type: ignore[method-assign]


def check_request_tags(tags: Mapping[str, str]) -> None:
    """What EC2 refuses in any request's tags, whatever the resource: `aws:` keys, over-long keys and values,
    more than 50 tags."""
    for key in tags:
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue(f"Tag keys starting with 'aws:' are reserved for internal use: {key}")
    check_tag_values(tags)
    check_tag_count({}, tags)


def check_tag_values(tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        if key.lower().startswith("aws:"):
            continue  # EC2's own tags, set by moto itself
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidParameterValue(f"Tag key must be 1 to {MAX_KEY_LENGTH} characters long: {key[:40]}...")
        if value is not None and len(value) > MAX_VALUE_LENGTH:
            raise InvalidParameterValue(f"Tag value of {key} must be at most {MAX_VALUE_LENGTH} characters long")


def check_tag_count(existing: Mapping[str, str], tags: Mapping[str, str]) -> None:
    """A resource may carry at most 50 user tags once the new ones are set (a key it has is overwritten)."""
    keys = {k for k in (*existing, *tags) if not k.lower().startswith("aws:")}
    if len(keys) > MAX_USER_TAGS:
        raise TagLimitExceeded()


def _create_tags(self: TagBackend, resource_ids: list[str], tags: dict[str, str]) -> bool:
    """moto's CreateTags write, with EC2's limits checked for every resource before any is tagged."""
    if any(value is None for value in tags.values()):
        raise InvalidParameterValueErrorTagNull()
    check_tag_values(tags)
    for resource_id in resource_ids:
        check_tag_count(self.tags.get(resource_id, {}), tags)
    # Written here: moto's own write counts the `aws:` tags a resource already has towards the limit.
    for resource_id in resource_ids:
        self.tags[resource_id].update(tags)
    return True


def _create_tags_action(self: TagResponse) -> ActionResult:
    tags = {tag["Key"]: tag.get("Value", "") for tag in self._get_param("Tags", [])}
    for key in tags:
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue(f"Tag keys starting with 'aws:' are reserved for internal use: {key}")
    result: ActionResult = MOTO["create_tags_action"](self)
    return result


def _run_instances(self: InstanceBackend, image_id: str, count: int, user_data: Any, security_group_names: Any,
                   **kwargs: Any) -> Any:  # fmt: skip
    """RunInstances: its TagSpecifications are checked before any instance is launched."""
    for tags in (kwargs.get("tags") or {}).values():
        check_request_tags(tags)
    return MOTO["run_instances"](self, image_id, count, user_data, security_group_names, **kwargs)


def _resource_tags(self: TaggedEC2Resource) -> list[dict[str, str]]:
    """The resource's tags, as moto's DescribeTags filtered by resource-id returns them, by direct lookup.

    moto reads them by scanning every tag of the region for each resource, so describing N tagged AMIs (or
    filtering them by tag) costs O(N²); reading the resource's own entry makes it O(N).
    """
    resource_id: str | None = getattr(self, "id", None)
    if not resource_id:
        return []
    tags: dict[str, str] = self.ec2_backend.tags.get(resource_id) or {}  # type: ignore[attr-defined]
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [{"resource_id": resource_id, "key": k, "value": v, "resource_type": resource_type} for k, v in tags.items()]


def tags_by_resource_type(specifications: list[dict[str, Any]], allowed: frozenset[str]) -> dict[str, dict[str, str]]:
    """TagSpecifications grouped by ResourceType; any other resource type, or tags EC2 refuses, fail the request."""
    tags: dict[str, dict[str, str]] = {}
    for specification in specifications:
        resource_type = specification.get("ResourceType", "")
        if resource_type not in allowed:
            raise InvalidTaggableResourceType(resource_type)
        for tag in specification.get("Tags", []):
            tags.setdefault(resource_type, {})[tag["Key"]] = tag.get("Value", "")
    for resource_tags in tags.values():
        check_request_tags(resource_tags)
    return tags


def tag(backend: Any, resource_ids: list[str], tags: dict[str, str]) -> None:
    if resource_ids and tags:
        backend.create_tags(resource_ids, tags)
