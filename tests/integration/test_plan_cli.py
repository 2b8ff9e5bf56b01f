"""`python -m ami_lifecycle plan`: the sweep's plan, read-only, as a table per family and region."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from ami_lifecycle.cli import EXIT_BLOCKED, EXIT_OK, EXIT_USAGE, main
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.model.image import SOURCE_IMAGE_TAG, SOURCE_REGION_TAG
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
    decisions = json.loads(text)["decisions"]
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


def history(account: Account, world: World) -> dict[str, str]:
    """An account before the product: web-2.0.0 ... web-2.3.0 built over 100 days (the oldest deprecated by hand
    50 days ago), web-2.1.0 and web-2.2.0 copied to us-west-2 by another tool that kept only the source's lineage
    tags. No image carries the product's family, version or protected tags."""
    built = {}
    for minor, days in enumerate((100, 70, 40, 10)):
        built[f"2.{minor}.0"] = world.version(f"web-2.{minor}.0", days_ago=days, protect=False)
    fidelity.set_deprecation_time(built["2.0.0"], world.now - timedelta(days=50), HOME)
    west = account.ec2(WEST)
    for version in ("2.1.0", "2.2.0"):
        copy_id = west.copy_image(SourceImageId=built[version], SourceRegion=HOME, Name=f"web-{version}")["ImageId"]
        lineage = [{"Key": SOURCE_IMAGE_TAG, "Value": built[version]}, {"Key": SOURCE_REGION_TAG, "Value": HOME}]
        west.create_tags(Resources=[copy_id], Tags=lineage)
        built[f"{version} copy"] = copy_id
    fidelity.complete_pending_copies()
    return built


def test_the_adoption_plan_of_an_account_the_product_never_ran_in(account: Account, tmp_path: Path) -> None:
    # Given an account with history and a policy (keep 2 versions, 10 days of grace), and no usage table yet
    world = World(account)
    (tmp_path / "policy.yaml").write_text(account.policy_text.replace("defaults:\n", "defaults:\n" + RETENTION, 1))
    built = history(account, world)

    # When the plan is printed
    with record_calls() as calls:
        status, text = plan(tmp_path)

    # Then nothing was changed, and nothing is removed today (the launch records are not known) ...
    assert status == EXIT_BLOCKED
    assert all(c.operation.startswith(("Describe", "Scan", "Query", "Get", "List")) for c in calls.calls)
    sections = dict(section(text, title) for title in SECTIONS)
    # ... the family and its versions, oldest first, and where its images are
    assert sections["Found"][0].split() == ["FAMILY", "VERSIONS", HOME, WEST, EU]
    assert sections["Found"][1].split() == ["web", "2.0.0,", "2.1.0,", "2.2.0,", "2.3.0", "4", "2", "0"]
    # ... every image adopted, the copies too: the two versions retention keeps are finished (and get their
    # missing copies); the two beyond it, the copy of 2.1.0 with its source, only get the family tag and retire
    adopted = {tuple(re.split(r"\s{2,}", line)) for line in sections["Adopted"][1:-3]}
    kept, retiring = "finished; kept", "family tag; retiring"
    assert adopted == {
        ("web", "2.0.0", HOME, built["2.0.0"], "source", retiring),
        ("web", "2.1.0", HOME, built["2.1.0"], "source", retiring),
        ("web", "2.1.0", WEST, built["2.1.0 copy"], f"copy of {built['2.1.0']}", retiring),
        ("web", "2.2.0", HOME, built["2.2.0"], "source", kept),
        ("web", "2.2.0", WEST, built["2.2.0 copy"], f"copy of {built['2.2.0']}", kept),
        ("web", "2.3.0", HOME, built["2.3.0"], "source", kept),
    }
    assert sections["Adopted"][-3:] == [
        "6 images (4 sources, 2 copies) carry none of the product's tags yet:",
        "3 in versions retention keeps are finished (lineage and snapshot tags, sharing as the policy says);",
        "3 beyond retention only get the family tag (the lineage they retire with) and retire from the same run.",
    ]
    copies = [line.split() for line in sections["Copies"][1:-1]]
    assert copies == [
        ["web", "2.2.0", built["2.2.0"], EU],
        ["web", "2.3.0", built["2.3.0"], EU],
        ["web", "2.3.0", built["2.3.0"], WEST],
    ]
    # ... the two oldest retire: the one deprecated by hand is past its grace period; the other is deprecated
    # once adopted, and may go 10 days later, with its copy; 28 GiB per image (8 + 20), at 0.05 per GB-month
    hand, old = (line.split() for line in sections["Retirement"][1:3])
    deprecated = (world.now - timedelta(days=50)).strftime("%Y-%m-%d")
    grace_over = (world.now - timedelta(days=40)).strftime("%Y-%m-%d")
    assert hand == ["web", "2.0.0", "1", deprecated, "(past)", grace_over, "(past)", "28", "1.40"]
    soon = (world.now + timedelta(minutes=2)).strftime("%Y-%m-%d")
    assert old[:4] == ["web", "2.1.0", "2", soon] and old[-2:] == ["56", "2.80"]
    assert old[4] == (world.now + timedelta(days=10, minutes=2)).strftime("%Y-%m-%d")
    nothing_today = "Nothing is removed today in us-east-1, us-west-2, eu-west-1: "
    assert any(nothing_today in line for line in sections["Retirement"])
    assert sections["Reclaimed"][1].split() == [HOME, "0", "0.00", "56", "2.80"]
    assert sections["Reclaimed"][2].split() == [WEST, "0", "0.00", "28", "1.40"]
    assert sections["Reclaimed"][4].split() == ["total", "0", "0.00", "84", "4.20"]
    assert "upper bound of what is billed" in sections["Reclaimed"][-1]
    # ... and, below, the per-family detail as before
    # (the version beyond retention that is tagged in this run is deprecated by it too)
    assert "\nweb\n  VERSION  CREATED" in text and "beyond retention: deprecated from" in text


def test_the_adoption_plan_for_tools_and_for_a_change_review(account: Account, tmp_path: Path) -> None:
    world = World(account)
    (tmp_path / "policy.yaml").write_text(
        account.policy_text.replace("defaults:\n", "defaults:\n" + RETENTION, 1)
        + "sweep: {snapshot_price_per_gb_month: 0.1}\n"
    )
    built = history(account, world)

    _, as_json = plan(tmp_path, "--json")
    _, as_markdown = plan(tmp_path, "--markdown")

    document = json.loads(as_json)
    adoption = document["adoption"]
    assert len(adoption["adopted"]) == 6 and len(adoption["copies_to_start"]) == 3
    assert {(a["image_id"], a["copy_of"], a["retiring"]) for a in adoption["adopted"]} == {
        (built["2.0.0"], None, True), (built["2.1.0"], None, True), (built["2.1.0 copy"], built["2.1.0"], True),
        (built["2.2.0"], None, False), (built["2.2.0 copy"], built["2.2.0"], False), (built["2.3.0"], None, False),
    }  # fmt: skip
    assert adoption["reclaim"][HOME] | {"blocked": None} == {
        "gib_today": 0, "monthly_cost_today": 0.0, "gib_retiring": 56, "monthly_cost_retiring": 5.6, "blocked": None,
    }  # fmt: skip
    assert [(r["version"], r["gib"]) for r in adoption["retirements"]] == [
        ("2.0.0", {HOME: 28}), ("2.1.0", {HOME: 28, WEST: 28}),
    ]  # fmt: skip
    decision = next(d for d in document["decisions"] if d["image_id"] == built["2.0.0"])
    assert decision["removable_from"][:10] == (world.now - timedelta(days=40)).strftime("%Y-%m-%d")
    assert "### Adopted by the first run" in as_markdown
    assert f"| web | 2.3.0 | {built['2.3.0']} | {WEST} |" in as_markdown
    assert f"| {HOME} | 0 | 0.00 | 56 | 5.60 |" in as_markdown
    assert "### Per family: each version in each region, what the sweep does and why: web" in as_markdown
    assert f"| web | 2.1.0 | {WEST} | {built['2.1.0 copy']} | copy of {built['2.1.0']} | family tag; retiring |" in (
        as_markdown
    )
    assert f"| {WEST} | 1 deprecate, 1 keep | 0 | launch records could not be read:" in as_markdown
    # the three kept images are finished; the three beyond retention tagged in one CreateTags per region
    actions = "2 AddLineageTags, 3 CopyImage, 3 CreateImageUsageReport, 2 DeprecateImage, 3 FinishListedImage"
    assert f"Actions a sweep would take: {actions}" in as_markdown


SECTIONS = ("Found", "Adopted", "Copies", "Retirement", "Reclaimed")


def section(text: str, title: str) -> tuple[str, list[str]]:
    """A section of the adoption plan: its table's lines (header first) and notes, without its title."""
    lines = text.split(f"\n{title}", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return title, [line.strip() for line in lines]
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
