"""Plans and their reasons: what happens to every image in a run, and why."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .image import Image
from .parameters import ParameterDecision

if TYPE_CHECKING:
    from ..act.base import Action

# Images in these states take part; pending, failed and error images are left alone.
RETIREABLE_STATES = frozenset({"available", "disabled"})

# Decision statuses, in the order an image moves through them.
KEEP, RETIRING, DEPRECATE, DISABLE, DEREGISTER, DEFERRED, BLOCKED = (
    "keep",
    "retiring",
    "deprecate",
    "disable",
    "deregister",
    "deferred",
    "blocked",
)


@dataclass(frozen=True)
class Protection:
    """Why an image must not be disabled or deregistered. `kind` names the reason in metrics."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class ImageDecision:
    region: str
    image_id: str
    name: str
    family: str
    version: str
    created: str
    status: str
    reason: str
    protections: tuple[Protection, ...] = ()
    # Beyond retention: when the image is (or will be) deprecated, and from when it may be deregistered if
    # nothing keeps it. None for an image retention keeps.
    deprecated_from: datetime | None = None
    removable_from: datetime | None = None


@dataclass
class RegionPlan:
    region: str
    decisions: list[ImageDecision] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    blocked: str | None = None  # why nothing is disabled or deregistered here this run
    unmanaged: int = 0
    shared_retiring: set[str] = field(default_factory=set)  # retiring images other accounts may launch
    reports_wanted: list[Image] = field(default_factory=list)  # ... of which those without a usable usage report
    usage_reports_backlog: int = 0  # usage reports wanted beyond this run's cap
    used_elsewhere: list[str] = field(default_factory=list)  # past their grace period, used in other accounts
    notes: list[str] = field(default_factory=list)  # what the plan cannot do as asked, e.g. tags left out
    adopted: list[str] = field(default_factory=list)  # managed images the product tags for the first time
    parameters: list[ParameterDecision] = field(default_factory=list)  # each family's parameter here
    launch_template_notes: list[str] = field(default_factory=list)  # named templates not found or left alone, why

    def count(self, status: str) -> int:
        return sum(d.status == status for d in self.decisions)


@dataclass
class SweepPlan:
    now: datetime
    regions: dict[str, RegionPlan]

    @property
    def actions(self) -> list[Action]:
        return [a for plan in self.regions.values() for a in plan.actions]

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        for action in self.actions:
            counts[type(action).__name__] += 1
        statuses: dict[str, int] = defaultdict(int)
        for plan in self.regions.values():
            for decision in plan.decisions:
                statuses[decision.status] += 1
        return {
            "images": dict(sorted(statuses.items())),
            "actions": dict(sorted(counts.items())),
            "blocked": {r: p.blocked for r, p in self.regions.items() if p.blocked},
            "usage_reports_backlog": {r: n for r, p in self.regions.items() if (n := p.usage_reports_backlog)},
            "notes": {r: p.notes for r, p in self.regions.items() if p.notes},
            "adopted": {r: n for r, p in self.regions.items() if (n := len(p.adopted))},
        }


@dataclass(frozen=True)
class Candidates:
    """What a region's candidates for removal need read before the real plan is made."""

    due: frozenset[str] = frozenset()  # disabled or deregistered this run, unless the reads say otherwise
    deferred: frozenset[str] = frozenset()  # due, but beyond this run's cap
    shared: frozenset[str] = frozenset()  # retiring and launchable by other accounts: read their usage reports
    # Due images whose sharing the policy does not say: their launch permissions are read, one call each.
    sharing_unknown: frozenset[str] = frozenset()

    @property
    def referenced(self) -> frozenset[str]:
        return self.due | self.deferred
