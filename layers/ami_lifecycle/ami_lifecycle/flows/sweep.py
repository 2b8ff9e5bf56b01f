"""The scheduled sweep: read every region, plan, and (unless this is a dry run) apply the plan.

Regions are read concurrently and applied concurrently; a region that fails is reported and the others
finish. Nothing is raised for a region failure: the next tick reconciles again, and the metrics alarm.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..act.executor import RegionResult, apply_plan
from ..act.finish import FinishListedImage
from ..act.launch_templates import CreateTemplateVersion, SetDefaultTemplateVersion
from ..act.parameters import CancelDeprecation, PutImageParameter
from ..act.protect import CopyImage
from ..act.retire import DeprecateImage, DeregisterImage, DisableImage
from ..act.summary import PublishSweepSummary
from ..aws.clients import ClientFactory, error_code
from ..aws.launch_template_table import LaunchTemplateTable
from ..aws.sweep_lease import LeaseHolder, SweepLease
from ..model.inventory import Fleet
from ..model.plan import SweepPlan
from ..plan.launch_templates import add_sweep_updates
from ..plan.parameters import NOT_OURS
from ..plan.summary import SweepSummary, sweep_summary
from ..plan.sweep import plan_sweep, removal_candidates
from ..policy import Policy
from ..read.fleet import LaunchReader, read_candidates, read_fleet
from ..read.named_templates import read_named_templates_in

logger = Logger(child=True)
metrics = Metrics()

DRY_RUN_ENV = "SWEEP_DRY_RUN"
RECYCLE_BIN_DAYS_ENV = "RECYCLE_BIN_RETENTION_DAYS"


class SweepRequest(BaseModel):
    """The schedule's input. It can ask for a dry run, never for the opposite."""

    model_config = ConfigDict(extra="forbid")

    # Strict: "false" or 0 is a mistake to report, not a value to convert.
    dry_run: StrictBool = Field(default=False, description="Plan only, whatever the configuration says.")


class SweepConfigurationError(ValueError):
    """The deployment's settings for the sweep are unusable."""


def dry_run_setting(policy: Policy, request: SweepRequest) -> bool:
    """Dry run unless every switch says otherwise: the deployment (default on), the policy and the request."""
    value = os.environ.get(DRY_RUN_ENV, "true")
    if value not in ("true", "false"):  # exactly as template.yaml's SweepDryRun allows: no "yes", "1" or ""
        raise SweepConfigurationError(f"{DRY_RUN_ENV} must be true or false, not {value!r}")
    return value == "true" or policy.sweep.dry_run or request.dry_run


def recycle_bin_setting() -> int:
    """Days the stack's Recycle Bin rules keep what the sweep removes; 0 when it has none."""
    value = os.environ.get(RECYCLE_BIN_DAYS_ENV, "0")
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses without naming the variable.
    if not re.fullmatch(r"[0-9]{1,3}", value) or int(value) > 365:
        raise SweepConfigurationError(f"{RECYCLE_BIN_DAYS_ENV} must be whole days from 0 to 365, not {value!r}")
    return int(value)


@dataclass
class SweepReport:
    plan: SweepPlan
    dry_run: bool
    results: dict[str, RegionResult] = field(default_factory=dict)
    summary: SweepSummary | None = None  # what applying the plan changed; None in a dry run
    summary_error: str | None = None  # the summary the policy asks for could not be published

    @property
    def failures(self) -> int:
        return sum(len(r.failures) for r in self.results.values()) + bool(self.summary_error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "plan": self.plan.summary(),
            "regions": {region: result.as_dict() for region, result in self.results.items()},
        }


def read_and_plan(
    policy: Policy,
    clients: ClientFactory,
    now: datetime,
    launches: LaunchReader | None,
    templates: LaunchTemplateTable | None = None,
    recycle_bin_days: int = 0,
) -> SweepPlan:
    """The fleet, then what only the removal candidates need read, then the plan."""
    return read_fleet_and_plan(policy, clients, now, launches, templates, recycle_bin_days)[1]


def read_fleet_and_plan(
    policy: Policy,
    clients: ClientFactory,
    now: datetime,
    launches: LaunchReader | None,
    templates: LaunchTemplateTable | None = None,
    recycle_bin_days: int = 0,
) -> tuple[Fleet, SweepPlan]:
    """`read_and_plan`, with what was read: the adoption plan sizes what retiring reclaims from it."""
    fleet = replace(read_fleet(policy, clients, now, launches, templates), recycle_bin_days=recycle_bin_days)
    fleet = read_candidates(clients, fleet, removal_candidates(fleet, policy, now))
    named = read_named_templates_in(clients, policy, fleet.regions)
    return fleet, add_sweep_updates(plan_sweep(fleet, policy, now), fleet, policy, named)


def run_sweep(
    policy: Policy,
    clients: ClientFactory,
    now: datetime,
    dry_run: bool,
    launches: LaunchReader | None,
    templates: LaunchTemplateTable | None = None,
    recycle_bin_days: int = 0,
) -> SweepReport:
    """Read every region and the launch records, plan, and apply the plan unless this is a dry run. `templates`
    keeps the launch template versions read, between runs (a dry run keeps them too: it changes no AMI)."""
    plan = read_and_plan(policy, clients, now, launches, templates, recycle_bin_days)
    report = SweepReport(plan, dry_run)
    logger.info("sweep planned", extra={"dry_run": dry_run, **plan.summary()})
    for region_plan in plan.regions.values():
        for note in region_plan.notes:
            logger.warning(note, extra={"region": region_plan.region})
        for decision in region_plan.decisions:
            if decision.status != "keep" or decision.protections:
                logger.info(
                    f"{decision.status}: {decision.image_id}",
                    extra={"region": decision.region, "image_id": decision.image_id, "reason": decision.reason},
                )
        for note in region_plan.launch_template_notes:
            logger.warning(note, extra={"region": region_plan.region})
    for region_plan in plan.regions.values():
        for parameter in region_plan.parameters:
            if parameter.status == NOT_OURS:  # someone else's parameter at the family's path: reported, untouched
                extra = {"region": parameter.region, "family": parameter.family, "parameter": parameter.name}
                logger.warning(f"parameter {parameter.name} left alone: {parameter.reason}", extra=extra)
    if not dry_run:
        report.results = apply_plan(clients, {region: p.actions for region, p in plan.regions.items()})
        report.summary = sweep_summary(plan, report.results, policy.sweep.snapshot_price_per_gb_month)
        if policy.sweep.summary and report.summary.changed:
            report.summary_error = _publish_summary(clients, policy, report.summary)
    _record_metrics(report)
    return report


def _publish_summary(clients: ClientFactory, policy: Policy, summary: SweepSummary) -> str | None:
    """The summary on the alerts topic; a failure is logged and counted, and the run's changes stand."""
    action = PublishSweepSummary(policy.home_region, summary.subject(), summary.message())
    try:
        action.apply(clients)
    except Exception as e:  # reported with the run's failures: the sweep itself succeeded
        logger.error("summary not published", extra={"error": f"{error_code(e)}: {e}"})
        return f"{error_code(e)}: {e}"
    logger.info("summary published", extra={"subject": action.subject})
    return None


@dataclass(frozen=True)
class SweepSkipped:
    """Another sweep held the lease: this one read nothing and changed nothing."""

    held_by: LeaseHolder

    def as_dict(self) -> dict[str, Any]:
        return {
            "skipped": True,
            "reason": "another sweep holds the lease",
            "lease_holder": self.held_by.holder,
            "lease_expires_at": self.held_by.expires_at.isoformat(),
        }


def run_sweep_alone(
    lease: SweepLease, now: datetime, lasts: timedelta, sweep: Callable[[], SweepReport]
) -> SweepReport | SweepSkipped:
    """`sweep` while holding the lease, given back however the sweep ends. While another sweep holds it, this
    one is skipped before any other call: no AWS write, a `SweepsSkipped` metric and a warning."""
    held_by = lease.acquire(now, lasts)
    if held_by is not None:
        logger.warning(
            "sweep skipped: another sweep holds the lease",
            extra={"lease_holder": held_by.holder, "lease_expires_at": held_by.expires_at.isoformat()},
        )
        metrics.add_metric(name="SweepsSkipped", unit=MetricUnit.Count, value=1)
        return SweepSkipped(held_by)
    try:
        return sweep()
    finally:
        lease.release()


_APPLIED_METRICS = {
    CopyImage.__name__: "CopiesStarted",
    FinishListedImage.__name__: "ImagesFinished",
    DeprecateImage.__name__: "AmisDeprecated",
    DisableImage.__name__: "AmisDisabled",
    DeregisterImage.__name__: "AmisDeregistered",
    CreateTemplateVersion.__name__: "LaunchTemplateVersionsCreated",
    SetDefaultTemplateVersion.__name__: "LaunchTemplateDefaultsSet",
    PutImageParameter.__name__: "ParametersMoved",
    CancelDeprecation.__name__: "DeprecationsCancelled",
}


def _record_metrics(report: SweepReport) -> None:
    plan = report.plan
    protected: Counter[str] = Counter(
        p.kind for region in plan.regions.values() for d in region.decisions for p in d.protections
    )
    for kind, count in sorted(protected.items()):
        with single_metric(name="AmisProtected", unit=MetricUnit.Count, value=count) as by_reason:
            by_reason.add_dimension(name="Reason", value=kind)
    blocked = sum(1 for p in plan.regions.values() if p.blocked)
    metrics.add_metric(name="RegionsBlocked", unit=MetricUnit.Count, value=blocked)
    elsewhere = sum(len(p.used_elsewhere) for p in plan.regions.values())
    metrics.add_metric(name="AmisUsedInOtherAccounts", unit=MetricUnit.Count, value=elsewhere)
    backlog = sum(p.usage_reports_backlog for p in plan.regions.values())
    metrics.add_metric(name="UsageReportsBacklog", unit=MetricUnit.Count, value=backlog)
    left_alone = sum(len(p.launch_template_notes) for p in plan.regions.values())
    metrics.add_metric(name="LaunchTemplatesLeftAlone", unit=MetricUnit.Count, value=left_alone)
    not_ours = sum(d.status == NOT_OURS for p in plan.regions.values() for d in p.parameters)
    metrics.add_metric(name="ParametersNotOurs", unit=MetricUnit.Count, value=not_ours)
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
    if report.summary is not None:
        metrics.add_metric(name="CopiesFinished", unit=MetricUnit.Count, value=report.summary.copies_finished)
        metrics.add_metric(name="ImagesAdopted", unit=MetricUnit.Count, value=report.summary.images_adopted)
    metrics.add_metric(
        name="SnapshotsDeleted", unit=MetricUnit.Count, value=sum(r.snapshots_deleted for r in report.results.values())
    )
    metrics.add_metric(
        name="GiBReclaimed", unit=MetricUnit.Gigabytes, value=sum(r.gib_reclaimed for r in report.results.values())
    )
    metrics.add_metric(name="SweepFailures", unit=MetricUnit.Count, value=report.failures)
