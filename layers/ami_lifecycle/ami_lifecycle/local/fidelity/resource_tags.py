"""Tags: a resource's tags read by direct lookup, and the TagSpecifications of CopyImage and RegisterImage."""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import InvalidTaggableResourceType
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

from ._common import MOTO


def install() -> None:
    """Every EC2 resource reads its own tags instead of scanning the region's."""
    MOTO.update(get_tags=TaggedEC2Resource.get_tags)
    TaggedEC2Resource.get_tags = _resource_tags  # type: ignore[method-assign]


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
    """TagSpecifications grouped by ResourceType; any other resource type fails the request."""
    tags: dict[str, dict[str, str]] = {}
    for specification in specifications:
        resource_type = specification.get("ResourceType", "")
        if resource_type not in allowed:
            raise InvalidTaggableResourceType(resource_type)
        for tag in specification.get("Tags", []):
            tags.setdefault(resource_type, {})[tag["Key"]] = tag.get("Value", "")
    return tags


def tag(backend: Any, resource_ids: list[str], tags: dict[str, str]) -> None:
    if resource_ids and tags:
        backend.create_tags(resource_ids, tags)
