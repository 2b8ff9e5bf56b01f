"""What a reader of EC2 Fleets, Spot Fleets, Spot Instance requests and AWS Batch compute environments sees.

AWS documentation followed: the EC2 API Reference for DescribeFleets (FleetData LaunchTemplateConfigs with
LaunchTemplateSpecification and Overrides[].ImageId; FleetState submitted | active | deleted | failed |
deleted_running | deleted_terminating | modifying; filters fleet-state and type; a fleet of type instant only when
its id is given), DescribeSpotFleetRequests (SpotFleetRequestConfigData LaunchSpecifications and
LaunchTemplateConfigs; BatchState active | cancelled | cancelled_running | cancelled_terminating | ...; MaxResults 1
to 1,000), DescribeSpotInstanceRequests (LaunchSpecification.ImageId, State, Type one-time | persistent; filter
state; MaxResults 5 to 1,000), and the AWS Batch API Reference for DescribeComputeEnvironments
(computeResources.ec2Configuration[].imageIdOverride, computeResources.launchTemplate; maxResults 1 to 100).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

IMAGE, ARM_IMAGE = "ami-0123456789abcdef0", "ami-0fedcba9876543210"
FLEET_ROLE = f"arn:aws:iam::{ACCOUNT}:role/spot-fleet"


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def subnet(aws: LocalAws) -> str:
    ec2 = aws.ec2(HOME)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"])


def template(aws: LocalAws, name: str = "web") -> str:
    data = {"ImageId": IMAGE, "InstanceType": "t3.micro"}
    created = aws.ec2(HOME).create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    return str(created["LaunchTemplate"]["LaunchTemplateId"])


def fleet(aws: LocalAws, template_id: str, subnet_id: str, fleet_type: str = "maintain") -> tuple[str, list[Any]]:
    """A fleet on the template's latest version, with an override launching the arm64 AMI."""
    configs = [
        {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "$Latest"},
            "Overrides": [{"InstanceType": "t4g.micro", "ImageId": ARM_IMAGE, "SubnetId": subnet_id}],
        }
    ]
    created = aws.ec2(HOME).create_fleet(
        Type=fleet_type,
        LaunchTemplateConfigs=configs,
        TargetCapacitySpecification={"TotalTargetCapacity": 1, "DefaultTargetCapacityType": "spot"},
    )
    return str(created["FleetId"]), configs


def fleet_states(aws: LocalAws, **params: Any) -> dict[str, str]:
    return {f["FleetId"]: f["FleetState"] for f in aws.ec2(HOME).describe_fleets(**params)["Fleets"]}


# --- EC2 Fleet ------------------------------------------------------------------------------------------------


def test_fleet_reports_its_template_and_override_images(aws: LocalAws) -> None:
    """EC2 DescribeFleets: LaunchTemplateConfigs as requested, with Overrides[].ImageId; FleetState active."""
    # Given a fleet on a launch template whose override names another AMI
    template_id, subnet_id = template(aws), subnet(aws)
    fleet_id, configs = fleet(aws, template_id, subnet_id)
    # When fleets are described
    described = aws.ec2(HOME).describe_fleets()["Fleets"]
    # Then the fleet is active with its template specification and override image
    assert [(f["FleetId"], f["FleetState"], f["Type"]) for f in described] == [(fleet_id, "active", "maintain")]
    assert described[0]["LaunchTemplateConfigs"] == configs


def test_deleted_fleets_are_told_apart_by_state_and_filter(aws: LocalAws) -> None:
    """EC2 DescribeFleets FleetState deleted_running / deleted_terminating, and the fleet-state filter."""
    # Given three fleets, one deleted with its instances terminated and one deleted with them left running
    template_id, subnet_id = template(aws), subnet(aws)
    kept, terminated, running = (fleet(aws, template_id, subnet_id)[0] for _ in range(3))
    ec2 = aws.ec2(HOME)
    ec2.delete_fleets(FleetIds=[terminated], TerminateInstances=True)
    ec2.delete_fleets(FleetIds=[running], TerminateInstances=False)
    # When fleets are described, and filtered on active or on a deleted state
    states = fleet_states(aws)
    # Then a reader can leave out the deleted* states, client-side or with the filter
    assert states == {kept: "active", terminated: "deleted_terminating", running: "deleted_running"}
    assert [f for f, s in states.items() if not s.startswith("deleted")] == [kept]
    assert list(fleet_states(aws, Filters=[{"Name": "fleet-state", "Values": ["active"]}])) == [kept]
    deleted = fleet_states(aws, Filters=[{"Name": "fleet-state", "Values": ["deleted-running", "deleted-terminating"]}])
    assert sorted(deleted) == sorted([terminated, running])


def test_instant_fleet_is_described_only_by_id(aws: LocalAws) -> None:
    """EC2 DescribeFleets: a fleet of type instant appears only when its fleet ID is specified."""
    # Given a maintain fleet and an instant fleet
    template_id, subnet_id = template(aws), subnet(aws)
    maintained = fleet(aws, template_id, subnet_id)[0]
    instant = fleet(aws, template_id, subnet_id, fleet_type="instant")[0]
    # When fleets are described without ids, and by the instant fleet's id
    # Then the instant fleet appears only when asked for
    assert list(fleet_states(aws)) == [maintained]
    assert list(fleet_states(aws, FleetIds=[instant])) == [instant]


def test_fleets_page(aws: LocalAws) -> None:
    """EC2 DescribeFleets MaxResults and NextToken."""
    # Given 7 fleets
    template_id, subnet_id = template(aws), subnet(aws)
    fleet_ids = [fleet(aws, template_id, subnet_id)[0] for _ in range(7)]
    # When they are walked 3 per page
    pages = list(aws.ec2(HOME).get_paginator("describe_fleets").paginate(PaginationConfig={"PageSize": 3}))
    # Then every fleet comes back once
    assert [len(p["Fleets"]) for p in pages] == [3, 3, 1]
    assert sorted(f["FleetId"] for p in pages for f in p["Fleets"]) == sorted(fleet_ids)


# --- Spot Fleet -----------------------------------------------------------------------------------------------


def spot_fleet(aws: LocalAws, **config: Any) -> str:
    # AllocationStrategy: EC2 defaults it; moto requires it.
    request = {"IamFleetRole": FLEET_ROLE, "TargetCapacity": 1, "AllocationStrategy": "lowestPrice", **config}
    return str(aws.ec2(HOME).request_spot_fleet(SpotFleetRequestConfig=request)["SpotFleetRequestId"])


def test_spot_fleets_report_launch_specifications_and_template_configs(aws: LocalAws) -> None:
    """EC2 DescribeSpotFleetRequests: LaunchSpecifications[].ImageId, and LaunchTemplateConfigs as requested."""
    # Given a Spot Fleet on a launch specification and one on version 1 of a launch template with an override
    subnet_id, template_id = subnet(aws), template(aws)
    specs = spot_fleet(
        aws, LaunchSpecifications=[{"ImageId": IMAGE, "InstanceType": "t3.micro", "SubnetId": subnet_id}]
    )
    configs = [
        {
            "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "1"},
            "Overrides": [{"InstanceType": "t3.small", "SubnetId": subnet_id}],
        }
    ]
    templated = spot_fleet(aws, LaunchTemplateConfigs=configs)
    # When Spot Fleet requests are described
    described = {
        c["SpotFleetRequestId"]: c for c in aws.ec2(HOME).describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
    }
    # Then both are active; the first names its AMI, the second its template, version and override
    assert {c["SpotFleetRequestState"] for c in described.values()} == {"active"}
    assert [s["ImageId"] for s in described[specs]["SpotFleetRequestConfig"]["LaunchSpecifications"]] == [IMAGE]
    assert "LaunchTemplateConfigs" not in described[specs]["SpotFleetRequestConfig"]
    assert described[templated]["SpotFleetRequestConfig"]["LaunchTemplateConfigs"] == configs
    assert "LaunchSpecifications" not in described[templated]["SpotFleetRequestConfig"]


def test_cancelled_spot_fleet_keeping_its_instances_is_cancelled_running(aws: LocalAws) -> None:
    """EC2 Spot Fleet request state cancelled_running: cancelled, its instances still running."""
    # Given a Spot Fleet
    spot_fleet_id = spot_fleet(aws, LaunchSpecifications=[{"ImageId": IMAGE, "InstanceType": "t3.micro"}])
    # When it is cancelled without terminating its instances
    aws.ec2(HOME).cancel_spot_fleet_requests(SpotFleetRequestIds=[spot_fleet_id], TerminateInstances=False)
    # Then it is described as cancelled_running
    described = aws.ec2(HOME).describe_spot_fleet_requests(SpotFleetRequestIds=[spot_fleet_id])
    assert described["SpotFleetRequestConfigs"][0]["SpotFleetRequestState"] == "cancelled_running"


def test_spot_fleets_page(aws: LocalAws) -> None:
    """EC2 DescribeSpotFleetRequests MaxResults (1 to 1,000) and NextToken."""
    # Given 7 Spot Fleets
    ids = [spot_fleet(aws, LaunchSpecifications=[{"ImageId": IMAGE, "InstanceType": "t3.micro"}]) for _ in range(7)]
    # When they are walked 3 per page
    paginator = aws.ec2(HOME).get_paginator("describe_spot_fleet_requests")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 3}))
    # Then every request comes back once
    assert [len(p["SpotFleetRequestConfigs"]) for p in pages] == [3, 3, 1]
    assert sorted(c["SpotFleetRequestId"] for p in pages for c in p["SpotFleetRequestConfigs"]) == sorted(ids)


# --- Spot Instance requests -----------------------------------------------------------------------------------


def spot_requests(aws: LocalAws, image_id: str, count: int, request_type: str) -> list[str]:
    spec = {"ImageId": image_id, "InstanceType": "t3.micro"}
    made = aws.ec2(HOME).request_spot_instances(InstanceCount=count, Type=request_type, LaunchSpecification=spec)
    return [r["SpotInstanceRequestId"] for r in made["SpotInstanceRequests"]]


def test_spot_instance_requests_report_image_state_and_type(aws: LocalAws) -> None:
    """EC2 DescribeSpotInstanceRequests: LaunchSpecification.ImageId, State, Type; the state filter."""
    # Given two persistent requests on one AMI and a one-time request on another
    persistent = spot_requests(aws, IMAGE, 2, "persistent")
    one_time = spot_requests(aws, ARM_IMAGE, 1, "one-time")
    # When the requests are described, and filtered on the states a live request is in
    ec2 = aws.ec2(HOME)
    described = ec2.describe_spot_instance_requests()["SpotInstanceRequests"]
    live = ec2.describe_spot_instance_requests(Filters=[{"Name": "state", "Values": ["open", "active"]}])
    closed = ec2.describe_spot_instance_requests(Filters=[{"Name": "state", "Values": ["closed", "cancelled"]}])
    # Then each reports its AMI, state and type; all three are live
    found = {r["SpotInstanceRequestId"]: (r["LaunchSpecification"]["ImageId"], r["Type"]) for r in described}
    assert found == {**dict.fromkeys(persistent, (IMAGE, "persistent")), one_time[0]: (ARM_IMAGE, "one-time")}
    assert {r["State"] for r in described} <= {"open", "active"}
    assert len(live["SpotInstanceRequests"]) == 3
    assert closed["SpotInstanceRequests"] == []


def test_spot_instance_requests_page(aws: LocalAws) -> None:
    """EC2 DescribeSpotInstanceRequests MaxResults (5 to 1,000) and NextToken."""
    # Given 12 spot requests
    ids = spot_requests(aws, IMAGE, 12, "one-time")
    # When they are walked 5 per page
    paginator = aws.ec2(HOME).get_paginator("describe_spot_instance_requests")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 5}))
    # Then every request comes back once
    assert [len(p["SpotInstanceRequests"]) for p in pages] == [5, 5, 2]
    assert sorted(r["SpotInstanceRequestId"] for p in pages for r in p["SpotInstanceRequests"]) == sorted(ids)
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_spot_instance_requests(MaxResults=1001)
    assert error_code(excinfo) == "InvalidParameterValue"


# --- AWS Batch ------------------------------------------------------------------------------------------------


def compute_environments(aws: LocalAws, count: int) -> tuple[list[str], str]:
    """``count`` managed EC2 compute environments, each with an AMI override and a launch template."""
    ec2, iam, batch = aws.ec2(HOME), aws.client("iam", HOME), aws.client("batch", HOME)
    subnet_id = subnet(aws)
    vpc_id = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]
    group_id = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc_id)["GroupId"]
    role = iam.create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName="ecs")["InstanceProfile"]["Arn"]
    template_id = template(aws, "batch")
    names = [f"ce-{i:02d}" for i in range(count)]
    for name in names:
        batch.create_compute_environment(
            computeEnvironmentName=name,
            type="MANAGED",
            state="ENABLED",
            serviceRole=role,
            computeResources={
                "type": "EC2",
                "minvCpus": 0,
                "maxvCpus": 4,
                "instanceTypes": ["optimal"],
                "subnets": [subnet_id],
                "securityGroupIds": [group_id],
                "instanceRole": profile,
                "ec2Configuration": [{"imageType": "ECS_AL2", "imageIdOverride": ARM_IMAGE}],
                "launchTemplate": {"launchTemplateId": template_id, "version": "$Latest"},
            },
        )
    return names, template_id


def test_compute_environment_reports_its_image_override_and_launch_template(aws: LocalAws) -> None:
    """AWS Batch DescribeComputeEnvironments: ec2Configuration[].imageIdOverride and launchTemplate."""
    # Given a managed compute environment with an AMI override and a launch template
    names, template_id = compute_environments(aws, 1)
    # When compute environments are described
    described = aws.client("batch", HOME).describe_compute_environments()["computeEnvironments"]
    # Then both ways of naming an AMI are reported
    assert [e["computeEnvironmentName"] for e in described] == names
    resources = described[0]["computeResources"]
    assert resources["ec2Configuration"] == [{"imageType": "ECS_AL2", "imageIdOverride": ARM_IMAGE}]
    assert resources["launchTemplate"] == {"launchTemplateId": template_id, "version": "$Latest"}


def test_compute_environments_page(aws: LocalAws) -> None:
    """AWS Batch DescribeComputeEnvironments maxResults (1 to 100) and nextToken."""
    # Given 7 compute environments
    names, _ = compute_environments(aws, 7)
    batch = aws.client("batch", HOME)
    # When they are walked 3 per page
    pages = list(batch.get_paginator("describe_compute_environments").paginate(PaginationConfig={"PageSize": 3}))
    # Then every environment comes back once, and maxResults above 100 is refused
    assert [len(p["computeEnvironments"]) for p in pages] == [3, 3, 1]
    assert sorted(e["computeEnvironmentName"] for p in pages for e in p["computeEnvironments"]) == names
    with pytest.raises(ClientError) as excinfo:
        batch.describe_compute_environments(maxResults=101)
    assert error_code(excinfo) == "ClientException"
