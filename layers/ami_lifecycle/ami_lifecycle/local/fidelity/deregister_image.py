"""DeregisterImage: DeleteAssociatedSnapshots with a ReturnCode per snapshot, and deregistration protection.

moto 5.2.5 ignores DeleteAssociatedSnapshots; ``fail_snapshot_deletion()`` makes one snapshot's deletion come
back with a non-success return code, once. The AMI, and each snapshot deleted, go to the Recycle Bin when a
retention rule retains them (see ``recycle_bin``).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import MalformedAMIIdError
from moto.ec2.responses.amis import AmisResponse

from ._common import LOCK, MOTO, existing_ec2_backends
from .block_device_mappings import images_mapping, snapshot_ids
from .deregistration_protection import DeregistrationProtected, deregistration_refused
from .recycle_bin import retain_deleted_snapshot, retain_deregistered_image

# DeregisterImage DeleteSnapshotResults ReturnCode: every value but success leaves the snapshot in place.
_SNAPSHOT_FAILURE_CODES = frozenset({"skipped", "missing-permissions", "internal-error", "client-error"})


def install() -> None:
    MOTO.update(deregister_image=AmisResponse.deregister_image)
    AmisResponse.deregister_image = _deregister_image_action  # type: ignore[method-assign]


def fail_snapshot_deletion(
    snapshot_id: str, code: str = "internal-error", region: str | None = None, account_id: str | None = None
) -> None:
    """The next DeregisterImage with DeleteAssociatedSnapshots reports ``code`` for this snapshot and keeps it.

    One-shot: the failure is used up by the deregistration that reports it, so a retry (DeleteSnapshot, or
    deregistering another AMI that maps it) succeeds. ``code`` is one of EC2's non-success return codes:
    ``skipped``, ``missing-permissions``, ``internal-error`` or ``client-error``.
    """
    if code not in _SNAPSHOT_FAILURE_CODES:
        raise ValueError(f"{code!r} is not one of {sorted(_SNAPSHOT_FAILURE_CODES)}")
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            if snapshot_id in backend.snapshots:
                backend.__dict__.setdefault("fidelity_snapshot_failures", {})[snapshot_id] = code
                return
    raise ValueError(f"{snapshot_id} is not a snapshot" + (f" in {region}" if region else ""))


def _deregister_image_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    delete_snapshots = bool(self._get_param("DeleteAssociatedSnapshots"))
    self.error_on_dryrun()
    results = _deregister_image(self.ec2_backend, image_id, delete_snapshots)
    response: dict[str, Any] = {"Return": True}
    if delete_snapshots:  # EC2 returns the element only when the snapshots were asked to be deleted
        response["DeleteSnapshotResults"] = results
    return ActionResult(response)


def _deregister_image(backend: Any, image_id: str, delete_snapshots: bool) -> list[dict[str, str]]:
    """Deregister; with DeleteAssociatedSnapshots, also delete each EBS snapshot the AMI mapped.

    A snapshot that another registered AMI (disabled ones included) still maps is ``skipped`` and kept, and
    the AMI is deregistered anyway. Each snapshot gets one result, in the order of the mappings.
    """
    with LOCK:
        if not image_id or not image_id.startswith("ami-"):
            raise MalformedAMIIdError([image_id])
        image: Any = backend.amis.get(image_id)  # an Ami (whose protection moto does not declare), or None
        if image is not None and deregistration_refused(image):
            raise DeregistrationProtected(image_id, image.deregistration_protection)
        mapped = list(dict.fromkeys(snapshot_ids(image))) if image is not None else []
        backend.deregister_image(image_id)  # moto: InvalidAMIID.NotFound, or .Unavailable once deregistered
        retain_deregistered_image(backend, image)
        if not delete_snapshots:
            return []
        return [{"SnapshotId": s, "ReturnCode": _delete_associated_snapshot(backend, s)} for s in mapped]


def _delete_associated_snapshot(backend: Any, snapshot_id: str) -> str:
    """The DeleteSnapshotResults ReturnCode for one snapshot of a deregistered AMI; only ``success`` deletes it."""
    if images_mapping(backend, snapshot_id):
        return "skipped"  # EC2 never deletes a snapshot that is associated with another AMI
    injected: str | None = backend.__dict__.get("fidelity_snapshot_failures", {}).pop(snapshot_id, None)
    if injected is not None:
        return injected
    snapshot = backend.snapshots.pop(snapshot_id, None)
    if snapshot is None:
        return "client-error"  # not reachable through the API: a mapped snapshot cannot be deleted first
    retain_deleted_snapshot(backend, snapshot)  # a snapshot rule honours DeleteAssociatedSnapshots too
    return "success"
