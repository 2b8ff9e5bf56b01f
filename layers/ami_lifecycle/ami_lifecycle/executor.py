"""Applies planned actions, one region at a time per thread, so one region's failure stops only that region."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from .actions import Action
from .clients import error_code, is_transient

logger = Logger(child=True)


@dataclass
class RegionOutcome:
    """What happened in one region. `changes` lists what was applied, even when a later step failed."""

    region: str
    image_id: str | None = None
    status: str = "up-to-date"
    note: str = ""
    changes: list[str] = field(default_factory=list)
    error: str | None = None
    transient: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"region": self.region, "image_id": self.image_id, "status": self.status}
        if self.note:
            data["note"] = self.note
        if self.changes:
            data["changes"] = self.changes
        if self.error:
            data |= {"error": self.error, "transient": self.transient}
        return data


def apply_actions(ec2: Any, actions: list[Action], outcome: RegionOutcome) -> str | None:
    """Apply in order, recording each change; stops at the first failure (the caller records it).

    Returns the id of a resource the actions created (a new copy), if any.
    """
    created: str | None = None
    for action in actions:
        result = action.apply(ec2)
        created = result or created
        outcome.changes.append(action.describe() + (f" -> {result}" if result else ""))
    return created


def run_regions(jobs: dict[str, Callable[[RegionOutcome], None]]) -> list[RegionOutcome]:
    """Run one job per region concurrently. A job fills its outcome; an exception marks it failed."""

    def run(region: str, job: Callable[[RegionOutcome], None]) -> RegionOutcome:
        outcome = RegionOutcome(region)
        try:
            job(outcome)
        except Exception as e:  # any failure is confined to its region and reported
            outcome.status = "failed"
            outcome.error = f"{error_code(e)}: {e}"
            outcome.transient = is_transient(e)
            logger.error(
                "region failed",
                extra={
                    "region": region,
                    "image_id": outcome.image_id,
                    "error": outcome.error,
                    "applied": outcome.changes,
                },
            )
        return outcome

    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, region, job) for region, job in jobs.items()]
        return [f.result() for f in futures]
