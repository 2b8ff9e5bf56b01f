"""AMI usage reports of the given images: their state and, once available, which accounts use each image."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..model.usage import AVAILABLE, UsageEntry, UsageReport

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

IDS_PER_CALL = 200  # ImageIds and ReportIds take at most 200 values


def read_usage_reports(ec2: EC2Client, image_ids: Iterable[str]) -> dict[str, list[UsageReport]]:
    """Every report EC2 still keeps for these images, newest first, with the entries of the available ones."""
    ids = sorted(set(image_ids))
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), IDS_PER_CALL):
        pages = ec2.get_paginator("describe_image_usage_reports").paginate(
            ImageIds=ids[start : start + IDS_PER_CALL], PaginationConfig={"PageSize": 1000}
        )
        found += [dict(report) for page in pages for report in page.get("ImageUsageReports", [])]
    available = [r["ReportId"] for r in found if r.get("State") == AVAILABLE]
    entries: dict[str, list[UsageEntry]] = {}
    for start in range(0, len(available), IDS_PER_CALL):
        entry_pages = ec2.get_paginator("describe_image_usage_report_entries").paginate(
            ReportIds=available[start : start + IDS_PER_CALL], PaginationConfig={"PageSize": 1000}
        )
        for page in entry_pages:
            for entry in page.get("ImageUsageReportEntries", []):
                usage = UsageEntry(entry["AccountId"], entry["ResourceType"], int(entry.get("UsageCount", 0)))
                entries.setdefault(entry["ReportId"], []).append(usage)
    reports: dict[str, list[UsageReport]] = {}
    for data in found:
        report = UsageReport(
            data["ReportId"],
            data["ImageId"],
            data.get("State", ""),
            _aware(data["CreationTime"]),
            _aware(data["ExpirationTime"]),
            str(data.get("StateReason") or ""),
            tuple(entries.get(data["ReportId"], [])),
        )
        reports.setdefault(report.image_id, []).append(report)
    for image_reports in reports.values():
        image_reports.sort(key=lambda r: (r.created, r.report_id), reverse=True)
    return reports


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
