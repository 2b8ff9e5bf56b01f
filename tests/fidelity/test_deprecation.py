"""AMI deprecation via boto3 in moto with the fidelity layer; each test names the EC2 behaviour it follows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from moto.ec2.models.amis import Ami
from moto.ec2.responses.amis import AmisResponse

from ami_lifecycle.local import fidelity
from ami_lifecycle.local.fidelity import complete_pending_copies, set_deprecation_time

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

# EC2 timestamps as DescribeImages reports them (CreationDate and DeprecationTime): milliseconds and Z.
EC2_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ZONE_PLUS_TWO = timezone(timedelta(hours=2))


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def in_days(days: int, second: int = 0) -> datetime:
    """A whole-minute time ``days`` from now, plus ``second`` seconds."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(second=second, microsecond=0)


def ec2_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00.000Z")


# --- EnableImageDeprecation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("second", "minutes_added"),
    [(0, 0), (12, 0), (45, 1)],
)
def test_future_deprecation_is_reported_rounded_to_the_nearest_minute(
    aws: LocalAws, second: int, minutes_added: int
) -> None:
    """EnableImageDeprecation DeprecateAt: a future UTC time; EC2 rounds the seconds to the nearest minute.

    Image data type: DescribeImages reports it as DeprecationTime, a string like CreationDate.
    """
    # Given an AMI
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    deprecate_at = in_days(30, second)
    # When its deprecation is enabled for a time 30 days ahead
    response = ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=deprecate_at)
    # Then the call returns true and DescribeImages reports the time rounded to the minute, in EC2's format
    assert response["Return"] is True
    reported = aws.image(HOME, source.image_id)["DeprecationTime"]
    assert isinstance(reported, str)
    assert EC2_TIMESTAMP.match(reported)
    assert reported == ec2_time(deprecate_at.replace(second=0) + timedelta(minutes=minutes_added))


def test_deprecate_at_in_another_time_zone_is_stored_in_utc(aws: LocalAws) -> None:
    """EnableImageDeprecation DeprecateAt is a UTC timestamp: a time given with an offset means that instant."""
    # Given an AMI
    source = aws.source_image()
    deprecate_at = in_days(30).astimezone(ZONE_PLUS_TWO)
    # When its deprecation is enabled with a time in UTC+02:00
    aws.ec2(HOME).enable_image_deprecation(ImageId=source.image_id, DeprecateAt=deprecate_at)
    # Then DescribeImages reports the same instant in UTC
    assert aws.image(HOME, source.image_id)["DeprecationTime"] == ec2_time(deprecate_at)


def test_enabling_again_replaces_the_deprecation_time(aws: LocalAws) -> None:
    """EnableImageDeprecation sets the AMI's deprecation date: a later call moves it."""
    # Given an AMI deprecated 30 days from now
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=in_days(30))
    next_week = in_days(7)
    # When its deprecation is enabled for 7 days from now
    ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=next_week)
    # Then the new date is reported
    assert aws.image(HOME, source.image_id)["DeprecationTime"] == ec2_time(next_week)


def test_deprecate_at_in_the_past_is_refused(aws: LocalAws) -> None:
    """EnableImageDeprecation: you can't specify a date in the past (common error InvalidParameterValue)."""
    # Given an AMI
    source = aws.source_image()
    # When its deprecation is enabled for yesterday
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).enable_image_deprecation(ImageId=source.image_id, DeprecateAt=in_days(-1))
    # Then the request fails and the AMI has no deprecation time
    assert error_code(excinfo) == "InvalidParameterValue"
    assert "DeprecationTime" not in aws.image(HOME, source.image_id)


def test_deprecate_at_more_than_ten_years_ahead_is_refused(aws: LocalAws) -> None:
    """EnableImageDeprecation: the upper limit for DeprecateAt is 10 years from now."""
    # Given an AMI
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    # When its deprecation is enabled for 10 years and a few days from now
    with pytest.raises(ClientError) as excinfo:
        ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=in_days(3660))
    # Then the request fails, and a date just inside the limit is accepted
    assert error_code(excinfo) == "InvalidParameterValue"
    assert "DeprecationTime" not in aws.image(HOME, source.image_id)
    inside = in_days(3640)
    ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=inside)
    assert aws.image(HOME, source.image_id)["DeprecationTime"] == ec2_time(inside)


def test_public_image_deprecation_is_limited_to_two_years_after_creation(aws: LocalAws) -> None:
    """EnableImageDeprecation: for public AMIs the upper limit is 2 years from the creation date."""
    # Given a public AMI, created just now
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.modify_image_attribute(ImageId=source.image_id, LaunchPermission={"Add": [{"Group": "all"}]})
    # When its deprecation is enabled for three years from now
    with pytest.raises(ClientError) as excinfo:
        ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=in_days(3 * 365))
    # Then the request fails, and a date within two years is accepted
    assert error_code(excinfo) == "InvalidParameterValue"
    next_year = in_days(365)
    ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=next_year)
    assert aws.image(HOME, source.image_id)["DeprecationTime"] == ec2_time(next_year)


@pytest.mark.parametrize(
    ("image_id", "code"),
    [("ami-0123456789abcdef0", "InvalidAMIID.NotFound"), ("snap-0123456789abcdef0", "InvalidAMIID.Malformed")],
)
def test_deprecating_an_unknown_image_is_refused(aws: LocalAws, image_id: str, code: str) -> None:
    """EC2 image actions: an id that names no AMI in the Region is InvalidAMIID.NotFound (or .Malformed)."""
    # Given a region without that AMI
    ec2 = aws.ec2(HOME)
    # When its deprecation is enabled or disabled
    with pytest.raises(ClientError) as enabling:
        ec2.enable_image_deprecation(ImageId=image_id, DeprecateAt=in_days(30))
    with pytest.raises(ClientError) as disabling:
        ec2.disable_image_deprecation(ImageId=image_id)
    # Then both requests fail with the AMI id error
    assert (error_code(enabling), error_code(disabling)) == (code, code)


def test_deprecation_applies_to_the_image_of_the_region_only(aws: LocalAws) -> None:
    """EnableImageDeprecation deprecates the specified AMI: a copy in another Region is a distinct AMI."""
    # Given an AMI and its completed copy in the DR region
    source = aws.source_image()
    copy_id = aws.ec2(DR).copy_image(SourceImageId=source.image_id, SourceRegion=HOME, Name="web-1.0.0")["ImageId"]
    complete_pending_copies()
    deprecate_at = in_days(30)
    # When the copy's deprecation is enabled in the DR region
    aws.ec2(DR).enable_image_deprecation(ImageId=copy_id, DeprecateAt=deprecate_at)
    # Then DescribeImages reports it on the copy; the source is not deprecated, nor known in the DR region
    assert aws.image(DR, copy_id)["DeprecationTime"] == ec2_time(deprecate_at)
    assert "DeprecationTime" not in aws.image(HOME, source.image_id)
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(DR).enable_image_deprecation(ImageId=source.image_id, DeprecateAt=in_days(30))
    assert error_code(excinfo) == "InvalidAMIID.NotFound"


def test_dry_run_checks_permission_and_changes_nothing(aws: LocalAws) -> None:
    """EnableImageDeprecation DryRun: the error response is DryRunOperation and the request is not made."""
    # Given an AMI
    source = aws.source_image()
    # When its deprecation is enabled as a dry run
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).enable_image_deprecation(ImageId=source.image_id, DeprecateAt=in_days(30), DryRun=True)
    # Then EC2 answers DryRunOperation and the AMI is not deprecated
    assert error_code(excinfo) == "DryRunOperation"
    assert "DeprecationTime" not in aws.image(HOME, source.image_id)


# --- DisableImageDeprecation ----------------------------------------------------------------------


def test_disable_image_deprecation_removes_the_deprecation_time(aws: LocalAws) -> None:
    """DisableImageDeprecation cancels the deprecation of the specified AMI and returns true."""
    # Given an AMI with a deprecation time
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=in_days(30))
    # When its deprecation is disabled
    response = ec2.disable_image_deprecation(ImageId=source.image_id)
    # Then the call returns true and DescribeImages reports no deprecation time
    assert response["Return"] is True
    assert "DeprecationTime" not in aws.image(HOME, source.image_id)


def test_disable_image_deprecation_also_cancels_a_past_deprecation(aws: LocalAws) -> None:
    """DisableImageDeprecation: an AMI that is already deprecated stops being deprecated."""
    # Given an AMI whose deprecation date passed yesterday
    source = aws.source_image()
    set_deprecation_time(source.image_id, in_days(-1), region=HOME)
    # When its deprecation is disabled
    aws.ec2(HOME).disable_image_deprecation(ImageId=source.image_id)
    # Then it has no deprecation time any more
    assert "DeprecationTime" not in aws.image(HOME, source.image_id)


# --- time passes ----------------------------------------------------------------------------------


def test_set_deprecation_time_in_the_past_shows_up_in_describe_images(aws: LocalAws) -> None:
    """Time passes: an AMI deprecated last month reports that DeprecationTime (EC2 keeps past dates)."""
    # Given an AMI
    source = aws.source_image()
    last_month = in_days(-30, second=10)
    # When its deprecation date is set 30 days in the past
    set_deprecation_time(source.image_id, last_month, region=HOME)
    # Then DescribeImages reports that date, rounded to the minute like every DeprecationTime
    assert aws.image(HOME, source.image_id)["DeprecationTime"] == ec2_time(last_month)


def test_set_deprecation_time_of_an_unknown_image_is_an_error(aws: LocalAws) -> None:
    """Test helper contract: only an AMI registered in that region can have time pass for it."""
    # Given an AMI in the home region
    source = aws.source_image()
    # When its deprecation time is set in another region
    # Then the helper says the image is not there
    with pytest.raises(ValueError, match=source.image_id):
        set_deprecation_time(source.image_id, in_days(-1), region=DR)


# --- DescribeImages IncludeDeprecated -------------------------------------------------------------


@pytest.mark.parametrize("include_deprecated", [None, False, True])
def test_owner_sees_own_deprecated_images_whatever_include_deprecated_says(
    aws: LocalAws, include_deprecated: bool | None
) -> None:
    """DescribeImages IncludeDeprecated: if you are the AMI owner, all deprecated AMIs appear regardless."""
    # Given an owned AMI deprecated yesterday and one that is not deprecated
    deprecated = aws.source_image()
    current = aws.source_image()
    yesterday = in_days(-1)
    set_deprecation_time(deprecated.image_id, yesterday, region=HOME)
    params = {} if include_deprecated is None else {"IncludeDeprecated": include_deprecated}
    # When the owner lists its images
    images = aws.ec2(HOME).describe_images(Owners=["self"], **params)["Images"]
    # Then both are listed, the deprecated one with its DeprecationTime
    by_id = {i["ImageId"]: i for i in images}
    assert by_id.keys() == {deprecated.image_id, current.image_id}
    assert by_id[deprecated.image_id]["DeprecationTime"] == ec2_time(yesterday)
    assert "DeprecationTime" not in by_id[current.image_id]


def test_deprecated_image_is_returned_when_its_id_is_given(aws: LocalAws) -> None:
    """Deprecate an AMI (User Guide): a deprecated AMI appears in DescribeImages when you specify its ID."""
    # Given an AMI deprecated yesterday
    source = aws.source_image()
    set_deprecation_time(source.image_id, in_days(-1), region=HOME)
    # When it is described by id, without IncludeDeprecated
    images = aws.ec2(HOME).describe_images(ImageIds=[source.image_id])["Images"]
    # Then it is returned
    assert [i["ImageId"] for i in images] == [source.image_id]


# --- install --------------------------------------------------------------------------------------


def test_install_twice_keeps_the_deprecation_patches(aws: LocalAws) -> None:
    """Idempotent install: a second call keeps the deprecation actions and DeprecationTime of the first."""
    # Given the layer is installed
    fidelity.install()
    patched = (
        AmisResponse.enable_image_deprecation,  # type: ignore[attr-defined]
        AmisResponse.disable_image_deprecation,  # type: ignore[attr-defined]
        Ami.deprecation_time,  # type: ignore[attr-defined]
    )
    # When it is installed again
    fidelity.install()
    # Then moto runs the same patches, and deprecation still round-trips through DescribeImages
    assert (
        AmisResponse.enable_image_deprecation,  # type: ignore[attr-defined]
        AmisResponse.disable_image_deprecation,  # type: ignore[attr-defined]
        Ami.deprecation_time,  # type: ignore[attr-defined]
    ) == patched
    source = aws.source_image()
    deprecate_at = in_days(30)
    aws.ec2(HOME).enable_image_deprecation(ImageId=source.image_id, DeprecateAt=deprecate_at)
    assert aws.image(HOME, source.image_id)["DeprecationTime"] == ec2_time(deprecate_at)
