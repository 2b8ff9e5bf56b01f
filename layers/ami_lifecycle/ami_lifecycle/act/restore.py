"""Writes that bring a retired AMI back: out of the Recycle Bin, out of the sweep's reach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..aws.clients import ClientFactory
from .base import Action, Applied

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import TagTypeDef


@dataclass(frozen=True)
class RestoreImage(Action):
    image_id: str

    permissions = ("ec2:RestoreImageFromRecycleBin",)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).restore_image_from_recycle_bin(ImageId=self.image_id)
        return Applied()

    def describe(self) -> str:
        return f"restore {self.image_id} from the Recycle Bin"


@dataclass(frozen=True)
class RestoreSnapshot(Action):
    snapshot_id: str

    permissions = ("ec2:RestoreSnapshotFromRecycleBin",)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).restore_snapshot_from_recycle_bin(SnapshotId=self.snapshot_id)
        return Applied()

    def describe(self) -> str:
        return f"restore {self.snapshot_id} from the Recycle Bin"


@dataclass(frozen=True)
class RemoveTags(Action):
    """Take the sweep's retirement marks off: a restored AMI's snapshots are never again orphans to delete."""

    resource_ids: tuple[str, ...]
    keys: tuple[str, ...]

    permissions = ("ec2:DeleteTags",)

    def apply(self, clients: ClientFactory) -> Applied:
        tags: list[TagTypeDef] = [{"Key": key} for key in self.keys]
        clients.ec2(self.region).delete_tags(Resources=list(self.resource_ids), Tags=tags)
        return Applied()

    def describe(self) -> str:
        return f"remove {', '.join(self.keys)} from {', '.join(self.resource_ids)}"
