"""Reads: the live state of an image and its snapshots, and the copies of a source in a region."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .clients import error_code
from .images import SOURCE_IMAGE_TAG, Image, tags_of
from .policy import Sharing

NOT_FOUND_CODES = frozenset({"InvalidAMIID.NotFound", "InvalidAMIID.Unavailable", "InvalidAMIID.Malformed"})


@dataclass(frozen=True)
class ImageState:
    """What is already set on an image: its snapshots' tags, launch and snapshot permissions."""

    snapshot_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    launch_permissions: frozenset[tuple[str, str]] = frozenset()
    snapshot_accounts: dict[str, frozenset[str]] = field(default_factory=dict)


def describe_image(ec2: Any, region: str, image_id: str) -> Image | None:
    """The image, or None if EC2 does not know it (never existed, or deregistered)."""
    try:
        images = ec2.describe_images(ImageIds=[image_id], IncludeDisabled=True)["Images"]
    except ClientError as e:
        if error_code(e) in NOT_FOUND_CODES:
            return None
        raise
    return Image.from_api(region, images[0]) if images else None


def find_copies(ec2: Any, region: str, source_image_id: str) -> list[Image]:
    """Copies of a source made by this product in `region`, found by their lineage tag."""
    pages = ec2.get_paginator("describe_images").paginate(
        Owners=["self"],
        IncludeDisabled=True,
        Filters=[{"Name": f"tag:{SOURCE_IMAGE_TAG}", "Values": [source_image_id]}],
    )
    return [Image.from_api(region, data) for page in pages for data in page["Images"]]


def read_image_state(ec2: Any, image: Image, sharing: Sharing) -> ImageState:
    """Read only what the policy will compare: snapshot tags always, permissions when it shares."""
    snapshot_tags: dict[str, dict[str, str]] = {}
    if image.snapshot_ids:
        pages = ec2.get_paginator("describe_snapshots").paginate(SnapshotIds=list(image.snapshot_ids))
        for page in pages:
            for snap in page["Snapshots"]:
                snapshot_tags[snap["SnapshotId"]] = tags_of(snap)

    launch: frozenset[tuple[str, str]] = frozenset()
    if sharing.launch_permissions:
        attr = ec2.describe_image_attribute(ImageId=image.image_id, Attribute="launchPermission")
        launch = frozenset((k, v) for perm in attr.get("LaunchPermissions", []) for k, v in perm.items())

    snapshot_accounts: dict[str, frozenset[str]] = {}
    if sharing.snapshot_accounts:
        for snapshot_id in image.snapshot_ids:
            attr = ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
            snapshot_accounts[snapshot_id] = frozenset(
                p["UserId"] for p in attr.get("CreateVolumePermissions", []) if "UserId" in p
            )
    return ImageState(snapshot_tags, launch, snapshot_accounts)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    image_id: str
    state: str
    launch_time: datetime
    tags: dict[str, str]


def describe_instances(ec2: Any, instance_ids: list[str]) -> tuple[dict[str, Instance], set[str]]:
    """Instances by id in as few calls as possible (1,000 ids each), and the ids EC2 does not know.

    EC2 refuses a whole request naming an unknown id and names it in the message: drop it and ask again.
    """
    found: dict[str, Instance] = {}
    unknown: set[str] = set()
    for start in range(0, len(instance_ids), 1000):
        remaining = instance_ids[start : start + 1000]
        while remaining:
            try:
                pages = ec2.get_paginator("describe_instances").paginate(InstanceIds=remaining)
                for page in pages:
                    for reservation in page["Reservations"]:
                        for data in reservation["Instances"]:
                            found[data["InstanceId"]] = Instance(
                                data["InstanceId"],
                                data["ImageId"],
                                data["State"]["Name"],
                                data["LaunchTime"],
                                tags_of(data),
                            )
                break
            except ClientError as e:
                named = set(re.findall(r"i-[0-9a-f]+", str(e))) & set(remaining)
                if not error_code(e).startswith("InvalidInstanceID") or not named:
                    raise
                unknown |= named
                remaining = [i for i in remaining if i not in named]
    return found, unknown


def describe_images_by_id(ec2: Any, region: str, image_ids: list[str]) -> dict[str, Image]:
    """Images by id, any owner, deprecated and disabled included; a deregistered id is simply absent.

    A filter, unlike ImageIds, does not fail the whole call for an id that no longer exists.
    """
    images: dict[str, Image] = {}
    for start in range(0, len(image_ids), 200):  # EC2 takes at most 200 values per filter
        pages = ec2.get_paginator("describe_images").paginate(
            Filters=[{"Name": "image-id", "Values": image_ids[start : start + 200]}],
            IncludeDeprecated=True,
            IncludeDisabled=True,
        )
        images |= {d["ImageId"]: Image.from_api(region, d) for page in pages for d in page["Images"]}
    return images
