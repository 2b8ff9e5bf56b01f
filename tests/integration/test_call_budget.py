"""API-call budgets of the image-available flow: constant per region, never per tag or permission."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.policy import parse_policy

from .conftest import Account, ami_event

DR_POOL = ["us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ca-central-1"]
SNAPSHOTS = 2  # Account.build_ami makes AMIs with two volumes
TEMPLATE_TABLE = "launch-templates"


def budget_policy(account: Account, regions: list[str]):
    dr = "\n".join(f"  - region: {r}" for r in regions)
    text = account.policy_text.replace(
        "  - region: us-west-2\n    kms_key_id: " + account.kms_key_arn + "\n  - region: eu-west-1", dr
    )
    return parse_policy(text)


@pytest.mark.parametrize("dr_regions", [1, 2, 5])
def test_new_ami_costs_eight_plus_two_per_snapshot_plus_two_per_region(account: Account, dr_regions: int) -> None:
    policy = budget_policy(account, DR_POOL[:dr_regions])
    event = parse_ami_state_change(ami_event(account.build_ami()))

    with record_calls() as calls:
        handle_image_available(event, policy, account.clients(), DEFAULT_ACCOUNT_ID)

    ops = calls.by_operation()
    assert ops["CopyImage"] == dr_regions
    assert ops["CreateTags"] == 2  # image and snapshots in one call; the protected mark last
    assert ops["ModifyImageAttribute"] == 1
    assert ops["ModifySnapshotAttribute"] == SNAPSHOTS
    # the home parameter: its tags read, then created with its tags in one call (the copies' wait for them)
    assert (ops["ListTagsForResource"], ops["PutParameter"], ops["AddTagsToResource"]) == (1, 1, 0)
    assert len(calls.calls) == 8 + 2 * SNAPSHOTS + 2 * dr_regions


def test_redelivered_event_only_reads(account: Account) -> None:
    event = parse_ami_state_change(ami_event(account.build_ami()))
    handle_image_available(event, account.policy, account.clients(), DEFAULT_ACCOUNT_ID)

    with record_calls() as calls:
        handle_image_available(event, account.policy, account.clients(), DEFAULT_ACCOUNT_ID)

    assert not any(c.operation.startswith(("Copy", "Create", "Modify", "Put", "Add")) for c in calls.calls)
    # image, snapshots, launch and volume permissions; 2 copy lookups; the parameter's tags (already current)
    assert len(calls.calls) == 4 + SNAPSHOTS + 2


def test_finishing_a_copy_costs_eight_plus_two_per_snapshot(account: Account) -> None:
    source = parse_ami_state_change(ami_event(account.build_ami()))
    handle_image_available(source, account.policy, account.clients(), DEFAULT_ACCOUNT_ID)
    region, copy_id = fidelity.complete_pending_copies("us-west-2")[0]

    with record_calls() as calls:
        handle_image_available(
            parse_ami_state_change(ami_event(copy_id, region)), account.policy, account.clients(), DEFAULT_ACCOUNT_ID
        )

    assert calls.count("CreateTags") == 1  # tagged at creation by CopyImage; only the protected mark is left
    assert (calls.count("ListTagsForResource"), calls.count("PutParameter")) == (1, 1)  # the region's parameter
    assert len(calls.calls) == 8 + 2 * SNAPSHOTS


def test_a_newer_version_moves_the_parameter_with_one_tag_call_and_one_write(account: Account) -> None:
    first = parse_ami_state_change(ami_event(account.build_ami("web-1.0.0")))
    handle_image_available(first, account.policy, account.clients(), DEFAULT_ACCOUNT_ID)
    second = parse_ami_state_change(ami_event(account.build_ami("web-1.1.0")))

    with record_calls() as calls:
        handle_image_available(second, account.policy, account.clients(), DEFAULT_ACCOUNT_ID)

    # PutParameter refuses Tags with Overwrite: the tags are moved by AddTagsToResource, counted here
    ops = calls.by_operation()
    assert (ops["ListTagsForResource"], ops["AddTagsToResource"], ops["PutParameter"]) == (1, 1, 1)
    assert len(calls.calls) == 9 + 2 * SNAPSHOTS + 2 * 2


def sweep_fleet(account: Account) -> tuple[Any, Any, Any, Any]:
    """600 managed AMIs in 3 regions (bench.sweep_policy), the usage table and an empty launch template table."""
    from ami_lifecycle.aws.launch_template_table import LaunchTemplateTable
    from ami_lifecycle.aws.usage_table import UsageStore
    from ami_lifecycle.local.bench_sweep import sweep_policy
    from ami_lifecycle.local.fleet_seed import USAGE_TABLE, FleetShape, build_fleet
    from ami_lifecycle.local.seed import create_launch_template_table

    policy, clients = sweep_policy(), account.clients()
    seeded = build_fleet(policy, FleetShape(amis=600, families=12), datetime.now(UTC))
    assert seeded.managed() >= 590
    create_launch_template_table(boto3.client("dynamodb", region_name="us-east-1"), TEMPLATE_TABLE)
    tables = (UsageStore(clients, "us-east-1", USAGE_TABLE), LaunchTemplateTable(clients, "us-east-1", TEMPLATE_TABLE))
    return policy, clients, seeded, tables


def test_a_sweep_of_several_hundred_amis_reads_pages_and_writes_once_per_change(account: Account) -> None:
    """600 managed AMIs in 3 regions: reads are a few pages per region (plus one call per launch template, the
    launch template table still empty), writes one call per deprecation, disable and deregistration, and one
    snapshot mark per region."""
    from ami_lifecycle.flows.sweep import run_sweep
    from ami_lifecycle.local.bench_sweep import SWEEP_CAP

    policy, clients, seeded, (usage, templates_read) = sweep_fleet(account)
    now = datetime.now(UTC)

    with record_calls() as calls:
        report = run_sweep(policy, clients, now, False, usage.launched_since, templates_read)

    ops = calls.by_operation()
    templates = sum(seeded.launch_templates.values())
    planned = report.plan.summary()["actions"]
    finishing = planned.get("FinishListedImage", 0)
    for read in ("DescribeImages", "DescribeInstances", "DescribeLaunchTemplates",
                 "DescribeLaunchConfigurations", "DescribeAutoScalingGroups"):  # fmt: skip
        assert ops[read] == 3, (read, ops[read])  # one page per region at this size
    # finishing an image uses the snapshot tags the listing read, and adds the permissions without reading them
    assert ops["DescribeSnapshots"] == 3 and ops["DescribeSnapshotAttribute"] == 0 and finishing > 0
    assert ops["DescribeLaunchTemplateVersions"] == templates and ops["Scan"] == 1
    # the launch template table: one Query per region, the templates read kept 25 to a call
    assert ops["Query"] == 3
    assert ops["BatchWriteItem"] == sum(-(-n // 25) for n in seeded.launch_templates.values())
    assert ops["EnableImageDeprecation"] == planned["DeprecateImage"] > 0
    assert ops["DisableImage"] == planned.get("DisableImage", 0)
    assert ops["DeregisterImage"] == planned["DeregisterImage"] <= 3 * SWEEP_CAP
    assert ops["DeleteSnapshot"] == planned.get("DeleteSnapshot", 0)  # orphans only: the rest go with their AMI
    assert ops["CreateTags"] <= 3 + finishing  # one snapshot mark per region; tags and mark in one per finished image
    for listing in ("DescribeFleets", "DescribeSpotFleetRequests", "DescribeSpotInstanceRequests",
                    "DescribeComputeEnvironments"):  # fmt: skip
        assert ops[listing] == 3, (listing, ops[listing])
    # EC2's references of the removal candidates: ten images per call, never one call per image
    asked = [c for c in calls.calls if c.operation == "DescribeImageReferences"]
    for region in {c.region for c in asked}:
        ids = [i for c in asked if c.region == region for i in c.params["ImageIds"]]
        assert len([c for c in asked if c.region == region]) == -(-len(ids) // 10) and len(ids) == len(set(ids))
    assert ops["DescribeImageUsageReports"] <= 3 and ops["DescribeImageUsageReportEntries"] <= 3  # 200 per call
    # the family parameters: one GetParametersByPath and one DescribeParameters page per region; one write per
    # family and region whose parameter changes (here each is created, with its tags)
    assert ops["GetParametersByPath"] == 3 and ops["DescribeParameters"] == 3  # none yet: one empty page each
    assert ops["PutParameter"] == planned["PutImageParameter"] == 3 * 12 and ops.get("AddTagsToResource", 0) == 0
    reads = sum(n for op, n in ops.items() if op.startswith("Describe") or op == "Scan")
    bulk = 3 * (6 + 4 + 2 + 1) + templates + 1 + len(asked)
    assert reads == bulk  # finishing reads nothing of its own


def test_a_sweep_writes_no_parameter_when_nothing_changed(account: Account) -> None:
    from ami_lifecycle.flows.sweep import run_sweep

    policy, clients, _, (usage, templates_read) = sweep_fleet(account)
    now = datetime.now(UTC)
    # the first run finishes the images events missed; the next names those that became current
    for tick in (0, 1):
        run_sweep(policy, clients, now + timedelta(hours=tick), False, usage.launched_since, templates_read)

    with record_calls() as calls:
        report = run_sweep(policy, clients, now + timedelta(hours=2), False, usage.launched_since, templates_read)

    assert calls.count("GetParametersByPath") == 3 * 2 and calls.count("DescribeParameters") == 3  # 10 and 50 a page
    assert calls.count("PutParameter") == calls.count("AddTagsToResource") == 0
    statuses = {d.status for p in report.plan.regions.values() for d in p.parameters}
    assert statuses == {"up-to-date"} and sum(len(p.parameters) for p in report.plan.regions.values()) == 3 * 12


def test_the_next_sweep_reads_no_launch_template_versions(account: Account) -> None:
    """The steady-state tick: template listings, no version reads, no table writes (dry runs: the budget of the
    reads does not depend on what a run removes)."""
    from ami_lifecycle.flows.sweep import run_sweep

    policy, clients, seeded, (usage, templates_read) = sweep_fleet(account)
    now = datetime.now(UTC)
    run_sweep(policy, clients, now, True, usage.launched_since, templates_read)

    with record_calls() as calls:
        run_sweep(policy, clients, now + timedelta(hours=1), True, usage.launched_since, templates_read)

    ops = calls.by_operation()
    assert sum(seeded.launch_templates.values()) > 3 and ops["DescribeLaunchTemplates"] == 3
    assert ops["DescribeLaunchTemplateVersions"] == 0 and ops["Query"] == 3 and ops["BatchWriteItem"] == 0
