"""A way back: what the sweep retires goes to the Recycle Bin, and `python -m ami_lifecycle restore` brings it back."""

from __future__ import annotations

import io

import pytest

from ami_lifecycle.cli import EXIT_OK, EXIT_USAGE, main
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.model.image import RECYCLE_TAG, RETIRED_TAG, tags_of

from .conftest import HOME, WEST, Account
from .sweep_world import World, decision, sweep_policy

GRACE_OVER = 11
RULE_TAGS = {RECYCLE_TAG: "true"}  # what the stack's rules select


@pytest.fixture
def world(account: Account) -> World:
    for region in (HOME, WEST):  # the stack's rules at home, dr-forwarder.yaml's in us-west-2; none in eu-west-1
        fidelity.add_recycle_bin_rule(region, "EC2_IMAGE", 14, RULE_TAGS)
        fidelity.add_recycle_bin_rule(region, "EBS_SNAPSHOT", 14, RULE_TAGS)
    world = World(account, sweep_policy(account, shared=False))
    world.recycle_bin_days = 14
    return world


def restore(image_id: str, region: str = HOME) -> tuple[int, str]:
    out = io.StringIO()
    return main(["restore", image_id, "--region", region], out=out), out.getvalue()


def test_a_retired_version_is_in_the_recycle_bin_until_the_day_the_plan_names(world: World) -> None:
    images = world.family()
    world.sweep()
    retired, snapshots = images[0], world.snapshots_of(images[0])

    world.sweep(days=GRACE_OVER)
    report = next(r for r in world.ticks if r.results.get(HOME) and r.results[HOME].applied["DeregisterImage"])

    assert not world.exists(retired) and not snapshots & world.snapshots()
    binned = world.ec2().list_images_in_recycle_bin(ImageIds=[retired])["Images"]
    assert [i["ImageId"] for i in binned] == [retired]
    in_bin = {s["SnapshotId"] for s in world.ec2().list_snapshots_in_recycle_bin()["Snapshots"]}
    assert snapshots <= in_bin
    assert "restorable from the Recycle Bin until" in decision(report, retired).reason
    assert any("restorable until" in c for c in report.results[HOME].changes)


def test_restore_brings_the_ami_and_its_snapshots_back_launchable_and_the_next_sweep_keeps_it(
    world: World,
) -> None:
    # Given a version the sweep retired
    images = world.family()
    world.sweep()
    retired, snapshots = images[0], world.snapshots_of(images[0])
    world.sweep(days=GRACE_OVER)

    # When the operator restores it
    status, out = restore(retired)

    # Then it is registered again with every snapshot, without the sweep's marks, tagged to be kept
    assert status == EXIT_OK, out
    image = world.image(retired)
    assert image is not None and world.snapshots_of(retired) == snapshots <= world.snapshots()
    tags = tags_of(image)
    assert tags["ami-lifecycle:keep"].startswith("restored ") and RETIRED_TAG not in tags and RECYCLE_TAG not in tags
    for snapshot in world.ec2().describe_snapshots(SnapshotIds=sorted(snapshots))["Snapshots"]:
        assert RETIRED_TAG not in tags_of(snapshot)
    assert f"{retired} is registered in {HOME} with 2 snapshots and tagged ami-lifecycle:keep" in out
    world.ec2().run_instances(ImageId=retired, MinCount=1, MaxCount=1)
    # and the next sweep keeps it
    kept = decision(world.sweep(days=GRACE_OVER + 1), retired)
    assert kept.status == "keep" and "keep-tag" in {p.kind for p in kept.protections}


def test_restoring_twice_changes_nothing_more(world: World) -> None:
    images = world.family()
    world.sweep()
    world.sweep(days=GRACE_OVER)
    restore(images[0])

    with record_calls() as calls:
        status, out = restore(images[0])

    assert status == EXIT_OK and world.exists(images[0])
    assert not any(c.operation.startswith("Restore") for c in calls.calls), calls.by_operation()
    assert "from the Recycle Bin" not in out


def test_without_a_rule_a_retired_copy_is_gone_and_restore_says_so(world: World) -> None:
    images = world.family()
    eu_copy = world.copies(images[0])["eu-west-1"]
    world.sweep()
    world.sweep(days=GRACE_OVER)

    status, _ = restore(eu_copy, "eu-west-1")

    assert status == EXIT_USAGE and not world.exists(eu_copy, "eu-west-1")
