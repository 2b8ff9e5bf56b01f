"""Recycle Bin for AMIs and EBS snapshots: retention rules, the bin's listings, and restoring from it.

moto 5.2.5 has no ``rbin`` service and deletes for good. The product's stack creates the retention rules with
CloudFormation (``AWS::Rbin::Rule``); ``add_recycle_bin_rule()`` stands in for a deployed rule. A rule is for
``EC2_IMAGE`` or ``EBS_SNAPSHOT`` resources; with ResourceTags it is tag-level and retains a resource tagged with
AT LEAST ONE of its key/value pairs, without them it is Region-level and retains every resource of its type. When
several rules match, the longest retention period wins. Without a matching rule, deletion is final as before.

DeregisterImage (EBS-backed AMIs only) and DeleteSnapshot, including the snapshots DeregisterImage
DeleteAssociatedSnapshots deletes, send a retained resource to the bin: it leaves DescribeImages/DescribeSnapshots,
is listed by ListImagesInRecycleBin/ListSnapshotsInRecycleBin, carries the system tag
``aws:recycle-bin:resource-in-bin=true`` and is unshared; RestoreImageFromRecycleBin/RestoreSnapshotFromRecycleBin
bring it back as it was (its tags, mappings, deprecation; its launch or createVolume permissions restored). An AMI
is restored only once each of its snapshots is restored (or was never deleted) and completed. Time does not pass in
moto: ``expire_recycle_bin()`` deletes for good what has reached its exit time.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError, InvalidAMIIdError, InvalidParameterValue, InvalidSnapshotIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.models.elastic_block_store import Snapshot
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.responses.elastic_block_store import ElasticBlockStore

from ._common import LOCK, MOTO, as_utc, existing_ec2_backends
from .block_device_mappings import snapshot_ids
from .pagination import max_results_in_range, page

_IMAGE, _SNAPSHOT = "EC2_IMAGE", "EBS_SNAPSHOT"
_RETENTION_DAYS = (1, 365)  # AWS::Rbin::Rule RetentionPeriod, unit DAYS
_MAX_RULE_TAGS, _MAX_RULES = 50, 250  # Recycle Bin quotas per rule and per Region
_IN_BIN_TAG = "aws:recycle-bin:resource-in-bin"
_MAX_IMAGE_IDS = 20  # ListImagesInRecycleBin ImageIds
_IMAGES_MAX_RESULTS, _SNAPSHOTS_MAX_RESULTS = (1, 1000), (5, 1000)


class _SnapshotsNotRestored(EC2ClientError):
    """RestoreImageFromRecycleBin before the AMI's snapshots are restored and available. The guide states the rule
    but no error code: this is EC2's common IncorrectState; the message is ours."""

    def __init__(self, image_id: str, snapshot_id: str) -> None:
        super().__init__(
            "IncorrectState",
            f"The image '{image_id}' can't be restored until its snapshot '{snapshot_id}' is restored and available.",
        )


@dataclass(frozen=True)
class _Rule:
    resource_type: str
    retention: timedelta
    tags: tuple[tuple[str, str], ...]  # empty: a Region-level rule


@dataclass
class _Binned:
    """A resource in the bin, with the sharing it had (unshared while in the bin, restored with it)."""

    resource: Any  # Ami or Snapshot
    enter_time: datetime
    exit_time: datetime
    shared_with: Any


def install() -> None:
    MOTO.update(delete_snapshot_action=ElasticBlockStore.delete_snapshot)
    ElasticBlockStore.delete_snapshot = _delete_snapshot_action  # type: ignore[method-assign]
    AmisResponse.list_images_in_recycle_bin = _list_images_action  # type: ignore[attr-defined]
    AmisResponse.restore_image_from_recycle_bin = _restore_image_action  # type: ignore[attr-defined]
    ElasticBlockStore.list_snapshots_in_recycle_bin = _list_snapshots_action  # type: ignore[attr-defined]
    ElasticBlockStore.restore_snapshot_from_recycle_bin = _restore_snapshot_action  # type: ignore[attr-defined]


# --- hooks ----------------------------------------------------------------------------------------------------


def add_recycle_bin_rule(
    region: str,
    resource_type: str,
    retention_days: int,
    resource_tags: dict[str, str] | None = None,
    account_id: str | None = None,
) -> None:
    """A retention rule is in force in that Region (of the default account unless given), as a deployed stack's.

    ``resource_type`` is ``EC2_IMAGE`` or ``EBS_SNAPSHOT``; ``retention_days`` 1 to 365; ``resource_tags`` (at
    most 50 pairs) make it tag-level, none Region-level. At most 250 rules per Region.
    """
    low, high = _RETENTION_DAYS
    if resource_type not in (_IMAGE, _SNAPSHOT) or not low <= retention_days <= high:
        raise ValueError(f"{resource_type!r} must be {_IMAGE} or {_SNAPSHOT}, retention {low} to {high} days")
    if len(resource_tags or {}) > _MAX_RULE_TAGS:
        raise ValueError(f"a rule takes at most {_MAX_RULE_TAGS} tag pairs")
    with LOCK:
        rules = _rules(ec2_backends[account_id or DEFAULT_ACCOUNT_ID][region])
        if len(rules) >= _MAX_RULES:
            raise ValueError(f"at most {_MAX_RULES} retention rules per Region")
        rules.append(_Rule(resource_type, timedelta(days=retention_days), tuple((resource_tags or {}).items())))


def expire_recycle_bin(
    region: str | None = None, account_id: str | None = None, now: datetime | None = None
) -> list[str]:
    """Time passes: what is in the bin (of that Region/account, or all) and has reached its exit time at ``now`` is
    deleted for good; without ``now``, everything in the bin is. Returns the ids deleted.

    An AMI whose snapshot is deleted for good can't be restored any more (its snapshot is missing).
    """
    at = None if now is None else as_utc(now)
    expired = []
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            for binned in (_bin(backend, _IMAGE), _bin(backend, _SNAPSHOT)):
                for resource_id in [i for i, b in binned.items() if at is None or b.exit_time <= at]:
                    del binned[resource_id]
                    backend.tags.pop(resource_id, None)
                    expired.append(resource_id)
    return expired


# --- the way in: called where the fidelity layer deletes ------------------------------------------------------


def retain_deregistered_image(backend: Any, image: Ami) -> None:
    """An EBS-backed AMI just deregistered goes to the bin if a rule retains it; else it is gone for good."""
    if image.root_device_type != "ebs":
        return  # Recycle Bin supports EBS-backed AMIs only
    shared = copy.deepcopy(image.launch_permissions)
    if _enter_bin(backend, _IMAGE, image, shared):
        image.launch_permissions.clear()


def retain_deleted_snapshot(backend: Any, snapshot: Snapshot) -> None:
    """A snapshot just deleted goes to the bin if a rule retains it; else it is gone for good."""
    shared = (set(snapshot.create_volume_permission_userids), set(snapshot.create_volume_permission_groups))
    if _enter_bin(backend, _SNAPSHOT, snapshot, shared):
        snapshot.create_volume_permission_userids.clear()
        snapshot.create_volume_permission_groups.clear()


def _enter_bin(backend: Any, resource_type: str, resource: Any, shared: Any) -> bool:
    tags = set((backend.tags.get(resource.id) or {}).items())
    matching = [r for r in _rules(backend) if r.resource_type == resource_type and (not r.tags or tags & set(r.tags))]
    if not matching:
        return False
    now = as_utc(utcnow())
    retention = max(r.retention for r in matching)
    _bin(backend, resource_type)[resource.id] = _Binned(resource, now, now + retention, shared)
    backend.tags.setdefault(resource.id, {})[_IN_BIN_TAG] = "true"
    return True


def _delete_snapshot_action(self: ElasticBlockStore) -> ActionResult:
    """DeleteSnapshot (InvalidSnapshot.NotFound / .InUse as before), then into the bin if a rule retains it."""
    snapshot_id = self._get_param("SnapshotId")
    self.error_on_dryrun()
    with LOCK:
        snapshot: Snapshot = self.ec2_backend.delete_snapshot(snapshot_id)
        retain_deleted_snapshot(self.ec2_backend, snapshot)
    return EmptyResult()


# --- the bin's actions ----------------------------------------------------------------------------------------


def _list_images_action(self: AmisResponse) -> ActionResult:
    """ListImagesInRecycleBin: ImageIds (at most 20; ids not in the bin match nothing), MaxResults 1 to 1,000."""
    image_ids: list[str] = self._get_param("ImageIds", [])
    if len(image_ids) > _MAX_IMAGE_IDS:
        raise InvalidParameterValue(f"ImageIds takes at most {_MAX_IMAGE_IDS} IDs.")
    max_results = max_results_in_range(self._get_param("MaxResults"), *_IMAGES_MAX_RESULTS)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend
    keys, token = page(
        backend, "ListImagesInRecycleBin", next_token, max_results, lambda: _listed(backend, _IMAGE, image_ids)
    )
    views = [
        {
            "ImageId": b.resource.id,
            "Name": b.resource.name,
            "Description": b.resource.description,
            "RecycleBinEnterTime": b.enter_time,
            "RecycleBinExitTime": b.exit_time,
        }
        for b in _still_binned(backend, _IMAGE, keys)
    ]
    return ActionResult({"Images": views, "NextToken": token})


def _list_snapshots_action(self: ElasticBlockStore) -> ActionResult:
    """ListSnapshotsInRecycleBin: SnapshotIds (ids not in the bin match nothing), MaxResults 5 to 1,000."""
    snapshot_ids_asked: list[str] = self._get_param("SnapshotIds", [])
    max_results = max_results_in_range(self._get_param("MaxResults"), *_SNAPSHOTS_MAX_RESULTS)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend
    keys, token = page(
        backend,
        "ListSnapshotsInRecycleBin",
        next_token,
        max_results,
        lambda: _listed(backend, _SNAPSHOT, snapshot_ids_asked),
    )
    views = [
        {
            "SnapshotId": b.resource.id,
            "RecycleBinEnterTime": b.enter_time,
            "RecycleBinExitTime": b.exit_time,
            "Description": b.resource.description,
            "VolumeId": b.resource.volume.id,
        }
        for b in _still_binned(backend, _SNAPSHOT, keys)
    ]
    return ActionResult({"Snapshots": views, "NextToken": token})


def _restore_image_action(self: AmisResponse) -> ActionResult:
    """The AMI is available again at once, as it was, with its sharing; its snapshots must be back first."""
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    backend = self.ec2_backend
    with LOCK:
        binned = _bin(backend, _IMAGE).get(image_id)
        if binned is None:
            raise InvalidAMIIdError(image_id)
        image: Ami = binned.resource
        for snapshot_id in snapshot_ids(image):
            snapshot: Snapshot | None = backend.snapshots.get(snapshot_id)
            if snapshot is None or snapshot.status != "completed":
                raise _SnapshotsNotRestored(image_id, snapshot_id)
        del _bin(backend, _IMAGE)[image_id]
        image.launch_permissions[:] = binned.shared_with
        backend.amis[image_id] = image
        if image_id in backend.deleted_amis:
            backend.deleted_amis.remove(image_id)
        (backend.tags.get(image_id) or {}).pop(_IN_BIN_TAG, None)
    return ActionResult({"Return": True})


def _restore_snapshot_action(self: ElasticBlockStore) -> ActionResult:
    """The snapshot is back in DescribeSnapshots at once, with its sharing; the response describes it."""
    snapshot_id = self._get_param("SnapshotId")
    self.error_on_dryrun()
    backend = self.ec2_backend
    with LOCK:
        binned = _bin(backend, _SNAPSHOT).pop(snapshot_id, None)
        if binned is None:
            raise InvalidSnapshotIdError()
        snapshot: Snapshot = binned.resource
        user_ids, groups = binned.shared_with
        snapshot.create_volume_permission_userids.update(user_ids)
        snapshot.create_volume_permission_groups.update(groups)
        backend.snapshots[snapshot_id] = snapshot
        (backend.tags.get(snapshot_id) or {}).pop(_IN_BIN_TAG, None)
    return ActionResult(
        {
            "SnapshotId": snapshot.id,
            "Description": snapshot.description,
            "Encrypted": bool(snapshot.encrypted),
            "OwnerId": snapshot.owner_id,
            "Progress": snapshot.progress,
            "StartTime": snapshot.start_time,
            "State": snapshot.status,
            "VolumeId": snapshot.volume.id,
            "VolumeSize": snapshot.volume_size,
        }
    )


# --- state ----------------------------------------------------------------------------------------------------


def _rules(backend: Any) -> list[_Rule]:
    rules: list[_Rule] = backend.__dict__.setdefault("fidelity_recycle_bin_rules", [])
    return rules


def _bin(backend: Any, resource_type: str) -> dict[str, _Binned]:
    binned: dict[str, _Binned] = backend.__dict__.setdefault(f"fidelity_recycle_bin_{resource_type}", {})
    return binned


def _listed(backend: Any, resource_type: str, ids: list[str]) -> list[str]:
    wanted = set(ids)
    return [i for i in _bin(backend, resource_type) if not wanted or i in wanted]


def _still_binned(backend: Any, resource_type: str, keys: list[str]) -> Iterator[_Binned]:
    binned = _bin(backend, resource_type)
    return (binned[k] for k in keys if k in binned)
