"""What the sweep reads from Auto Scaling to find AMIs in use: moto already answers these as EC2 Auto Scaling does.

No patch: these tests pin the read shapes and the paging the product relies on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .conftest import HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

ZONES = [f"{HOME}a"]


def autoscaling(aws: LocalAws) -> Any:
    return aws.client("autoscaling", HOME)


def template(aws: LocalAws, name: str, image_id: str = "ami-0123456789abcdef0") -> str:
    created = aws.ec2(HOME).create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"}
    )
    return str(created["LaunchTemplate"]["LaunchTemplateId"])


def group(aws: LocalAws, name: str) -> dict[str, Any]:
    groups = autoscaling(aws).describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    assert len(groups) == 1
    return dict(groups[0])


def test_group_with_a_launch_configuration_names_it(aws: LocalAws) -> None:
    """Auto Scaling DescribeAutoScalingGroups: LaunchConfigurationName of a group launched from a configuration."""
    # Given a group using a launch configuration
    asg = autoscaling(aws)
    asg.create_launch_configuration(
        LaunchConfigurationName="web-lc", ImageId="ami-0123456789abcdef0", InstanceType="t3.micro"
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="web", LaunchConfigurationName="web-lc", MinSize=0, MaxSize=1, AvailabilityZones=ZONES
    )
    # When the group is described
    described = group(aws, "web")
    # Then it names the configuration, and no launch template
    assert described["LaunchConfigurationName"] == "web-lc"
    assert "LaunchTemplate" not in described
    assert "MixedInstancesPolicy" not in described


def test_group_with_a_launch_template_reports_its_specification(aws: LocalAws) -> None:
    """Auto Scaling DescribeAutoScalingGroups LaunchTemplate: LaunchTemplateId, LaunchTemplateName and Version."""
    # Given a group using the latest version of a launch template
    template_id = template(aws, "web-lt")
    autoscaling(aws).create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"},
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=ZONES,
    )
    # When the group is described
    described = group(aws, "web")
    # Then its launch template specification is complete
    assert described["LaunchTemplate"] == {
        "LaunchTemplateId": template_id,
        "LaunchTemplateName": "web-lt",
        "Version": "$Latest",
    }
    assert "LaunchConfigurationName" not in described


def test_mixed_instances_policy_reports_the_template_and_its_overrides(aws: LocalAws) -> None:
    """Auto Scaling MixedInstancesPolicy.LaunchTemplate: LaunchTemplateSpecification and Overrides[].

    An override may name its own LaunchTemplateSpecification (another AMI, e.g. for arm64 instance types).
    """
    # Given a group with a mixed instances policy on one template, one override using a second template
    main_id = template(aws, "web-x86")
    arm_id = template(aws, "web-arm", image_id="ami-0fedcba9876543210")
    autoscaling(aws).create_auto_scaling_group(
        AutoScalingGroupName="web",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "web-x86", "Version": "$Default"},
                "Overrides": [
                    {"InstanceType": "t3.small"},
                    {
                        "InstanceType": "t4g.small",
                        "LaunchTemplateSpecification": {"LaunchTemplateId": arm_id, "Version": "1"},
                    },
                ],
            },
            "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 50},
        },
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=ZONES,
    )
    # When the group is described
    policy = group(aws, "web")["MixedInstancesPolicy"]["LaunchTemplate"]
    # Then the main specification carries id, name and version, and the override its own specification
    assert policy["LaunchTemplateSpecification"] == {
        "LaunchTemplateId": main_id,
        "LaunchTemplateName": "web-x86",
        "Version": "$Default",
    }
    overrides = policy["Overrides"]
    assert [o["InstanceType"] for o in overrides] == ["t3.small", "t4g.small"]
    assert "LaunchTemplateSpecification" not in overrides[0]
    assert overrides[1]["LaunchTemplateSpecification"] == {"LaunchTemplateId": arm_id, "Version": "1"}


def test_groups_page_with_max_records(aws: LocalAws) -> None:
    """Auto Scaling DescribeAutoScalingGroups: at most MaxRecords per call (default 50) and a NextToken while more."""
    # Given 57 groups
    asg = autoscaling(aws)
    asg.create_launch_configuration(
        LaunchConfigurationName="web-lc", ImageId="ami-0123456789abcdef0", InstanceType="t3.micro"
    )
    names = [f"web-{i:02d}" for i in range(57)]
    for name in names:
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, LaunchConfigurationName="web-lc", MinSize=0, MaxSize=1, AvailabilityZones=ZONES
        )
    # When they are described without MaxRecords, and walked 8 per page
    first = asg.describe_auto_scaling_groups()
    pages = list(asg.get_paginator("describe_auto_scaling_groups").paginate(PaginationConfig={"PageSize": 8}))
    # Then the first call holds 50 and a NextToken, and the pages hold every group once
    assert len(first["AutoScalingGroups"]) == 50
    assert "NextToken" in first
    assert [len(p["AutoScalingGroups"]) for p in pages] == [8] * 7 + [1]
    assert sorted(g["AutoScalingGroupName"] for p in pages for g in p["AutoScalingGroups"]) == names


def test_launch_configurations_page_with_their_image_ids(aws: LocalAws) -> None:
    """Auto Scaling DescribeLaunchConfigurations: ImageId of each configuration, paged by MaxRecords/NextToken."""
    # Given 53 launch configurations, each on its own AMI
    asg = autoscaling(aws)
    expected = {f"lc-{i:02d}": f"ami-{i:017x}" for i in range(53)}
    for name, image_id in expected.items():
        asg.create_launch_configuration(LaunchConfigurationName=name, ImageId=image_id, InstanceType="t3.micro")
    # When they are described without MaxRecords, and walked 9 per page
    first = asg.describe_launch_configurations()
    pages = list(asg.get_paginator("describe_launch_configurations").paginate(PaginationConfig={"PageSize": 9}))
    # Then the first call holds 50 and a NextToken, and the pages hold every configuration once, with its AMI
    assert len(first["LaunchConfigurations"]) == 50
    assert "NextToken" in first
    listed = [(c["LaunchConfigurationName"], c["ImageId"]) for p in pages for c in p["LaunchConfigurations"]]
    assert len(listed) == 53
    assert dict(listed) == expected
