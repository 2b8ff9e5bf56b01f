"""Writes that protect an image: the DR copy, tags on the image and its snapshots, launch and volume permissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ..aws.clients import ClientFactory
from ..model.image import tag_list
from .base import Action, Applied

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import LaunchPermissionTypeDef


@dataclass(frozen=True)
class CopyImage(Action):
    """Copy a source AMI into this region, tagged at creation (AMI and snapshots)."""

    source_image_id: str
    source_region: str
    name: str
    description: str
    client_token: str
    image_tags: dict[str, str]
    snapshot_tags: dict[str, str]
    kms_key_id: str | None = None
    left_out: str = field(default="", compare=False)  # tags of the source that do not fit on the copy

    permissions = ("ec2:CopyImage", "ec2:CreateTags")
    # EC2 uses the caller's KMS permissions to re-encrypt the snapshots with a customer managed key.
    kms_permissions: ClassVar[tuple[str, ...]] = (
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    )

    def apply(self, clients: ClientFactory) -> Applied:
        params: dict[str, Any] = {
            "SourceImageId": self.source_image_id,
            "SourceRegion": self.source_region,
            "Name": self.name,
            "Description": self.description,
            "ClientToken": self.client_token,
            "TagSpecifications": [
                {"ResourceType": "image", "Tags": tag_list(self.image_tags)},
                {"ResourceType": "snapshot", "Tags": tag_list(self.snapshot_tags)},
            ],
        }
        if self.kms_key_id:
            params |= {"Encrypted": True, "KmsKeyId": self.kms_key_id}
        image_id = str(clients.ec2(self.region).copy_image(**params)["ImageId"])
        return Applied(note=f" -> {image_id}", created_id=image_id)

    def describe(self) -> str:
        key = f", encrypted with {self.kms_key_id}" if self.kms_key_id else ""
        left_out = f" ({self.left_out})" if self.left_out else ""
        return f"copy {self.source_image_id} from {self.source_region}{key}{left_out}"


@dataclass(frozen=True)
class TagResources(Action):
    """Set tags on AMIs and snapshots of one region with a single CreateTags."""

    resource_ids: tuple[str, ...]
    tags: dict[str, str]

    permissions = ("ec2:CreateTags",)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).create_tags(Resources=list(self.resource_ids), Tags=tag_list(self.tags))
        return Applied()

    def describe(self) -> str:
        return f"tag {', '.join(self.resource_ids)} with {', '.join(sorted(self.tags))}"


@dataclass(frozen=True)
class AddLaunchPermissions(Action):
    """Let accounts, organizations or OUs launch an AMI. Only adds: permissions set by hand stay."""

    image_id: str
    launch_permissions: tuple[tuple[str, str], ...]  # (UserId|OrganizationArn|OrganizationalUnitArn|Group, value)

    permissions = ("ec2:ModifyImageAttribute",)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).modify_image_attribute(
            ImageId=self.image_id,
            LaunchPermission={"Add": [cast("LaunchPermissionTypeDef", {k: v}) for k, v in self.launch_permissions]},
        )
        return Applied()

    def describe(self) -> str:
        return f"share {self.image_id} with {', '.join(v for _, v in self.launch_permissions)}"


@dataclass(frozen=True)
class AddSnapshotVolumePermissions(Action):
    """Let accounts create volumes from a snapshot, which they need to copy a shared AMI."""

    snapshot_id: str
    account_ids: tuple[str, ...]

    permissions = ("ec2:ModifySnapshotAttribute",)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).modify_snapshot_attribute(
            SnapshotId=self.snapshot_id,
            Attribute="createVolumePermission",
            OperationType="add",
            UserIds=list(self.account_ids),
        )
        return Applied()

    def describe(self) -> str:
        return f"allow {', '.join(self.account_ids)} to create volumes from {self.snapshot_id}"
