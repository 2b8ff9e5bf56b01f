"""`make bench`, the sweep: fleets of managed AMIs over three regions, a dry run, a real run, the run after it
and that run again without the launch template table, measured phase by phase.

Wall times are moto's, in-process: they show how the flow scales, not AWS latency. Call counts are exact.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws

from ami_lifecycle.act.retire import DeregisterImage, DisableImage
from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.aws.launch_template_table import LaunchTemplateTable
from ami_lifecycle.flows import sweep
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import Call, CallRecorder, record_calls
from ami_lifecycle.local.fleet_seed import USAGE_TABLE, FleetShape, SeededFleet, build_fleet
from ami_lifecycle.local.seed import create_launch_template_table
from ami_lifecycle.model.inventory import Fleet, RegionInventory
from ami_lifecycle.model.plan import DEFERRED, DEREGISTER, SweepPlan
from ami_lifecycle.plan.sweep import plan_sweep
from ami_lifecycle.policy import Policy, parse_policy
from ami_lifecycle.read.fleet import usage_reader

HOME = "us-east-1"
SWEEP_DR = ("us-west-2", "eu-west-1")
SWEEP_FLEETS = (FleetShape(amis=1_000, families=20), FleetShape(amis=10_000, families=50))
SWEEP_CAP = 100  # deregistrations per region per run
TEMPLATE_TABLE = "launch-templates"
PLANNER_BUDGET = 0.5  # CPU seconds for plan_sweep on the largest fleet; above it, the hot spot is printed
# The reads, in the order fleet.read_region makes them; their calls are the pages the sweep read.
READ_OPERATIONS = (
    "DescribeImages",
    "DescribeSnapshots",
    "DescribeInstances",
    "DescribeLaunchTemplates",
    "DescribeLaunchTemplateVersions",
    "Query",
    "DescribeLaunchConfigurations",
    "DescribeAutoScalingGroups",
    "Scan",
)


def sweep_policy() -> Policy:
    regions = "\n".join(f"  - region: {r}" for r in SWEEP_DR)
    return parse_policy(f"""
home_region: {HOME}
dr_regions:
{regions}
defaults:
  sharing: {{accounts: ["111111111111"], snapshot_permissions: true}}
  retention:
    keep_latest: 5
    deprecate_after_days: 7
    disable_after_days: 14
    deregister_after_days: 30
    launched_within_days: 30
sweep: {{max_deregistrations_per_region: {SWEEP_CAP}}}
managed_images:
  - name: golden
    select: {{tags: {{"ami-lifecycle:managed": "true"}}}}
    family: {{tag: Family}}
    version: {{tag: Version}}
""")


@dataclass
class SweepRun:
    """One run_sweep, measured phase by phase from inside (the flow's own functions, wrapped)."""

    label: str
    dry_run: bool
    plan: SweepPlan | None = None
    fleet: Fleet | None = None
    calls: list[Call] = field(default_factory=list)
    read_calls: int = 0  # the first read_calls of `calls` were made by the read phase
    read_seconds: float = 0.0
    plan_cpu: float = 0.0
    apply_seconds: float = 0.0
    total_seconds: float = 0.0
    applied: Counter[str] = field(default_factory=Counter)
    snapshots_deleted: int = 0
    gib: int = 0
    failures: int = 0

    def ops(self, phase: str = "all") -> Counter[str]:
        calls = {"all": self.calls, "read": self.calls[: self.read_calls], "apply": self.calls[self.read_calls :]}
        return Counter(c.operation for c in calls[phase])

    def pages(self, operation: str) -> str:
        """Calls (= pages) of a read operation, per region of the policy."""
        by_region = Counter(c.region for c in self.calls[: self.read_calls] if c.operation == operation)
        return "/".join(str(by_region[r]) for r in (HOME, *SWEEP_DR))


@contextlib.contextmanager
def _measured(run: SweepRun, recorder: CallRecorder) -> Iterator[None]:
    """Wrap the flow's read, plan and apply functions for the duration of one run_sweep."""
    flow: Any = sweep  # its functions are swapped for measuring wrappers during one run
    originals = flow.read_fleet, flow.plan_sweep, flow.apply_plan, flow.read_candidates
    spans: list[tuple[float, float]] = []

    def read_fleet(*args: Any) -> Fleet:
        start = time.perf_counter()
        run.fleet = originals[0](*args)
        run.read_seconds = time.perf_counter() - start
        run.read_calls = len(recorder.calls)
        return run.fleet

    def read_candidates(*args: Any) -> Fleet:
        start = time.perf_counter()
        run.fleet = originals[3](*args)
        run.read_seconds += time.perf_counter() - start
        run.read_calls = len(recorder.calls)
        return run.fleet

    def plan(*args: Any) -> SweepPlan:
        start = time.process_time()
        run.plan = originals[1](*args)
        run.plan_cpu = time.process_time() - start
        return run.plan

    def apply_plan(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return originals[2](*args)
        finally:
            spans.append((start, time.perf_counter()))

    flow.read_fleet, flow.plan_sweep, flow.apply_plan, flow.read_candidates = (
        read_fleet,
        plan,
        apply_plan,
        read_candidates,
    )
    try:
        yield
    finally:
        flow.read_fleet, flow.plan_sweep, flow.apply_plan, flow.read_candidates = originals
        if spans:
            run.apply_seconds = max(end for _, end in spans) - min(start for start, _ in spans)


def _run_sweep(
    label: str, policy: Policy, clients: ClientFactory, dry_run: bool, templates: LaunchTemplateTable | None
) -> SweepRun:
    run = SweepRun(label, dry_run)
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AmiLifecycle")  # as the Makefile and template set it
    launches = usage_reader(clients, policy, USAGE_TABLE)
    # The flow logs every decision and emits metrics to stdout (EMF), as in Lambda: kept out of the table.
    with record_calls() as recorder, _measured(run, recorder), contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        report = sweep.run_sweep(policy, clients, datetime.now(UTC), dry_run, launches, templates)
        run.total_seconds = time.perf_counter() - start
    sweep.metrics.clear_metrics()
    run.calls = list(recorder.calls)
    for result in report.results.values():
        run.applied.update(result.applied)
        run.snapshots_deleted += result.snapshots_deleted
        run.gib += result.gib_reclaimed
        run.failures += len(result.failures)
    return run


def _planner_cpu(fleet: Fleet, policy: Policy) -> float:
    """plan_sweep alone on the fleet a run read: the best of three, in CPU seconds."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        plan_sweep(fleet, policy, datetime.now(UTC))
        best = min(best, time.process_time() - start)
    return best


def _planner_hot_spot(fleet: Fleet, policy: Policy) -> str:
    """The planner's function (below plan_sweep) with the most cumulative time, under cProfile."""
    profile = cProfile.Profile()
    profile.runcall(plan_sweep, fleet, policy, datetime.now(UTC))
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = max(cumulative for (_, _, name), (_, _, _, cumulative, _) in stats.items() if name == "plan_sweep")
    planner = os.path.join("ami_lifecycle", "plan", "")
    (path, line, name), (_, _, _, cumulative, _) = max(
        ((key, value) for key, value in stats.items() if planner in key[0] and key[2] != "plan_sweep"),
        key=lambda item: item[1][3],
    )
    where = f"plan/{os.path.basename(path)}:{line}"
    return f"{name} ({where}) takes {cumulative / total:.0%} of plan_sweep under cProfile"


def sweep_fleet(shape: FleetShape) -> None:
    """A fleet of `shape.amis` managed AMIs over three regions: a dry run (the launch template table still empty),
    a real run, the run after it, and that run again without the table (every template's versions read)."""
    with mock_aws():
        fidelity.install()
        policy, clients = sweep_policy(), ClientFactory(config=Config(retries={"mode": "standard"}))
        seeded = build_fleet(policy, shape, datetime.now(UTC))
        create_launch_template_table(boto3.client("dynamodb", HOME), TEMPLATE_TABLE)
        templates = LaunchTemplateTable(clients, HOME, TEMPLATE_TABLE)
        _print_fleet(seeded)
        dry = _run_sweep("dry run", policy, clients, True, templates)
        assert dry.fleet is not None
        planner = _planner_cpu(dry.fleet, policy)
        hot_spot = _planner_hot_spot(dry.fleet, policy) if planner > PLANNER_BUDGET else ""
        real = _run_sweep("real run", policy, clients, False, templates)
        after = _run_sweep("next run", policy, clients, False, templates)
        uncached = _run_sweep("no table", policy, clients, False, None)
    runs = [dry, real, after, uncached]
    _print_runs(runs, planner, hot_spot)
    _print_checks(seeded, runs)


def _print_fleet(seeded: SeededFleet) -> None:
    r = seeded.retention
    per_region = "/".join(f"{seeded.managed(region):,}" for region in seeded.regions)
    stopped = seeded.instances.get("stopped", 0)
    templates = "/".join(str(seeded.launch_templates.get(region, 0)) for region in seeded.regions)
    build = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in seeded.build_seconds.items())
    print(
        f"\nSweep: {seeded.managed():,} managed AMIs in {seeded.families} families ({per_region} in "
        f"{'/'.join(seeded.regions)}), {seeded.snapshots():,} snapshots, {seeded.unmanaged} unmanaged AMIs"
    )
    print(
        f"  policy: keep {r.keep_latest}, deprecate {r.deprecate_after_days} d after superseded, disable after "
        f"{r.disable_after_days} d, deregister after {r.deregister_after_days} d, at most {SWEEP_CAP} per region "
        f"and run; in use = launched within {r.launched_within_days} d or referenced"
    )
    records, launched = seeded.launch_records, seeded.last_launched
    print(
        f"  references: {sum(seeded.instances.values())} instances ({stopped} stopped), {templates} launch "
        f"templates ({seeded.template_versions:,} versions), {seeded.launch_configurations} launch configurations, "
        f"{seeded.auto_scaling_groups} Auto Scaling groups ({seeded.mixed_instances_groups} mixed instances), "
        f"{records.get('recent', 0)} recent launch records (+{records.get('old', 0)} older), "
        f"{launched.get('recent', 0)} recent LastLaunchedTime (+{launched.get('old', 0)} older), "
        f"{seeded.deregistration_protected} with deregistration protection"
    )
    print(f"  built in {sum(seeded.build_seconds.values()):.1f} s: {build}")


def _print_runs(runs: list[SweepRun], planner_cpu: float, hot_spot: str) -> None:
    def row(name: str, value: Callable[..., str]) -> None:
        print(f"  {name:<34}" + "".join(f"{value(run):>14}" for run in runs))

    def seconds(value: float, show: bool = True) -> str:
        return f"{value:.2f} s" if show else "-"

    print(f"  {'':<34}" + "".join(f"{run.label:>14}" for run in runs))
    row("read phase (wall)", lambda r: seconds(r.read_seconds))
    row("planner (CPU, inside run_sweep)", lambda r: seconds(r.plan_cpu))
    row("apply phase (wall)", lambda r: seconds(r.apply_seconds, not r.dry_run))
    row("run_sweep (wall)", lambda r: seconds(r.total_seconds))
    row("API calls: read", lambda r: f"{r.read_calls:,}")
    row("API calls: apply", lambda r: f"{len(r.calls) - r.read_calls:,}")
    operations = sorted({c.operation for r in runs for c in r.calls}, key=_operation_order)
    for operation in operations:
        row(f"  {operation}", lambda r, op=operation: f"{r.ops()[op]:,}" if r.ops()[op] else "-")
    print(
        f"  {'read pages observed':<34}"
        + "".join(f"{run.label:>14}" for run in runs)
        + f"   ({HOME}/{'/'.join(SWEEP_DR)})"
    )
    for operation in READ_OPERATIONS:
        row(f"  {operation}", lambda r, op=operation: r.pages(op))
    row("planned: copy / finish", lambda r: _planned(r, "CopyImage", "FinishListedImage"))
    row("planned: deprecate / disable", lambda r: _planned(r, "DeprecateImage", "DisableImage"))
    row("planned: deregister / deferred", lambda r: _statuses(r, DEREGISTER, DEFERRED))
    row("planned: orphaned snapshots", lambda r: _planned(r, "DeleteSnapshot"))
    row("applied: deprecated / disabled", lambda r: _applied(r, "DeprecateImage", "DisableImage"))
    row("applied: deregistered", lambda r: _applied(r, "DeregisterImage"))
    row("applied: snapshots deleted / GiB", lambda r: "-" if r.dry_run else f"{r.snapshots_deleted:,} / {r.gib:,}")
    row("failures", lambda r: "-" if r.dry_run else str(r.failures))
    verdict = "" if planner_cpu <= PLANNER_BUDGET else f": over the {PLANNER_BUDGET} s budget; hot spot: {hot_spot}"
    print(f"  planner alone on the read fleet: {planner_cpu:.3f} s CPU (best of 3){verdict}")


def _operation_order(operation: str) -> tuple[int, str]:
    reads = list(READ_OPERATIONS)
    return (reads.index(operation), "") if operation in reads else (len(reads), operation)


def _planned(run: SweepRun, *names: str) -> str:
    assert run.plan is not None
    counts = Counter(type(a).__name__ for a in run.plan.actions)
    return " / ".join(f"{counts[n]:,}" for n in names)


def _statuses(run: SweepRun, *statuses: str) -> str:
    assert run.plan is not None
    return " / ".join(f"{sum(p.count(s) for p in run.plan.regions.values()):,}" for s in statuses)


def _applied(run: SweepRun, *names: str) -> str:
    return "-" if run.dry_run else " / ".join(f"{run.applied[n]:,}" for n in names)


def _print_checks(seeded: SeededFleet, runs: list[SweepRun]) -> None:
    """What the sweep saw and did, against the fleet's ground truth."""
    dry, real, after = runs[:3]
    assert dry.fleet is not None and dry.plan is not None and real.plan is not None and after.plan is not None
    problems: list[str] = []
    seen = {r: _templates_seen(inv) for r, inv in dry.fleet.regions.items()}
    templates = ", ".join(f"{seen[r]} of {seeded.launch_templates.get(r, 0)}" for r in seeded.regions)
    if any(seen[r] != seeded.launch_templates.get(r, 0) for r in seeded.regions):
        problems.append(f"launch templates read {templates}: DescribeLaunchTemplates stopped after one page")
    referenced = {i for inv in dry.fleet.regions.values() for i in inv.references}
    unseen = [i for i, image in seeded.images.items() if _referenced(image.in_use) and i not in referenced]
    if unseen:
        problems.append(f"{len(unseen)} referenced AMIs not found referenced by the read")
    expected = seeded.expected(dry.plan.now)
    planned = Counter(type(a).__name__ for a in dry.plan.actions)
    due = sum(p.count(DEREGISTER) + p.count(DEFERRED) for p in dry.plan.regions.values())
    compare = {
        "copy": planned["CopyImage"],
        "finish": planned["FinishListedImage"],
        "deprecate": planned["DeprecateImage"],
        "disable": planned["DisableImage"],
        "deregister due": due,
    }
    mismatches = [f"{k} {compare[k]} (expected {expected[k]})" for k in compare if compare[k] != expected[k]]
    if mismatches:
        problems.append("plan differs from the ground truth: " + ", ".join(mismatches))
    removed = {a.image_id for a in real.plan.actions if isinstance(a, DeregisterImage | DisableImage)}
    unsafe = sorted(i for i in removed if i in seeded.images and seeded.protected(seeded.images[i]))
    if unsafe:
        example = seeded.images[unsafe[0]]
        problems.append(f"UNSAFE: {len(unsafe)} AMIs in use disabled or deregistered (e.g. {unsafe[0]} in "
                        f"{example.region}: {'; '.join(seeded.protected(example))})")  # fmt: skip
    repeated = Counter(type(a).__name__ for a in after.plan.actions) & Counter(
        {"CopyImage": 1 << 30, "FinishListedImage": 1 << 30, "DeprecateImage": 1 << 30, "DisableImage": 1 << 30}
    )
    if repeated:
        problems.append(f"the next run plans again: {dict(repeated)}")
    print(f"  checks: launch templates read {templates}; expected {', '.join(f'{k} {v}' for k, v in expected.items())}")
    for problem in problems:
        print(f"  !! {problem}")
    if not problems:
        print("  checks passed: every reference read, plan = ground truth, nothing in use removed, next run converged")


def _templates_seen(inventory: RegionInventory) -> int:
    return len(
        {
            str(reference).split()[1]
            for references in inventory.references.values()
            for reference in references
            if reference.kind == "launch-template"
        }
    )


def _referenced(reasons: list[str]) -> bool:
    return any(r.startswith(("instance", "launch template", "launch configuration")) for r in reasons)
