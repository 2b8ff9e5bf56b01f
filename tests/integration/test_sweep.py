"""The scheduled sweep against the local account: retirement across regions, and everything that stops it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ami_lifecycle.act.retire import DeregisterImage
from ami_lifecycle.aws.usage_table import LaunchRecord
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.seed import register_ami
from ami_lifecycle.model.image import RETIRED_TAG, tags_of

from .conftest import EU, HOME, WEST, Account
from .sweep_world import World, decision, sweep_policy

GRACE_OVER = 11  # days after the first sweep: the 10-day grace period of sweep_policy is over


@pytest.fixture
def world(account: Account) -> World:
    return World(account)


def test_old_versions_are_deprecated_everywhere_then_deregistered_with_their_snapshots(world: World) -> None:
    # Given five versions of a family, each with a copy in both DR regions
    images = world.family()
    retiring, kept = images[:3], images[3:]
    copies = {i: world.copies(i) for i in images}
    snapshots = {i: world.snapshots_of(i) for i in images}

    # When the sweep runs
    first = world.sweep()

    # Then the three oldest versions are deprecated in every region, the newest two are not
    for image_id in retiring:
        for region, held in [(HOME, image_id), *copies[image_id].items()]:
            assert world.image(held, region)["DeprecationTime"], f"{held} in {region} not deprecated"
    for image_id in kept:
        assert "DeprecationTime" not in world.image(image_id)
        assert decision(first, image_id).reason.startswith("newest 2 of its family")
    # and each retiring shared version is asked about at once: who uses it elsewhere
    assert first.plan.summary()["actions"] == {"DeprecateImage": 9, "CreateImageUsageReport": 9}

    # When the grace period is over
    later = world.sweep(days=GRACE_OVER)

    # Then the retired versions are gone in every region, with their snapshots, and the kept ones stay
    for image_id in retiring:
        assert not world.exists(image_id)
        assert not any(world.exists(c, r) for r, c in copies[image_id].items())
        assert not snapshots[image_id] & world.snapshots()
    for image_id in kept:
        assert world.exists(image_id) and snapshots[image_id] <= world.snapshots()
    result = later.results[HOME]
    assert result.applied["DeregisterImage"] == 3 and result.snapshots_deleted == 6
    assert result.gib_reclaimed == 3 * (8 + 20)


def test_a_second_sweep_plans_nothing(world: World) -> None:
    world.family()
    world.sweep()
    world.sweep(days=GRACE_OVER)

    again = world.sweep(days=GRACE_OVER)

    assert again.plan.actions == []


def test_dry_run_plans_and_changes_nothing(account: Account) -> None:
    world = World(account, sweep_policy(account, shared=False))
    images = world.family()
    world.sweep()

    with record_calls() as calls:
        report = world.sweep(days=GRACE_OVER, dry_run=True)

    assert report.dry_run and report.results == {}
    assert sum(isinstance(a, DeregisterImage) for a in report.plan.actions) == 9
    reads = ("Describe", "Scan", "Query", "GetParametersByPath")  # Query: the launch template table
    assert all(c.operation.startswith(reads) for c in calls.calls), calls.by_operation()
    assert all(world.exists(i) for i in images)


# -- What keeps an AMI alive ----------------------------------------------------------------------------------


def _instance(world: World, image_id: str, stopped: bool = False) -> set[str]:
    instance = world.ec2().run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0]
    if stopped:
        world.ec2().stop_instances(InstanceIds=[instance["InstanceId"]])
    return {"instance"}


def _template(world: World, image_id: str, name: str = "standalone") -> str:
    """A launch template whose first version uses the AMI and whose newer default version does not."""
    ec2 = world.ec2()
    template = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_id})
    template_id = template["LaunchTemplate"]["LaunchTemplateId"]
    newest = world.built[-1]
    ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": newest})
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    return str(template_id)


def _standalone_template(world: World, image_id: str) -> set[str]:
    _template(world, image_id)
    return {"launch-template"}


def _group_with_template(world: World, image_id: str) -> set[str]:
    template_id = _template(world, image_id, "for-group")
    world.autoscaling().create_auto_scaling_group(
        AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateId": template_id, "Version": "1"},
        MinSize=0, MaxSize=1, DesiredCapacity=0, AvailabilityZones=[f"{HOME}a"],
    )  # fmt: skip
    return {"launch-template", "auto-scaling-group"}


def _group_with_mixed_override(world: World, image_id: str) -> set[str]:
    ec2 = world.ec2()
    main = ec2.create_launch_template(LaunchTemplateName="main", LaunchTemplateData={"ImageId": world.built[-1]})
    arm = _template(world, image_id, "arm-override")
    world.autoscaling().create_auto_scaling_group(
        AutoScalingGroupName="mixed", MinSize=0, MaxSize=1, DesiredCapacity=0, AvailabilityZones=[f"{HOME}a"],
        MixedInstancesPolicy={"LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": main["LaunchTemplate"]["LaunchTemplateId"]},
            "Overrides": [
                {"InstanceType": "m7g.large", "LaunchTemplateSpecification": {"LaunchTemplateId": arm, "Version": "1"}}
            ],
        }},
    )  # fmt: skip
    return {"launch-template", "auto-scaling-group"}


def _launch_configuration(world: World, image_id: str) -> set[str]:
    world.autoscaling().create_launch_configuration(
        LaunchConfigurationName="legacy", ImageId=image_id, InstanceType="t3.micro"
    )
    return {"launch-configuration"}


def _group_with_launch_configuration(world: World, image_id: str) -> set[str]:
    _launch_configuration(world, image_id)
    world.autoscaling().create_auto_scaling_group(
        AutoScalingGroupName="legacy", LaunchConfigurationName="legacy",
        MinSize=0, MaxSize=1, DesiredCapacity=0, AvailabilityZones=[f"{HOME}a"],
    )  # fmt: skip
    return {"launch-configuration", "auto-scaling-group"}


def _launch_record(world: World, image_id: str) -> set[str]:
    """Launched 5 days before the sweep; no instance is left."""
    launched = world.now + timedelta(days=GRACE_OVER - 5)
    world.usage.record_launch(LaunchRecord(image_id, HOME, launched, "i-0123456789abcdef0"))
    return {"recent-launch"}


def _keep_tag(world: World, image_id: str) -> set[str]:
    world.ec2().create_tags(Resources=[image_id], Tags=[{"Key": "ami-lifecycle:keep", "Value": "audit"}])
    return {"keep-tag"}


def _last_launched(world: World, image_id: str) -> set[str]:
    """Launched 3 days before the sweep, as EC2's lastLaunchedTime reports (a consumer account, say)."""
    fidelity.set_last_launched_time(image_id, world.now + timedelta(days=GRACE_OVER - 3), HOME)
    return {"last-launched"}


def _deregistration_protection(world: World, image_id: str, cooldown: bool = False) -> set[str]:
    world.ec2().enable_image_deregistration_protection(ImageId=image_id, WithCooldown=cooldown)
    if cooldown:  # turned off again, but the 24-hour cooldown still holds
        world.ec2().disable_image_deregistration_protection(ImageId=image_id)
    return {"deregistration-protection"}


REFERENCES = {
    "running instance": _instance,
    "stopped instance": lambda world, image_id: _instance(world, image_id, stopped=True),
    "launch template (not attached, not the default version)": _standalone_template,
    "Auto Scaling group through a launch template": _group_with_template,
    "Auto Scaling group through a mixed-instances override": _group_with_mixed_override,
    "launch configuration (no group)": _launch_configuration,
    "Auto Scaling group through a launch configuration": _group_with_launch_configuration,
    "launch recorded by the product, no instance left": _launch_record,
    "lastLaunchedTime within the window": _last_launched,
    "keep tag": _keep_tag,
    "deregistration protection": _deregistration_protection,
    "deregistration protection turned off, in its cooldown": lambda w, i: _deregistration_protection(w, i, True),
}


@pytest.mark.parametrize("reference", REFERENCES, ids=list(REFERENCES))
def test_one_reference_alone_keeps_a_retired_version(world: World, reference: str) -> None:
    # Given a deprecated version whose grace period is over
    images = world.family()
    world.sweep()
    protected, control = images[0], images[1]
    # and one thing that uses or protects it
    expected = REFERENCES[reference](world, protected)

    # When the sweep runs after the grace period
    report = world.sweep(days=GRACE_OVER)

    # Then that version stays, and the plan says why; its DR copies stay with it
    assert world.exists(protected)
    kept = decision(report, protected)
    assert kept.status == "keep" and expected <= {p.kind for p in kept.protections}, kept
    for region, copy_id in world.copies(protected).items():
        assert world.exists(copy_id, region)
        assert "source-in-use" in {p.kind for p in decision(report, copy_id).protections}
    # while the version next to it, with nothing keeping it, is deregistered
    assert not world.exists(control)


# -- Fails closed ---------------------------------------------------------------------------------------------


def test_unreadable_auto_scaling_groups_in_home_stop_every_deregistration(world: World) -> None:
    images = world.family()
    world.sweep()
    world.account.faults.fail("DescribeAutoScalingGroups", "AccessDenied", region=HOME)

    report = world.sweep(days=GRACE_OVER)

    assert all(world.exists(i) for i in images)
    assert all(world.exists(c, r) for i in images for r, c in world.copies(i).items())
    blocked = report.plan.summary()["blocked"]
    assert "AccessDenied" in blocked[HOME] and f"home region {HOME}" in blocked[WEST] and EU in blocked
    assert decision(report, images[0]).status == "blocked"

    # And the next sweep, with the groups readable again, finishes the job
    world.account.faults.clear()
    world.sweep(days=GRACE_OVER)
    assert not any(world.exists(i) for i in images[:3])


def test_an_unreadable_dr_source_blocks_only_that_region(world: World) -> None:
    images = world.family()
    west_copy = world.copies(images[0])[WEST]
    world.sweep()
    world.account.faults.fail("DescribeLaunchTemplateVersions", "UnauthorizedOperation", region=EU)
    world.account.faults.fail("DescribeLaunchTemplates", "UnauthorizedOperation", region=EU)

    report = world.sweep(days=GRACE_OVER)

    assert not world.exists(images[0]) and not world.exists(west_copy, WEST)
    assert set(report.plan.summary()["blocked"]) == {EU}
    assert all(d.status != "deregister" for d in report.plan.regions[EU].decisions)


def test_a_dr_region_that_does_not_answer_is_left_for_the_next_sweep(world: World) -> None:
    images = world.family()
    eu_copy = world.copies(images[0])[EU]
    world.sweep()
    world.account.faults.unreachable(EU)

    report = world.sweep(days=GRACE_OVER)

    assert not world.exists(images[0])  # home and us-west-2 went ahead
    assert "could not be read" in report.plan.summary()["blocked"][EU]
    world.account.faults.clear()
    assert world.exists(eu_copy, EU)
    world.sweep(days=GRACE_OVER + 1)  # its copies, shared, first need a usage report there
    assert not world.exists(eu_copy, EU)


def test_an_unreadable_home_region_stops_everything(world: World) -> None:
    images = world.family()
    world.sweep()
    world.account.faults.fail("DescribeImages", "RequestLimitExceeded", region=HOME)

    report = world.sweep(days=GRACE_OVER)

    assert report.plan.actions == [] and len(report.plan.summary()["blocked"]) == 3
    world.account.faults.clear()
    assert all(world.exists(i) for i in images)


def test_unreadable_launch_records_stop_every_deregistration(world: World) -> None:
    images = world.family()
    world.sweep()
    world.account.faults.fail("Scan", "AccessDeniedException")

    report = world.sweep(days=GRACE_OVER)

    assert all(world.exists(i) for i in images)
    assert all("launch records" in why for why in report.plan.summary()["blocked"].values())


def test_throttling_on_many_calls_is_retried_and_the_sweep_completes(world: World) -> None:
    images = world.family()
    faults = world.account.faults
    for action in ("DescribeImages", "DescribeSnapshots", "DescribeInstances", "EnableImageDeprecation"):
        faults.fail(action, "RequestLimitExceeded", times=2)
    world.sweep()
    for action in ("DeregisterImage", "CreateTags", "DescribeLaunchTemplates"):
        faults.fail(action, "RequestLimitExceeded", times=2)

    report = world.sweep(days=GRACE_OVER)

    assert faults.injected >= 14
    assert report.failures == 0 and not any(world.exists(i) for i in images[:3])


def test_a_failed_deregistration_is_reported_and_the_others_go_ahead(world: World) -> None:
    images = world.family()
    world.sweep()
    world.account.faults.fail("DeregisterImage", "UnauthorizedOperation", region=HOME, times=1)

    report = world.sweep(days=GRACE_OVER)

    assert len(report.results[HOME].failures) == 1 and "UnauthorizedOperation" in report.results[HOME].failures[0]
    assert sum(world.exists(i) for i in images[:3]) == 1
    world.sweep(days=GRACE_OVER)
    assert not any(world.exists(i) for i in images[:3])


# -- The cap --------------------------------------------------------------------------------------------------


def test_the_cap_removes_the_oldest_and_reports_the_rest(account: Account) -> None:
    world = World(account, sweep_policy(account, "sweep:\n  max_deregistrations_per_region: 2\n"))
    images = world.family()
    world.sweep()

    report = world.sweep(days=GRACE_OVER)

    assert [world.exists(i) for i in images] == [False, False, True, True, True]
    deferred = decision(report, images[2])
    assert deferred.status == "deferred" and "cap of 2" in deferred.reason
    assert report.plan.summary()["images"]["deferred"] == 3  # one per region
    world.sweep(days=GRACE_OVER)
    assert not world.exists(images[2])


# -- Snapshots ------------------------------------------------------------------------------------------------


def test_a_snapshot_another_ami_uses_is_neither_marked_nor_deleted(world: World) -> None:
    images = world.family()
    shared = sorted(world.snapshots_of(images[0]))[0]
    ec2 = world.ec2()
    other = ec2.register_image(
        Name="hand-made-from-web-snapshot", RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": shared}}],
    )["ImageId"]  # fmt: skip
    world.sweep()

    world.sweep(days=GRACE_OVER)

    assert not world.exists(images[0]) and world.exists(other)
    assert shared in world.snapshots()
    snapshot = ec2.describe_snapshots(SnapshotIds=[shared])["Snapshots"][0]
    assert RETIRED_TAG not in tags_of(snapshot)
    # Nor later, when the other AMI is deregistered by hand: only snapshots the sweep marked are cleaned up.
    ec2.deregister_image(ImageId=other)
    world.sweep(days=GRACE_OVER)
    assert shared in world.snapshots()


def test_unmanaged_and_unmarked_snapshots_are_never_deleted(world: World) -> None:
    world.family()
    unmanaged = register_ami(world.ec2(), "debug-box", {"Owner": "someone"})
    unmanaged_snapshots = world.snapshots_of(unmanaged)
    world.ec2().deregister_image(ImageId=unmanaged)  # an orphan, but not the product's
    loose = world.ec2().create_snapshot(VolumeId=world.ec2().create_volume(AvailabilityZone=f"{HOME}a", Size=1)[
        "VolumeId"])["SnapshotId"]  # fmt: skip
    world.sweep()

    world.sweep(days=GRACE_OVER)

    assert unmanaged_snapshots | {loose} <= world.snapshots()


def test_a_crash_between_deregistration_and_snapshot_deletion_is_finished_next_run(world: World) -> None:
    # Given a sweep whose DeregisterImage cannot delete snapshots itself (the flag is refused), and that
    # dies right after the first deregistration, before it deletes that AMI's snapshots
    images = world.family()
    world.sweep()
    snapshots = world.snapshots_of(images[0])
    world.account.faults.fail("DeregisterImage", "InvalidParameter", region=HOME, times=1)

    class Crash(BaseException):
        """Ends the run like a Lambda timeout: no exception handler of the sweep sees it."""

    def crash(parsed: dict[str, object], **_: object) -> None:
        if "Error" not in parsed:  # the deregistration itself succeeded
            raise Crash

    ec2 = world.clients.ec2(HOME)
    ec2.meta.events.register("after-call.ec2.DeregisterImage", crash)
    with pytest.raises(Crash):
        world.sweep(days=GRACE_OVER)
    ec2.meta.events.unregister("after-call.ec2.DeregisterImage", crash)
    deregistered = [i for i in images[:3] if not world.exists(i)]
    assert len(deregistered) == 1 and world.snapshots_of(images[1]) | world.snapshots_of(images[2])
    left = {s for s in world.snapshots() if s in snapshots}
    assert left == snapshots  # the crash left the deregistered AMI's snapshots behind

    # When the next sweep runs
    report = world.sweep(days=GRACE_OVER)

    # Then it deletes exactly those orphans and finishes the other deregistrations
    assert not left & world.snapshots()
    assert report.results[HOME].applied["DeleteSnapshot"] == len(snapshots)
    assert not any(world.exists(i) for i in images[:3])
    assert world.snapshots_of(images[3]) <= world.snapshots()


# -- Finishing what events missed -----------------------------------------------------------------------------


def test_a_build_whose_event_was_lost_is_protected_and_copied_by_the_sweep(world: World) -> None:
    lost = world.version("api-2.0.0", days_ago=1, protect=False)

    first = world.sweep()

    assert first.results[HOME].applied["FinishListedImage"] == 1
    assert first.results[WEST].applied["CopyImage"] == 1 and first.results[EU].applied["CopyImage"] == 1
    assert tags_of(world.image(lost))["ami-lifecycle:family"] == "api"
    launch = world.ec2().describe_image_attribute(ImageId=lost, Attribute="launchPermission")["LaunchPermissions"]
    assert {"UserId": "111111111111"} in launch

    # When the copies become available (their events are lost too), the next sweep finishes them
    fidelity.complete_pending_copies()
    second = world.sweep()
    # ... and names them in their regions' parameters in the same run (the home one was named by the first)
    assert second.plan.summary()["actions"] == {"FinishListedImage": 2, "PutImageParameter": 2}
    assert first.results[HOME].applied["PutImageParameter"] == 1
    for region, copy_id in world.copies(lost).items():
        shared = world.ec2(region).describe_image_attribute(ImageId=copy_id, Attribute="launchPermission")
        assert {"UserId": "111111111111"} in shared["LaunchPermissions"]
    assert world.sweep().plan.actions == []
