"""AMI deregistration protection: Enable/DisableImageDeregistrationProtection, DescribeImages, DeregisterImage."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from ami_lifecycle.local.fidelity import expire_deregistration_cooldown

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

COOLDOWN = re.compile(r"^disabled after (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.000Z$")


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def protection(aws: LocalAws, image_id: str) -> str:
    return str(aws.image(HOME, image_id)["DeregistrationProtection"])


def test_new_images_report_protection_disabled(aws: LocalAws) -> None:
    """EC2: deregistration protection is turned off by default on all AMIs; DescribeImages reports disabled."""
    # Given a newly registered AMI
    source = aws.source_image()
    # When it is described, and its deregistrationProtection attribute is read
    attribute = aws.ec2(HOME).describe_image_attribute(ImageId=source.image_id, Attribute="deregistrationProtection")
    # Then both report disabled
    assert protection(aws, source.image_id) == "disabled"
    assert attribute["DeregistrationProtection"] == {"Value": "disabled"}


@pytest.mark.parametrize(
    ("with_cooldown", "state"), [(False, "enabled-without-cooldown"), (True, "enabled-with-cooldown")]
)
def test_protected_image_cannot_be_deregistered(aws: LocalAws, with_cooldown: bool, state: str) -> None:
    """EC2: while deregistration protection is enabled, the AMI can't be deregistered (OperationNotPermitted)."""
    # Given an AMI
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    # When its deregistration protection is enabled, and it is deregistered with its snapshots
    response = ec2.enable_image_deregistration_protection(ImageId=source.image_id, WithCooldown=with_cooldown)
    with pytest.raises(ClientError) as excinfo:
        ec2.deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    # Then the enable call returns the new state, DescribeImages reports it, and nothing was deregistered or deleted
    assert response["Return"] == state
    assert error_code(excinfo) == "OperationNotPermitted"
    assert protection(aws, source.image_id) == state
    assert aws.image(HOME, source.image_id)["State"] == "available"
    assert sorted(aws.snapshots(HOME)) == sorted(source.snapshot_ids)


def test_disabling_protection_without_cooldown_allows_deregistration_at_once(aws: LocalAws) -> None:
    """EC2: without a cooldown, the AMI can be deregistered as soon as deregistration protection is disabled."""
    # Given an AMI protected without cooldown
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.enable_image_deregistration_protection(ImageId=source.image_id)
    # When its protection is disabled
    response = ec2.disable_image_deregistration_protection(ImageId=source.image_id)
    # Then the call returns disabled, DescribeImages reports disabled, and the AMI can be deregistered
    assert response["Return"] == "disabled"
    assert protection(aws, source.image_id) == "disabled"
    ec2.deregister_image(ImageId=source.image_id)
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_cooldown_keeps_protection_for_24_hours_after_disabling(aws: LocalAws) -> None:
    """EC2 WithCooldown: deregistration protection stays in force for 24 hours after it is disabled.

    DescribeImages reports ``disabled after <time>`` during the cooldown, the time being when it ends.
    """
    # Given an AMI protected with a cooldown
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.enable_image_deregistration_protection(ImageId=source.image_id, WithCooldown=True)
    # When its protection is disabled
    disabled_at = datetime.now(UTC)
    response = ec2.disable_image_deregistration_protection(ImageId=source.image_id)
    # Then the AMI reports the end of the cooldown, 24 hours ahead, and still can't be deregistered
    state = protection(aws, source.image_id)
    assert response["Return"] == state
    match = COOLDOWN.match(state)
    assert match, state
    ends = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    assert timedelta(hours=24) - timedelta(seconds=5) <= ends - disabled_at <= timedelta(hours=24)
    with pytest.raises(ClientError) as excinfo:
        ec2.deregister_image(ImageId=source.image_id)
    assert error_code(excinfo) == "OperationNotPermitted"


def test_after_the_cooldown_the_image_can_be_deregistered(aws: LocalAws) -> None:
    """EC2 WithCooldown: when the 24-hour cooldown ends, the AMI can be deregistered."""
    # Given an AMI whose protection with cooldown was just disabled
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.enable_image_deregistration_protection(ImageId=source.image_id, WithCooldown=True)
    ec2.disable_image_deregistration_protection(ImageId=source.image_id)
    # When the cooldown ends (time passes)
    expire_deregistration_cooldown(source.image_id, region=HOME)
    # Then DescribeImages reports disabled and the AMI is deregistered with its snapshots
    assert protection(aws, source.image_id) == "disabled"
    response = ec2.deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    assert {r["ReturnCode"] for r in response["DeleteSnapshotResults"]} == {"success"}
    assert aws.snapshots(HOME) == {}


def test_enabling_again_during_the_cooldown_reports_enabled(aws: LocalAws) -> None:
    """EC2: EnableImageDeregistrationProtection turns protection on again; the AMI can't be deregistered."""
    # Given an AMI in the cooldown of a disabled protection
    source = aws.source_image()
    ec2 = aws.ec2(HOME)
    ec2.enable_image_deregistration_protection(ImageId=source.image_id, WithCooldown=True)
    ec2.disable_image_deregistration_protection(ImageId=source.image_id)
    # When protection is enabled again without cooldown
    ec2.enable_image_deregistration_protection(ImageId=source.image_id, WithCooldown=False)
    # Then it reports enabled-without-cooldown, and after disabling it the earlier cooldown still runs
    assert protection(aws, source.image_id) == "enabled-without-cooldown"
    ec2.disable_image_deregistration_protection(ImageId=source.image_id)
    assert COOLDOWN.match(protection(aws, source.image_id))


def test_protection_is_per_image_and_region(aws: LocalAws) -> None:
    """EC2: protection applies to the specified AMI; its copy in another Region is a distinct, unprotected AMI."""
    # Given a protected AMI and an unprotected one in the home region
    protected = aws.source_image()
    other = aws.source_image()
    aws.ec2(HOME).enable_image_deregistration_protection(ImageId=protected.image_id)
    # When the other AMI is deregistered
    aws.ec2(HOME).deregister_image(ImageId=other.image_id)
    # Then only the protected AMI remains, and the DR region does not know it
    assert [i["ImageId"] for i in aws.ec2(HOME).describe_images(Owners=["self"])["Images"]] == [protected.image_id]
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(DR).enable_image_deregistration_protection(ImageId=protected.image_id)
    assert error_code(excinfo) == "InvalidAMIID.NotFound"


@pytest.mark.parametrize(
    ("image_id", "code"),
    [("ami-0123456789abcdef0", "InvalidAMIID.NotFound"), ("snap-0123456789abcdef0", "InvalidAMIID.Malformed")],
)
def test_protecting_an_unknown_image_is_refused(aws: LocalAws, image_id: str, code: str) -> None:
    """EC2 image actions: an id that names no AMI in the Region is InvalidAMIID.NotFound (or .Malformed)."""
    # Given a region without that AMI
    ec2 = aws.ec2(HOME)
    # When its protection is enabled or disabled
    with pytest.raises(ClientError) as enabling:
        ec2.enable_image_deregistration_protection(ImageId=image_id)
    with pytest.raises(ClientError) as disabling:
        ec2.disable_image_deregistration_protection(ImageId=image_id)
    # Then both requests fail with the AMI id error
    assert (error_code(enabling), error_code(disabling)) == (code, code)


def test_dry_run_changes_no_protection(aws: LocalAws) -> None:
    """EC2 DryRun: the error response is DryRunOperation and the request is not made."""
    # Given an AMI
    source = aws.source_image()
    # When its protection is enabled as a dry run
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).enable_image_deregistration_protection(ImageId=source.image_id, DryRun=True)
    # Then EC2 answers DryRunOperation and protection stays disabled
    assert error_code(excinfo) == "DryRunOperation"
    assert protection(aws, source.image_id) == "disabled"


def test_expire_deregistration_cooldown_of_an_unknown_image_is_an_error(aws: LocalAws) -> None:
    """Test helper contract: only an AMI registered in that region can have time pass for it."""
    # Given an AMI in the home region
    source = aws.source_image()
    # When its cooldown is expired in another region
    # Then the helper says the image is not there
    with pytest.raises(ValueError, match=source.image_id):
        expire_deregistration_cooldown(source.image_id, region=DR)
