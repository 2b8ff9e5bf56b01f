"""Adopting what other tools made: DR copies known by EC2's ancestry, sources without the product's tags."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.config import Config
from moto import mock_aws

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.bench_adoption import (
    ADOPTION_BOUND,
    ADOPTION_SHAPE,
    CALL_BUDGET,
    Settled,
    adoption_policy,
    settle,
)
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.model.image import FAMILY_TAG, PROTECTED_TAG, SOURCE_IMAGE_TAG, tags_of

from .conftest import EU, HOME, WEST, Account, ami_event


@pytest.fixture(scope="module")
def fleets() -> dict[str, Settled]:
    """10 families x 30 versions x 2 regions, built through the product and made by other tools, each swept
    hourly until settled (each in its own embedded AWS)."""
    results = {}
    for history in ("product", "foreign"):
        with mock_aws():
            fidelity.install()
            clients = ClientFactory(config=Config(retries={"mode": "standard", "max_attempts": 3}))
            results[history] = settle(adoption_policy(), clients, history, datetime.now(UTC))
    return results


def test_a_fleet_made_by_other_tools_settles_like_one_the_product_built(fleets: dict[str, Settled]) -> None:
    product, foreign = fleets["product"], fleets["foreign"]
    assert product.settled and foreign.settled and foreign.ticks == product.ticks
    assert foreign.duplicates == 0 and foreign.copies_started == product.copies_started  # the one missing copy
    assert foreign.reclaimable == [] and product.reclaimable == [] and foreign.failures == 0
    assert foreign.adopted == ADOPTION_SHAPE.amis - 1  # all but the newest build whose copy is missing in both
    # bulk reads serve adoption: no read per image, every operation but CreateTags the same in both fleets
    assert {op: n for op, n in foreign.calls.items() if op != "CreateTags"} == {
        op: n for op, n in product.calls.items() if op != "CreateTags"
    }


def test_adoption_costs_one_tag_write_per_kept_image_and_one_per_family_and_region(fleets: dict[str, Settled]) -> None:
    """Kept versions are finished like the product's own (no permissions to add here; lineage and snapshot tags
    with the protected mark: 1 CreateTags each); versions beyond retention get their family tag, one CreateTags
    per family and region."""
    product, foreign = fleets["product"], fleets["foreign"]
    # families x keep_latest x regions, less the newest build of one family, unfinished and uncopied in both fleets
    kept_adopted = 10 * 3 * 2 - 2
    assert foreign.calls["CreateTags"] - product.calls["CreateTags"] <= kept_adopted + 10 * 2


def test_adoption_costs_at_most_seventeen_percent_more_calls(fleets: dict[str, Settled]) -> None:
    """What is reached: every kept adopted image needs one write of its own (its snapshots carry none of the tags
    the policy wants, and those differ per image), and each family value one write per region (see README)."""
    assert fleets["foreign"].total <= ADOPTION_BOUND * fleets["product"].total


@pytest.mark.xfail(strict=True, reason="adopting 58 kept images costs one CreateTags each at least: see README")
def test_adoption_costs_at_most_five_percent_more_calls(fleets: dict[str, Settled]) -> None:
    assert fleets["foreign"].total <= CALL_BUDGET * fleets["product"].total


def test_an_available_event_for_a_copy_another_tool_made_adopts_and_finishes_it(account: Account) -> None:
    source = account.build_ami()
    handle = account.ec2(HOME).describe_images(ImageIds=[source])["Images"][0]["Name"]
    packer_copy = account.ec2(WEST).copy_image(SourceImageId=source, SourceRegion=HOME, Name=handle)["ImageId"]
    fidelity.complete_pending_copies(WEST)
    event = parse_ami_state_change(ami_event(packer_copy, WEST))

    outcome = handle_image_available(event, account.policy, account.clients(), DEFAULT_ACCOUNT_ID)

    copy = account.ec2(WEST).describe_images(ImageIds=[packer_copy])["Images"][0]
    assert outcome.status == "finished" and outcome.regions[0].changes[0].startswith("adopt (a copy of")
    assert tags_of(copy)[FAMILY_TAG] == "web" and tags_of(copy)[SOURCE_IMAGE_TAG] == source
    assert PROTECTED_TAG in tags_of(copy)


def test_a_source_event_finds_the_copy_another_tool_made_and_copies_only_where_none_is(account: Account) -> None:
    source = account.build_ami()
    packer_copy = account.ec2(WEST).copy_image(SourceImageId=source, SourceRegion=HOME, Name="web-1.0.0")["ImageId"]
    fidelity.complete_pending_copies(WEST)

    with record_calls() as calls:
        outcome = handle_image_available(
            parse_ami_state_change(ami_event(source)), account.policy, account.clients(), DEFAULT_ACCOUNT_ID
        )

    copied = [c.region for c in calls.calls if c.operation == "CopyImage"]
    assert copied == [EU] and [c["ImageId"] for c in account.copies_of(source, WEST)] == [packer_copy]
    west = next(r for r in outcome.regions if r.region == WEST)
    assert west.image_id == packer_copy and any(c.startswith("adopt") for c in west.changes)


def test_the_sweep_adopts_with_the_snapshot_tags_it_listed_and_adds_permissions_without_reading(
    account: Account,
) -> None:
    """A build the events never saw, and its copies by another tool in both DR regions: each image is finished
    with no read of its own (snapshot tags from the listing, launch and volume permissions added, which is
    idempotent): 2 + s calls each where reading first costs 5 + 2s when nothing was shared yet."""
    from ami_lifecycle.flows.sweep import run_sweep

    source = account.build_ami()
    copies = [
        account.ec2(region).copy_image(SourceImageId=source, SourceRegion=HOME, Name="web-1.0.0")["ImageId"]
        for region in (WEST, EU)
    ]
    fidelity.complete_pending_copies()

    with record_calls() as calls:
        report = run_sweep(account.policy, account.clients(), datetime.now(UTC), False, None)

    ops = calls.by_operation()
    assert sorted(i for p in report.plan.regions.values() for i in p.adopted) == sorted([source, *copies])
    assert ops["CopyImage"] == 0 and ops["DescribeSnapshots"] == 3  # the one listing per region
    assert ops["DescribeImageAttribute"] == 0 and ops["DescribeSnapshotAttribute"] == 0
    assert ops["ModifyImageAttribute"] == 3 and ops["ModifySnapshotAttribute"] == 3 * 2
    assert ops["CreateTags"] == 3  # permissions first, then lineage, snapshot tags and the protected mark in one
    for region, image_id in zip((HOME, WEST, EU), (source, *copies), strict=True):
        image = account.ec2(region).describe_images(ImageIds=[image_id])["Images"][0]
        assert PROTECTED_TAG in tags_of(image) and tags_of(image)[FAMILY_TAG] == "web"
        permissions = account.ec2(region).describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
        assert {"UserId": "111111111111"} in permissions["LaunchPermissions"]


def test_a_failed_tag_write_leaves_the_adopted_image_unmarked_and_the_next_sweep_finishes_it(
    account: Account,
) -> None:
    """The sweep writes an image's tags and its protected mark in one CreateTags: when that call fails, nothing
    of it is written, so the image is still known unfinished and the next sweep finishes it."""
    from ami_lifecycle.flows.sweep import run_sweep

    source = account.build_ami()
    packer_copy = account.ec2(WEST).copy_image(SourceImageId=source, SourceRegion=HOME, Name="web-1.0.0")["ImageId"]
    fidelity.complete_pending_copies()
    account.faults.fail("CreateTags", "RequestLimitExceeded", region=WEST)  # every try, past botocore's retries

    first = run_sweep(account.policy, account.clients(), datetime.now(UTC), False, None)

    copy = account.ec2(WEST).describe_images(ImageIds=[packer_copy])["Images"][0]
    assert first.results[WEST].failures and PROTECTED_TAG not in tags_of(copy) and FAMILY_TAG not in tags_of(copy)
    assert packer_copy in first.plan.regions[WEST].adopted

    account.faults.clear()
    second = run_sweep(account.policy, account.clients(), datetime.now(UTC), False, None)

    copy = account.ec2(WEST).describe_images(ImageIds=[packer_copy])["Images"][0]
    assert packer_copy in second.plan.regions[WEST].adopted and not second.results[WEST].failures
    assert PROTECTED_TAG in tags_of(copy) and tags_of(copy)[SOURCE_IMAGE_TAG] == source
    snapshot_id = copy["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    (snapshot,) = account.ec2(WEST).describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert tags_of(snapshot)[SOURCE_IMAGE_TAG] == source  # the snapshots were finished in the same call
