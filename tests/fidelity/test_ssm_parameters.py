"""SSM parameters in moto with the fidelity layer: aws:ec2:image validation and DescribeParameters paging.

Each test follows the SSM documentation: the PutParameter API reference ("DataType": "If you call PutParameter
with aws:ec2:image data type, a successful HTTP 200 response does not guarantee that your parameter was
successfully created or updated ... the asynchronous validation will fail and the parameter will not be created
or updated"), "Parameter data types in Parameter Store" ("You can't change a parameter to or from either of
these data types") and "Native parameter support in Parameter Store for Amazon Machine Image IDs".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from ami_lifecycle.local.fidelity import complete_pending_copies, parameter_validation_failures

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

NAME = "/ami-lifecycle/web/latest"


@pytest.fixture(autouse=True)
def no_failures_left() -> None:
    parameter_validation_failures(clear=True)


def put(aws: LocalAws, value: str, region: str = HOME, **extra: object) -> dict[str, object]:
    response: dict[str, object] = aws.client("ssm", region).put_parameter(
        Name=NAME, Value=value, Type="String", DataType="aws:ec2:image", **extra
    )
    return response


def test_an_available_ami_of_the_account_is_stored(aws: LocalAws) -> None:
    image = aws.source_image()

    response = put(aws, image.image_id, Tags=[{"Key": "ami-lifecycle:family", "Value": "web"}])

    parameter = aws.client("ssm", HOME).get_parameter(Name=NAME)["Parameter"]
    assert (response["Version"], parameter["Value"], parameter["DataType"]) == (1, image.image_id, "aws:ec2:image")
    assert parameter_validation_failures() == []


def test_a_new_parameter_naming_an_unknown_ami_answers_success_and_is_not_created(aws: LocalAws) -> None:
    ssm = aws.client("ssm", HOME)

    response = put(aws, "ami-0123456789abcdef0", Tags=[{"Key": "ami-lifecycle:family", "Value": "web"}])

    assert response["Version"] == 1  # HTTP 200 with a version, as SSM answers before validating
    with pytest.raises(ClientError) as missing:
        ssm.get_parameter(Name=NAME)
    assert missing.value.response["Error"]["Code"] == "ParameterNotFound"
    assert ssm.describe_parameters()["Parameters"] == []
    (failure,) = parameter_validation_failures()
    assert (failure.name, failure.value, failure.reason) == (
        NAME,
        "ami-0123456789abcdef0",
        "ami-0123456789abcdef0 does not exist in us-east-1",
    )


def test_an_update_to_an_ami_of_another_region_leaves_the_value_and_version(aws: LocalAws) -> None:
    home_image, dr_image = aws.source_image(HOME), aws.source_image(DR)
    put(aws, home_image.image_id)

    response = put(aws, dr_image.image_id, Overwrite=True)  # an AMI id of another region: not in this one

    parameter = aws.client("ssm", HOME).get_parameter(Name=NAME)["Parameter"]
    assert response["Version"] == 2
    assert (parameter["Value"], parameter["Version"]) == (home_image.image_id, 1)
    history = aws.client("ssm", HOME).get_parameter_history(Name=NAME)["Parameters"]
    assert [h["Value"] for h in history] == [home_image.image_id]


def test_a_pending_or_disabled_ami_is_not_available_and_a_malformed_id_is_refused(aws: LocalAws) -> None:
    image = aws.source_image()
    put(aws, image.image_id)
    copy_id = aws.ec2(DR).copy_image(SourceImageId=image.image_id, SourceRegion=HOME, Name="web-copy")["ImageId"]
    aws.ec2(HOME).disable_image(ImageId=image.image_id)

    put(aws, copy_id, region=DR)  # the copy is still pending
    put(aws, image.image_id, Overwrite=True)  # disabled now
    put(aws, "web-1.0.0", Overwrite=True)

    reasons = [f.reason for f in parameter_validation_failures()]
    assert reasons == [f"{copy_id} is pending, not available", f"{image.image_id} is disabled, not available",
                       "'web-1.0.0' is not an AMI id"]  # fmt: skip
    complete_pending_copies()
    put(aws, copy_id, region=DR)
    assert aws.client("ssm", DR).get_parameter(Name=NAME)["Parameter"]["Value"] == copy_id


def test_a_parameter_cannot_change_to_the_image_data_type_and_an_update_without_one_keeps_it(aws: LocalAws) -> None:
    ssm = aws.client("ssm", HOME)
    image, other = aws.source_image(), aws.source_image()
    ssm.put_parameter(Name=NAME, Value="hello", Type="String")

    with pytest.raises(ClientError) as refused:
        put(aws, image.image_id, Overwrite=True)
    ssm.delete_parameter(Name=NAME)
    put(aws, image.image_id)
    ssm.put_parameter(Name=NAME, Value="ami-0123456789abcdef0", Overwrite=True)  # no DataType: still an image
    ssm.put_parameter(Name=NAME, Value=other.image_id, Overwrite=True)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    parameter = ssm.get_parameter(Name=NAME)["Parameter"]
    assert (parameter["Value"], parameter["DataType"]) == (other.image_id, "aws:ec2:image")
    assert [f.value for f in parameter_validation_failures()] == ["ami-0123456789abcdef0"]


def test_tags_together_with_overwrite_are_refused_as_ssm_does(aws: LocalAws) -> None:
    image = aws.source_image()
    put(aws, image.image_id)

    with pytest.raises(ClientError) as refused:
        put(aws, image.image_id, Overwrite=True, Tags=[{"Key": "k", "Value": "v"}])

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "tags and overwrite can't be used together" in refused.value.response["Error"]["Message"]


def test_describe_parameters_pages_by_max_results_up_to_fifty(aws: LocalAws) -> None:
    """DescribeParameters API reference: MaxResults, valid range 1 to 50; NextToken for the rest."""
    ssm = aws.client("ssm", HOME)
    for n in range(60):
        ssm.put_parameter(Name=f"/ami-lifecycle/f{n:02d}/latest", Value="x", Type="String")

    first = ssm.describe_parameters(MaxResults=50)
    rest = ssm.describe_parameters(MaxResults=50, NextToken=first["NextToken"])

    assert (len(first["Parameters"]), len(rest["Parameters"]), "NextToken" in rest) == (50, 10, False)
    assert len(ssm.describe_parameters()["Parameters"]) == 10  # the default
    with pytest.raises(ClientError) as refused:
        ssm.describe_parameters(MaxResults=51)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


# --- AWS RAM shares of parameters ------------------------------------------------------------------------
# RAM API reference (CreateResourceShare, AssociateResourceShare, GetResourceShares) and SSM PutResourcePolicy:
# "To share a parameter, it must be in the advanced parameter tier".


def parameter_arn(name: str, region: str = HOME) -> str:
    return f"arn:aws:ssm:{region}:123456789012:parameter{name}"


def test_an_advanced_parameter_is_shared_and_a_standard_or_missing_one_is_refused(aws: LocalAws) -> None:
    ssm, ram = aws.client("ssm", HOME), aws.client("ram", HOME)
    ssm.put_parameter(Name="/p/advanced", Value="x", Type="String", Tier="Advanced")
    ssm.put_parameter(Name="/p/standard", Value="x", Type="String")

    share = ram.create_resource_share(
        name="params", resourceArns=[parameter_arn("/p/advanced")], principals=["111111111111"]
    )["resourceShare"]

    associated = ram.get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=[share["resourceShareArn"]]
    )
    assert [a["associatedEntity"] for a in associated["resourceShareAssociations"]] == [parameter_arn("/p/advanced")]
    for name, code in (("/p/standard", "InvalidParameterException"), ("/p/missing", "UnknownResourceException")):
        with pytest.raises(ClientError) as refused:
            ram.create_resource_share(name="other", resourceArns=[parameter_arn(name)])
        assert refused.value.response["Error"]["Code"] == code


def test_associate_resource_share_adds_resources_and_principals_and_shares_are_found_by_name(aws: LocalAws) -> None:
    ssm, ram = aws.client("ssm", HOME), aws.client("ram", HOME)
    for name in ("/p/a", "/p/b"):
        ssm.put_parameter(Name=name, Value="x", Type="String", Tier="Advanced")
    arn = ram.create_resource_share(name="params", resourceArns=[parameter_arn("/p/a")])["resourceShare"][
        "resourceShareArn"
    ]
    ram.create_resource_share(name="unrelated")

    ram.associate_resource_share(
        resourceShareArn=arn, resourceArns=[parameter_arn("/p/b")], principals=["111111111111"]
    )

    found = ram.get_resource_shares(resourceOwner="SELF", name="params", resourceShareStatus="ACTIVE")["resourceShares"]
    assert [s["resourceShareArn"] for s in found] == [arn]
    resources = ram.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn])
    principals = ram.get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[arn])
    assert {a["associatedEntity"] for a in resources["resourceShareAssociations"]} == {
        parameter_arn("/p/a"),
        parameter_arn("/p/b"),
    }
    assert [a["associatedEntity"] for a in principals["resourceShareAssociations"]] == ["111111111111"]
    with pytest.raises(ClientError) as unknown:
        ram.associate_resource_share(resourceShareArn=arn + "0", principals=["222222222222"])
    assert unknown.value.response["Error"]["Code"] == "UnknownResourceException"
