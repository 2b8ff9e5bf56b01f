"""Per-image reads: what is set on one image (its snapshots' tags, its permissions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model.image import Image, tags_of
from ..model.inventory import ImageState
from ..policy import Sharing

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


def read_image_state(ec2: EC2Client, image: Image, sharing: Sharing) -> ImageState:
    """Read only what the policy will compare: snapshot tags always, permissions when it shares."""
    snapshot_tags: dict[str, dict[str, str]] = {}
    if image.snapshot_ids:
        pages = ec2.get_paginator("describe_snapshots").paginate(SnapshotIds=list(image.snapshot_ids))
        for page in pages:
            for snap in page["Snapshots"]:
                snapshot_tags[snap["SnapshotId"]] = tags_of(snap)

    launch: frozenset[tuple[str, str]] = frozenset()
    if sharing.launch_permissions:
        image_attribute = ec2.describe_image_attribute(ImageId=image.image_id, Attribute="launchPermission")
        launch = frozenset(
            (k, str(v)) for perm in image_attribute.get("LaunchPermissions", []) for k, v in perm.items()
        )

    snapshot_accounts: dict[str, frozenset[str]] = {}
    if sharing.snapshot_accounts:
        for snapshot_id in image.snapshot_ids:
            snapshot_attribute = ec2.describe_snapshot_attribute(
                SnapshotId=snapshot_id, Attribute="createVolumePermission"
            )
            snapshot_accounts[snapshot_id] = frozenset(
                p["UserId"] for p in snapshot_attribute.get("CreateVolumePermissions", []) if "UserId" in p
            )
    return ImageState(snapshot_tags, launch, snapshot_accounts)


def read_launch_permissions(ec2: EC2Client, image_ids: Iterable[str]) -> dict[str, frozenset[tuple[str, str]]]:
    """Who may launch each image: one DescribeImageAttribute per image, so only for images due for removal."""
    permissions: dict[str, frozenset[tuple[str, str]]] = {}
    for image_id in sorted(set(image_ids)):
        attribute = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
        pairs = {(k, str(v)) for perm in attribute.get("LaunchPermissions", []) for k, v in perm.items()}
        permissions[image_id] = frozenset(pairs)
    return permissions
