"""`make bench`: API calls and wall time of the image-available, launch-tracking and sweep flows on the embedded AWS.

Wall times are moto's, in-process: they show how the flow scales, not AWS latency. Call counts are exact.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import statistics
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
from ami_lifecycle.aws.alert_topic import AlertTopic
from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.aws.launch_template_table import LaunchTemplateTable
from ami_lifecycle.aws.usage_table import UsageStore
from ami_lifecycle.flows import sweep
from ami_lifecycle.flows.image_available import handle_image_available, metrics
from ami_lifecycle.flows.launches import metrics as launch_metrics
from ami_lifecycle.flows.launches import process_launch_batch
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import Call, CallRecorder, record_calls
from ami_lifecycle.local.fleet_seed import USAGE_TABLE, FleetShape, SeededFleet, build_fleet
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID, sqs_event
from ami_lifecycle.local.seed import create_launch_template_table, register_ami
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.model.inventory import Fleet, RegionInventory
from ami_lifecycle.model.plan import DEFERRED, DEREGISTER, SweepPlan
from ami_lifecycle.plan.sweep import plan_sweep
from ami_lifecycle.policy import Policy, parse_policy
from ami_lifecycle.read.fleet import usage_reader

HOME = "us-east-1"
DR_POOL = ["us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ca-central-1",
           "ap-northeast-1", "sa-east-1", "eu-north-1", "us-east-2", "ap-south-1"]  # fmt: skip
SNAPSHOTS = (8, 20)


def _policy(dr_regions: int) -> Policy:
    regions = "\n".join(f"  - region: {r}" for r in DR_POOL[:dr_regions])
    return parse_policy(f"""
home_region: {HOME}
dr_regions:
{regions}
defaults:
  sharing: {{accounts: ["111111111111"], snapshot_permissions: true}}
managed_images:
  - name: golden
    select: {{tags: {{"ami-lifecycle:managed": "true"}}}}
    family: {{tag: Family}}
""")


def _event(image_id: str, region: str = HOME) -> dict[str, Any]:
    return {
        "version": "0", "id": "bench", "detail-type": "EC2 AMI State Change", "source": "aws.ec2",
        "account": DEFAULT_ACCOUNT_ID, "time": "2026-11-22T00:00:00Z", "region": region,
        "resources": [], "detail": {"ImageId": image_id, "State": "available"},
    }  # fmt: skip


def _protect(policy: Policy, clients: ClientFactory, image_id: str, region: str = HOME) -> None:
    handle_image_available(parse_ami_state_change(_event(image_id, region)), policy, clients, DEFAULT_ACCOUNT_ID)
    metrics.clear_metrics()  # the handler's decorator would flush them


def calls_per_new_ami() -> None:
    print(f"API calls for one new AMI ({len(SNAPSHOTS)} snapshots, shared with one account)")
    print(f"{'DR regions':>10} {'first event':>12} {'redelivery':>11} {'copy finish':>12}  by action (first event)")
    for dr_regions in (1, 2, 5, 10):
        with mock_aws():
            fidelity.install()
            policy, clients = _policy(dr_regions), ClientFactory()
            image_id = register_ami(
                boto3.client("ec2", HOME), "web", {"ami-lifecycle:managed": "true", "Family": "web"}, SNAPSHOTS
            )
            with record_calls() as first:
                _protect(policy, clients, image_id)
            with record_calls() as again:
                _protect(policy, clients, image_id)
            region, copy_id = fidelity.complete_pending_copies(DR_POOL[0])[0]
            with record_calls() as finish:
                _protect(policy, clients, copy_id, region)
        actions = ", ".join(f"{op} {n}" for op, n in sorted(first.by_operation().items()))
        print(f"{dr_regions:>10} {len(first.calls):>12} {len(again.calls):>11} {len(finish.calls):>12}  {actions}")


def burst(amis: int, dr_regions: int) -> None:
    with mock_aws():
        fidelity.install()
        policy, clients = _policy(dr_regions), ClientFactory(config=Config(retries={"mode": "standard"}))
        ec2 = boto3.client("ec2", HOME)
        ids = [register_ami(ec2, f"app{i}", {"ami-lifecycle:managed": "true", "Family": f"app{i % 10}"},
                            SNAPSHOTS) for i in range(amis)]  # fmt: skip
        durations = []
        with record_calls() as calls:
            start = time.perf_counter()
            for image_id in ids:
                t0 = time.perf_counter()
                _protect(policy, clients, image_id)
                durations.append(time.perf_counter() - t0)
            total = time.perf_counter() - start
        copies = sum(len(boto3.client("ec2", r).describe_images(Owners=["self"])["Images"])
                     for r in DR_POOL[:dr_regions])  # fmt: skip
    quantiles = statistics.quantiles(durations, n=20)
    ops: Counter[str] = calls.by_operation()
    print(f"\nBurst: {amis} new AMIs, {dr_regions} DR regions, one invocation each")
    print(f"  copies made        {copies} (expected {amis * dr_regions})")
    print(
        f"  API calls          {len(calls.calls)} ({len(calls.calls) / amis:.1f} per AMI; CopyImage {ops['CopyImage']})"
    )
    print(f"  wall time          {total:.2f} s (per invocation: p50 {statistics.median(durations) * 1000:.0f} ms, "
          f"p95 {quantiles[18] * 1000:.0f} ms, moto in-process)")  # fmt: skip


def launch_batch(launches: int, amis: int) -> None:
    """One SQS batch of instance launches (a `running` event each) spread over a few managed AMIs."""
    with mock_aws():
        fidelity.install()
        policy, clients = _policy(1), ClientFactory()
        dynamodb = boto3.client("dynamodb", HOME)
        dynamodb.create_table(
            TableName="usage",
            KeySchema=[{"AttributeName": "image_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "image_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ec2 = boto3.client("ec2", HOME)
        instance_ids = []
        for i in range(amis):
            image_id = register_ami(ec2, f"app{i}", {"ami-lifecycle:managed": "true", "Family": f"app{i}"})
            _protect(policy, clients, image_id)
            reservation = ec2.run_instances(ImageId=image_id, MinCount=launches // amis, MaxCount=launches // amis)
            instance_ids += [i["InstanceId"] for i in reservation["Instances"]]
        events = [
            {"version": "0", "id": f"e{n}", "detail-type": "EC2 Instance State-change Notification",
             "source": "aws.ec2", "account": DEFAULT_ACCOUNT_ID, "time": "2026-11-22T00:00:00Z", "region": HOME,
             "resources": [], "detail": {"instance-id": instance_id, "state": "running"}}
            for n, instance_id in enumerate(instance_ids)
        ]  # fmt: skip
        batch = sqs_event(events, f"arn:aws:sqs:{HOME}:{DEFAULT_ACCOUNT_ID}:launch-events")
        usage = UsageStore(clients, HOME, "usage")
        with record_calls() as calls:
            start = time.perf_counter()
            response = process_launch_batch(batch, policy, clients, DEFAULT_ACCOUNT_ID, usage=usage,
                                            alerts=AlertTopic(clients, HOME, topic_arn=""))  # fmt: skip
            total = time.perf_counter() - start
        launch_metrics.clear_metrics()
    ops = ", ".join(f"{op} {n}" for op, n in sorted(calls.by_operation().items()))
    print(f"\nLaunch batch: {len(instance_ids)} launches of {amis} AMIs in one SQS batch")
    print(f"  API calls          {len(calls.calls)} ({ops})")
    print(f"  failed messages    {len(response['batchItemFailures'])}")
    print(f"  wall time          {total:.2f} s (moto in-process)")


# ------------------------------------------------------------------------------------------------------------
# Sweep
# ------------------------------------------------------------------------------------------------------------

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
    (_, line, name), (_, _, _, cumulative, _) = max(
        (
            (key, value)
            for key, value in stats.items()
            if key[0].endswith("sweep_planner.py") and key[2] != "plan_sweep"
        ),
        key=lambda item: item[1][3],
    )
    return f"{name} (sweep_planner.py:{line}) takes {cumulative / total:.0%} of plan_sweep under cProfile"


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
    row("planned: copy / finish", lambda r: _planned(r, "CopyImage", "FinishImage"))
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
        "finish": planned["FinishImage"],
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
        {"CopyImage": 1 << 30, "FinishImage": 1 << 30, "DeprecateImage": 1 << 30, "DisableImage": 1 << 30}
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


def main() -> int:
    calls_per_new_ami()
    burst(amis=200, dr_regions=2)
    launch_batch(launches=1000, amis=5)
    for shape in SWEEP_FLEETS:
        sweep_fleet(shape)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
