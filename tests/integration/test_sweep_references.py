"""Everything that can still launch an AMI keeps it: SSM parameters, fleets, spot requests, Batch, found in bulk.

Each scenario gives an old version one user and nothing else, in the home region or in a DR region for the copy,
runs the sweep past the grace period, and checks that the used image and its snapshots stay while the unused
version beside it is retired (a sweep that deletes nothing does not pass).
"""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest
from botocore.exceptions import ClientError

from ami_lifecycle.local.calls import record_calls

from .conftest import EU, HOME, WEST, Account
from .sweep_world import World, decision

GRACE_OVER = 11  # days after the first sweep: sweep_policy's 10-day grace period is over
SUBNET_CIDR = "10.0.0.0/24"


@pytest.fixture
def world(account: Account) -> World:
    return World(account)


def _ssm_parameter(world: World, image_id: str, region: str) -> set[str]:
    """What consumers resolve in CloudFormation or Terraform: a parameter of data type aws:ec2:image."""
    ssm = boto3.client("ssm", region_name=region)
    ssm.put_parameter(Name="/golden/web/pinned", Value=image_id, Type="String", DataType="aws:ec2:image")
    return {"ssm-parameter"}


def _spot_fleet(world: World, image_id: str, region: str) -> set[str]:
    """A Spot Fleet request (maintain) whose launch specification names the AMI; its instance was interrupted."""
    world.ec2(region).request_spot_fleet(
        SpotFleetRequestConfig={
            "IamFleetRole": "arn:aws:iam::123456789012:role/spot-fleet",
            "TargetCapacity": 0,
            "Type": "maintain",
            "AllocationStrategy": "lowestPrice",
            "LaunchSpecifications": [{"ImageId": image_id, "InstanceType": "t3.micro"}],
        }
    )
    return {"spot-fleet"}


def _ec2_fleet(world: World, image_id: str, region: str) -> set[str]:
    """An EC2 Fleet whose launch template override names the AMI (the template itself names another one)."""
    ec2 = world.ec2(region)
    newest = world.built[-1] if region == HOME else world.copies(world.built[-1])[region]
    template = ec2.create_launch_template(LaunchTemplateName="fleet", LaunchTemplateData={"ImageId": newest})
    ec2.create_fleet(
        Type="maintain",
        TargetCapacitySpecification={"TotalTargetCapacity": 0, "DefaultTargetCapacityType": "spot"},
        LaunchTemplateConfigs=[
            {
                "LaunchTemplateSpecification": {
                    "LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"],
                    "Version": "$Default",
                },
                "Overrides": [{"InstanceType": "t3.micro", "ImageId": image_id}],
            }
        ],
    )
    return {"ec2-fleet"}


def _persistent_spot_request(world: World, image_id: str, region: str) -> set[str]:
    """A persistent spot request, back to open after an interruption: it launches the AMI again."""
    world.ec2(region).request_spot_instances(
        Type="persistent", LaunchSpecification={"ImageId": image_id, "InstanceType": "t3.micro"}
    )
    return {"spot-request"}


def _batch_compute_environment(world: World, image_id: str, region: str) -> set[str]:
    """An AWS Batch compute environment whose EC2 configuration overrides the image with this AMI."""
    ec2 = world.ec2(region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=SUBNET_CIDR)["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc)["GroupId"]
    iam = boto3.client("iam", region_name=region)
    role = iam.create_role(RoleName=f"batch-{region}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"batch-{region}")["InstanceProfile"]["Arn"]
    boto3.client("batch", region_name=region).create_compute_environment(
        computeEnvironmentName="jobs",
        type="MANAGED",
        state="ENABLED",
        serviceRole=role,
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 4,
            "instanceTypes": ["t3.micro"],
            "subnets": [subnet],
            "securityGroupIds": [group],
            "instanceRole": profile,
            "ec2Configuration": [{"imageType": "ECS_AL2", "imageIdOverride": image_id}],
        },
    )
    return {"batch-compute-environment"}


USERS: dict[str, Callable[[World, str, str], set[str]]] = {
    "SSM parameter (aws:ec2:image)": _ssm_parameter,
    "Spot Fleet request, launch specification": _spot_fleet,
    "EC2 Fleet, launch template override": _ec2_fleet,
    "persistent spot request": _persistent_spot_request,
    "Batch compute environment, image override": _batch_compute_environment,
}


@pytest.mark.parametrize("user", USERS, ids=list(USERS))
def test_one_user_alone_keeps_a_retired_version_at_home(world: World, user: str) -> None:
    # Given a deprecated version whose only user is one of these
    images = world.family()
    world.sweep()
    used, unused = images[0], images[1]
    expected = USERS[user](world, used, HOME)
    snapshots = world.snapshots_of(used)

    # When the sweep runs after the grace period
    report = world.sweep(days=GRACE_OVER)

    # Then the used image and its snapshots stay, the plan names the user, its copies stay with it
    assert world.exists(used) and snapshots <= world.snapshots()
    kept = decision(report, used)
    assert kept.status == "keep" and expected <= {p.kind for p in kept.protections}, kept
    for region, copy_id in world.copies(used).items():
        assert world.exists(copy_id, region)
    # while the version beside it, used by nothing, is deregistered everywhere
    assert not world.exists(unused)
    assert not any(world.exists(c, r) for r, c in world.copies(unused).items())


@pytest.mark.parametrize("user", USERS, ids=list(USERS))
def test_one_user_alone_keeps_a_dr_copy(world: World, user: str) -> None:
    # Given a deprecated version whose copy in a DR region has one user there
    images = world.family()
    world.sweep()
    used_copy, unused_copy = world.copies(images[0])[WEST], world.copies(images[1])[WEST]
    expected = USERS[user](world, used_copy, WEST)
    snapshots = world.snapshots_of(used_copy, WEST)

    # When the sweep runs after the grace period
    report = world.sweep(days=GRACE_OVER)

    # Then that copy and its snapshots stay, with the reason, and the unused copy in the other region goes
    assert world.exists(used_copy, WEST) and snapshots <= world.snapshots(WEST)
    assert expected <= {p.kind for p in decision(report, used_copy).protections}
    assert not world.exists(unused_copy, WEST)
    assert not any(world.exists(c, r) for r, c in world.copies(images[0]).items() if r == EU)


UNREADABLE = [
    "DescribeFleets",
    "DescribeSpotFleetRequests",
    "DescribeSpotInstanceRequests",
    "DescribeImageReferences",
    "DescribeImageUsageReports",
]


@pytest.mark.parametrize("operation", UNREADABLE)
def test_an_unreadable_source_stops_deregistration_in_its_region(world: World, operation: str) -> None:
    images = world.family()
    world.sweep()
    world.account.faults.fail(operation, "AccessDenied", region=HOME)

    report = world.sweep(days=GRACE_OVER)

    assert world.exists(images[0]) and world.exists(images[1])
    assert "AccessDenied" in report.plan.summary()["blocked"][HOME]
    assert decision(report, images[0]).status == "blocked"


def test_ec2_is_asked_about_candidates_only_ten_at_a_time(world: World) -> None:
    # Given 14 versions, of which the 12 oldest are due for deregistration in each of three regions
    world.family(days_ago=tuple(range(200, 60, -10)))
    world.sweep()
    world.sweep(days=GRACE_OVER - 0.5, dry_run=True)

    with record_calls() as calls:
        world.sweep(days=GRACE_OVER, dry_run=True)

    asked = [c for c in calls.calls if c.operation == "DescribeImageReferences"]
    assert sorted(len(c.params["ImageIds"]) for c in asked if c.region == HOME) == [2, 10]
    assert len(asked) == 6  # two calls per region: 12 candidates, 10 ids per call
    options = {t["ResourceType"]: t.get("ResourceTypeOptions") for t in asked[0].params["ResourceTypes"]}
    assert options["ec2:LaunchTemplate"] == [{"OptionName": "version-depth", "OptionValues": ["10000"]}]
    assert "terminated" not in options["ec2:Instance"][0]["OptionValues"]


def test_a_usage_report_that_cannot_be_asked_for_stops_removal_in_its_region(world: World) -> None:
    # Given an old shared version due for removal, and a newer one that starts retiring and needs a report
    images = world.family()
    west_copy = world.copies(images[0])[WEST]
    world.sweep()
    world.sweep(days=GRACE_OVER - 2)  # the reports of the first retiring versions are made and read
    world.version("web-2.0.0", days_ago=0)
    world.finish_copies()
    world.account.faults.fail("CreateImageUsageReport", "ResourceLimitExceeded", region=HOME)

    report = world.sweep(days=GRACE_OVER)

    assert world.exists(images[0]) and decision(report, images[0]).status == "deregister"
    assert any("not attempted, ask EC2 which accounts use" in f for f in report.results[HOME].failures)
    assert not world.exists(west_copy, WEST)  # the other regions go ahead


def test_unreadable_batch_compute_environments_stop_deregistration_in_their_region(world: World) -> None:
    """The local AWS injects errors into EC2 only: the Batch client refuses through botocore's own events."""
    images = world.family()
    world.sweep()

    def refuse(**_: object) -> None:
        error = {"Error": {"Code": "AccessDeniedException", "Message": "denied"}}
        raise ClientError(error, "DescribeComputeEnvironments")

    world.clients.batch(HOME).meta.events.register("before-call.batch.DescribeComputeEnvironments", refuse)

    report = world.sweep(days=GRACE_OVER)

    assert world.exists(images[0]) and world.exists(images[1])
    assert "Batch compute environments: AccessDeniedException" in report.plan.summary()["blocked"][HOME]
