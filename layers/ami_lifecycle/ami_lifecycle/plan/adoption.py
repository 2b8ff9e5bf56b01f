"""The adoption plan: what the product finds in an account and will do there, before it changes anything. Pure.

From the sweep's plan and what it read: the families and versions the policy selects, the images the first
run adopts (those the sweep tags for the first time: in a version retention keeps it finishes them, lineage
tags, snapshot tags, sharing; beyond retention they only get the family tag they retire with) and the copies
it starts, the versions beyond
retention with when each is deprecated and from when it may be deregistered, and what that reclaims per
region (snapshot GiB and monthly cost). Without the launch records (no usage table) nothing is removed today;
the retirement schedule says what would go, and when, once the product runs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..act.adopt import AddLineageTags
from ..act.protect import CopyImage
from ..act.retire import DeleteSnapshot, DeregisterImage
from ..model.image import FAMILY_TAG, VERSION_TAG
from ..model.inventory import Fleet
from ..model.plan import ImageDecision, SweepPlan
from ..policy import Policy
from .reclaim import monthly_cost, reclaimable_snapshots

# Protections that only say a read is still missing (it is made once the image is due), not that it is in use.
NOT_YET_READ = frozenset({"references-unchecked", "sharing-unchecked", "usage-report"})


@dataclass(frozen=True)
class FamilyFound:
    family: str
    versions: tuple[str, ...]  # oldest first
    images: dict[str, int]  # region -> images of the family there


@dataclass(frozen=True)
class Adoption:
    """An image that carries none of the product's lineage yet: the first run finishes it if retention keeps its
    version, else only tags it with its family and it retires (`retiring`)."""

    region: str
    image_id: str
    family: str
    version: str
    copy_of: str | None  # the source, for a copy (EC2's ancestry or lineage tags)
    retiring: bool = False  # beyond retention: tagged with its family in bulk, not finished


@dataclass(frozen=True)
class CopyToStart:
    region: str
    source_image_id: str
    family: str
    version: str


@dataclass(frozen=True)
class Retirement:
    """A version beyond retention: its images, when they are deprecated and from when they may be deregistered,
    and the GiB that goes with them in each region. `kept_by` says what keeps images still in use."""

    family: str
    version: str
    images: tuple[tuple[str, str], ...]  # (region, image id)
    deprecated_from: datetime
    removable_from: datetime
    gib: dict[str, int]  # region -> GiB of snapshots that go with the version's images there
    kept_by: tuple[str, ...] = ()  # "region image: why", for images kept while in use (not in `gib`)


@dataclass(frozen=True)
class RegionReclaim:
    region: str
    gib_today: int  # deregistered (and orphaned snapshots deleted) by this run
    gib_retiring: int  # every version beyond retention not in use, this run's included
    blocked: str | None


@dataclass
class AdoptionReport:
    now: datetime
    price_per_gb_month: float
    families: list[FamilyFound] = field(default_factory=list)
    unmanaged: dict[str, int] = field(default_factory=dict)
    adopted: list[Adoption] = field(default_factory=list)
    copies: list[CopyToStart] = field(default_factory=list)
    retirements: list[Retirement] = field(default_factory=list)
    regions: list[RegionReclaim] = field(default_factory=list)

    def cost(self, gib: int) -> float:
        return monthly_cost(gib, self.price_per_gb_month)

    @property
    def gib_today(self) -> int:
        return sum(r.gib_today for r in self.regions)

    @property
    def gib_retiring(self) -> int:
        return sum(r.gib_retiring for r in self.regions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "price_per_gb_month": self.price_per_gb_month,
            "families": [{"family": f.family, "versions": list(f.versions), "images": f.images} for f in self.families],
            "unmanaged": self.unmanaged,
            "adopted": [a.__dict__ for a in self.adopted],
            "copies_to_start": [c.__dict__ for c in self.copies],
            "retirements": [
                r.__dict__
                | {
                    "images": [list(i) for i in r.images],
                    "deprecated_from": _iso(r.deprecated_from),
                    "removable_from": _iso(r.removable_from),
                    "kept_by": list(r.kept_by),
                    "monthly_cost": self.cost(sum(r.gib.values())),
                }
                for r in self.retirements
            ],
            "reclaim": {
                r.region: {
                    "gib_today": r.gib_today,
                    "monthly_cost_today": self.cost(r.gib_today),
                    "gib_retiring": r.gib_retiring,
                    "monthly_cost_retiring": self.cost(r.gib_retiring),
                    "blocked": r.blocked,
                }
                for r in self.regions
            },
        }


def adoption_report(fleet: Fleet, plan: SweepPlan, policy: Policy) -> AdoptionReport:
    report = AdoptionReport(plan.now, policy.sweep.snapshot_price_per_gb_month)
    decisions = {(d.region, d.image_id): d for p in plan.regions.values() for d in p.decisions}
    report.families = _families(decisions.values())
    report.unmanaged = {region: p.unmanaged for region, p in plan.regions.items()}
    for region, region_plan in plan.regions.items():
        tagged = {i for a in region_plan.actions if isinstance(a, AddLineageTags) for i in a.image_ids}
        report.adopted += _adopted(fleet, region, region_plan.adopted, tagged, decisions)
        for action in region_plan.actions:
            if isinstance(action, CopyImage):
                family, version = action.image_tags.get(FAMILY_TAG, ""), action.image_tags.get(VERSION_TAG, "")
                report.copies.append(CopyToStart(region, action.source_image_id, family, version))
    report.retirements, retiring = _retirements(fleet, decisions.values())
    for region, region_plan in plan.regions.items():
        today = sum(sum(a.sizes.get(s, 0) for s in a.snapshot_ids) for a in _deregistrations(region_plan.actions))
        today += sum(a.size_gib for a in region_plan.actions if isinstance(a, DeleteSnapshot))
        report.regions.append(RegionReclaim(region, today, retiring.get(region, 0), region_plan.blocked))
    return report


def _adopted(
    fleet: Fleet,
    region: str,
    image_ids: list[str],
    tagged: set[str],
    decisions: dict[tuple[str, str], ImageDecision],
) -> list[Adoption]:
    """The images the sweep tags for the first time in `region` (its plan's own list, so the report says what the
    sweep does): those it only tags in bulk (`tagged`: beyond retention) retire, the others it finishes."""
    found = []
    for image_id in image_ids:
        image, decision = fleet.regions[region].images[image_id], decisions.get((region, image_id))
        # Every managed image outside the home region is a copy of a home source (by lineage tags or EC2's
        # ancestry); a home image is a source even if it was built from a copy.
        lineage = image.copy_of if region != fleet.home_region else None
        family, version = (decision.family, decision.version) if decision else ("", "")
        found.append(Adoption(region, image_id, family, version, lineage[0] if lineage else None, image_id in tagged))
    return found


def _families(decisions: Any) -> list[FamilyFound]:
    versions: dict[str, dict[str, str]] = defaultdict(dict)  # family -> version -> created
    images: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in decisions:
        versions[d.family][d.version] = min(d.created, versions[d.family].get(d.version, d.created))
        images[d.family][d.region] += 1
    return [
        FamilyFound(family, tuple(sorted(by_version, key=lambda v: (by_version[v], v))), dict(images[family]))
        for family, by_version in sorted(versions.items())
    ]


def _retirements(fleet: Fleet, decisions: Any) -> tuple[list[Retirement], dict[str, int]]:
    """The versions beyond retention, and per region the GiB of those not kept in use."""
    beyond: dict[tuple[str, str], list[ImageDecision]] = defaultdict(list)
    for d in decisions:
        if d.removable_from is not None:
            beyond[d.family, d.version].append(d)
    leaving: dict[str, list[ImageDecision]] = defaultdict(list)
    for found in beyond.values():
        for d in found:
            if not _in_use(d):
                leaving[d.region].append(d)
    gib_of: dict[tuple[str, str], int] = {}
    retiring: dict[str, int] = {}
    for region, found in leaving.items():
        # The earliest to go first: a snapshot several of them map goes with the first.
        found.sort(key=lambda d: (d.removable_from, d.image_id))
        inventory = fleet.regions[region]
        snapshots = reclaimable_snapshots(inventory, [d.image_id for d in found])
        for d in found:
            gib_of[region, d.image_id] = sum(snapshots[d.image_id].values())
        retiring[region] = sum(sum(s.values()) for s in snapshots.values())
    retirements = []
    for (family, version), found in beyond.items():
        gib: dict[str, int] = defaultdict(int)
        for d in found:
            if not _in_use(d):
                gib[d.region] += gib_of[d.region, d.image_id]
        retirements.append(
            Retirement(
                family,
                version,
                tuple((d.region, d.image_id) for d in found),
                min(d.deprecated_from for d in found if d.deprecated_from is not None),
                min(d.removable_from for d in found if d.removable_from is not None),
                dict(gib),
                tuple(f"{d.region} {d.image_id}: {_in_use(d)}" for d in found if _in_use(d)),
            )
        )
    retirements.sort(key=lambda r: (r.removable_from, r.family, r.version))
    return retirements, retiring


def _in_use(decision: ImageDecision) -> str:
    """What keeps the image while it is in use; empty when nothing does (a read still missing does not count)."""
    return "; ".join(str(p) for p in decision.protections if p.kind not in NOT_YET_READ)


def _deregistrations(actions: list[Any]) -> list[DeregisterImage]:
    return [a for a in actions if isinstance(a, DeregisterImage)]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
