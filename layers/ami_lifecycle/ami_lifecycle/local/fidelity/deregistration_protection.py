"""EnableImageDeregistrationProtection, DisableImageDeregistrationProtection, and the 24-hour cooldown.

DescribeImages DeregistrationProtection reports ``disabled`` (every AMI starts so), ``enabled-without-cooldown``
or ``enabled-with-cooldown``; the AWS CLI reference examples show the Enable/Disable actions returning these
strings. During the 24-hour cooldown that follows disabling a protection enabled WithCooldown, EC2 reports
``disabled after <time>``; that prefix is what tools written against EC2 (aws-nuke) parse. The format of the
time after it is not documented: it is given here like CreationDate (``2024-05-17T12:00:00.000Z``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.amis import Ami
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.utils import format_timestamp

from ._common import LOCK, as_utc, existing_ec2_backends, find_image

# DescribeImages DeregistrationProtection, and the Return of the Enable/Disable actions (see the module docstring).
_PROTECTION_DISABLED = "disabled"
_PROTECTION_WITH_COOLDOWN = "enabled-with-cooldown"
_PROTECTION_WITHOUT_COOLDOWN = "enabled-without-cooldown"
_PROTECTION_COOLDOWN_PREFIX = "disabled after "
_PROTECTION_COOLDOWN = timedelta(hours=24)


class DeregistrationProtected(EC2ClientError):
    """DeregisterImage of an AMI under deregistration protection (or in its cooldown): OperationNotPermitted.

    The DeregisterImage reference names no error for this; EC2's common OperationNotPermitted ("the specified
    operation is not allowed", its example: terminating an instance with termination protection) is the code
    EC2 documents for a protected resource. The message is ours, not EC2's.
    """

    def __init__(self, image_id: str, state: str) -> None:
        super().__init__(
            "OperationNotPermitted",
            f"The image '{image_id}' cannot be deregistered because deregistration protection is {state}. "
            "Disable deregistration protection (and wait for its cooldown, if any) and try again.",
        )


def install() -> None:
    """Add the Enable/Disable actions, and DeregistrationProtection to what DescribeImages reports."""
    AmisResponse.enable_image_deregistration_protection = _enable_protection_action  # type: ignore[attr-defined]
    AmisResponse.disable_image_deregistration_protection = _disable_protection_action  # type: ignore[attr-defined]
    Ami.deregistration_protection = property(_image_deregistration_protection)  # type: ignore[attr-defined]


def expire_deregistration_cooldown(image_id: str, region: str, account_id: str | None = None) -> None:
    """Time passes: the 24-hour cooldown of a disabled deregistration protection ends now.

    DescribeImages then reports ``disabled`` and DeregisterImage succeeds. An AMI without a running cooldown
    is left as it is; enabled protection is not affected (only DisableImageDeregistrationProtection ends it).
    """
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None:
                image.fidelity_cooldown_until = None
                return
    raise ValueError(f"{image_id} is not a registered image in {region}")


def _enable_protection_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    with_cooldown = bool(self._get_param("WithCooldown"))
    self.error_on_dryrun()
    with LOCK:
        image: Any = find_image(self.ec2_backend, image_id)
        image.fidelity_protection = _PROTECTION_WITH_COOLDOWN if with_cooldown else _PROTECTION_WITHOUT_COOLDOWN
        return ActionResult({"Return": image.deregistration_protection})


def _disable_protection_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    with LOCK:
        image: Any = find_image(self.ec2_backend, image_id)
        _disable_deregistration_protection(image)
        return ActionResult({"Return": image.deregistration_protection})


def _disable_deregistration_protection(image: Any) -> None:
    """Protection enabled WithCooldown stays in force for 24 hours after it is disabled; without, it ends now.

    A cooldown already running (protection re-enabled during it, then disabled without cooldown) keeps running.
    """
    if getattr(image, "fidelity_protection", None) == _PROTECTION_WITH_COOLDOWN:
        image.fidelity_cooldown_until = as_utc(utcnow()) + _PROTECTION_COOLDOWN
    image.fidelity_protection = None


def _cooldown_until(image: Ami) -> datetime | None:
    until: datetime | None = getattr(image, "fidelity_cooldown_until", None)
    return until if until is not None and until > as_utc(utcnow()) else None


def deregistration_refused(image: Ami) -> bool:
    """While protection is enabled, and during its cooldown, the AMI can't be deregistered."""
    return getattr(image, "fidelity_protection", None) is not None or _cooldown_until(image) is not None


def _image_deregistration_protection(self: Ami) -> str:
    """DescribeImages DeregistrationProtection: reported on every AMI, ``disabled`` unless protection was enabled."""
    protection: str | None = getattr(self, "fidelity_protection", None)
    if protection is not None:
        return protection
    until = _cooldown_until(self)
    return _PROTECTION_DISABLED if until is None else _PROTECTION_COOLDOWN_PREFIX + format_timestamp(until)
