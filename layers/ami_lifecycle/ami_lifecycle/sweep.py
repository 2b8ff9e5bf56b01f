"""The scheduled sweep: read every region, plan, and (unless this is a dry run) apply the plan.

Regions are read concurrently and applied concurrently; a region that fails is reported and the others
finish. Nothing is raised for a region failure: the next tick reconciles again, and the metrics alarm.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel, ConfigDict, Field

from .actions import Action, CopyImage
from .clients import ClientFactory, error_code
from .fleet import read_launch_records, read_region
from .policy import Policy
from .sweep_actions import (
    DeleteSnapshot,
    DeprecateImage,
    DeregisterImage,
    DisableImage,
    FinishImage,
    MarkSnapshotsRetired,
)
from .sweep_planner import Fleet, SweepPlan, plan_sweep
from .usage import UsageStore

logger = Logger(child=True)
metrics = Metrics()

DRY_RUN_ENV = "SWEEP_DRY_RUN"


class SweepRequest(BaseModel):
    """The schedule's input. It can ask for a dry run, never for the opposite."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(default=False, description="Plan only, whatever the configuration says.")


class SweepConfigurationError(ValueError):
    """The deployment's settings for the sweep are unusable."""


def dry_run_setting(policy: Policy, request: SweepRequest) -> bool:
    """Dry run unless every switch says otherwise: the deployment (default on), the policy and the request."""
    value = os.environ.get(DRY_RUN_ENV, "true").strip().lower()
    if value not in ("true", "false"):
        raise SweepConfigurationError(f"{DRY_RUN_ENV} must be true or false, not {value!r}")
    return value == "true" or policy.sweep.dry_run or request.dry_run


@dataclass
class RegionResult:
    region: str
    applied: Counter[str] = field(default_factory=Counter)
    changes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    snapshots_deleted: int = 0
    gib_reclaimed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": dict(self.applied),
            "snapshots_deleted": self.snapshots_deleted,
            "gib_reclaimed": self.gib_reclaimed,
            "changes": self.changes,
            "failures": self.failures,
        }


@dataclass
class SweepReport:
    plan: SweepPlan
    dry_run: bool
    results: dict[str, RegionResult] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return sum(len(r.failures) for r in self.results.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "plan": self.plan.summary(),
            "regions": {region: result.as_dict() for region, result in self.results.items()},
        }


def read_fleet(
    policy: Policy, clients: ClientFactory, now: datetime, launches: Callable[[datetime], dict[str, Any]] | None
) -> Fleet:
    """Every region of the policy and the launch records, all concurrently."""
    regions = [policy.home_region, *(dr.region for dr in policy.dr_regions)]
    window = max(policy.retention_for(rule).launched_within_days for rule in policy.managed_images)
    with ThreadPoolExecutor(max_workers=len(regions) + 1) as pool:
        inventories = {region: pool.submit(read_region, clients, region) for region in regions}
        if launches is None:
            records, error = None, "not read (no usage table given)"
        else:
            records, error = pool.submit(read_launch_records, lambda: launches(now - timedelta(days=window))).result()
        return Fleet(policy.home_region, {r: f.result() for r, f in inventories.items()}, records, error)


def usage_reader(clients: ClientFactory, policy: Policy, table: str | None = None) -> Callable[[datetime], Any]:
    store = UsageStore(clients, policy.home_region, table)
    return store.launched_since


def run_sweep(
    policy: Policy,
    clients: ClientFactory,
    now: datetime,
    dry_run: bool,
    launches: Callable[[datetime], dict[str, Any]] | None,
) -> SweepReport:
    fleet = read_fleet(policy, clients, now, launches)
    plan = plan_sweep(fleet, policy, now)
    report = SweepReport(plan, dry_run)
    logger.info("sweep planned", extra={"dry_run": dry_run, **plan.summary()})
    for region_plan in plan.regions.values():
        for decision in region_plan.decisions:
            if decision.status != "keep" or decision.protections:
                logger.info(
                    f"{decision.status}: {decision.image_id}",
                    extra={"region": decision.region, "image_id": decision.image_id, "reason": decision.reason},
                )
    if not dry_run:
        regions = [r for r, p in plan.regions.items() if p.actions]
        with ThreadPoolExecutor(max_workers=max(len(regions), 1)) as pool:
            futures = {r: pool.submit(_apply_region, clients, r, plan.regions[r].actions) for r in regions}
            report.results = {r: f.result() for r, f in futures.items()}
    _record_metrics(report)
    return report


def _apply_region(clients: ClientFactory, region: str, actions: list[Action]) -> RegionResult:
    """Apply in plan order; a failed action is reported and the next one runs, except that nothing is
    deregistered when its snapshots could not be marked first."""
    result = RegionResult(region)
    ec2 = clients.ec2(region)
    marked = True
    for action in actions:
        if isinstance(action, DeregisterImage | DeleteSnapshot) and not marked:
            result.failures.append(f"{action.describe()}: not attempted, the snapshots could not be marked")
            continue
        try:
            if isinstance(action, DeregisterImage):
                outcome = action.deregister(ec2)
                deleted = [s for s, code in outcome.snapshot_codes.items() if code == "success"]
                result.snapshots_deleted += len(deleted)
                result.gib_reclaimed += outcome.gib_deleted
                left = {s: c for s, c in outcome.snapshot_codes.items() if c != "success"}
                note = f"; left {left}" if left else ""
            elif isinstance(action, DeleteSnapshot):
                deleted_now = action.delete(ec2)
                result.snapshots_deleted += deleted_now
                result.gib_reclaimed += action.size_gib if deleted_now else 0
                note = "" if deleted_now else " (already deleted)"
            else:
                note = action.apply(ec2) or ""
                note = f" -> {note}" if note else ""
        except Exception as e:  # one action's failure is reported; the region goes on
            if isinstance(action, MarkSnapshotsRetired):
                marked = False
            failure = f"{action.describe()}: {error_code(e)}: {e}"
            result.failures.append(failure)
            logger.error("sweep action failed", extra={"region": region, "action": action.describe(), "error": str(e)})
            continue
        result.applied[type(action).__name__] += 1
        result.changes.append(action.describe() + note)
    if result.failures:
        logger.error("sweep region incomplete", extra={"region": region, "failures": result.failures})
    return result


_APPLIED_METRICS = {
    CopyImage.__name__: "CopiesStarted",
    FinishImage.__name__: "ImagesFinished",
    DeprecateImage.__name__: "AmisDeprecated",
    DisableImage.__name__: "AmisDisabled",
    DeregisterImage.__name__: "AmisDeregistered",
}


def _record_metrics(report: SweepReport) -> None:
    plan = report.plan
    protected: Counter[str] = Counter(
        p.kind for region in plan.regions.values() for d in region.decisions for p in d.protections
    )
    for kind, count in sorted(protected.items()):
        with single_metric(name="AmisProtected", unit=MetricUnit.Count, value=count) as metric:
            metric.add_dimension(name="Reason", value=kind)
    blocked = sum(1 for p in plan.regions.values() if p.blocked)
    metrics.add_metric(name="RegionsBlocked", unit=MetricUnit.Count, value=blocked)
    deferred = sum(p.count("deferred") for p in plan.regions.values())
    metrics.add_metric(name="DeregistrationsDeferred", unit=MetricUnit.Count, value=deferred)
    if report.dry_run:
        planned = Counter(type(a).__name__ for a in plan.actions)
        for name, metric in _APPLIED_METRICS.items():
            metrics.add_metric(name=f"Planned{metric}", unit=MetricUnit.Count, value=planned[name])
        return
    applied: Counter[str] = sum((r.applied for r in report.results.values()), Counter())
    for name, metric in _APPLIED_METRICS.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=applied[name])
    metrics.add_metric(
        name="SnapshotsDeleted", unit=MetricUnit.Count, value=sum(r.snapshots_deleted for r in report.results.values())
    )
    metrics.add_metric(
        name="GiBReclaimed", unit=MetricUnit.Gigabytes, value=sum(r.gib_reclaimed for r in report.results.values())
    )
    metrics.add_metric(name="SweepFailures", unit=MetricUnit.Count, value=report.failures)
