"""When each managed AMI last launched an instance, fresher than EC2's own lastLaunchedTime (about a day late).

One DynamoDB item per AMI, keyed by image id. A write only ever moves the time forward, so duplicate and
out-of-order events leave the newest launch in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from .clients import ClientFactory, error_code

USAGE_TABLE_ENV = "USAGE_TABLE"
RECORD_LIFETIME = timedelta(days=400)  # DynamoDB TTL: records of long-gone AMIs expire by themselves


@dataclass(frozen=True)
class LaunchRecord:
    image_id: str
    region: str
    launched_at: datetime
    instance_id: str


class UsageStore:
    """The usage table. Region-independent: image ids are unique across regions."""

    def __init__(self, clients: ClientFactory, region: str, table: str | None = None) -> None:
        self._table = table or os.environ.get(USAGE_TABLE_ENV, "")
        if not self._table:
            raise ValueError(f"no usage table: set {USAGE_TABLE_ENV}")
        self._dynamodb = clients.dynamodb(region)

    def record_launch(self, record: LaunchRecord) -> bool:
        """Store the launch unless a newer one is stored already; True if it was written."""
        when = record.launched_at.astimezone(UTC).isoformat()  # one format and zone: compared as strings
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"image_id": {"S": record.image_id}},
                UpdateExpression="SET last_launched_at = :t, last_instance_id = :i, image_region = :r, expires_at = :e",
                ConditionExpression="attribute_not_exists(last_launched_at) OR last_launched_at < :t",
                ExpressionAttributeValues={
                    ":t": {"S": when},
                    ":i": {"S": record.instance_id},
                    ":r": {"S": record.region},
                    ":e": {"N": str(int((record.launched_at + RECORD_LIFETIME).timestamp()))},
                },
            )
        except ClientError as e:
            if error_code(e) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def last_launch(self, image_id: str) -> LaunchRecord | None:
        item: dict[str, Any] = self._dynamodb.get_item(
            TableName=self._table, Key={"image_id": {"S": image_id}}, ConsistentRead=True
        ).get("Item", {})
        return _record(item) if item else None

    def launched_since(self, since: datetime) -> dict[str, LaunchRecord]:
        """Every AMI launched at or after `since`, whether or not any of its instances is left.

        One paginated scan: the calls grow with the table's pages, not with the AMIs asked about.
        """
        pages = self._dynamodb.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="last_launched_at >= :since",
            ExpressionAttributeValues={":since": {"S": since.astimezone(UTC).isoformat()}},
            ConsistentRead=True,
        )
        return {r.image_id: r for page in pages for r in map(_record, page["Items"])}


def _record(item: dict[str, Any]) -> LaunchRecord:
    return LaunchRecord(
        item["image_id"]["S"],
        item["image_region"]["S"],
        datetime.fromisoformat(item["last_launched_at"]["S"]),
        item["last_instance_id"]["S"],
    )
