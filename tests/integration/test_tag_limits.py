"""Sources with as many tags as EC2 allows (50 per resource): copies, lineage, finishing, retiring and launches
still work, nothing fails on the next event or tick, the user's tags stay and what is left out is named."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ami_lifecycle.cli import EXIT_OK, main
from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.model.image import (
    FAMILY_TAG,
    PROTECTED_TAG,
    RECYCLE_TAG,
    RETIRED_TAG,
    SOURCE_IMAGE_TAG,
    SOURCE_REGION_TAG,
    VERSION_TAG,
    tags_of,
)
from ami_lifecycle.model.plan import DEREGISTER, KEEP
from ami_lifecycle.policy import parse_policy

from .conftest import EU, HOME, WEST, Account, ami_event
from .sweep_world import World, decision, sweep_policy
from .test_launch_tracking import Launches, failed_ids, launch_event

GRACE_OVER = 11
LINEAGE = (FAMILY_TAG, VERSION_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG)
BUILT_WITH = 3  # build_ami's own tags: ami-lifecycle:managed, Team, BuildId


def user_tags(count: int) -> dict[str, str]:
    """`count` user tags in all, with build_ami's three."""
    return {f"cost-{i:02d}": f"value-{i}" for i in range(count - BUILT_WITH)}


def count(tags: dict[str, str]) -> int:
    return sum(not k.startswith("aws:") for k in tags)


def event(account: Account, image_id: str, region: str = HOME) -> dict[str, Any]:
    parsed = parse_ami_state_change(ami_event(image_id, region))
    return handle_image_available(parsed, account.policy, account.clients(), DEFAULT_ACCOUNT_ID).as_dict()


def failures(outcome: dict[str, Any]) -> list[str]:
    return [r["error"] for r in outcome.get("regions", []) if "error" in r]


@pytest.mark.parametrize("tags", [46, 49, 50])
def test_a_source_with_many_tags_is_copied_everywhere_with_lineage_and_settles(account: Account, tags: int) -> None:
    # Given a new build with 46, 49 or 50 user tags
    own = user_tags(tags)
    source_id = account.build_ami("web-2.0.0", **own)
    before = tags_of(account.ec2(HOME).describe_images(ImageIds=[source_id])["Images"][0])
    assert count(before) == tags

    # When its event arrives, the copies complete and their events arrive, and the first event is redelivered
    first = event(account, source_id)
    for region, copy_id in fidelity.complete_pending_copies():
        assert failures(event(account, copy_id, region)) == []
    again = event(account, source_id)

    # Then nothing failed, and each DR region has one copy carrying all four lineage tags within EC2's 50
    assert first["status"] == again["status"] == "protected"
    assert failures(first) == failures(again) == []
    for region in (WEST, EU):
        (copy,) = account.copies_of(source_id, region)
        copy_tags = tags_of(copy)
        assert {copy_tags[k] for k in (SOURCE_IMAGE_TAG, SOURCE_REGION_TAG)} == {source_id, HOME}
        assert (copy_tags[FAMILY_TAG], copy_tags[VERSION_TAG]) == ("web", "2.0.0")
        assert PROTECTED_TAG in copy_tags and count(copy_tags) <= 50
        # room is kept on the copy for the marks the product writes later (retired, recycle, use-reported)
        assert count(copy_tags) <= 47
    # And the source keeps every one of its tags; the family tag is on it wherever there is room for it
    source = tags_of(account.ec2(HOME).describe_images(ImageIds=[source_id])["Images"][0])
    assert before.items() <= source.items() and count(source) <= 50
    assert (FAMILY_TAG in source) is (tags < 50)
    # And the result names the source tags the copies could not carry (the policy leaves out Build*)
    copied = {k for k in own if k.startswith("cost-")} | {"Team", "ami-lifecycle:managed"}
    on_copy = set(tags_of(account.copies_of(source_id, WEST)[0]))
    left_out = sorted(copied - on_copy)
    assert left_out, "more source tags than a copy can carry"
    copy_outcome = next(r for r in first["regions"] if r["region"] == WEST)
    assert all(k in copy_outcome["tags_left_out"] for k in left_out)


@pytest.mark.parametrize("tags", [46, 49, 50])
def test_the_sweep_after_a_source_with_many_tags_reports_nothing_failed(account: Account, tags: int) -> None:
    # Given a family whose newest build has 46, 49 or 50 user tags, protected by its events
    world = World(account)
    world.family(days_ago=(30, 20))
    crowded = world.version("web-1.9.0", days_ago=1, **user_tags(tags))
    world.finish_copies()

    # When the sweep runs, then again an hour later
    first = world.sweep()
    second = world.sweep(days=1 / 24)

    # Then neither tick failed, no copy is started again, and the source is kept with every tag it had
    assert first.failures == second.failures == 0
    assert "CopyImage" not in second.plan.summary()["actions"]
    assert decision(second, crowded).status == KEEP
    assert count(tags_of(world.image(crowded) or {})) <= 50
    # And where its lineage does not all fit, the plan says which tag is left out, on which image
    if tags >= 49:
        notes = " ".join(second.plan.summary()["notes"][HOME])
        assert crowded in notes and VERSION_TAG in notes


@pytest.mark.parametrize("tags", [46, 49])
def test_a_retired_source_with_many_tags_goes_to_the_recycle_bin_with_its_copies(account: Account, tags: int) -> None:
    # Given the stack's Recycle Bin rules, and a family whose oldest build has 46 or 49 user tags
    for region in (HOME, WEST, EU):
        for resource_type in ("EC2_IMAGE", "EBS_SNAPSHOT"):
            fidelity.add_recycle_bin_rule(region, resource_type, 14, {RECYCLE_TAG: "true"})
    world = World(account, sweep_policy(account, shared=False))
    world.recycle_bin_days = 14
    oldest = world.version("web-1.0.0", days_ago=100, **user_tags(tags))
    world.family(days_ago=(80, 60, 40))
    copies = world.copies(oldest)
    snapshots = world.snapshots_of(oldest)

    # When it is deprecated, then its grace period is over
    world.sweep()
    world.sweep(days=GRACE_OVER)

    # Then it and its copies were marked and deregistered, with their snapshots, and nothing failed
    assert all(report.failures == 0 for report in world.ticks)
    assert not world.exists(oldest) and not any(world.exists(c, r) for r, c in copies.items())
    retired = next(r for r in world.ticks if r.results.get(HOME) and r.results[HOME].applied["DeregisterImage"])
    assert decision(retired, oldest).status == DEREGISTER
    # And the Recycle Bin holds the AMI and its snapshots, selected by the recycle mark
    binned = world.ec2().list_images_in_recycle_bin(ImageIds=[oldest])["Images"]
    assert [i["ImageId"] for i in binned] == [oldest]
    assert snapshots <= {s["SnapshotId"] for s in world.ec2().list_snapshots_in_recycle_bin()["Snapshots"]}
    # And the plan said which of the product's own tags made room for the marks
    notes = " ".join(retired.plan.regions[HOME].notes)
    assert oldest in notes and "to make room" in notes


def test_a_source_whose_user_tags_fill_all_50_is_kept_with_the_reason(account: Account) -> None:
    # Given a family whose oldest build has 50 user tags: no room for the family tag that retiring it needs
    world = World(account, sweep_policy(account, shared=False))
    full = world.version("web-1.0.0", days_ago=100, **user_tags(50))
    world.family(days_ago=(80, 60, 40))

    # When the sweeps run past the grace period
    world.sweep()
    later = world.sweep(days=GRACE_OVER)

    # Then it is kept, untouched, with a reason that says what to do; nothing failed
    assert all(report.failures == 0 for report in world.ticks)
    assert world.exists(full)
    kept = decision(later, full)
    assert kept.status == KEEP and "no room for ami-lifecycle:family" in kept.reason
    image = world.image(full) or {}
    assert count(tags_of(image)) == 50 and "DeprecationTime" not in image


def test_a_kept_image_with_many_tags_gets_its_retirement_marks_only_when_it_goes(account: Account) -> None:
    # Given a retiring build with 49 user tags, deregistration blocked by its deregistration protection
    world = World(account, sweep_policy(account, shared=False))
    oldest = world.version("web-1.0.0", days_ago=100, **user_tags(49))
    world.family(days_ago=(80, 60, 40))
    world.sweep()
    world.ec2().enable_image_deregistration_protection(ImageId=oldest)

    # When the grace period is over
    later = world.sweep(days=GRACE_OVER)

    # Then it is kept, still carries its lineage and every user tag, and no mark was set on it
    tags = tags_of(world.image(oldest) or {})
    assert world.exists(oldest) and later.failures == 0
    assert FAMILY_TAG in tags and RETIRED_TAG not in tags and count(tags) == 50


def test_an_instance_launched_with_many_tags_gets_the_lineage_that_fits(account: Account) -> None:
    # Given a managed AMI, and instances launched from it with 20 and with 48 tags of their own
    launches = Launches(account)
    image_id = launches.managed_ami("web-1.4.0")
    ec2 = account.ec2(HOME)
    instances = {}
    for own in (20, 48):
        tags = [{"Key": f"app-{i:02d}", "Value": "x"} for i in range(own)]
        reservation = ec2.run_instances(
            ImageId=image_id, MinCount=1, MaxCount=1, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}]
        )
        instances[own] = reservation["Instances"][0]["InstanceId"]

    # When their launches are tracked, twice (SQS delivers at least once)
    first = launches.process([launch_event(i) for i in instances.values()])
    again = launches.process([launch_event(i) for i in instances.values()])

    # Then no message fails; the roomy one carries the whole lineage, the crowded one the lineage that fits
    assert failed_ids(first) == failed_ids(again) == set()
    roomy, crowded = launches.tags(instances[20]), launches.tags(instances[48])
    assert all(k in roomy for k in LINEAGE)
    assert (crowded[FAMILY_TAG], crowded[VERSION_TAG]) == ("web", "1.4.0")
    assert count(crowded) == 50 and all(f"app-{i:02d}" in crowded for i in range(48))


def test_a_retired_source_with_49_tags_is_restored_with_the_keep_tag(account: Account) -> None:
    # Given a build with 49 user tags that the sweep retired into the Recycle Bin (its recycle mark in the
    # place of its family tag)
    fidelity.add_recycle_bin_rule(HOME, "EC2_IMAGE", 14, {RECYCLE_TAG: "true"})
    fidelity.add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 14, {RECYCLE_TAG: "true"})
    world = World(account, sweep_policy(account, shared=False))
    world.recycle_bin_days = 14
    oldest = world.version("web-1.0.0", days_ago=100, **user_tags(49))
    world.family(days_ago=(80, 60, 40))
    world.sweep()
    world.sweep(days=GRACE_OVER)
    assert not world.exists(oldest)

    # When it is restored
    out = io.StringIO()
    status = main(["restore", oldest, "--region", HOME], out=out)

    # Then it is back with the keep tag, without the sweep's marks, and with every one of its own tags
    tags = tags_of(world.image(oldest) or {})
    assert status == EXIT_OK, out.getvalue()
    assert "ami-lifecycle:keep" in tags and RECYCLE_TAG not in tags and RETIRED_TAG not in tags
    assert all(k in tags for k in user_tags(49)) and count(tags) == 50


def test_with_every_tag_propagated_a_source_with_46_tags_gets_protected_copies(account: Account) -> None:
    # Given a policy carrying every source tag onto the copies, and a build with 46 user tags: with the four lineage
    # tags a copy would hold 50, and the protected mark would be the 51st
    policy = parse_policy(account.policy_text.replace('to_copies: {exclude: ["Build*"]}', "to_copies: {}"))
    source_id = account.build_ami("web-2.0.0", **user_tags(46))

    # When its event arrives, the copies complete and their events arrive, and the first event is redelivered
    def deliver(image_id: str, region: str = HOME) -> dict[str, Any]:
        parsed = parse_ami_state_change(ami_event(image_id, region))
        return handle_image_available(parsed, policy, account.clients(), DEFAULT_ACCOUNT_ID).as_dict()

    first = deliver(source_id)
    finished = [deliver(copy_id, region) for region, copy_id in fidelity.complete_pending_copies()]
    again = deliver(source_id)

    # Then nothing failed, each copy is marked protected, and the source tags left out of the copies are named
    assert [failures(o) for o in (first, *finished, again)] == [[]] * 4
    for region in (WEST, EU):
        (copy,) = account.copies_of(source_id, region)
        assert PROTECTED_TAG in tags_of(copy) and all(k in tags_of(copy) for k in LINEAGE)
    named = next(r for r in first["regions"] if r["region"] == WEST)["tags_left_out"]
    assert "4 tags left out, EC2 allows 50" in named
