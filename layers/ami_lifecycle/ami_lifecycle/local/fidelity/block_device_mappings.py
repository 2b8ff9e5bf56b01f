"""Block device mappings: an AMI maps exactly its own snapshots, and DeleteSnapshot refuses a mapped snapshot.

moto registers every AMI with one auto-created 15 GiB snapshot and knows one AMI per snapshot; images made by
this layer (CopyImage, RegisterImage) report their own mappings, and every registered AMI that maps a snapshot
keeps it in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moto.ec2.exceptions import InvalidSnapshotInUse
from moto.ec2.models.amis import Ami
from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot
from moto.ec2.utils import random_ami_id

from ._common import LOCK, MOTO


def install() -> None:
    """Patch what DescribeImages reports as mappings and what deleting a snapshot checks."""
    MOTO.update(block_device_mappings=Ami.block_device_mappings, delete_snapshot=EBSBackend.delete_snapshot)
    Ami.block_device_mappings = property(_image_block_device_mappings)  # type: ignore[method-assign,assignment]
    EBSBackend.delete_snapshot = _delete_snapshot_unless_mapped  # type: ignore[method-assign]


def _image_block_device_mappings(self: Ami) -> list[dict[str, Any]]:
    """Images made here report their own mappings; images moto made the old way keep moto's."""
    mappings: list[dict[str, Any]] | None = getattr(self, "fidelity_mappings", None)
    if mappings is None:
        return list(MOTO["block_device_mappings"].fget(self))
    return mappings


def _delete_snapshot_unless_mapped(self: EBSBackend, snapshot_id: str) -> Snapshot:
    """A snapshot used by any registered AMI cannot be deleted: InvalidSnapshot.InUse (moto knew one AMI)."""
    with LOCK:
        users = images_mapping(self, snapshot_id)
        if users:
            raise InvalidSnapshotInUse(snapshot_id, users[0].id)
        result: Snapshot = MOTO["delete_snapshot"](self, snapshot_id)
        return result


@dataclass
class _SnapshotUsers:
    """Which registered AMIs map each snapshot; ``seen`` are the image ids already read into ``users``."""

    seen: set[str] = field(default_factory=set)
    users: dict[str, list[str]] = field(default_factory=dict)


def images_mapping(backend: Any, snapshot_id: str) -> list[Ami]:
    """The registered AMIs (any state, disabled included) whose block device mappings name the snapshot.

    An AMI's snapshots never change once it is registered, so an index on the backend only reads the images
    registered since the last call: deleting the snapshots of thousands of AMIs stays linear.
    """
    index: _SnapshotUsers = backend.__dict__.setdefault("fidelity_snapshot_users", _SnapshotUsers())
    amis: dict[str, Ami] = backend.amis
    for image_id in amis.keys() - index.seen:
        index.seen.add(image_id)
        for mapped in snapshot_ids(amis[image_id]):
            index.users.setdefault(mapped, []).append(image_id)
    return [amis[i] for i in index.users.get(snapshot_id, []) if i in amis]


def snapshot_ids(image: Ami) -> list[str]:
    return [m["Ebs"]["SnapshotId"] for m in image.block_device_mappings if m.get("Ebs", {}).get("SnapshotId")]


def new_image_without_auto_snapshot(backend: Any, **kwargs: Any) -> Ami:
    """moto's Ami() always snapshots a fake 15 GiB volume; EC2 makes no snapshot beyond the mapped ones."""
    image = Ami(backend, random_ami_id(), **kwargs)
    backend.snapshots.pop(image.ebs_snapshot.id, None)
    image.ebs_snapshot = None
    return image
