"""The AMI of every launch template version the sweep has read, so that it need not read them again.

One item per template, keyed by region (partition) and template id (sort): each region's reader queries its own
items, concurrently with the other regions. The table is an optimisation: what uses it reads EC2 instead when
it cannot be read, and goes on when it cannot be written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from .clients import ClientFactory

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

LAUNCH_TEMPLATE_TABLE_ENV = "LAUNCH_TEMPLATE_TABLE"
BATCH_WRITE_LIMIT = 25  # items per BatchWriteItem
UNPROCESSED_RETRIES = 3  # BatchWriteItem answers throttled items as unprocessed, not as an error
ENTRY_LIFETIME = timedelta(days=60)  # DynamoDB TTL: entries of regions the policy no longer lists expire


@dataclass(frozen=True)
class CachedTemplate:
    """A launch template as the sweep last read it: the AMI of each version, resolve:ssm: aliases resolved."""

    region: str
    template_id: str
    latest_version: int
    default_version: int
    images: dict[int, str | None]  # version number -> the AMI it launches (None: the version names none)
    read_at: datetime
    uses_alias: bool  # some version's ImageId is a resolve:ssm: parameter


class LaunchTemplateTable:
    """The table of launch template versions read. Read-only, it never writes (the CLI's plan reads it so)."""

    def __init__(self, clients: ClientFactory, region: str, table: str | None = None, read_only: bool = False) -> None:
        self.name = table or os.environ.get(LAUNCH_TEMPLATE_TABLE_ENV, "")
        if not self.name:
            raise ValueError(f"no launch template table: set {LAUNCH_TEMPLATE_TABLE_ENV}")
        self.read_only = read_only
        self._dynamodb = clients.dynamodb(region)

    def templates(self, region: str) -> dict[str, CachedTemplate]:
        """The region's entries by template id: one Query page per MB."""
        pages = self._dynamodb.get_paginator("query").paginate(
            TableName=self.name,
            KeyConditionExpression="#region = :region",
            ExpressionAttributeNames={"#region": "region"},  # a DynamoDB reserved word
            ExpressionAttributeValues={":region": {"S": region}},
            ConsistentRead=True,
        )
        return {entry.template_id: entry for page in pages for entry in map(_entry, page["Items"])}

    def store(self, region: str, entries: Sequence[CachedTemplate], removed: Iterable[str] = ()) -> None:
        """Write the entries and delete those of templates that are gone, 25 to a BatchWriteItem."""
        if self.read_only:
            return
        requests: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": _item(entry)}} for entry in entries]
        requests += [
            {"DeleteRequest": {"Key": {"region": {"S": region}, "template_id": {"S": template_id}}}}
            for template_id in removed
        ]
        for start in range(0, len(requests), BATCH_WRITE_LIMIT):
            self._write(requests[start : start + BATCH_WRITE_LIMIT])

    def _write(self, batch: list[WriteRequestTypeDef]) -> None:
        for attempt in range(UNPROCESSED_RETRIES + 1):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            answer = self._dynamodb.batch_write_item(RequestItems={self.name: batch})
            unprocessed = answer.get("UnprocessedItems", {}).get(self.name, [])
            batch = cast("list[WriteRequestTypeDef]", unprocessed)  # the requests as sent, typed as an output
            if not batch:
                return
        raise RuntimeError(f"{len(batch)} launch template entries not written: DynamoDB left them unprocessed")


def _item(entry: CachedTemplate) -> dict[str, Any]:
    images = {str(n): {"S": image_id} if image_id else {"NULL": True} for n, image_id in entry.images.items()}
    return {
        "region": {"S": entry.region},
        "template_id": {"S": entry.template_id},
        "latest_version": {"N": str(entry.latest_version)},
        "default_version": {"N": str(entry.default_version)},
        "images": {"M": images},
        "read_at": {"S": entry.read_at.isoformat()},
        "uses_alias": {"BOOL": entry.uses_alias},
        "expires_at": {"N": str(int((entry.read_at + ENTRY_LIFETIME).timestamp()))},
    }


def _entry(item: dict[str, Any]) -> CachedTemplate:
    return CachedTemplate(
        item["region"]["S"],
        item["template_id"]["S"],
        int(item["latest_version"]["N"]),
        int(item["default_version"]["N"]),
        {int(n): value.get("S") for n, value in item["images"]["M"].items()},
        datetime.fromisoformat(item["read_at"]["S"]),
        item["uses_alias"]["BOOL"],
    )
