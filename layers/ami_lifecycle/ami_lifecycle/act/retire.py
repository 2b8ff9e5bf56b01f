"""Writes that retire an image: deprecate, disable, mark its snapshots, deregister, delete what it left behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..aws.clients import ClientFactory, error_code
from ..model.image import RECYCLE_TAG, RECYCLE_VALUE, RETIRED_TAG, tag_list
from .adopt import AddLineageTags
from .base import Action, Applied
from .usage import CreateImageUsageReport

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

# DeregisterImage refuses DeleteAssociatedSnapshots where the API does not know it yet (e.g. some partitions).
_FLAG_REFUSED = frozenset(
    {"InvalidParameter", "InvalidParameterCombination", "UnknownParameter", "UnsupportedOperation"}
)
_SNAPSHOT_GONE = frozenset({"InvalidSnapshot.NotFound"})


@dataclass(frozen=True)
class DeprecateImage(Action):
    image_id: str
    deprecate_at: datetime

    permissions = ("ec2:EnableImageDeprecation",)
    # An adopted image is deprecated in the run that tags it: only once its family tag is on.
    requires = (AddLineageTags,)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).enable_image_deprecation(ImageId=self.image_id, DeprecateAt=self.deprecate_at)
        return Applied()

    def describe(self) -> str:
        return f"deprecate {self.image_id} at {self.deprecate_at:%Y-%m-%dT%H:%M}Z"


@dataclass(frozen=True)
class DisableImage(Action):
    """No new launches: removes every launch permission; running instances are not affected."""

    image_id: str

    permissions = ("ec2:DisableImage",)
    # A usage report the run could not ask for stops removal in the region, as one it could not read does.
    requires = (CreateImageUsageReport, AddLineageTags)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).disable_image(ImageId=self.image_id)
        return Applied()

    def describe(self) -> str:
        return f"disable {self.image_id}"


@dataclass(frozen=True)
class MarkRetired(Action):
    """Tag the AMIs about to be deregistered and the snapshots only they use, in one call: the retired mark is
    the proof that lets a later run delete a snapshot left behind, and no other; the recycle mark is what the
    stack's Recycle Bin rules select, so what the sweep removes can be restored.

    A resource without room for both marks (EC2 allows 50 tags) is in `crowded`: the product's own tags
    named there are removed first, then the marks that fit are set (the user's tags are never removed)."""

    snapshot_ids: tuple[str, ...]
    marked_at: str
    image_ids: tuple[str, ...] = ()
    crowded: tuple[CrowdedResource, ...] = ()

    permissions = ("ec2:CreateTags", "ec2:DeleteTags")

    def apply(self, clients: ClientFactory) -> Applied:
        ec2 = clients.ec2(self.region)
        resources = [*self.image_ids, *self.snapshot_ids]
        tags = tag_list(retirement_marks(self.marked_at))
        for start in range(0, len(resources), 500):  # well within CreateTags' limit per request
            ec2.create_tags(Resources=resources[start : start + 500], Tags=tags)
        for resource in self.crowded:
            if resource.give_up:
                ec2.delete_tags(Resources=[resource.resource_id], Tags=[{"Key": k} for k in resource.give_up])
            if resource.marks:
                ec2.create_tags(Resources=[resource.resource_id], Tags=tag_list(dict(resource.marks)))
        return Applied()

    def describe(self) -> str:
        images = len(self.image_ids) + sum(r.resource_id.startswith("ami-") for r in self.crowded)
        snapshots = len(self.snapshot_ids) + sum(not r.resource_id.startswith("ami-") for r in self.crowded)
        crowded = "; ".join(str(r) for r in self.crowded)
        return f"mark {images} AMIs and {snapshots} snapshots as retired" + (f" ({crowded})" if crowded else "")


@dataclass(frozen=True)
class CrowdedResource:
    """An AMI or snapshot whose tags leave no room for both retirement marks."""

    resource_id: str
    marks: tuple[tuple[str, str], ...]  # the marks that fit
    give_up: tuple[str, ...] = ()  # the product's own tags removed to make room

    def __str__(self) -> str:
        parts = [f"removes {', '.join(self.give_up)} to make room"] if self.give_up else []
        left = [k for k in (RECYCLE_TAG, RETIRED_TAG) if k not in dict(self.marks)]
        if left:
            parts.append(f"no room for {', '.join(left)} within EC2's 50 tags")
        return f"{self.resource_id}: {'; '.join(parts)}"


def retirement_marks(marked_at: str) -> dict[str, str]:
    """The marks set before deregistration, the one the Recycle Bin needs first."""
    return {RECYCLE_TAG: RECYCLE_VALUE, RETIRED_TAG: marked_at}


@dataclass(frozen=True)
class DeregisterImage(Action):
    """Deregister an AMI and delete the snapshots only it uses, in one call where EC2 allows it.

    A snapshot left behind (any code but success) keeps its retired mark and is deleted by a later run.
    """

    image_id: str
    snapshot_ids: tuple[str, ...]  # the snapshots no other AMI uses, marked retired before this runs
    sizes: dict[str, int] = field(default_factory=dict, compare=False)  # snapshot id -> GiB
    restorable_until: datetime | None = None  # from the Recycle Bin, when the stack keeps retired AMIs there

    permissions = ("ec2:DeregisterImage", "ec2:DeleteSnapshot")
    requires = (CreateImageUsageReport, MarkRetired, AddLineageTags)

    def apply(self, clients: ClientFactory) -> Applied:
        codes = self._deregister(clients.ec2(self.region))
        deleted = [s for s, code in codes.items() if code == "success"]
        left = {s: c for s, c in codes.items() if c != "success"}
        return Applied(
            note=f"; left {left}" if left else "",
            snapshots_deleted=len(deleted),
            gib_reclaimed=sum(self.sizes.get(s, 0) for s in deleted),
        )

    def _deregister(self, ec2: EC2Client) -> dict[str, str]:
        """DeregisterImage's code for each snapshot: success, skipped, missing-permissions, ..."""
        try:
            response = ec2.deregister_image(ImageId=self.image_id, DeleteAssociatedSnapshots=True)
            codes: dict[str, str] = {
                r["SnapshotId"]: r["ReturnCode"] for r in response.get("DeleteSnapshotResults", [])
            }
        except ClientError as e:
            if error_code(e) not in _FLAG_REFUSED:
                raise
            ec2.deregister_image(ImageId=self.image_id)
            codes = {s: _delete_snapshot(ec2, s) for s in self.snapshot_ids}
        return codes

    def describe(self) -> str:
        restorable = f" (restorable until {self.restorable_until:%Y-%m-%d %H:%M})" if self.restorable_until else ""
        snapshots = f" ({', '.join(self.snapshot_ids)})" if self.snapshot_ids else ""
        return f"deregister {self.image_id} and delete {len(self.snapshot_ids)} snapshots{snapshots}{restorable}"


@dataclass(frozen=True)
class DeleteSnapshot(Action):
    """Delete a snapshot that this product marked and that no AMI uses any more."""

    snapshot_id: str
    size_gib: int = 0

    permissions = ("ec2:DeleteSnapshot",)
    requires = (MarkRetired,)

    def apply(self, clients: ClientFactory) -> Applied:
        code = _delete_snapshot(clients.ec2(self.region), self.snapshot_id)
        if code == "missing":
            return Applied(note=" (already deleted)", changed=False)
        if code != "success":
            raise RuntimeError(f"{self.snapshot_id} not deleted: {code}")
        return Applied(snapshots_deleted=1, gib_reclaimed=self.size_gib)

    def describe(self) -> str:
        return f"delete orphaned snapshot {self.snapshot_id} ({self.size_gib} GiB)"


def _delete_snapshot(ec2: EC2Client, snapshot_id: str) -> str:
    """DeleteSnapshot with DeregisterImage's result codes; EC2 itself refuses a snapshot an AMI still uses."""
    try:
        ec2.delete_snapshot(SnapshotId=snapshot_id)
    except ClientError as e:
        code = error_code(e)
        if code in _SNAPSHOT_GONE:
            return "missing"
        if code == "InvalidSnapshot.InUse":
            return "skipped"
        if code in ("UnauthorizedOperation", "AccessDenied"):
            return "missing-permissions"
        raise
    return "success"
