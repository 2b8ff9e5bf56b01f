"""Reading the account back from AWS: images, copies, snapshots, permissions, keys; and the whole account at one
moment, to tell what a step changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ami_lifecycle.model.image import SOURCE_IMAGE_TAG, tags_of

from .world import DR_REGIONS, REGIONS, LocalAws


def own_images(aws: LocalAws, region: str) -> list[dict[str, Any]]:
    pages = aws.ec2(region).get_paginator("describe_images").paginate(Owners=["self"])
    return [image for page in pages for image in page["Images"]]


def launch_permissions(aws: LocalAws, region: str, image_id: str) -> frozenset[tuple[str, str]]:
    attr = aws.ec2(region).describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return frozenset((k, v) for perm in attr.get("LaunchPermissions", []) for k, v in perm.items())


def snapshots_of(aws: LocalAws, region: str, image: dict[str, Any]) -> list[dict[str, Any]]:
    ids = [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("SnapshotId")]
    if not ids:
        return []
    return list(aws.ec2(region).describe_snapshots(SnapshotIds=ids)["Snapshots"])


def volume_permissions(aws: LocalAws, region: str, snapshot_id: str) -> list[dict[str, str]]:
    attr = aws.ec2(region).describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    return list(attr.get("CreateVolumePermissions", []))


def key_name(aws: LocalAws, region: str, snapshots: list[dict[str, Any]]) -> str:
    """The alias of the key encrypting the snapshots ("-" if unencrypted), as a person names it."""
    keys = {s.get("KmsKeyId") if s.get("Encrypted") else None for s in snapshots}
    if len(keys) != 1:
        return "mixed"
    (key,) = keys
    if key is None:
        return "-"
    aliases = aws.clients.client("kms", region).list_aliases(KeyId=key.split("/")[-1])["Aliases"]
    return str(aliases[0]["AliasName"]).removeprefix("alias/") if aliases else key.split("/")[-1][:8]


def copies_of(images: list[dict[str, Any]], source_id: str) -> list[dict[str, Any]]:
    """Copies of a source, by EC2's own lineage or by the product's lineage tag."""
    return [i for i in images if source_id in (i.get("SourceImageId"), tags_of(i).get(SOURCE_IMAGE_TAG))]


def all_images(aws: LocalAws, region: str) -> list[dict[str, Any]]:
    """The region's own images, deprecated and disabled ones included (as the sweep lists them)."""
    pages = (
        aws.ec2(region)
        .get_paginator("describe_images")
        .paginate(Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True)
    )
    return [image for page in pages for image in page["Images"]]


@dataclass(frozen=True)
class ImageState:
    """What the sweep can change about an image: its state, deprecation, tags; and the snapshots it maps."""

    region: str
    state: str
    deprecation: str | None
    tags: frozenset[tuple[str, str]]
    snapshot_ids: tuple[str, ...]


@dataclass(frozen=True)
class AccountState:
    """Every image and snapshot the account owns, in every region, read at one moment."""

    images: dict[str, ImageState]
    snapshots: dict[str, tuple[int, frozenset[tuple[str, str]]]]  # snapshot id -> (GiB, tags)

    def changes(self, later: AccountState) -> list[str]:
        """What differs in `later`, one line per image or snapshot."""
        lines = []
        for image_id in sorted(self.images.keys() | later.images.keys()):
            before, after = self.images.get(image_id), later.images.get(image_id)
            if before != after:
                lines.append(f"image {image_id}: {describe_state(before)} -> {describe_state(after)}")
        for snapshot_id in sorted(self.snapshots.keys() | later.snapshots.keys()):
            if self.snapshots.get(snapshot_id) != later.snapshots.get(snapshot_id):
                lines.append(f"snapshot {snapshot_id} changed or is gone")
        return lines


def describe_state(image: ImageState | None) -> str:
    if image is None:
        return "gone"
    return f"{image.state}, deprecation {image.deprecation or '-'}, {len(image.tags)} tags"


def read_state(aws: LocalAws) -> AccountState:
    images: dict[str, ImageState] = {}
    snapshots: dict[str, tuple[int, frozenset[tuple[str, str]]]] = {}
    for region in REGIONS:
        for image in all_images(aws, region):
            mapped = tuple(m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if "Ebs" in m)
            tags = frozenset(tags_of(image).items())
            images[image["ImageId"]] = ImageState(region, image["State"], image.get("DeprecationTime"), tags, mapped)
        pages = aws.ec2(region).get_paginator("describe_snapshots").paginate(OwnerIds=["self"])
        for page in pages:
            for snapshot in page["Snapshots"]:
                snapshots[snapshot["SnapshotId"]] = (snapshot["VolumeSize"], frozenset(tags_of(snapshot).items()))
    return AccountState(images, snapshots)


def count_copies(aws: LocalAws, source_ids: set[str]) -> int:
    """Copies of these sources in the DR regions (not those another tool made of the account's history)."""
    return sum(
        1 for region in DR_REGIONS for image in own_images(aws, region) if image.get("SourceImageId") in source_ids
    )
