"""One sweep at a time: a lease item in the usage table, taken with a conditional write and given back at the end.

Reserved concurrency would serialise the sweeps too, but Lambda refuses it in accounts whose concurrency quota is
below 101 (new accounts often have 10). A lease that is never given back (the function timed out or its
environment died) expires: it lasts longer than the invocation that took it may run, and the first sweep after
that takes it over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from .clients import ClientFactory, error_code
from .usage_table import USAGE_TABLE_ENV

logger = Logger(child=True)

# The lease's key in the table's image_id key space: no AMI id looks like it, and the scan of launch records
# skips it (it has no last_launched_at). template.yaml lets the sweep write no other key of the table.
LEASE_KEY = "sweep-lease"
# Beyond the end of the invocation: clocks of two Lambda hosts may differ by a little, never by this much.
LEASE_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds the lease, and until when."""

    holder: str
    expires_at: datetime


class SweepLease:
    """The lease item. `holder` names this invocation (its Lambda request id) in the item and in the logs."""

    def __init__(self, clients: ClientFactory, region: str, holder: str, table: str | None = None) -> None:
        self.table = table or os.environ.get(USAGE_TABLE_ENV, "")
        if not self.table:
            raise ValueError(f"no usage table for the sweep's lease: set {USAGE_TABLE_ENV}")
        self.holder = holder
        self._dynamodb = clients.dynamodb(region)

    def acquire(self, now: datetime, lasts: timedelta) -> LeaseHolder | None:
        """Take the lease until `now + lasts`, if nobody holds it or its holder's time is up; otherwise the
        holder. Any other error is raised: without the lease, no sweep."""
        expires_at = now + lasts
        try:
            self._dynamodb.put_item(
                TableName=self.table,
                Item={
                    "image_id": {"S": LEASE_KEY},
                    "holder": {"S": self.holder},
                    "acquired_at": {"S": now.astimezone(UTC).isoformat()},
                    # The table's TTL attribute: DynamoDB also removes a lease nobody gave back, some time later.
                    "expires_at": {"N": str(_epoch(expires_at))},
                },
                ConditionExpression="attribute_not_exists(image_id) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(_epoch(now))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                item: dict[str, Any] = e.response.get("Item", {})  # type: ignore[assignment]  # ALL_OLD: the holder's
                held_by = _holder(item)
                # This invocation itself: botocore retried a write whose answer was lost, and the first one took it.
                return None if held_by.holder == self.holder else held_by
            raise
        return None

    def release(self) -> bool:
        """Give the lease back, if this invocation still holds it; True if it did. Never raises: a lease that
        cannot be given back expires by itself, and the sweep's own outcome (or error) is what to report."""
        try:
            self._dynamodb.delete_item(
                TableName=self.table,
                Key={"image_id": {"S": LEASE_KEY}},
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": self.holder}},
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                taken_over = "the sweep lease was taken over before this sweep gave it back"
                logger.warning(taken_over, extra={"holder": self.holder})
            else:
                logger.warning("sweep lease not given back; it expires by itself", extra={"error": str(e)})
            return False
        except BotoCoreError as e:
            logger.warning("sweep lease not given back; it expires by itself", extra={"error": str(e)})
            return False
        return True


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _holder(item: dict[str, Any]) -> LeaseHolder:
    holder = item.get("holder", {}).get("S", "unknown")
    expires_at = datetime.fromtimestamp(int(item.get("expires_at", {}).get("N", "0")), UTC)
    return LeaseHolder(holder, expires_at)
