"""What the product knows about an AMI, and the lineage tags that tie a DR copy to its source."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import TagTypeDef

# Lineage tags. Copies carry all four; a managed source carries family and version.
TAG_PREFIX = "ami-lifecycle:"
FAMILY_TAG = f"{TAG_PREFIX}family"
VERSION_TAG = f"{TAG_PREFIX}version"
SOURCE_IMAGE_TAG = f"{TAG_PREFIX}source-image-id"
SOURCE_REGION_TAG = f"{TAG_PREFIX}source-region"
# Written last when an image is fully protected; its value is a digest of what was applied (tags, sharing),
# so the sweep finds unfinished images, or images to update after a policy change, without a read per image.
PROTECTED_TAG = f"{TAG_PREFIX}protected"
# Set by the sweep on an AMI's snapshots just before it deregisters the AMI: the proof that lets a later run
# delete a snapshot the deregistration left behind, and no other.
RETIRED_TAG = f"{TAG_PREFIX}retired"
# Set with the retired mark on the AMIs and snapshots about to go; the stack's Recycle Bin rules select by it
# (a tag-level rule matches a key and a value, so its value is fixed).
RECYCLE_TAG, RECYCLE_VALUE = f"{TAG_PREFIX}recycle", "true"
# The usage report whose use in other accounts was last reported to the operator.
USE_REPORTED_TAG = f"{TAG_PREFIX}use-reported"
_STATE_TAGS = frozenset({PROTECTED_TAG, RETIRED_TAG, RECYCLE_TAG, USE_REPORTED_TAG})
# The marks the product may still write on an image or a snapshot: room for them is kept free on the copies
# and snapshots it tags, so propagated tags never crowd them out.
IMAGE_MARKS = (PROTECTED_TAG, USE_REPORTED_TAG, RETIRED_TAG, RECYCLE_TAG)
SNAPSHOT_MARKS = (RETIRED_TAG, RECYCLE_TAG)


# EC2's tag limits (EC2 User Guide, tag restrictions): `aws:` keys are EC2's own and do not count.
MAX_USER_TAGS, MAX_KEY_LENGTH, MAX_VALUE_LENGTH = 50, 128, 256
RESERVED_TAG_PREFIX = "aws:"


def is_reserved_tag(key: str) -> bool:
    return key.lower().startswith(RESERVED_TAG_PREFIX)


def propagated(tags: dict[str, str]) -> dict[str, str]:
    """Tags that may be carried onto copies and snapshots: not the product's state marks of this resource."""
    return {k: v for k, v in tags.items() if k not in _STATE_TAGS}


def tags_of(resource: Mapping[str, Any]) -> dict[str, str]:
    """The `Tags` list of an EC2 API resource (image, snapshot, instance) as a dict."""
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def tag_list(tags: dict[str, str]) -> list[TagTypeDef]:
    """A dict of tags in the API's `Tags` form, in a stable order."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


@dataclass(frozen=True)
class Image:
    image_id: str
    region: str
    owner_id: str
    name: str
    state: str
    creation_date: str
    tags: dict[str, str] = field(default_factory=dict)
    snapshot_ids: tuple[str, ...] = ()
    source_image_id: str | None = None
    source_region: str | None = None
    state_reason: str = ""
    deprecation_time: str | None = None  # ISO 8601, as EC2 reports it
    deregistration_protection: str | None = None  # "disabled", "enabled", ... as EC2 reports it
    last_launched_time: str | None = None  # any account's launches, about a day late
    public: bool = False
    volume_sizes: dict[str, int] = field(default_factory=dict)  # snapshot id -> GiB

    @classmethod
    def from_api(cls, region: str, data: Mapping[str, Any]) -> Image:
        """Build from one element of DescribeImages' `Images`."""
        return cls(
            image_id=data["ImageId"],
            region=region,
            owner_id=data.get("OwnerId", ""),
            name=data.get("Name", ""),
            state=data.get("State", ""),
            creation_date=data.get("CreationDate", ""),
            tags=tags_of(data),
            snapshot_ids=tuple(
                m["Ebs"]["SnapshotId"]
                for m in data.get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("SnapshotId")
            ),
            source_image_id=data.get("SourceImageId"),
            source_region=data.get("SourceImageRegion"),
            state_reason=data.get("StateReason", {}).get("Message", ""),
            deprecation_time=data.get("DeprecationTime"),
            deregistration_protection=data.get("DeregistrationProtection"),
            last_launched_time=data.get("LastLaunchedTime"),
            public=bool(data.get("Public", False)),
            volume_sizes={
                m["Ebs"]["SnapshotId"]: int(m["Ebs"].get("VolumeSize") or 0)
                for m in data.get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("SnapshotId")
            },
        )

    @property
    def copied_from(self) -> tuple[str, str] | None:
        """(source image id, source region) if this is a copy made by this product."""
        source_id = self.tags.get(SOURCE_IMAGE_TAG)
        source_region = self.tags.get(SOURCE_REGION_TAG) or self.source_region
        if source_id and source_region:
            return source_id, source_region
        return None

    @property
    def copy_of(self) -> tuple[str, str] | None:
        """(source image id, source region) of any copy, whoever made it: the lineage tags where they are,
        else EC2's own ancestry (SourceImageId/SourceImageRegion, set by CopyImage on every copy)."""
        if self.copied_from:
            return self.copied_from
        if self.source_image_id and self.source_region:
            return self.source_image_id, self.source_region
        return None

    def deprecated_at(self, now: datetime) -> datetime | None:
        """When the image was deprecated, if its deprecation time has passed."""
        when = parse_time(self.deprecation_time)
        return when if when is not None and when <= now else None

    @property
    def tagged_by_product(self) -> bool:
        """The product may retire this image: it carries the family tag, or the recycle mark the sweep set in its
        place where EC2's 50 tags left no room for both (the stack's IAM policy asks for one of them)."""
        return FAMILY_TAG in self.tags or self.tags.get(RECYCLE_TAG) == RECYCLE_VALUE

    @property
    def full_of_user_tags(self) -> bool:
        """No room for another tag: EC2 allows 50 (the product's own marks are never in the way of its lineage)."""
        return sum(not is_reserved_tag(k) for k in self.tags) >= MAX_USER_TAGS

    @property
    def protected_from_deregistration(self) -> bool:
        # Anything but an explicit "disabled" counts as on, including a cooldown after it was turned off.
        return (self.deregistration_protection or "disabled") != "disabled"

    @property
    def made_by_aws_backup(self) -> bool:
        # AWS Backup AMIs cannot be managed through EC2; Backup names and tags them this way.
        return self.name.startswith("AwsBackup_") or any(k.startswith("aws:backup:") for k in self.tags)


def parse_time(value: str | None) -> datetime | None:
    """An EC2 timestamp ("2026-01-01T00:00:00.000Z") as an aware datetime; None stays None."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def lineage_tags(family: str, version: str, source: Image | None = None) -> dict[str, str]:
    """Lineage tags for a managed source (family and version) or for a copy of `source` (all four)."""
    tags = {FAMILY_TAG: family, VERSION_TAG: version}
    if source is not None:
        tags |= {SOURCE_IMAGE_TAG: source.image_id, SOURCE_REGION_TAG: source.region}
    return tags


def copy_client_token(source: Image, destination_region: str, kms_key_id: str | None, attempt: int) -> str:
    """Deterministic CopyImage ClientToken: a redelivered event never starts a second copy.

    `attempt` counts earlier copies that failed, so a retry after a failed copy is a new request.
    """
    seed = f"{source.region}/{source.image_id}/{destination_region}/{kms_key_id or ''}/{attempt}"
    return "ami-lifecycle-" + hashlib.sha256(seed.encode()).hexdigest()[:48]
