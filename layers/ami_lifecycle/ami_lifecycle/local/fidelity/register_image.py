"""RegisterImage: an EBS-backed AMI made of exactly the given block device mappings, with TagSpecifications.

moto registers every AMI with one auto-created 15 GiB snapshot; EC2 maps the snapshots it is given and no other.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidSnapshotIdError
from moto.ec2.models.amis import Ami
from moto.ec2.models.elastic_block_store import Snapshot
from moto.ec2.responses.amis import AmisResponse

from ._common import LOCK
from .block_device_mappings import new_image_without_auto_snapshot
from .resource_tags import tag, tags_by_resource_type

_REGISTER_RESOURCE_TYPES = frozenset({"image"})


def install() -> None:
    AmisResponse.register_image = _register_image_action  # type: ignore[method-assign]


def _register_image_action(self: AmisResponse) -> ActionResult:
    tags = tags_by_resource_type(self._get_param("TagSpecifications") or [], _REGISTER_RESOURCE_TYPES)
    mappings = self._get_param("BlockDeviceMappings") or []
    self.error_on_dryrun()
    image = _register_image(
        self.ec2_backend,
        name=self._get_param("Name"),
        description=self._get_param("Description"),
        mappings=mappings,
        root_device_name=self._get_param("RootDeviceName"),
        architecture=self._get_param("Architecture"),
        virtualization_type=self._get_param("VirtualizationType"),
        boot_mode=self._get_param("BootMode"),
        ena_support=self._get_param("EnaSupport"),
        tags=tags.get("image", {}),
    )
    return ActionResult({"ImageId": image.id})


def _register_image(
    backend: Any,
    name: str | None,
    description: str | None,
    mappings: list[dict[str, Any]],
    root_device_name: str | None,
    architecture: str | None,
    virtualization_type: str | None,
    boot_mode: str | None,
    ena_support: bool | None,
    tags: dict[str, str],
) -> Ami:
    """An EBS-backed AMI made of exactly the given mappings; without mappings, moto's old behaviour."""
    with LOCK:
        resolved = [_register_mapping(backend, mapping) for mapping in mappings]  # validate before creating
        image: Any  # moto's Ami declares no ENA support, and boot mode only as a string
        if resolved:
            image = new_image_without_auto_snapshot(backend, name=name, description=description)
            image.fidelity_mappings = resolved
            image.root_device_type = "ebs"
        else:
            image = backend.register_image(name, description)
        # Documented defaults of RegisterImage: i386 and paravirtual; no boot mode unless one is given.
        image.architecture = architecture or "i386"
        image.virtualization_type = virtualization_type or "paravirtual"
        image.boot_mode = boot_mode
        image.ena_support = ena_support
        if root_device_name:
            image.root_device_name = root_device_name
        backend.amis[image.id] = image
        tag(backend, [image.id], tags)
        registered: Ami = image
        return registered


def _register_mapping(backend: Any, mapping: dict[str, Any]) -> dict[str, Any]:
    """An EBS mapping must name a snapshot of this region; unset size/type come from the snapshot.

    RegisterImage cannot set the encryption state: the volume is encrypted exactly when the snapshot is.
    """
    ebs = mapping.get("Ebs")
    if not ebs or not ebs.get("SnapshotId"):
        return copy.deepcopy(mapping)
    snapshot: Snapshot | None = backend.snapshots.get(ebs["SnapshotId"])
    if snapshot is None:
        raise InvalidSnapshotIdError()
    resolved = {
        "SnapshotId": snapshot.id,
        "VolumeSize": ebs.get("VolumeSize") or snapshot.volume_size,
        "VolumeType": ebs.get("VolumeType") or snapshot.volume.volume_type,
        "DeleteOnTermination": ebs.get("DeleteOnTermination", True),
        "Encrypted": bool(snapshot.encrypted),
    }
    resolved |= {k: ebs[k] for k in ("Iops", "Throughput") if ebs.get(k) is not None}
    return {**copy.deepcopy(mapping), "Ebs": resolved}
