"""DescribeLaunchTemplates and DescribeLaunchTemplateVersions: every result, paged as EC2 pages them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from .conftest import HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def create_templates(aws: LocalAws, count: int, image_id: str = "ami-0123456789abcdef0") -> list[str]:
    """``count`` launch templates tpl-000, tpl-001, ..., tagged Parity=even|odd; returns their ids in order."""
    ec2 = aws.ec2(HOME)
    return [
        ec2.create_launch_template(
            LaunchTemplateName=f"tpl-{i:03d}",
            LaunchTemplateData={"ImageId": image_id, "InstanceType": "t3.micro"},
            TagSpecifications=[
                {"ResourceType": "launch-template", "Tags": [{"Key": "Parity", "Value": ("even", "odd")[i % 2]}]}
            ],
        )["LaunchTemplate"]["LaunchTemplateId"]
        for i in range(count)
    ]


def add_versions(aws: LocalAws, template_id: str, count: int) -> None:
    """``count`` more versions of the template, version n using ami-0000000<n>."""
    ec2 = aws.ec2(HOME)
    for _ in range(count):
        latest = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
        number = latest["LatestVersionNumber"] + 1
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id,
            LaunchTemplateData={"ImageId": f"ami-{number:08d}", "InstanceType": "t3.micro"},
        )


def paginate(aws: LocalAws, operation: str, key: str, page_size: int, **params: Any) -> list[list[dict[str, Any]]]:
    paginator = aws.ec2(HOME).get_paginator(operation)
    return [page[key] for page in paginator.paginate(**params, PaginationConfig={"PageSize": page_size})]


# --- DescribeLaunchTemplates ----------------------------------------------------------------------


def test_all_launch_templates_are_described_without_max_results(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplates: without MaxResults every launch template is returned (moto stopped at 15)."""
    # Given 42 launch templates
    template_ids = create_templates(aws, 42)
    # When they are described without MaxResults
    response = aws.ec2(HOME).describe_launch_templates()
    # Then all 42 come back in one response
    assert sorted(t["LaunchTemplateId"] for t in response["LaunchTemplates"]) == sorted(template_ids)
    assert "NextToken" not in response


def test_launch_templates_page_through_every_template_once(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplates MaxResults/NextToken: pages of at most MaxResults, each template exactly once."""
    # Given 42 launch templates
    template_ids = create_templates(aws, 42)
    # When the paginator walks them 5 per page
    pages = paginate(aws, "describe_launch_templates", "LaunchTemplates", 5)
    # Then there are 9 pages and every template comes back once
    assert [len(p) for p in pages] == [5] * 8 + [2]
    assert sorted(t["LaunchTemplateId"] for p in pages for t in p) == sorted(template_ids)


def test_launch_template_ids_and_filters_select_across_pages(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplates LaunchTemplateIds and Filters (tag:<key>) narrow the results on every page."""
    # Given 41 launch templates, alternately tagged even and odd
    template_ids = create_templates(aws, 41)
    # When 30 of them are described by id, 4 per page, and the odd ones by tag filter, 3 per page
    by_id = paginate(aws, "describe_launch_templates", "LaunchTemplates", 4, LaunchTemplateIds=template_ids[:30])
    odd = paginate(
        aws, "describe_launch_templates", "LaunchTemplates", 3, Filters=[{"Name": "tag:Parity", "Values": ["odd"]}]
    )
    # Then exactly those templates come back, each once, with their tags
    assert sorted(t["LaunchTemplateId"] for p in by_id for t in p) == sorted(template_ids[:30])
    assert sorted(t["LaunchTemplateId"] for p in odd for t in p) == sorted(template_ids[1::2])
    assert {tag["Value"] for p in odd for t in p for tag in t["Tags"]} == {"odd"}


def test_unknown_launch_template_id_is_refused(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplates: an id that names no launch template is InvalidLaunchTemplateId.NotFound."""
    # Given a launch template
    template_ids = create_templates(aws, 1)
    # When it is described together with an unknown id
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_launch_templates(LaunchTemplateIds=[template_ids[0], "lt-0123456789abcdef0"])
    # Then the request fails
    assert error_code(excinfo) == "InvalidLaunchTemplateId.NotFound"


def test_launch_templates_max_results_above_200_is_refused(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplates MaxResults: the value can be between 1 and 200 (boto3 itself refuses 0)."""
    # Given a launch template
    create_templates(aws, 1)
    # When launch templates are described with MaxResults 201
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_launch_templates(MaxResults=201)
    # Then the request fails
    assert error_code(excinfo) == "InvalidParameterValue"


# --- DescribeLaunchTemplateVersions ---------------------------------------------------------------


def test_all_versions_of_a_template_page_through_once(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplateVersions by LaunchTemplateId: every version, paged by MaxResults/NextToken."""
    # Given a launch template with 41 versions
    template_id = create_templates(aws, 1)[0]
    add_versions(aws, template_id, 40)
    # When its versions are described without MaxResults, and walked 6 per page
    unpaged = aws.ec2(HOME).describe_launch_template_versions(LaunchTemplateId=template_id)
    pages = paginate(
        aws, "describe_launch_template_versions", "LaunchTemplateVersions", 6, LaunchTemplateId=template_id
    )
    # Then both hold versions 1 to 41 once each (moto stopped at 15), over 7 pages
    assert [v["VersionNumber"] for v in unpaged["LaunchTemplateVersions"]] == list(range(1, 42))
    assert [len(p) for p in pages] == [6] * 6 + [5]
    assert [v["VersionNumber"] for p in pages for v in p] == list(range(1, 42))


def test_latest_and_default_versions_of_every_template(aws: LocalAws) -> None:
    """EC2: without a template id or name, Versions $Latest and $Default describe those versions of every template.

    A version that is both the latest and the default one is described once.
    """
    # Given 40 launch templates, the first 10 with a second version (latest, not default)
    template_ids = create_templates(aws, 40)
    for template_id in template_ids[:10]:
        add_versions(aws, template_id, 1)
    # When the latest and default versions of all templates are walked 7 per page
    pages = paginate(
        aws, "describe_launch_template_versions", "LaunchTemplateVersions", 7, Versions=["$Latest", "$Default"]
    )
    # Then the 10 templates give two versions each and the other 30 one, each exactly once
    described = [(v["LaunchTemplateId"], v["VersionNumber"], v["DefaultVersion"]) for p in pages for v in p]
    expected = [(t, n, n == 1) for t in template_ids[:10] for n in (1, 2)] + [(t, 1, True) for t in template_ids[10:]]
    assert sorted(described) == sorted(expected)
    assert len(described) == len(set(described)) == 50


def test_only_latest_versions_of_every_template(aws: LocalAws) -> None:
    """EC2: Versions $Latest without a template describes the latest version of each launch template."""
    # Given 3 launch templates, the first with 3 versions
    template_ids = create_templates(aws, 3)
    add_versions(aws, template_ids[0], 2)
    # When the latest versions of all templates are described
    response = aws.ec2(HOME).describe_launch_template_versions(Versions=["$Latest"])
    # Then each template's latest version comes back
    latest = {v["LaunchTemplateId"]: v["VersionNumber"] for v in response["LaunchTemplateVersions"]}
    assert latest == {template_ids[0]: 3, template_ids[1]: 1, template_ids[2]: 1}


@pytest.mark.parametrize(("versions", "code"), [(["1"], "InvalidParameterValue"), ([], "MissingParameter")])
def test_all_templates_need_latest_or_default_versions(aws: LocalAws, versions: list[str], code: str) -> None:
    """EC2: to describe all launch templates' versions, Versions must be $Latest and/or $Default (no numbers)."""
    # Given a launch template
    create_templates(aws, 1)
    # When versions are described without a template, with a version number or without Versions
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_launch_template_versions(Versions=versions)
    # Then the request fails
    assert error_code(excinfo) == code


def test_versions_are_filtered_by_image_id(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplateVersions Filters: image-id (the AMI of the version) and is-default-version."""
    # Given a launch template with versions 1 (default, ami-0123456789abcdef0) to 6 (ami-0000000<n>)
    template_id = create_templates(aws, 1)[0]
    add_versions(aws, template_id, 5)
    ec2 = aws.ec2(HOME)
    # When its versions using ami-00000003 or ami-00000005 are described, and its default version by filter
    by_image = ec2.describe_launch_template_versions(
        LaunchTemplateId=template_id, Filters=[{"Name": "image-id", "Values": ["ami-00000003", "ami-00000005"]}]
    )
    default = ec2.describe_launch_template_versions(
        LaunchTemplateId=template_id, Filters=[{"Name": "is-default-version", "Values": ["true"]}]
    )
    # Then versions 3 and 5 match the images, and version 1 is the default one
    assert [v["VersionNumber"] for v in by_image["LaunchTemplateVersions"]] == [3, 5]
    assert [v["VersionNumber"] for v in default["LaunchTemplateVersions"]] == [1]


def test_image_filter_across_all_templates(aws: LocalAws) -> None:
    """EC2: the latest versions of every template, filtered by image-id: which templates launch an AMI."""
    # Given 12 templates on one AMI and 9 on another
    old = create_templates(aws, 12, image_id="ami-0000000000000a000")
    ec2 = aws.ec2(HOME)
    new = [
        ec2.create_launch_template(
            LaunchTemplateName=f"new-{i}", LaunchTemplateData={"ImageId": "ami-0000000000000b000"}
        )["LaunchTemplate"]["LaunchTemplateId"]
        for i in range(9)
    ]
    # When the latest versions that use the first AMI are walked 5 per page
    pages = paginate(
        aws,
        "describe_launch_template_versions",
        "LaunchTemplateVersions",
        5,
        Versions=["$Latest"],
        Filters=[{"Name": "image-id", "Values": ["ami-0000000000000a000"]}],
    )
    # Then exactly the 12 templates on it come back
    assert sorted(v["LaunchTemplateId"] for p in pages for v in p) == sorted(old)
    assert not set(new) & {v["LaunchTemplateId"] for p in pages for v in p}


def test_template_id_and_name_together_are_refused(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplateVersions: specify either the launch template ID or its name, but not both."""
    # Given a launch template
    template_id = create_templates(aws, 1)[0]
    # When its versions are described by id and name
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_launch_template_versions(LaunchTemplateId=template_id, LaunchTemplateName="tpl-000")
    # Then the request fails
    assert error_code(excinfo) == "InvalidParameterCombination"


# --- ResolveAlias -----------------------------------------------------------------------------------------


def alias_template(aws: LocalAws, parameter: str, image_id: str) -> str:
    """A template whose only version names its AMI through a Systems Manager parameter holding `image_id`."""
    aws.client("ssm", HOME).put_parameter(Name=parameter, Value=image_id, Type="String", DataType="aws:ec2:image")
    created = aws.ec2(HOME).create_launch_template(
        LaunchTemplateName="aliased", LaunchTemplateData={"ImageId": f"resolve:ssm:{parameter}"}
    )
    return str(created["LaunchTemplate"]["LaunchTemplateId"])


def image_ids(aws: LocalAws, template_id: str, **params: Any) -> list[str]:
    versions = aws.ec2(HOME).describe_launch_template_versions(LaunchTemplateId=template_id, **params)
    return [v["LaunchTemplateData"].get("ImageId", "") for v in versions["LaunchTemplateVersions"]]


def test_resolve_alias_shows_the_ami_the_parameter_names_now(aws: LocalAws) -> None:
    """EC2 DescribeLaunchTemplateVersions ResolveAlias: true shows the AMI ID for a Systems Manager parameter,
    false (the default) shows the parameter as given."""
    # Given a template whose image is resolve:ssm:/golden/web, a parameter naming one AMI
    # (aws:ec2:image values must name AMIs that exist: SSM has EC2 validate them)
    first, second = aws.source_image().image_id, aws.source_image().image_id
    template_id = alias_template(aws, "/golden/web", first)
    # When the parameter moves to another AMI
    aws.client("ssm", HOME).put_parameter(Name="/golden/web", Value=second, Overwrite=True)
    # Then the version resolves to the new AMI, and shows the alias without ResolveAlias
    assert image_ids(aws, template_id, ResolveAlias=True) == [second]
    assert image_ids(aws, template_id) == ["resolve:ssm:/golden/web"]
    assert image_ids(aws, template_id, ResolveAlias=False) == ["resolve:ssm:/golden/web"]


def test_resolve_alias_with_a_parameter_version(aws: LocalAws) -> None:
    """EC2: resolve:ssm:<name>:<version> names one version of the parameter, not the newest."""
    # Given a parameter with two versions and a template pinned to the first
    first, second = aws.source_image().image_id, aws.source_image().image_id
    template_id = alias_template(aws, "/golden/api", first)
    aws.client("ssm", HOME).put_parameter(Name="/golden/api", Value=second, Overwrite=True)
    aws.ec2(HOME).create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": "resolve:ssm:/golden/api:1"}
    )
    # When its versions are described with ResolveAlias
    resolved = image_ids(aws, template_id, ResolveAlias=True)
    # Then version 1 follows the parameter, version 2 stays on the parameter's first version
    assert resolved == [second, first]


# --- DeleteLaunchTemplateVersions ---------------------------------------------------------------------------


def test_deleted_versions_are_no_longer_described(aws: LocalAws) -> None:
    """EC2 DeleteLaunchTemplateVersions: the deleted versions are gone; the others keep their numbers."""
    # Given a template with four versions
    template_id = create_templates(aws, 1)[0]
    add_versions(aws, template_id, 3)
    # When versions 2 and 4 (the latest) are deleted
    response = aws.ec2(HOME).delete_launch_template_versions(LaunchTemplateId=template_id, Versions=["2", "4"])
    # Then both are reported deleted, only 1 and 3 are described, and 3 is the latest
    assert [v["VersionNumber"] for v in response["SuccessfullyDeletedLaunchTemplateVersions"]] == [2, 4]
    assert response["UnsuccessfullyDeletedLaunchTemplateVersions"] == []
    versions = aws.ec2(HOME).describe_launch_template_versions(LaunchTemplateId=template_id)
    assert [v["VersionNumber"] for v in versions["LaunchTemplateVersions"]] == [1, 3]
    listed = aws.ec2(HOME).describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
    assert listed["LatestVersionNumber"] == 3
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["2"])
    assert error_code(excinfo) == "InvalidLaunchTemplateId.VersionNotFound"


def test_the_default_version_and_unknown_versions_are_not_deleted(aws: LocalAws) -> None:
    """EC2 DeleteLaunchTemplateVersions: the default version cannot be deleted, nor a version that does not
    exist; each is reported unsuccessful and the request itself succeeds."""
    # Given a template with two versions, version 1 the default
    template_id = create_templates(aws, 1)[0]
    add_versions(aws, template_id, 1)
    # When versions 1 and 7 are deleted
    response = aws.ec2(HOME).delete_launch_template_versions(LaunchTemplateId=template_id, Versions=["1", "7"])
    # Then neither is, and both versions remain
    unsuccessful = response["UnsuccessfullyDeletedLaunchTemplateVersions"]
    refused = {v["VersionNumber"]: v["ResponseError"]["Code"] for v in unsuccessful}
    assert refused == {1: "unexpectedError", 7: "launchTemplateVersionDoesNotExist"}
    assert response["SuccessfullyDeletedLaunchTemplateVersions"] == []
    assert len(image_ids(aws, template_id)) == 2


# --- CreateLaunchTemplateVersion and ModifyLaunchTemplate -------------------------------------------------


def full_template(aws: LocalAws) -> str:
    """A template whose version 1 sets an image, an instance type, a key, tags and a mapping with a snapshot."""
    response = aws.ec2(HOME).create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={
            "ImageId": "ami-00000000000000001",
            "InstanceType": "m7g.large",
            "KeyName": "ops",
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-00000000000000001", "VolumeSize": 20}}
            ],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Team", "Value": "web"}]}],
        },
    )
    return str(response["LaunchTemplate"]["LaunchTemplateId"])


def version_data(aws: LocalAws, template_id: str, version: str) -> dict[str, Any]:
    versions = aws.ec2(HOME).describe_launch_template_versions(LaunchTemplateId=template_id, Versions=[version])
    data: dict[str, Any] = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    return data


def test_a_version_from_a_source_version_inherits_all_but_what_is_given(aws: LocalAws) -> None:
    """EC2 CreateLaunchTemplateVersion SourceVersion: the new version inherits the launch parameters of the source
    version; parameters given in LaunchTemplateData overwrite the inherited ones. Snapshots of the block device
    mapping are not inherited unless given (moto ignored SourceVersion: the version held only the ImageId)."""
    # Given a template whose version 1 sets several parameters
    template_id = full_template(aws)
    # When a version is created from version 1 with only a new ImageId
    created = aws.ec2(HOME).create_launch_template_version(
        LaunchTemplateId=template_id, SourceVersion="1", LaunchTemplateData={"ImageId": "ami-00000000000000002"}
    )["LaunchTemplateVersion"]
    # Then version 2 has the new image and every other parameter of version 1, the mapping without its snapshot
    assert created["VersionNumber"] == 2 and created["DefaultVersion"] is False
    data = version_data(aws, template_id, "2")
    assert data["ImageId"] == "ami-00000000000000002"
    assert (data["InstanceType"], data["KeyName"]) == ("m7g.large", "ops")
    assert data["TagSpecifications"] == version_data(aws, template_id, "1")["TagSpecifications"]
    assert data["BlockDeviceMappings"] == [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 20}}]
    # And version 1 is unchanged
    original = version_data(aws, template_id, "1")["BlockDeviceMappings"][0]["Ebs"]
    assert original["SnapshotId"] == "snap-00000000000000001"


def test_a_version_without_source_holds_only_what_is_given(aws: LocalAws) -> None:
    """EC2 CreateLaunchTemplateVersion: without SourceVersion the new version contains only the parameters given."""
    # Given a template with several parameters
    template_id = full_template(aws)
    # When a version is created without SourceVersion
    aws.ec2(HOME).create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": "ami-00000000000000002"}
    )
    # Then it holds the image alone
    assert version_data(aws, template_id, "2") == {"ImageId": "ami-00000000000000002"}


def test_the_same_client_token_creates_one_version(aws: LocalAws) -> None:
    """EC2 idempotency (Ensuring idempotency in Amazon EC2 API requests): a request repeated with the same
    ClientToken returns the result of the first one and creates nothing; moto created a version per request."""
    # Given a template
    template_id = full_template(aws)
    request: dict[str, Any] = {
        "LaunchTemplateId": template_id,
        "SourceVersion": "1",
        "LaunchTemplateData": {"ImageId": "ami-00000000000000002"},
        "VersionDescription": "web 2",
        "ClientToken": "token-1",
    }
    # When the same request is sent three times
    numbers = [aws.ec2(HOME).create_launch_template_version(**request)["LaunchTemplateVersion"] for _ in range(3)]
    # Then one version was created, and every answer names it
    assert {v["VersionNumber"] for v in numbers} == {2}
    template = aws.ec2(HOME).describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
    assert template["LatestVersionNumber"] == 2


def test_a_client_token_reused_for_another_request_is_refused(aws: LocalAws) -> None:
    """EC2 idempotency: the same ClientToken with different parameters is IdempotentParameterMismatch."""
    # Given a version created with a token
    template_id = full_template(aws)
    ec2 = aws.ec2(HOME)
    ec2.create_launch_template_version(
        LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": "ami-00000000000000002"}, ClientToken="token-1"
    )
    # When the token is used again for another image
    with pytest.raises(ClientError) as excinfo:
        ec2.create_launch_template_version(
            LaunchTemplateId=template_id, LaunchTemplateData={"ImageId": "ami-00000000000000003"}, ClientToken="token-1"
        )
    # Then the request fails and no version was added
    assert error_code(excinfo) == "IdempotentParameterMismatch"
    (template,) = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"]
    assert template["LatestVersionNumber"] == 2


def test_a_source_version_that_does_not_exist_is_refused(aws: LocalAws) -> None:
    """EC2 CreateLaunchTemplateVersion: a SourceVersion the template does not have is
    InvalidLaunchTemplateId.VersionNotFound, and no version is created."""
    # Given a template with one version
    template_id = full_template(aws)
    # When a version is based on version 7
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).create_launch_template_version(
            LaunchTemplateId=template_id, SourceVersion="7", LaunchTemplateData={"ImageId": "ami-00000000000000002"}
        )
    # Then it fails
    assert error_code(excinfo) == "InvalidLaunchTemplateId.VersionNotFound"


def test_modify_launch_template_sets_the_default_version(aws: LocalAws) -> None:
    """EC2 ModifyLaunchTemplate DefaultVersion: the version becomes the default; a deleted version cannot."""
    # Given a template with versions 1 to 3, version 2 deleted
    template_id = full_template(aws)
    add_versions(aws, template_id, 2)
    ec2 = aws.ec2(HOME)
    ec2.delete_launch_template_versions(LaunchTemplateId=template_id, Versions=["2"])
    # When version 3 is made the default, and then the deleted version 2
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="3")
    with pytest.raises(ClientError) as excinfo:
        ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    # Then version 3 is the default and stays so
    assert error_code(excinfo) == "InvalidLaunchTemplateId.VersionNotFound"
    template = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
    assert template["DefaultVersionNumber"] == 3
