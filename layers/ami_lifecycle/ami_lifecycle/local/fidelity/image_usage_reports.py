"""AMI usage reports: CreateImageUsageReport, DescribeImageUsageReports, DescribeImageUsageReportEntries, Delete.

moto 5.2.5 implements none of them. A report counts how OTHER accounts use one of the caller's AMIs, per account
and resource type. EC2 builds it asynchronously (no event; callers poll) and deletes it 30 days after creation.
moto models no other accounts, so what consumers use is set by ``set_consumer_usage()``, and time passes with
the hooks: a report stays ``pending`` until ``complete_usage_reports()`` (``available``, its entries frozen from
the consumer usage at that moment) or ``fail_usage_report()`` (``error``); ``age_usage_report()`` moves its
creation back, so that it expires. Quotas per Region: 1 pending report per AMI, 2,000 pending reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError, FilterNotImplementedError, InvalidParameterValue
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.utils import random_id, simple_aws_filter_to_re

from ._common import LOCK, IdempotentParameterMismatch, as_utc, existing_ec2_backends, find_image
from .pagination import page
from .resource_tags import tags_by_resource_type

_LIFETIME = timedelta(days=30)  # "Amazon EC2 automatically deletes a report 30 days after creation."
_RESOURCE_TYPES = ("ec2:Instance", "ec2:LaunchTemplate", "imagebuilder:ImageRecipe", "imagebuilder:ContainerRecipe")
_VERSION_DEPTH_RANGE = (1, 10000)  # CreateImageUsageReport version-depth; EC2 checks the 20 newest by default
_MAX_ACCOUNT_IDS = 200
_MAX_IDS = 200  # DescribeImageUsageReports / ...Entries ImageIds and ReportIds
_PENDING_PER_IMAGE, _PENDING_PER_REGION = 1, 2000
_TAGGABLE = frozenset({"image-usage-report"})
_ACCOUNT_ID = re.compile(r"\d{12}")


class _ReportLimitExceeded(EC2ClientError):
    """A quota of pending reports is reached. The guide states the quotas but no error code for them: this is EC2's
    common ResourceLimitExceeded ("you have exceeded an Amazon EC2 resource limit"); the message is ours."""

    def __init__(self, message: str) -> None:
        super().__init__("ResourceLimitExceeded", message)


class _NotImageOwner(EC2ClientError):
    """Only the owner reports on an AMI. Undocumented for this action: AuthFailure is what EC2 answers other image
    actions (ModifyImageAttribute) by an account that does not own the AMI; the message is ours."""

    def __init__(self, image_id: str) -> None:
        super().__init__("AuthFailure", f"Not authorized for image:{image_id}")


class _ReportNotFound(EC2ClientError):
    """No such report (or it expired). Undocumented: the code follows EC2's Invalid<Resource>ID.NotFound pattern."""

    def __init__(self, report_id: str) -> None:
        super().__init__("InvalidImageUsageReportId.NotFound", f"The image usage report '{report_id}' does not exist")


def install() -> None:
    AmisResponse.create_image_usage_report = _create_action  # type: ignore[attr-defined]
    AmisResponse.describe_image_usage_reports = _describe_reports_action  # type: ignore[attr-defined]
    AmisResponse.describe_image_usage_report_entries = _describe_entries_action  # type: ignore[attr-defined]
    AmisResponse.delete_image_usage_report = _delete_action  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Request:
    """The CreateImageUsageReport parameters that define a report; equality is what ClientToken compares."""

    image_id: str
    resource_types: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]  # (type, ((option, values)))
    account_ids: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]


@dataclass
class _Report:
    report_id: str
    request: _Request
    creation_time: datetime
    state: str = "pending"
    state_reason: str | None = None
    entries: list[tuple[str, str, int]] = field(default_factory=list)  # (account, resource type, usage count)

    @property
    def expiration_time(self) -> datetime:
        return self.creation_time + _LIFETIME

    def view(self) -> dict[str, Any]:
        resource_types = []
        for resource_type, options in self.request.resource_types:
            element: dict[str, Any] = {"ResourceType": resource_type}
            if options:
                element["ResourceTypeOptions"] = [{"OptionName": n, "OptionValues": list(v)} for n, v in options]
            resource_types.append(element)
        view: dict[str, Any] = {
            "ImageId": self.request.image_id,
            "ReportId": self.report_id,
            "ResourceTypes": resource_types,
            "AccountIds": list(self.request.account_ids),
            "State": self.state,
            "CreationTime": self.creation_time,
            "ExpirationTime": self.expiration_time,
            "Tags": [{"Key": k, "Value": v} for k, v in self.request.tags],
        }
        if self.state_reason is not None:
            view["StateReason"] = self.state_reason
        return view


# --- time hooks -----------------------------------------------------------------------------------------------


def set_consumer_usage(image_id: str, region: str, account_id: str, resource_type: str, count: int) -> None:
    """Another account (``account_id``) uses the AMI in ``count`` resources of ``resource_type``, from now on.

    Reports completed later count it (reports already available keep their entries); a count of 0 removes it.
    """
    if resource_type not in _RESOURCE_TYPES:
        raise ValueError(f"{resource_type!r} is not one of {list(_RESOURCE_TYPES)}")
    if not _ACCOUNT_ID.fullmatch(account_id) or count < 0:
        raise ValueError(f"account {account_id!r} must be 12 digits and count {count} at least 0")
    with LOCK:
        for backend in existing_ec2_backends(region, None):
            if image_id in backend.amis:
                usage: dict[tuple[str, str], int] = _consumer_usage(backend).setdefault(image_id, {})
                if count:
                    usage[account_id, resource_type] = count
                else:
                    usage.pop((account_id, resource_type), None)
                return
    raise ValueError(f"{image_id} is not a registered image in {region}")


def complete_usage_reports(region: str | None = None, account_id: str | None = None) -> list[str]:
    """Time passes: every pending report (of that Region/owner account, or all) becomes ``available``.

    Its entries are the consumer usage of its AMI at this moment, one per account and resource type with usage,
    narrowed to the report's AccountIds (if any) and ResourceTypes. Returns the ids of the reports completed.
    """
    completed = []
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            usage = _consumer_usage(backend)
            for report in _reports(backend).values():
                if report.state != "pending":
                    continue
                accounts = set(report.request.account_ids)
                types = {t for t, _ in report.request.resource_types}
                report.entries = sorted(
                    (account, t, n)
                    for (account, t), n in usage.get(report.request.image_id, {}).items()
                    if t in types and (not accounts or account in accounts)
                )
                report.state = "available"
                completed.append(report.report_id)
    return completed


def fail_usage_report(report_id: str, region: str, reason: str, account_id: str | None = None) -> None:
    """A pending report ends in ``error`` with ``reason`` as its StateReason."""
    with LOCK:
        report = _find_report(report_id, region, account_id)
        if report.state != "pending":
            raise ValueError(f"{report_id} is {report.state}, not pending")
        report.state, report.state_reason = "error", reason


def age_usage_report(report_id: str, region: str, days: float, account_id: str | None = None) -> None:
    """Time passes for one report: its CreationTime (and so its ExpirationTime) moves ``days`` into the past.

    A report 30 days old or more is gone: no action lists, describes or deletes it any more.
    """
    with LOCK:
        report = _find_report(report_id, region, account_id)
        report.creation_time -= timedelta(days=days)


def add_usage_report(image_id: str, region: str, created: datetime, account_id: str | None = None) -> str:
    """A report someone asked for at ``created`` and EC2 finished: ``available``, with the consumer usage set now.

    For seeding an account that the product has been running in (its reports already exist).
    """
    request = _Request(image_id, (("ec2:Instance", ()), ("ec2:LaunchTemplate", ())), (), ())
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            if image_id in backend.amis:
                report = _Report(random_id("amiur"), request, as_utc(created), state="available")
                usage = _consumer_usage(backend).get(image_id, {})
                report.entries = [(a, t, n) for (a, t), n in sorted(usage.items()) if n > 0]
                _reports(backend)[report.report_id] = report
                return report.report_id
    raise ValueError(f"{image_id} is not an AMI in {region}")


def _find_report(report_id: str, region: str, account_id: str | None) -> _Report:
    for backend in existing_ec2_backends(region, account_id):
        report = _reports(backend).get(report_id)
        if report is not None:
            return report
    raise ValueError(f"{report_id} is not an image usage report in {region}")


# --- actions --------------------------------------------------------------------------------------------------


def _create_action(self: AmisResponse) -> ActionResult:
    tags = tags_by_resource_type(self._get_param("TagSpecifications") or [], _TAGGABLE).get("image-usage-report", {})
    request = _Request(
        image_id=self._get_param("ImageId"),
        resource_types=_resource_types(self._get_param("ResourceTypes", [])),
        account_ids=_account_ids(self._get_param("AccountIds", [])),
        tags=tuple(tags.items()),
    )
    client_token = self._get_param("ClientToken")
    self.error_on_dryrun()
    return ActionResult({"ReportId": _create(self.ec2_backend, request, client_token)})


def _resource_types(requested: list[dict[str, Any]]) -> tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...]:
    """At least one type; only ec2:LaunchTemplate takes an option: version-depth, one integer from 1 to 10,000."""
    if not requested:
        raise InvalidParameterValue("ResourceTypes must name at least one resource type.")
    result = []
    for request in requested:
        resource_type = request.get("ResourceType", "")
        if resource_type not in _RESOURCE_TYPES:
            raise InvalidParameterValue(f"The resource type '{resource_type}' is not supported.")
        options = []
        for option in request.get("ResourceTypeOptions", []):
            name, values = option.get("OptionName", ""), tuple(str(v) for v in option.get("OptionValues", []))
            low, high = _VERSION_DEPTH_RANGE
            if resource_type != "ec2:LaunchTemplate" or name != "version-depth":
                raise InvalidParameterValue(f"The option '{name}' is not valid for resource type '{resource_type}'.")
            if len(values) != 1 or not values[0].isdigit() or not low <= int(values[0]) <= high:
                raise InvalidParameterValue(f"version-depth takes one integer between {low} and {high}.")
            options.append((name, values))
        result.append((resource_type, tuple(options)))
    return tuple(result)


def _account_ids(account_ids: list[str]) -> tuple[str, ...]:
    if len(account_ids) > _MAX_ACCOUNT_IDS:
        raise InvalidParameterValue(f"AccountIds takes at most {_MAX_ACCOUNT_IDS} account IDs.")
    invalid = [a for a in account_ids if not _ACCOUNT_ID.fullmatch(a)]
    if invalid:
        raise InvalidParameterValue(f"Invalid account ID '{invalid[0]}': an account ID is 12 digits.")
    return tuple(dict.fromkeys(account_ids))


def _create(backend: Any, request: _Request, client_token: str | None) -> str:
    """The AMI must exist and be the caller's; a ClientToken seen before returns its report (same parameters)."""
    with LOCK:
        image = find_image(backend, request.image_id)
        if image.owner_id != backend.account_id:
            raise _NotImageOwner(request.image_id)
        tokens: dict[str, tuple[_Request, str]] = backend.__dict__.setdefault("fidelity_usage_report_tokens", {})
        if client_token and client_token in tokens:
            first_request, report_id = tokens[client_token]
            if first_request != request:
                raise IdempotentParameterMismatch(client_token)
            return report_id
        reports = _reports(backend)
        pending = [r for r in reports.values() if r.state == "pending"]
        if sum(r.request.image_id == request.image_id for r in pending) >= _PENDING_PER_IMAGE:
            raise _ReportLimitExceeded(f"The image {request.image_id} already has a pending usage report.")
        if len(pending) >= _PENDING_PER_REGION:
            raise _ReportLimitExceeded(f"There are already {_PENDING_PER_REGION} pending image usage reports.")
        now = as_utc(utcnow())
        report = _Report(random_id("amiur"), request, now.replace(microsecond=now.microsecond // 1000 * 1000))
        reports[report.report_id] = report
        if client_token:
            tokens[client_token] = (request, report.report_id)
        return report.report_id


def _describe_reports_action(self: AmisResponse) -> ActionResult:
    """ImageIds and ReportIds (at most 200 each) and Filters narrow the reports; unknown ids match nothing."""
    image_ids, report_ids = _ids(self._get_param("ImageIds", []), self._get_param("ReportIds", []))
    filters: dict[str, Any] = self._filters_from_querystring()  # moto annotates str values; they are lists
    max_results, next_token = self._get_param("MaxResults"), self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        return [
            r.report_id
            for r in _selected_reports(backend, image_ids, report_ids)
            if all(_report_matches(r, name, values) for name, values in filters.items())
        ]

    keys, token = page(backend, "DescribeImageUsageReports", next_token, max_results, select)
    reports = _reports(backend)
    views = [reports[k].view() for k in keys if k in reports]
    return ActionResult({"ImageUsageReports": views, "NextToken": token})


def _describe_entries_action(self: AmisResponse) -> ActionResult:
    """The entries of the available reports selected, one per account and resource type, filtered and paged."""
    image_ids, report_ids = _ids(self._get_param("ImageIds", []), self._get_param("ReportIds", []))
    filters: dict[str, Any] = self._filters_from_querystring()  # moto annotates str values; they are lists
    max_results, next_token = self._get_param("MaxResults"), self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[tuple[str, int]]:
        return [
            (r.report_id, i)
            for r in _selected_reports(backend, image_ids, report_ids)
            for i, entry in enumerate(r.entries)
            if all(_entry_matches(r, entry, name, values) for name, values in filters.items())
        ]

    keys, token = page(backend, "DescribeImageUsageReportEntries", next_token, max_results, select)
    reports, views = _reports(backend), []
    for report_id, index in keys:
        report = reports.get(report_id)
        if report is not None:
            account, resource_type, count = report.entries[index]
            views.append(
                {
                    "ResourceType": resource_type,
                    "ReportId": report_id,
                    "UsageCount": count,
                    "AccountId": account,
                    "ImageId": report.request.image_id,
                    "ReportCreationTime": report.creation_time,
                }
            )
    return ActionResult({"ImageUsageReportEntries": views, "NextToken": token})


def _delete_action(self: AmisResponse) -> ActionResult:
    report_id = self._get_param("ReportId")
    self.error_on_dryrun()
    with LOCK:
        if _reports(self.ec2_backend).pop(report_id, None) is None:
            raise _ReportNotFound(report_id)
    return ActionResult({"Return": True})


def _ids(image_ids: list[str], report_ids: list[str]) -> tuple[set[str], set[str]]:
    if len(image_ids) > _MAX_IDS or len(report_ids) > _MAX_IDS:
        raise InvalidParameterValue(f"ImageIds and ReportIds each take at most {_MAX_IDS} IDs.")
    return set(image_ids), set(report_ids)


def _selected_reports(backend: Any, image_ids: set[str], report_ids: set[str]) -> list[_Report]:
    return [
        r
        for r in _reports(backend).values()
        if (not image_ids or r.request.image_id in image_ids) and (not report_ids or r.report_id in report_ids)
    ]


def _report_matches(report: _Report, name: str, values: list[str]) -> bool:
    """DescribeImageUsageReports filters: state, creation-time, tag:<key>, tag-key (wildcards * and ?)."""
    if name == "state":
        candidates = [report.state]
    elif name == "creation-time":
        candidates = [_iso_millis(report.creation_time)]
    elif name == "tag-key":
        candidates = [k for k, _ in report.request.tags]
    elif name.startswith("tag:"):
        candidates = [v for k, v in report.request.tags if k == name[len("tag:") :]]
    else:
        raise FilterNotImplementedError(name, "DescribeImageUsageReports")
    return _any_matches(values, candidates)


def _entry_matches(report: _Report, entry: tuple[str, str, int], name: str, values: list[str]) -> bool:
    """DescribeImageUsageReportEntries filters: account-id, resource-type, creation-time (of the report)."""
    readers = {"account-id": entry[0], "resource-type": entry[1], "creation-time": _iso_millis(report.creation_time)}
    if name not in readers:
        raise FilterNotImplementedError(name, "DescribeImageUsageReportEntries")
    return _any_matches(values, [readers[name]])


def _any_matches(patterns: list[str], candidates: list[str]) -> bool:
    return any(re.match(simple_aws_filter_to_re(p), c) for p in patterns for c in candidates)


def _iso_millis(when: datetime) -> str:
    """The filters' time format: YYYY-MM-DDThh:mm:ss.sssZ."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _reports(backend: Any) -> dict[str, _Report]:
    """The region's reports, in creation order; a report past its expiration time is deleted first, as EC2 does."""
    reports: dict[str, _Report] = backend.__dict__.setdefault("fidelity_usage_reports", {})
    now = as_utc(utcnow())
    for report_id in [i for i, r in reports.items() if r.expiration_time <= now]:
        del reports[report_id]
    return reports


def _consumer_usage(backend: Any) -> dict[str, dict[tuple[str, str], int]]:
    """Per AMI of this backend: (consumer account, resource type) -> usage count, as set_consumer_usage() left it."""
    usage: dict[str, dict[tuple[str, str], int]] = backend.__dict__.setdefault("fidelity_consumer_usage", {})
    return usage
