"""What every area of the fidelity layer shares: the lock, moto's original members, backend and image lookups."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from moto.ec2.exceptions import EC2ClientError, InvalidAMIIdError, MalformedAMIIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami

# One lock for every patched write path: moto's server handles requests on several threads, and a
# ClientToken must map to exactly one image even when the same request arrives concurrently.
LOCK = threading.RLock()
MOTO: dict[str, Any] = {}  # moto's original members, captured by each area's install()


class IdempotentParameterMismatch(EC2ClientError):
    """EC2's common error for a reused ClientToken whose request differs from the first one (the message is ours)."""

    def __init__(self, client_token: str) -> None:
        super().__init__(
            "IdempotentParameterMismatch",
            f"The client token '{client_token}' was already used with different request parameters.",
        )


def find_image(backend: Any, image_id: str) -> Ami:
    """The AMI must exist in that region: EC2 answers InvalidAMIID.Malformed / InvalidAMIID.NotFound.

    CopyImage looks the source up in SourceRegion; the deprecation actions look in their own region.
    """
    if not image_id or not image_id.startswith("ami-"):
        raise MalformedAMIIdError([image_id])
    image: Ami | None = backend.amis.get(image_id)
    if image is None:
        raise InvalidAMIIdError(image_id)
    return image


def existing_ec2_backends(region: str | None, account_id: str | None) -> Iterator[Any]:
    """The EC2 backends that exist (never creates one), optionally narrowed to a region and account."""
    for account, regional in list(ec2_backends.items()):
        if account_id is not None and account != account_id:
            continue
        for region_name, backend in list(regional.items()):
            if region is None or region_name == region:
                yield backend


def as_utc(when: datetime) -> datetime:
    """An aware UTC datetime; a naive one (moto's clock, parsed request timestamps) already means UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
