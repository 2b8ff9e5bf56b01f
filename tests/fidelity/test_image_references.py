"""DescribeImageReferences: the caller's resources that reference given AMIs, in the caller's Region.

AWS documentation followed: the EC2 API Reference for DescribeImageReferences (ImageId.N: 1 to 10 items;
IncludeAllResourceTypes or ResourceTypes must be given; options given override the defaults), ResourceTypeOption
(state-name: default all states; version-depth: 1 to 10,000, default 10) and ImageReference (ImageId,
ResourceType, Arn), and the User Guide "Identify your resources referencing specified AMIs".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

INSTANCES = [{"ResourceType": "ec2:Instance"}]
TEMPLATES = [{"ResourceType": "ec2:LaunchTemplate"}]
PARAMETERS = [{"ResourceType": "ssm:Parameter"}]


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def references(aws: LocalAws, image_ids: list[str], region: str = HOME, **params: Any) -> list[tuple[str, str, str]]:
    response = aws.ec2(region).describe_image_references(ImageIds=image_ids, **params)
    assert "NextToken" not in response
    return [(r["ImageId"], r["ResourceType"], r["Arn"]) for r in response["ImageReferences"]]


def launch(aws: LocalAws, image_id: str, count: int = 1, region: str = HOME) -> list[str]:
    reservation = aws.ec2(region).run_instances(
        ImageId=image_id, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )
    return [i["InstanceId"] for i in reservation["Instances"]]


def instance_arn(instance_id: str, region: str = HOME) -> str:
    return f"arn:aws:ec2:{region}:{ACCOUNT}:instance/{instance_id}"


def template_arn(template_id: str) -> str:
    return f"arn:aws:ec2:{HOME}:{ACCOUNT}:launch-template/{template_id}"


def template(aws: LocalAws, name: str, image_ids: list[str]) -> str:
    """A launch template whose version n (from 1) launches image_ids[n - 1]."""
    ec2 = aws.ec2(HOME)
    data = {"ImageId": image_ids[0], "InstanceType": "t3.micro"}
    template_id = str(
        ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)["LaunchTemplate"][
            "LaunchTemplateId"
        ]
    )
    for image_id in image_ids[1:]:
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"}
        )
    return template_id


def test_instances_in_every_state_reference_their_image(aws: LocalAws) -> None:
    """EC2 ResourceTypeOption state-name: the default is all states, terminated included."""
    # Given three instances of one AMI (one stopped, one terminated) and one instance of another AMI
    image, other = aws.source_image().image_id, aws.source_image().image_id
    running, stopped, terminated = launch(aws, image, count=3)
    launch(aws, other)
    aws.ec2(HOME).stop_instances(InstanceIds=[stopped])
    aws.ec2(HOME).terminate_instances(InstanceIds=[terminated])
    # When the references to the first AMI are described for instances
    found = references(aws, [image], ResourceTypes=INSTANCES)
    # Then each of its three instances is reported once, by ARN, and the other AMI's instance is not
    assert sorted(found) == sorted((image, "ec2:Instance", instance_arn(i)) for i in (running, stopped, terminated))


def test_state_name_option_narrows_the_instances(aws: LocalAws) -> None:
    """EC2 ResourceTypeOption state-name: pending | running | shutting-down | terminated | stopping | stopped."""
    # Given a running, a stopped and a terminated instance of one AMI
    image = aws.source_image().image_id
    running, stopped, terminated = launch(aws, image, count=3)
    aws.ec2(HOME).stop_instances(InstanceIds=[stopped])
    aws.ec2(HOME).terminate_instances(InstanceIds=[terminated])
    # When the references are described for running and stopped instances only
    options = [{"OptionName": "state-name", "OptionValues": ["running", "stopped"]}]
    found = references(aws, [image], ResourceTypes=[{"ResourceType": "ec2:Instance", "ResourceTypeOptions": options}])
    # Then the terminated instance is left out
    assert sorted(arn for _, _, arn in found) == sorted(instance_arn(i) for i in (running, stopped))


def test_launch_template_versions_beyond_the_default_depth_of_ten_are_not_checked(aws: LocalAws) -> None:
    """EC2 ResourceTypeOption version-depth: the newest versions checked, 1 to 10,000, default 10."""
    # Given a template of 12 versions: version 1 launches the old AMI, versions 2 to 12 the new one
    old, new = aws.source_image().image_id, aws.source_image().image_id
    template_id = template(aws, "web", [old] + [new] * 11)
    # When the references of both AMIs are described with the default depth, and with depth 10000
    default = references(aws, [old, new], ResourceTypes=TEMPLATES)
    deep_options = [{"OptionName": "version-depth", "OptionValues": ["10000"]}]
    deep = references(
        aws, [old, new], ResourceTypes=[{"ResourceType": "ec2:LaunchTemplate", "ResourceTypeOptions": deep_options}]
    )
    # Then by default only the new AMI is referenced (once, however many versions use it); at 10000 both are
    assert default == [(new, "ec2:LaunchTemplate", template_arn(template_id))]
    assert deep == [
        (old, "ec2:LaunchTemplate", template_arn(template_id)),
        (new, "ec2:LaunchTemplate", template_arn(template_id)),
    ]


@pytest.mark.parametrize("depth", ["0", "10001", "ten"])
def test_version_depth_out_of_range_is_refused(aws: LocalAws, depth: str) -> None:
    """EC2 ResourceTypeOption version-depth: valid values are integers between 1 and 10000."""
    # Given an AMI
    image = aws.source_image().image_id
    # When its references are described with an invalid depth
    options = [{"OptionName": "version-depth", "OptionValues": [depth]}]
    with pytest.raises(ClientError) as excinfo:
        references(aws, [image], ResourceTypes=[{"ResourceType": "ec2:LaunchTemplate", "ResourceTypeOptions": options}])
    # Then the request is refused
    assert error_code(excinfo) == "InvalidParameterValue"


def test_ssm_parameters_of_data_type_image_reference_their_value(aws: LocalAws) -> None:
    """EC2 DescribeImageReferences ssm:Parameter: parameters of data type aws:ec2:image whose value is the AMI."""
    # Given an aws:ec2:image parameter naming the AMI, a text parameter with the same value, and one on another AMI
    image, other = aws.source_image().image_id, aws.source_image().image_id
    ssm = aws.client("ssm", HOME)
    ssm.put_parameter(Name="/golden/web", Type="String", DataType="aws:ec2:image", Value=image)
    ssm.put_parameter(Name="/notes/web", Type="String", DataType="text", Value=image)
    ssm.put_parameter(Name="golden-api", Type="String", DataType="aws:ec2:image", Value=other)
    # When the references of the AMI are described for SSM parameters
    found = references(aws, [image], ResourceTypes=PARAMETERS)
    # Then only the image parameter is reported, by ARN
    assert found == [(image, "ssm:Parameter", f"arn:aws:ssm:{HOME}:{ACCOUNT}:parameter/golden/web")]
    # and once the parameter moves to another AMI, it no longer references the first
    ssm.put_parameter(Name="/golden/web", Type="String", DataType="aws:ec2:image", Value=other, Overwrite=True)
    assert references(aws, [image], ResourceTypes=PARAMETERS) == []


def test_include_all_resource_types_with_an_option_overriding_one_type(aws: LocalAws) -> None:
    """EC2 IncludeAllResourceTypes: every type with its defaults; options given override the defaults of that type."""
    # Given an AMI used by a running and a stopped instance, a launch template and an SSM parameter
    image = aws.source_image().image_id
    running, stopped = launch(aws, image, count=2)
    aws.ec2(HOME).stop_instances(InstanceIds=[stopped])
    template_id = template(aws, "web", [image])
    aws.client("ssm", HOME).put_parameter(Name="/golden/web", Type="String", DataType="aws:ec2:image", Value=image)
    # When all types are checked, instances narrowed to running ones
    options = [{"OptionName": "state-name", "OptionValues": ["running"]}]
    found = references(
        aws,
        [image],
        IncludeAllResourceTypes=True,
        ResourceTypes=[{"ResourceType": "ec2:Instance", "ResourceTypeOptions": options}],
    )
    # Then the running instance, the template and the parameter are reported; the stopped instance is not
    assert sorted(found) == sorted(
        [
            (image, "ec2:Instance", instance_arn(running)),
            (image, "ec2:LaunchTemplate", template_arn(template_id)),
            (image, "ssm:Parameter", f"arn:aws:ssm:{HOME}:{ACCOUNT}:parameter/golden/web"),
        ]
    )


def test_image_builder_recipes_are_accepted_and_none_is_found(aws: LocalAws) -> None:
    """EC2 resource types imagebuilder:ImageRecipe and imagebuilder:ContainerRecipe (moto has no Image Builder)."""
    # Given an AMI used by an instance
    image = aws.source_image().image_id
    launch(aws, image)
    # When only Image Builder recipes are checked
    found = references(
        aws,
        [image],
        ResourceTypes=[{"ResourceType": "imagebuilder:ImageRecipe"}, {"ResourceType": "imagebuilder:ContainerRecipe"}],
    )
    # Then nothing is reported
    assert found == []


def test_only_the_callers_region_is_searched(aws: LocalAws) -> None:
    """EC2 DescribeImageReferences describes the resources in the caller's account and Region only."""
    # Given an instance of the AMI id in another region
    image = aws.source_image().image_id
    launch(aws, image, region=DR)
    # When the references are described in the home region
    # Then none is reported, while the other region reports its instance
    assert references(aws, [image], IncludeAllResourceTypes=True) == []
    assert [t for _, t, _ in references(aws, [image], region=DR, IncludeAllResourceTypes=True)] == ["ec2:Instance"]


def test_references_page_through_every_reference_once(aws: LocalAws) -> None:
    """EC2 DescribeImageReferences MaxResults (at least 5) and NextToken."""
    # Given 12 instances of one AMI and 3 of another
    image, other = aws.source_image().image_id, aws.source_image().image_id
    launched = launch(aws, image, count=12) + launch(aws, other, count=3)
    # When the references of both are walked 5 per page
    paginator = aws.ec2(HOME).get_paginator("describe_image_references")
    pages = list(paginator.paginate(ImageIds=[image, other], ResourceTypes=INSTANCES, PaginationConfig={"PageSize": 5}))
    # Then there are 3 pages holding every instance once
    assert [len(p["ImageReferences"]) for p in pages] == [5, 5, 5]
    assert sorted(r["Arn"] for p in pages for r in p["ImageReferences"]) == sorted(instance_arn(i) for i in launched)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"ImageIds": [f"ami-{i:017x}" for i in range(11)], "IncludeAllResourceTypes": True}, "InvalidParameterValue"),
        (
            {"ImageIds": ["ami-0123456789abcdef0"], "IncludeAllResourceTypes": True, "MaxResults": 1001},
            "InvalidParameterValue",
        ),
        ({"ImageIds": ["ami-0123456789abcdef0"]}, "MissingParameter"),
        (
            {
                "ImageIds": ["ami-0123456789abcdef0"],
                "ResourceTypes": [
                    {
                        "ResourceType": "ssm:Parameter",
                        "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": ["running"]}],
                    }
                ],
            },
            "InvalidParameterValue",
        ),
        ({"ImageIds": ["snap-0123456789abcdef0"], "IncludeAllResourceTypes": True}, "InvalidAMIID.Malformed"),
    ],
    ids=["11-image-ids", "max-results-1001", "no-resource-types", "option-on-wrong-type", "malformed-id"],
)
def test_invalid_requests_are_refused(aws: LocalAws, params: dict[str, Any], code: str) -> None:
    """EC2 DescribeImageReferences: 1 to 10 ImageIds; IncludeAllResourceTypes or ResourceTypes; options only on
    ec2:Instance and ec2:LaunchTemplate."""
    # Given nothing in particular
    # When the request is made
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_image_references(**params)
    # Then it is refused
    assert error_code(excinfo) == code
