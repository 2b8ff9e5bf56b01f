"""What a sweep changed, from its plan and what applying it did: per family and region what was deprecated,
disabled and deregistered, and the snapshot GiB and monthly cost reclaimed. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..act.adopt import AddLineageTags
from ..act.executor import RegionResult
from ..act.finish import FinishImage
from ..act.protect import CopyImage
from ..act.retire import DeleteSnapshot, DeprecateImage, DeregisterImage, DisableImage
from ..model.image import SOURCE_IMAGE_TAG
from ..model.plan import SweepPlan
from .reclaim import monthly_cost

UNKNOWN_FAMILY = "(unknown)"  # an image the plan's decisions do not name; never expected


@dataclass
class Retired:
    """One family in one region."""

    deprecated: int = 0
    disabled: int = 0
    deregistered: int = 0
    snapshots_deleted: int = 0
    gib: int = 0


@dataclass
class SweepSummary:
    at: datetime
    price_per_gb_month: float
    retired: dict[tuple[str, str], Retired] = field(default_factory=dict)  # (family, region)
    orphans: dict[str, Retired] = field(default_factory=dict)  # region -> snapshots deleted, GiB
    copies_started: int = 0
    images_finished: int = 0  # the sweep finished what events missed, or applied a changed policy
    copies_finished: int = 0  # ... of which DR copies
    # Images without the product's lineage until now, tagged by this run: in versions retention keeps they are
    # finished (counted above too); beyond it they only get their family tag and retire (`adopted_retiring`).
    images_adopted: int = 0
    adopted_retiring: int = 0  # ... of which beyond retention
    failures: int = 0

    @property
    def gib(self) -> int:
        return sum(r.gib for r in self.retired.values()) + sum(r.gib for r in self.orphans.values())

    @property
    def changed(self) -> bool:
        """Something in the account changed: an AMI, a snapshot or a copy (usage reports asked do not count)."""
        return bool(self.retired or self.orphans or self.copies_started or self.images_finished)

    def total(self, stage: str) -> int:
        return sum(getattr(r, stage) for r in self.retired.values())

    def subject(self) -> str:
        counts = [f"{n} {stage}" for stage in ("deprecated", "disabled", "deregistered") if (n := self.total(stage))]
        if self.gib:
            counts.append(f"{self.gib} GiB reclaimed")
        if self.copies_started:
            counts.append(f"{self.copies_started} copies started")
        return "AMI lifecycle sweep: " + (", ".join(counts) or f"{self.images_finished} images finished")

    def message(self) -> dict[str, Any]:
        cost = monthly_cost(self.gib, self.price_per_gb_month)
        return {
            "summary": f"{self.subject()} (USD {cost:.2f} per month)" if self.gib else self.subject(),
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "retired": [
                {"family": family, "region": region}
                | r.__dict__
                | {"monthly_cost_reclaimed": monthly_cost(r.gib, self.price_per_gb_month)}
                for (family, region), r in sorted(self.retired.items())
            ],
            "orphaned_snapshots_deleted": {
                region: {"snapshots_deleted": r.snapshots_deleted, "gib": r.gib} for region, r in self.orphans.items()
            },
            "copies_started": self.copies_started,
            "images_finished": self.images_finished,
            "images_adopted": self.images_adopted,
            "adopted_retiring": self.adopted_retiring,
            "failures": self.failures,
            "gib_reclaimed": self.gib,
            "monthly_cost_reclaimed": cost,
            "price_per_gb_month": self.price_per_gb_month,
            "sizes": "provisioned snapshot sizes: an upper bound of what was billed",
        }


def sweep_summary(plan: SweepPlan, results: Mapping[str, RegionResult], price_per_gb_month: float) -> SweepSummary:
    """What applying `plan` did; `results` are the executor's, by region."""
    summary = SweepSummary(plan.now, price_per_gb_month)
    families = {(d.region, d.image_id): d.family for p in plan.regions.values() for d in p.decisions}
    retired: dict[tuple[str, str], Retired] = defaultdict(Retired)
    for region, result in results.items():
        actions, adopted = plan.regions[region].actions, set(plan.regions[region].adopted)
        summary.failures += len(result.failures)
        for position, applied in sorted(result.done.items()):
            action = actions[position]
            if isinstance(action, DeprecateImage | DisableImage | DeregisterImage):
                family = families.get((region, action.image_id), UNKNOWN_FAMILY)
                entry = retired[family, region]
                if isinstance(action, DeprecateImage):
                    entry.deprecated += 1
                elif isinstance(action, DisableImage):
                    entry.disabled += 1
                else:
                    entry.deregistered += 1
                    entry.snapshots_deleted += applied.snapshots_deleted
                    entry.gib += applied.gib_reclaimed
            elif isinstance(action, DeleteSnapshot) and applied.snapshots_deleted:
                orphans = summary.orphans.setdefault(region, Retired())
                orphans.snapshots_deleted += applied.snapshots_deleted
                orphans.gib += applied.gib_reclaimed
            elif isinstance(action, CopyImage):
                summary.copies_started += 1
            elif isinstance(action, FinishImage) and applied.changed:
                summary.images_finished += 1
                summary.copies_finished += SOURCE_IMAGE_TAG in action.desired.image_tags
                summary.images_adopted += action.image.image_id in adopted
            elif isinstance(action, AddLineageTags):
                tagged = adopted.intersection(action.image_ids)
                summary.images_adopted += len(tagged)
                summary.adopted_retiring += len(tagged)
    summary.retired = dict(retired)
    return summary
