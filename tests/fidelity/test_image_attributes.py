"""LastLaunchedTime: DescribeImages and DescribeImageAttribute report when an AMI last launched an instance."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from ami_lifecycle.local.fidelity import set_last_launched_time

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

# The User Guide's example of lastLaunchedTime: ISO 8601 to the second, UTC ("2022-02-10T02:03:18Z").
EC2_LAST_LAUNCHED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def last_launched_attribute(aws: LocalAws, image_id: str) -> dict[str, str]:
    response = aws.ec2(HOME).describe_image_attribute(ImageId=image_id, Attribute="lastLaunchedTime")
    assert response["ImageId"] == image_id
    return dict(response.get("LastLaunchedTime", {}))


def test_image_never_launched_has_no_last_launched_time(aws: LocalAws) -> None:
    """EC2 Image LastLaunchedTime: absent on an AMI that has not been used to launch an instance."""
    # Given a new AMI
    source = aws.source_image()
    # When it is described, and its lastLaunchedTime attribute is read
    image = aws.image(HOME, source.image_id)
    attribute = last_launched_attribute(aws, source.image_id)
    # Then neither reports a time
    assert "LastLaunchedTime" not in image
    assert attribute == {}


def test_last_launched_time_is_reported_by_describe_images_and_the_attribute(aws: LocalAws) -> None:
    """EC2 LastLaunchedTime: when the AMI was last used to launch an instance, in ISO 8601 (User Guide example).

    DescribeImages reports it as a string field of the image, DescribeImageAttribute as LastLaunchedTime.Value.
    """
    # Given an AMI whose last launch EC2 reports at 08:30:15.999 on 1 March
    source = aws.source_image()
    launched = datetime(2026, 3, 1, 8, 30, 15, 999_000, tzinfo=UTC)
    set_last_launched_time(source.image_id, launched, region=HOME)
    # When it is described, and its lastLaunchedTime attribute is read
    image = aws.image(HOME, source.image_id)
    attribute = last_launched_attribute(aws, source.image_id)
    # Then both report the time to the second, in EC2's format
    assert image["LastLaunchedTime"] == "2026-03-01T08:30:15Z"
    assert EC2_LAST_LAUNCHED.match(image["LastLaunchedTime"])
    assert attribute == {"Value": "2026-03-01T08:30:15Z"}


def test_last_launched_time_in_another_time_zone_is_reported_in_utc(aws: LocalAws) -> None:
    """EC2 timestamps are UTC: a time given with an offset, or naive (taken as UTC), is reported in UTC."""
    # Given two AMIs whose last launch is given with a +02:00 offset and as a naive time
    with_offset, naive = aws.source_image(), aws.source_image()
    set_last_launched_time(with_offset.image_id, datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2))), HOME)
    set_last_launched_time(naive.image_id, datetime(2026, 3, 1, 8, 0), HOME)
    # When they are described
    # Then both report 08:00 UTC
    assert aws.image(HOME, with_offset.image_id)["LastLaunchedTime"] == "2026-03-01T08:00:00Z"
    assert aws.image(HOME, naive.image_id)["LastLaunchedTime"] == "2026-03-01T08:00:00Z"


def test_run_instances_does_not_update_last_launched_time_at_once(aws: LocalAws) -> None:
    """EC2 LastLaunchedTime: there is a 24-hour delay before a launch is reported, so a launch shows no change."""
    # Given an AMI last launched a month ago
    source = aws.source_image()
    month_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    set_last_launched_time(source.image_id, month_ago, HOME)
    # When an instance is launched from it now
    aws.ec2(HOME).run_instances(ImageId=source.image_id, MinCount=1, MaxCount=1)
    # Then the reported time is still the one from a month ago
    assert aws.image(HOME, source.image_id)["LastLaunchedTime"] == month_ago.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_attribute_of_an_unknown_image_is_refused(aws: LocalAws) -> None:
    """EC2 image actions: an id that names no AMI in the Region is InvalidAMIID.NotFound."""
    # Given a region without that AMI
    # When its lastLaunchedTime attribute is read
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).describe_image_attribute(ImageId="ami-0123456789abcdef0", Attribute="lastLaunchedTime")
    # Then the request fails with the AMI id error
    assert excinfo.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_other_attributes_still_come_from_moto(aws: LocalAws) -> None:
    """DescribeImageAttribute: attributes moto already answers (here description) keep working."""
    # Given an AMI with a description
    image_id = aws.ec2(HOME).register_image(Name="described", Description="web server")["ImageId"]
    # When its description attribute is read
    response = aws.ec2(HOME).describe_image_attribute(ImageId=image_id, Attribute="description")
    # Then moto's answer is returned
    assert response["Description"] == {"Value": "web server"}


def test_set_last_launched_time_of_an_unknown_image_is_an_error(aws: LocalAws) -> None:
    """Test helper contract: only an AMI registered in that region can have time pass for it."""
    # Given an AMI in the home region
    source = aws.source_image()
    # When its last launch is set in another region
    # Then the helper says the image is not there
    with pytest.raises(ValueError, match=source.image_id):
        set_last_launched_time(source.image_id, datetime.now(UTC), region=DR)
