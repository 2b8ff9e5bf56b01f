"""EnableImageDeprecation, DisableImageDeprecation, and the DeprecationTime DescribeImages reports.

DescribeImages IncludeDeprecated needs no patch for the owner's own calls: EC2 lists all of the caller's
deprecated AMIs whatever IncludeDeprecated says, and returns a deprecated AMI whose id is asked for, which
is what DescribeImages (moto's selection hides no deprecated image) already does. Left out: hiding deprecated AMIs of
OTHER owners from listings without ImageIds unless IncludeDeprecated=True (moto models no cross-account
sharing), the default deprecation date EC2 gives public AMIs (two years after creation), and refusing to
deprecate an AMI the caller does not own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError, MissingParameterError
from moto.ec2.models.amis import Ami
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.utils import format_timestamp

from ._common import LOCK, as_utc, existing_ec2_backends, find_image, iso

# EnableImageDeprecation DeprecateAt: at most 10 years from now; for a public AMI, 2 years from its creation.
_DEPRECATION_LIMIT_YEARS = 10
_PUBLIC_DEPRECATION_LIMIT_YEARS = 2


class _InvalidDeprecateAt(EC2ClientError):
    """EC2's common InvalidParameterValue for a DeprecateAt outside the documented window.

    The EnableImageDeprecation reference lists no action-specific error; the message is ours, not EC2's.
    """

    def __init__(self, deprecate_at: datetime, reason: str) -> None:
        super().__init__(
            "InvalidParameterValue",
            f"Value ({iso(deprecate_at)}) for parameter DeprecateAt is invalid. {reason}",
        )


def install() -> None:
    """Add the Enable/Disable actions, and DeprecationTime to what DescribeImages reports."""
    AmisResponse.enable_image_deprecation = _enable_image_deprecation_action  # type: ignore[attr-defined]
    AmisResponse.disable_image_deprecation = _disable_image_deprecation_action  # type: ignore[attr-defined]
    Ami.deprecation_time = property(_image_deprecation_time)  # type: ignore[attr-defined]


def set_deprecation_time(image_id: str, when: datetime, region: str, account_id: str | None = None) -> None:
    """Time passes: the AMI's DeprecationTime becomes ``when``, which may lie in the past.

    EnableImageDeprecation refuses a date in the past (as EC2 does), so an AMI that was deprecated last month
    can only be set up by writing the date directly, as if the deprecation had been enabled back then. No
    window is checked here. ``when`` is rounded to the minute like DeprecateAt; a naive datetime is UTC.
    """
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None:
                image.fidelity_deprecation_time = _round_to_minute(as_utc(when))
                return
    raise ValueError(f"{image_id} is not a registered image in {region}")


def _enable_image_deprecation_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    deprecate_at = self._get_param("DeprecateAt")
    if not isinstance(deprecate_at, datetime):  # boto3 requires it; a raw query string might omit it
        raise MissingParameterError("DeprecateAt")
    self.error_on_dryrun()
    _enable_image_deprecation(self.ec2_backend, image_id, as_utc(deprecate_at))
    return ActionResult({"Return": True})


def _disable_image_deprecation_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    with LOCK:
        image: Any = find_image(self.ec2_backend, image_id)
        image.fidelity_deprecation_time = None
    return ActionResult({"Return": True})


def _enable_image_deprecation(backend: Any, image_id: str, deprecate_at: datetime) -> None:
    """DeprecateAt must be in the future and within the limit; EC2 keeps it rounded to the nearest minute.

    The window is checked on the value as given (the reference states it for the value you specify), so a
    DeprecateAt a few seconds ahead may be stored rounded down to a minute that has just passed.
    """
    with LOCK:
        image: Any = find_image(backend, image_id)
        now = as_utc(utcnow())
        if deprecate_at <= now:
            raise _InvalidDeprecateAt(deprecate_at, "You can't specify a date in the past.")
        limit, rule = _deprecation_limit(image, now)
        if deprecate_at > limit:
            raise _InvalidDeprecateAt(deprecate_at, f"The upper limit is {rule} ({iso(limit)}).")
        image.fidelity_deprecation_time = _round_to_minute(deprecate_at)


def _deprecation_limit(image: Ami, now: datetime) -> tuple[datetime, str]:
    """At most 10 years from now, except for public AMIs: 2 years from the AMI's creation date."""
    if image.is_public:
        limit = _add_years(as_utc(image.creation_date), _PUBLIC_DEPRECATION_LIMIT_YEARS)
        return limit, f"{_PUBLIC_DEPRECATION_LIMIT_YEARS} years from the creation date of a public AMI"
    return _add_years(now, _DEPRECATION_LIMIT_YEARS), f"{_DEPRECATION_LIMIT_YEARS} years from now"


def _round_to_minute(when: datetime) -> datetime:
    """EC2 rounds the seconds to the nearest minute; half a minute (exactly :30) is taken to round up."""
    floor = when.replace(second=0, microsecond=0)
    return floor + timedelta(minutes=1) if when - floor >= timedelta(seconds=30) else floor


def _add_years(when: datetime, years: int) -> datetime:
    """The same calendar date ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:
        return when.replace(year=when.year + years, day=28)


def _image_deprecation_time(self: Ami) -> str | None:
    """DescribeImages DeprecationTime: a string in EC2's timestamp format, like CreationDate; absent when unset."""
    when: datetime | None = getattr(self, "fidelity_deprecation_time", None)
    return None if when is None else format_timestamp(when)
