"""The one executor: applies a plan's actions, regions concurrently, each region's actions in plan order.

A failed action is recorded and the region goes on, except that an action is not attempted once an action
it requires failed (nothing is deregistered when its snapshots could not be marked). One region's failure
never stops another region.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from ..aws.clients import ClientFactory, error_code, is_transient
from ..aws.regions import per_region
from .base import Action, Applied

logger = Logger(child=True)


@dataclass
class RegionResult:
    """What applying one region's actions did. `changes` lists what was applied, also when a later one failed."""

    region: str
    applied: Counter[str] = field(default_factory=Counter)
    changes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # position of each action that failed -> why
    done: dict[int, Applied] = field(default_factory=dict)  # position of each applied action -> what it did
    created_ids: list[str] = field(default_factory=list)
    changed: bool = False
    snapshots_deleted: int = 0
    gib_reclaimed: int = 0
    error: str | None = None  # the first failure's error
    transient: bool = False  # the first failure is worth retrying

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": dict(self.applied),
            "snapshots_deleted": self.snapshots_deleted,
            "gib_reclaimed": self.gib_reclaimed,
            "changes": self.changes,
            "failures": self.failures,
        }


def apply_plan(clients: ClientFactory, actions: Mapping[str, Sequence[Action]]) -> dict[str, RegionResult]:
    """Apply each region's actions; regions run concurrently. Regions without actions are left out."""
    due = {region: region_actions for region, region_actions in actions.items() if region_actions}
    return per_region(due, lambda region, region_actions: apply_region(clients, region, region_actions))


def apply_region(clients: ClientFactory, region: str, actions: Sequence[Action]) -> RegionResult:
    result = RegionResult(region)
    failed: dict[type[Action], Action] = {}
    for position, action in enumerate(actions):
        # A subclass counts as what it refines: the sweep's FinishListedImage is a FinishImage.
        missing = next((a for kind, a in failed.items() if issubclass(kind, action.requires)), None)
        if missing is not None:
            result.failed[position] = f"not attempted, {missing.describe()} failed"
            result.failures.append(f"{action.describe()}: {result.failed[position]}")
            continue
        try:
            applied = action.apply(clients)
        except Exception as e:  # one action's failure is reported; the region goes on
            failed.setdefault(type(action), action)
            result.failed[position] = f"{error_code(e)}: {e}"
            result.failures.append(f"{action.describe()}: {result.failed[position]}")
            if result.error is None:
                result.error, result.transient = result.failed[position], is_transient(e)
            logger.error("action failed", extra={"region": region, "action": action.describe(), "error": str(e)})
            continue
        result.applied[type(action).__name__] += 1
        result.done[position] = applied
        result.changes.append(action.describe() + applied.note)
        result.changed |= applied.changed
        result.snapshots_deleted += applied.snapshots_deleted
        result.gib_reclaimed += applied.gib_reclaimed
        if applied.created_id:
            result.created_ids.append(applied.created_id)
    if result.failures:
        logger.error("region incomplete", extra={"region": region, "failures": result.failures})
    return result
