"""`python -m ami_lifecycle plan`: the sweep's plan, read-only, as a table per family and region."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from ami_lifecycle.cli import EXIT_BLOCKED, EXIT_OK, EXIT_USAGE, main
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.plan.launch_templates import MANAGED_TEMPLATE_TAG

from .conftest import EU, HOME, WEST, Account
from .sweep_world import RETENTION, TABLE, TEMPLATE_TABLE, World


@pytest.fixture
def world(account: Account, tmp_path: Path) -> World:
    world = World(account)
    (tmp_path / "policy.yaml").write_text(account.policy_text.replace("defaults:\n", "defaults:\n" + RETENTION, 1))
    images = world.family()
    world.sweep()
    for image_id in images[:3]:  # what the ticks until day 11 learnt: no other account uses the retiring versions
        for region, held in [(HOME, image_id), *world.copies(image_id).items()]:
            fidelity.add_usage_report(held, region, world.now + timedelta(days=10))
    return world


def plan(tmp_path: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(["plan", "--policy", str(tmp_path / "policy.yaml"), *args], out=out)
    return status, out.getvalue()


def test_the_plan_says_what_happens_to_each_version_and_why(world: World, tmp_path: Path) -> None:
    at = (world.now + timedelta(days=11)).strftime("%Y-%m-%dT%H:%M")

    with record_calls() as calls:
        status, text = plan(tmp_path, "--usage-table", TABLE, "--at", at)

    assert status == EXIT_OK
    assert all(c.operation.startswith(("Describe", "Scan", "GetParametersByPath")) for c in calls.calls)
    lines = text.splitlines()
    oldest = next(i for i, line in enumerate(lines) if line.strip().startswith("1.0.0"))
    assert "deregister" in lines[oldest] and "grace period over" in lines[oldest] and HOME in lines[oldest]
    assert {lines[oldest + 1].split()[0], lines[oldest + 2].split()[0]} == {WEST, EU}
    newest = next(line for line in lines if line.strip().startswith("1.4.0"))
    assert "keep" in newest and "newest 2 of its family (#1)" in newest
    assert "9 DeregisterImage" in text and f"{HOME}: 3 deregister, 2 keep; 0 not managed" in text
    parameter = lines.index("  parameter /ami-lifecycle/web/latest")
    assert lines[parameter + 2].split()[:4] == [HOME, world.built[-1], world.built[-1], "up-to-date"]


def test_the_plan_shows_a_pin_and_where_each_parameter_moves(world: World, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy.read_text() + "pins: {web: 1.3.0, db: 2.0.0}\n")

    status, text = plan(tmp_path, "--usage-table", TABLE)

    assert status == EXIT_OK
    lines = text.splitlines()
    pinned = lines.index("  parameter /ami-lifecycle/web/latest (pinned to 1.3.0)")
    home = lines[pinned + 2].split()
    assert home[:4] == [HOME, world.built[-1], world.built[-2], "move"] and lines[pinned + 2].endswith(
        "pinned to 1.3.0"
    )
    assert "db (no managed images)" in lines
    assert "pinned to 2.0.0, which has no available image in us-east-1; not created" in text


def test_without_launch_records_nothing_is_planned_for_removal(world: World, tmp_path: Path) -> None:
    status, text = plan(tmp_path, "--at", (world.now + timedelta(days=11)).isoformat(), "--json")

    assert status == EXIT_BLOCKED
    decisions = [json.loads(line) for line in text.splitlines()]
    assert {d["status"] for d in decisions} == {"blocked", "keep"}
    assert all("no usage table given" in d["reason"] for d in decisions if d["status"] == "blocked")


def test_the_plan_reads_the_launch_template_table_and_never_writes_it(world: World, tmp_path: Path) -> None:
    # Given a template the sweep read and kept, and one created since
    ec2 = world.ec2()
    kept = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": world.built[-1]})
    world.sweep(days=1 / 24)
    new = ec2.create_launch_template(LaunchTemplateName="api", LaunchTemplateData={"ImageId": world.built[0]})

    # When the plan is printed with the stack's launch template table
    with record_calls() as calls:
        plan(tmp_path, "--usage-table", TABLE, "--launch-template-table", TEMPLATE_TABLE)

    # Then only the new template's versions are read, and nothing is written: the table holds the first only
    read = [c.params["LaunchTemplateId"] for c in calls.calls if c.operation == "DescribeLaunchTemplateVersions"]
    assert read == [new["LaunchTemplate"]["LaunchTemplateId"]]
    assert all(c.operation.startswith(("Describe", "Scan", "Query", "GetParametersByPath")) for c in calls.calls)
    items = boto3.client("dynamodb", region_name=HOME).scan(TableName=TEMPLATE_TABLE)["Items"]
    assert [i["template_id"]["S"] for i in items] == [kept["LaunchTemplate"]["LaunchTemplateId"]]


def test_an_invalid_policy_is_refused_with_the_field(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policy.yaml").write_text("home_region: mars-1\nmanaged_images: []\n")

    status, _ = plan(tmp_path)

    assert status == EXIT_USAGE and "home_region" in capsys.readouterr().err


def test_the_plan_names_the_template_updates_and_the_templates_left_alone(world: World, tmp_path: Path) -> None:
    # Given a policy naming a tagged template on an old version, and one that does not exist
    policy_file = tmp_path / "policy.yaml"
    entries = "launch_templates:\n  - {family: web, name: web-asg}\n  - {family: web, name: gone}\n"
    policy_file.write_text(policy_file.read_text() + entries)
    world.ec2().create_launch_template(
        LaunchTemplateName="web-asg",
        LaunchTemplateData={"ImageId": world.built[0]},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": MANAGED_TEMPLATE_TAG, "Value": "true"}]}
        ],
    )
    # When the plan is printed
    with record_calls() as calls:
        status, text = plan(tmp_path, "--usage-table", TABLE)
    # Then it plans the version, says which template it cannot find, and writes nothing
    reads = ("Describe", "Scan", "Query", "GetParametersByPath", "GetResourceShares")
    assert status == EXIT_OK and all(c.operation.startswith(reads) for c in calls.calls)
    assert "1 CreateTemplateVersion" in text
    assert "launch_templates.1 (name gone): no such launch template in us-east-1" in text
