"""DisableImage and DescribeImages IncludeDisabled, as EC2 documents them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from .conftest import DR, EU, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def test_disabled_image_is_left_out_unless_include_disabled(aws: LocalAws) -> None:
    """EC2 DescribeImages IncludeDisabled: by default no disabled AMIs are included in the response."""
    # Given two AMIs, one of them disabled
    disabled, available = aws.source_image(), aws.source_image()
    ec2 = aws.ec2(HOME)
    response = ec2.disable_image(ImageId=disabled.image_id)
    # When the owner lists its AMIs with and without IncludeDisabled
    default = ec2.describe_images(Owners=["self"])["Images"]
    included = ec2.describe_images(Owners=["self"], IncludeDisabled=True)["Images"]
    # Then only the available AMI is listed by default, and both with IncludeDisabled (state disabled)
    assert response["Return"] is True
    assert [i["ImageId"] for i in default] == [available.image_id]
    assert {i["ImageId"]: i["State"] for i in included} == {
        disabled.image_id: "disabled",
        available.image_id: "available",
    }


def test_disabled_image_asked_by_id_needs_include_disabled(aws: LocalAws) -> None:
    """EC2: a disabled AMI does not appear in DescribeImages by default; the reference makes no ImageIds exception."""
    # Given a disabled AMI
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.disable_image(ImageId=source.image_id)
    # When it is described by id, with and without IncludeDisabled
    default = ec2.describe_images(ImageIds=[source.image_id])["Images"]
    included = ec2.describe_images(ImageIds=[source.image_id], IncludeDisabled=True)["Images"]
    # Then it is returned only with IncludeDisabled
    assert default == []
    assert [(i["ImageId"], i["State"]) for i in included] == [(source.image_id, "disabled")]


def test_disabling_a_public_image_makes_it_private_for_good(aws: LocalAws) -> None:
    """EC2 DisableImage removes all launch permissions: a public or shared AMI becomes private.

    EnableImage makes it available again; the accounts that lost access do not regain it automatically.
    """
    # Given a public AMI also shared with one account
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.modify_image_attribute(
        ImageId=source.image_id, LaunchPermission={"Add": [{"Group": "all"}, {"UserId": "111111111111"}]}
    )
    # When it is disabled, then enabled again
    ec2.disable_image(ImageId=source.image_id)
    while_disabled = ec2.describe_image_attribute(ImageId=source.image_id, Attribute="launchPermission")
    ec2.enable_image(ImageId=source.image_id)
    # Then it has no launch permissions, and after EnableImage it is available and still private
    assert while_disabled["LaunchPermissions"] == []
    image = aws.image(HOME, source.image_id)
    assert (image["State"], image["Public"]) == ("available", False)
    after = ec2.describe_image_attribute(ImageId=source.image_id, Attribute="launchPermission")
    assert after["LaunchPermissions"] == []


def test_snapshots_of_a_disabled_image_cannot_be_deleted(aws: LocalAws) -> None:
    """EC2: you can't delete snapshots associated with disabled AMIs (the snapshot is currently in use)."""
    # Given a disabled AMI
    source = aws.source_image(sizes=(8,))
    aws.ec2(HOME).disable_image(ImageId=source.image_id)
    # When its snapshot is deleted
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).delete_snapshot(SnapshotId=source.snapshot_ids[0])
    # Then the request fails with InvalidSnapshot.InUse and the snapshot remains
    assert excinfo.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"
    assert list(aws.snapshots(HOME)) == source.snapshot_ids


def test_disabled_images_page_with_include_disabled(aws: LocalAws) -> None:
    """EC2 DescribeImages: IncludeDisabled and MaxResults together page through available and disabled AMIs."""
    # Given 12 AMIs, every third one disabled
    ec2 = aws.ec2(HOME)
    image_ids = [ec2.register_image(Name=f"app-{i:02d}")["ImageId"] for i in range(12)]
    for image_id in image_ids[::3]:
        ec2.disable_image(ImageId=image_id)
    # When they are listed 5 at a time with and without IncludeDisabled
    paginator = ec2.get_paginator("describe_images")
    config = {"PageSize": 5}
    with_disabled = [
        i["ImageId"]
        for p in paginator.paginate(Owners=["self"], IncludeDisabled=True, PaginationConfig=config)
        for i in p["Images"]
    ]
    without = [i["ImageId"] for p in paginator.paginate(Owners=["self"], PaginationConfig=config) for i in p["Images"]]
    # Then all 12 come back once with IncludeDisabled, and the 8 available ones without
    assert sorted(with_disabled) == sorted(image_ids)
    assert sorted(without) == sorted(set(image_ids) - set(image_ids[::3]))


def test_disabling_an_unknown_image_is_refused(aws: LocalAws) -> None:
    """EC2 image actions: an id that names no AMI in the Region is InvalidAMIID.NotFound."""
    # Given a region without that AMI
    # When it is disabled
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).disable_image(ImageId="ami-0123456789abcdef0")
    # Then the request fails with the AMI id error
    assert excinfo.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_ancestry_filters_find_copies_whoever_made_them(aws: LocalAws) -> None:
    """EC2 DescribeImages, Filters: `source-image-id` - the ID of the source AMI from which the AMI was created;
    `source-image-region` - the Region of the source AMI. An image that is not a copy matches neither."""
    # Given a source at home, its copy in the DR region, a copy of that copy in a third region, and an image
    # registered in the DR region from snapshots (no ancestry)
    source = aws.source_image()
    copy_id = aws.ec2(DR).copy_image(SourceImageId=source.image_id, SourceRegion=HOME, Name="web-1.0.0")["ImageId"]
    copy_of_copy = aws.ec2(EU).copy_image(SourceImageId=copy_id, SourceRegion=DR, Name="web-1.0.0")["ImageId"]
    registered = aws.source_image(DR)

    def found(region: str, name: str, value: str) -> list[str]:
        images = aws.ec2(region).describe_images(Owners=["self"], Filters=[{"Name": name, "Values": [value]}])
        return [i["ImageId"] for i in images["Images"]]

    # Then each filter selects by the image's own SourceImageId / SourceImageRegion, and nothing else
    assert found(DR, "source-image-id", source.image_id) == [copy_id]
    assert found(DR, "source-image-region", HOME) == [copy_id]
    assert found(EU, "source-image-id", copy_id) == [copy_of_copy]
    assert found(EU, "source-image-region", HOME) == []
    assert found(HOME, "source-image-id", source.image_id) == []
    assert registered.image_id not in found(DR, "source-image-region", HOME)
