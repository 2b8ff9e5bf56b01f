"""`make bench`, adoption: one fleet of 10 families x 30 versions x 2 regions, built through the product, and the
same fleet made by other tools before the product was installed (sources without the product's tags, DR copies
by Packer `ami_regions`: EC2's ancestry only). Hourly sweeps run on each until one plans nothing; the ticks, the
API calls by operation, duplicate copies and the reclaimable AMIs left behind are compared.

The integration test (tests/integration/test_adoption.py) runs the same scenario and asserts the budget.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config
from moto import mock_aws

from ami_lifecycle.act.finish import FinishImage, FinishListedImage
from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.aws.launch_template_table import LaunchTemplateTable
from ami_lifecycle.flows import sweep
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.fleet_seed import USAGE_TABLE, FleetShape, SeededFleet, build_fleet
from ami_lifecycle.local.seed import create_launch_template_table, register_ami
from ami_lifecycle.plan.desired import desired_copy
from ami_lifecycle.policy import Policy, parse_policy
from ami_lifecycle.read.fleet import usage_reader
from ami_lifecycle.read.region import read_image

HOME, DR = "us-east-1", "us-west-2"
# 300 sources and their 300 copies: 10 families of 30 versions, in the home region and one DR region
ADOPTION_SHAPE = FleetShape(amis=600, families=10)
HISTORIES = ("product", "foreign")
CALL_BUDGET = 1.05  # the foreign fleet may cost at most 5% more calls than the product-built one (not reached)
# What is reached: one CreateTags per kept adopted image (its own tags and mark) and per family and region (the
# family tag of what retires): 77 calls over 467, +16.5%.
ADOPTION_BOUND = 1.17
MAX_TICKS = 8
TEMPLATE_TABLE = "adoption-launch-templates"


def adoption_policy() -> Policy:
    return parse_policy(f"""
home_region: {HOME}
dr_regions:
  - region: {DR}
defaults:
  retention:
    keep_latest: 3
    deprecate_after_days: 7
    deregister_after_days: 30
    launched_within_days: 30
sweep: {{max_deregistrations_per_region: 100}}
managed_images:
  - name: golden
    select: {{tags: {{"ami-lifecycle:managed": "true"}}}}
    family: {{tag: Family}}
    version: {{tag: Version}}
""")


@dataclass
class Settled:
    """Hourly sweeps on one fleet until a sweep plans nothing."""

    history: str
    ticks: int = 0  # sweeps run, the one that planned nothing included
    settled: bool = False
    calls: Counter[str] = field(default_factory=Counter)  # by operation, every tick
    calls_per_tick: list[int] = field(default_factory=list)
    duplicates: int = 0  # copies started where a copy of that source already was
    copies_started: int = 0
    adopted: int = 0  # images the plans named as adopted
    reclaimable: list[str] = field(default_factory=list)  # due for removal at the start, still there at the end
    failures: int = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def settle(policy: Policy, clients: ClientFactory, history: str, now: datetime) -> Settled:
    """Build the fleet with that history and sweep it hourly until settled. Runs inside an active `mock_aws()`
    with `fidelity.install()` done; pending copies complete between ticks (copies take minutes)."""
    seeded = build_fleet(policy, replace(ADOPTION_SHAPE, history=history), now)
    create_launch_template_table(boto3.client("dynamodb", region_name=HOME), TEMPLATE_TABLE)
    templates = LaunchTemplateTable(clients, HOME, TEMPLATE_TABLE)
    launches = usage_reader(clients, policy, USAGE_TABLE)
    had_copy = {(image.source_id, image.region) for image in seeded.images.values() if image.source_id}
    due = _due(seeded, policy, now)
    result = Settled(history)
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AmiLifecycle")
    for tick in range(MAX_TICKS):
        # The flow logs every decision and emits metrics to stdout (EMF), as in Lambda: kept out of the output.
        with record_calls() as recorder, contextlib.redirect_stdout(io.StringIO()):
            report = sweep.run_sweep(policy, clients, now + timedelta(hours=tick), False, launches, templates)
        sweep.metrics.clear_metrics()
        result.ticks += 1
        result.calls.update(c.operation for c in recorder.calls)
        result.calls_per_tick.append(len(recorder.calls))
        copies = [c for c in recorder.calls if c.operation == "CopyImage"]
        result.copies_started += len(copies)
        result.duplicates += sum((c.params["SourceImageId"], c.region) in had_copy for c in copies)
        had_copy |= {(c.params["SourceImageId"], c.region) for c in copies}
        result.adopted += sum(len(p.adopted) for p in report.plan.regions.values())
        result.failures += sum(len(r.failures) for r in report.results.values())
        fidelity.complete_pending_copies()
        if not report.plan.actions:
            result.settled = True
            break
    remaining = {
        image["ImageId"]
        for region in seeded.regions
        for image in clients.ec2(region).describe_images(Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True)[
            "Images"
        ]
    }
    result.reclaimable = sorted(due & remaining)
    return result


def _due(seeded: SeededFleet, policy: Policy, now: datetime) -> set[str]:
    """Managed images a correct sweep removes: deprecated long enough, nothing in use, the source's uses too."""
    retention = policy.retention_for(policy.managed_images[0])
    return {
        image_id
        for image_id, image in seeded.images.items()
        if (days := seeded.deprecated_days(image, now)) is not None
        and days >= retention.deregister_after_days
        and not seeded.protected(image)
    }


def adoption_bench() -> dict[str, Settled]:
    """Both fleets, each in its own embedded AWS, printed side by side."""
    results = {}
    for history in HISTORIES:
        with mock_aws():
            fidelity.install()
            clients = ClientFactory(config=Config(retries={"mode": "standard"}))
            results[history] = settle(adoption_policy(), clients, history, datetime.now(UTC))
    print_adoption(results)
    print_finish_costs(finish_costs())
    return results


def finish_costs() -> dict[str, Counter[str]]:
    """Calls to finish one adopted copy with two snapshots, shared with an account (launch and volume
    permissions): as an AMI event does it (read what is set, add what is missing) and as the sweep does it
    (snapshot tags from its listing, permissions added without reading)."""
    policy = parse_policy(f"""
home_region: {HOME}
dr_regions: [{{region: {DR}}}]
defaults: {{sharing: {{accounts: ["111111111111"], snapshot_permissions: true}}}}
managed_images:
  - {{name: golden, select: {{tags: {{Family: "*"}}}}, family: {{tag: Family}}, version: {{tag: Version}}}}
""")
    costs: dict[str, Counter[str]] = {}
    with mock_aws():
        fidelity.install()
        clients = ClientFactory(config=Config(retries={"mode": "standard"}))
        source_id = register_ami(
            clients.ec2(HOME), "web-1.0.0", {"Family": "web", "Version": "1"}, volume_sizes=(8, 20)
        )
        source = read_image(clients, HOME, source_id)
        assert source is not None
        match = policy.match(source.name, source.tags, source.creation_date)
        assert match is not None
        desired = desired_copy(source, match, policy)
        for way in ("event", "sweep"):
            ec2 = clients.ec2(DR)
            made = ec2.copy_image(SourceImageId=source_id, SourceRegion=HOME, Name=source.name)
            fidelity.complete_pending_copies(DR)
            copy = read_image(clients, DR, made["ImageId"])
            assert copy is not None
            listed: dict[str, dict[str, str]] = {s: {} for s in copy.snapshot_ids}  # a Packer copy's: untagged
            action = FinishImage(DR, copy, desired)
            if way == "sweep":
                action = FinishListedImage(DR, copy, desired, "", listed)
            with record_calls() as recorder:
                action.apply(clients)
            costs[way] = Counter(c.operation for c in recorder.calls)
    return costs


def print_finish_costs(costs: dict[str, Counter[str]]) -> None:
    print("\nFinishing one adopted copy (2 snapshots, shared with one account, volume permissions too)")
    for way, label in (("event", "AMI event: read, add what is missing"), ("sweep", "sweep: listed, added unread")):
        ops = ", ".join(f"{op} {n}" for op, n in sorted(costs[way].items()))
        print(f"  {label:<40}{sum(costs[way].values()):>3} calls ({ops})")


def print_adoption(results: dict[str, Settled]) -> None:
    product, foreign = results["product"], results["foreign"]
    print(
        "\nAdoption: 10 families x 30 versions in us-east-1 and us-west-2 (600 AMIs), hourly sweeps until one plans "
        "nothing;\n  'product' built and copied through the product, 'foreign' the same AMIs made by other tools "
        "(no product tags,\n  DR copies by Packer ami_regions: EC2's ancestry only)"
    )

    def row(name: str, value: str, other: str) -> None:
        print(f"  {name:<34}{value:>14}{other:>14}")

    row("", "product", "foreign")
    row("ticks to settle", _ticks(product), _ticks(foreign))
    row("API calls", f"{product.total:,}", f"{foreign.total:,}")
    row("  per tick", "/".join(map(str, product.calls_per_tick)), "/".join(map(str, foreign.calls_per_tick)))
    for operation in sorted(product.calls.keys() | foreign.calls.keys()):
        row(f"  {operation}", f"{product.calls[operation]:,}", f"{foreign.calls[operation]:,}")
    row("copies started / duplicates", _pair(product.copies_started, product.duplicates),
        _pair(foreign.copies_started, foreign.duplicates))  # fmt: skip
    row("images adopted", f"{product.adopted:,}", f"{foreign.adopted:,}")
    row("reclaimable left", f"{len(product.reclaimable):,}", f"{len(foreign.reclaimable):,}")
    row("failed actions", str(product.failures), str(foreign.failures))
    extra = foreign.total / product.total - 1 if product.total else 0.0
    verdict = "within" if foreign.total <= CALL_BUDGET * product.total else "OVER"
    print(f"  foreign fleet: {extra:+.1%} API calls against the product-built one ({verdict} the 5% budget)")


def _ticks(result: Settled) -> str:
    return str(result.ticks) if result.settled else f">{result.ticks}"


def _pair(a: int, b: int) -> str:
    return f"{a:,} / {b:,}"
