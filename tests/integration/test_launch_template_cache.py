"""Launch template versions are read once and kept: a template's versions are read again only when it changed,
when it names its AMI through a resolve:ssm: parameter, or after the refresh period.

Every sweep here is a dry run at most a day after the first: nothing is due for removal, so the plan's
protections show what the sweep read, whatever EC2's own reference check would answer.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from ami_lifecycle.aws.launch_template_table import LaunchTemplateTable
from ami_lifecycle.flows.sweep import SweepReport
from ami_lifecycle.local.calls import CallRecorder, record_calls
from ami_lifecycle.local.eventbus import load_template
from ami_lifecycle.local.seed import create_launch_template_table

from .conftest import EU, HOME, WEST, Account
from .sweep_world import TEMPLATE_TABLE, World, decision

READ_VERSIONS = "DescribeLaunchTemplateVersions"
PARAMETER = "/golden/web/current"


@pytest.fixture
def world(account: Account) -> World:
    """Five versions of a family, web-1.0.0 (oldest, beyond retention) to web-1.4.0, copied to both DR regions."""
    world = World(account)
    world.family()
    return world


def template(world: World, name: str, *image_ids: str, region: str = HOME) -> str:
    """A launch template with one version per AMI, in order; version 1 stays the default."""
    ec2 = world.ec2(region)
    template_id = str(
        ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_ids[0]})[
            "LaunchTemplate"
        ]["LaunchTemplateId"]
    )
    for image_id in image_ids[1:]:
        ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": image_id})
    return template_id


def sweep(world: World, hours: float = 0) -> tuple[SweepReport, CallRecorder]:
    with record_calls() as calls:
        report = world.sweep(days=hours / 24, dry_run=True)
    return report, calls


def versions_read(calls: CallRecorder, template_id: str | None = None) -> int:
    return sum(
        1
        for c in calls.calls
        if c.operation == READ_VERSIONS and template_id in (None, c.params.get("LaunchTemplateId"))
    )


def kept_by_a_template(report: SweepReport, image_id: str) -> bool:
    return "launch-template" in {p.kind for p in decision(report, image_id).protections}


def cached(region: str = HOME) -> dict[str, dict[str, Any]]:
    """The table's items of a region, by template id."""
    items = boto3.client("dynamodb", region_name=HOME).scan(TableName=TEMPLATE_TABLE)["Items"]
    return {i["template_id"]["S"]: i for i in items if i["region"]["S"] == region}


def cached_images(item: dict[str, Any]) -> dict[int, str]:
    return {int(n): v["S"] for n, v in item["images"]["M"].items()}


def test_the_second_tick_reads_no_template_versions(world: World) -> None:
    # Given launch templates in the home region and in a DR region, one naming the oldest version
    oldest, newest = world.built[0], world.built[-1]
    home = template(world, "web", oldest, newest)
    west = template(world, "web", world.copies(newest)[WEST], region=WEST)
    # and a first sweep that read them
    first, first_calls = sweep(world)
    assert versions_read(first_calls) == 2 and kept_by_a_template(first, oldest)

    # When the sweep runs again
    second, calls = sweep(world, hours=1)

    # Then no template's versions are read, and the oldest version is still kept by its template
    assert versions_read(calls) == 0
    assert calls.count("DescribeLaunchTemplates") == 3  # the listing, every tick: one page per region
    assert kept_by_a_template(second, oldest)
    # and the table holds each template's versions and their AMIs
    assert cached_images(cached()[home]) == {1: oldest, 2: newest}
    item = cached(WEST)[west]
    assert item["latest_version"] == {"N": "1"} and item["default_version"] == {"N": "1"}
    assert item["uses_alias"] == {"BOOL": False} and "read_at" in item


def test_a_new_version_is_read_again_and_keeps_its_ami(world: World) -> None:
    # Given two templates on the newest version, read by a first sweep
    oldest, newest = world.built[0], world.built[-1]
    changed = template(world, "web", newest)
    unchanged = template(world, "api", newest)
    first, _ = sweep(world)
    assert not kept_by_a_template(first, oldest)

    # When one gets a new version naming the oldest version (its LatestVersionNumber moves)
    world.ec2().create_launch_template_version(LaunchTemplateId=changed, LaunchTemplateData={"ImageId": oldest})
    second, calls = sweep(world, hours=1)

    # Then only that template is read again, and its new version keeps the oldest version
    assert versions_read(calls, changed) == 1 and versions_read(calls) == 1
    assert kept_by_a_template(second, oldest)
    item = cached()[changed]
    assert item["latest_version"] == {"N": "2"} and cached_images(item) == {1: newest, 2: oldest}
    assert cached_images(cached()[unchanged]) == {1: newest}


def test_a_template_naming_its_ami_through_a_parameter_is_read_every_tick(world: World) -> None:
    # Given a template whose image is resolve:ssm:<parameter>, the parameter naming the newest version
    oldest, newest = world.built[0], world.built[-1]
    ssm = boto3.client("ssm", region_name=HOME)
    ssm.put_parameter(Name=PARAMETER, Value=newest, Type="String", DataType="aws:ec2:image")
    aliased = template(world, "web", f"resolve:ssm:{PARAMETER}")
    first, first_calls = sweep(world)
    assert versions_read(first_calls, aliased) == 2  # as given (an alias shows), then resolved
    assert not kept_by_a_template(first, oldest) and cached()[aliased]["uses_alias"] == {"BOOL": True}

    # When the parameter moves to the oldest version, the template unchanged
    ssm.put_parameter(Name=PARAMETER, Value=oldest, Type="String", DataType="aws:ec2:image", Overwrite=True)
    second, calls = sweep(world, hours=1)

    # Then the template is read again, resolved, and keeps the AMI the parameter names now
    (read,) = [c for c in calls.calls if c.operation == READ_VERSIONS]
    assert read.params["LaunchTemplateId"] == aliased and read.params["ResolveAlias"] is True
    assert kept_by_a_template(second, oldest)


def test_after_the_refresh_period_every_template_is_read_and_a_deleted_version_stops_keeping_its_ami(
    world: World,
) -> None:
    # Given a template whose version 1 names the oldest version and version 2, the default, the newest
    oldest, newest = world.built[0], world.built[-1]
    template_id = template(world, "web", oldest, newest)
    world.ec2().modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    other = template(world, "api", newest)
    sweep(world)
    # and version 1 deleted (LatestVersionNumber does not move)
    world.ec2().delete_launch_template_versions(LaunchTemplateId=template_id, Versions=["1"])

    # When the sweep runs within the refresh period (24 hours by default)
    within, calls_within = sweep(world, hours=23)

    # Then the template is not read, and the deleted version still keeps its AMI: the safe side
    assert versions_read(calls_within) == 0 and kept_by_a_template(within, oldest)

    # When the sweep runs after the refresh period
    after, calls_after = sweep(world, hours=25)

    # Then every template is read again, and the oldest version is no longer kept by a template
    assert versions_read(calls_after, template_id) == 1 and versions_read(calls_after, other) == 1
    assert not kept_by_a_template(after, oldest)
    assert cached_images(cached()[template_id]) == {2: newest}


def test_the_refresh_period_is_a_policy_setting(world: World) -> None:
    # Given a policy that reads launch templates again after 2 hours, and a template read by a first sweep
    world.policy = world.policy.model_copy(
        update={"sweep": world.policy.sweep.model_copy(update={"launch_template_refresh_hours": 2})}
    )
    template_id = template(world, "web", world.built[-1])
    sweep(world)

    # When the sweep runs 1 and then 3 hours later
    _, within = sweep(world, hours=1)
    _, after = sweep(world, hours=3)

    # Then the template is read again only after 2 hours
    assert versions_read(within, template_id) == 0 and versions_read(after, template_id) == 1


def test_a_deleted_template_drops_out_of_the_table(world: World) -> None:
    # Given two templates, read by a first sweep
    kept = template(world, "web", world.built[-1])
    deleted = template(world, "api", world.built[0])
    sweep(world)
    assert set(cached()) == {kept, deleted}

    # When one template is deleted
    world.ec2().delete_launch_template(LaunchTemplateId=deleted)
    report, calls = sweep(world, hours=1)

    # Then its entry is removed, and its AMI is no longer kept by it
    assert set(cached()) == {kept} and versions_read(calls) == 0
    assert not kept_by_a_template(report, world.built[0])


def test_an_unreadable_table_reads_every_template_and_loses_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Given templates in two regions, one naming the oldest version, and a table that cannot be read or written
    oldest, newest = world.built[0], world.built[-1]
    template(world, "web", oldest, newest)
    template(world, "web", world.copies(newest)[EU], region=EU)
    sweep(world)
    world.templates = LaunchTemplateTable(world.clients, HOME, "missing-table")

    # When the sweep runs
    report, calls = sweep(world, hours=1)

    # Then every template is read, as without the table, and nothing is blocked for it
    assert versions_read(calls) == 2
    assert kept_by_a_template(report, oldest)
    assert all("launch templates" not in why for why in report.plan.summary()["blocked"].values())
    # and the operator is told why
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "launch template cache unreadable: reading every template" in warnings
    assert "launch template cache not written" in warnings


def test_a_table_that_cannot_be_written_is_read_around(world: World) -> None:
    # Given a template, and DynamoDB refusing every write to the table
    template_id = template(world, "web", world.built[0])
    world.account.faults.fail("BatchWriteItem", "AccessDeniedException")

    # When the sweep runs twice
    first, first_calls = sweep(world)
    second, calls = sweep(world, hours=1)

    # Then both runs read the template and keep its AMI: nothing was cached, nothing was lost
    assert versions_read(first_calls, template_id) == 1 and versions_read(calls, template_id) == 1
    assert kept_by_a_template(first, world.built[0]) and kept_by_a_template(second, world.built[0])
    assert cached() == {}


def test_a_template_that_cannot_be_read_still_blocks_its_region(world: World) -> None:
    # Given a template read by a first sweep, then changed
    oldest, newest = world.built[0], world.built[-1]
    template_id = template(world, "web", newest)
    sweep(world)
    world.ec2().create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": oldest})
    # and its versions cannot be read
    world.account.faults.fail(READ_VERSIONS, "UnauthorizedOperation", region=HOME)

    # When the sweep runs
    report, _ = sweep(world, hours=1)

    # Then nothing can be removed in the home region (nor, for that, in the DR regions), as without the table
    assert "launch templates: UnauthorizedOperation" in report.plan.summary()["blocked"][HOME]
    # and the entry read before is kept, for the template to be read again next time
    assert cached()[template_id]["latest_version"] == {"N": "1"}


def test_the_tests_create_the_table_template_yaml_declares(account: Account) -> None:
    dynamodb = boto3.client("dynamodb", region_name=HOME)
    create_launch_template_table(dynamodb, "declared")
    table = dynamodb.describe_table(TableName="declared")["Table"]

    declared = load_template("template.yaml")["Resources"]["LaunchTemplateTable"]["Properties"]
    assert table["KeySchema"] == declared["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(declared["AttributeDefinitions"], key=str)
