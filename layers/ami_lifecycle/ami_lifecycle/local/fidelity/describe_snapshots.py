"""DescribeSnapshots: OwnerIds, which moto ignores, and MaxResults/NextToken."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidParameterCombination
from moto.ec2.models.amis import Ami
from moto.ec2.models.elastic_block_store import Snapshot
from moto.ec2.responses.elastic_block_store import ElasticBlockStore

from ._common import MOTO
from .pagination import MAX_RESULTS_RANGE, max_results_in_range, page


def install() -> None:
    MOTO.update(describe_snapshots=ElasticBlockStore.describe_snapshots)
    ElasticBlockStore.describe_snapshots = _describe_snapshots_action  # type: ignore[method-assign]


def _describe_snapshots_action(self: ElasticBlockStore) -> ActionResult:
    """moto's selection (SnapshotIds, Filters), then OwnerIds, which moto ignores, and pagination.

    MaxResults is 5 to 1,000 (a larger value returns 1,000) and can't be combined with SnapshotIds.
    """
    snapshot_ids = self._get_param("SnapshotIds", [])
    owner_ids = self._get_param("OwnerIds", [])
    filters = self._filters_from_querystring()
    max_results = self._get_param("MaxResults")
    next_token = self._get_param("NextToken")
    if max_results is not None and snapshot_ids:
        raise InvalidParameterCombination("The parameter snapshotIdSet cannot be used with the parameter maxResults")
    max_results = max_results_in_range(max_results, *MAX_RESULTS_RANGE, clamp=True)
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        snapshots = backend.describe_snapshots(snapshot_ids=snapshot_ids, filters=filters)
        return [s.id for s in snapshots if not owner_ids or _snapshot_owned_by(backend, s, owner_ids)]

    keys, token = page(backend, "DescribeSnapshots", next_token, max_results, select)
    snapshots = [snapshot for snapshot in map(backend.snapshots.get, keys) if snapshot is not None]
    return ActionResult({"Snapshots": snapshots, "NextToken": token})


def _snapshot_owned_by(backend: Any, snapshot: Snapshot, owner_ids: list[str]) -> bool:
    """OwnerIds: account ids, ``self`` (the caller's account) and ``amazon`` (snapshots owned by Amazon).

    moto gives the snapshots of its default AMIs their owner's account id; ``amazon`` matches a snapshot whose
    owner is the owner of an AMI aliased ``amazon`` that it belongs to.
    """
    owners = {backend.account_id if o == "self" else o for o in owner_ids}
    if snapshot.owner_id in owners:
        return True
    if "amazon" in owners and snapshot.from_ami:
        image: Ami | None = backend.amis.get(snapshot.from_ami)
        return image is not None and image.owner_alias == "amazon" and image.owner_id == snapshot.owner_id
    return False
