"""Use in other accounts: an AMI shared with accounts, organizations, OUs or the public is removed only when a
recent AMI usage report, made long enough after its deprecation, shows that no account uses it. Pure."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from ..act.usage import CreateImageUsageReport
from ..model.image import Image, parse_time
from ..model.inventory import RegionInventory
from ..model.plan import Protection, RegionPlan
from ..model.usage import AVAILABLE, ERROR, PENDING, UsageReport
from ..policy import Match, Policy, UsageReports


def shared(image: Image, match: Match, policy: Policy, inventory: RegionInventory) -> bool | None:
    """Whether other accounts may launch the image; None when that is not known this run."""
    if image.public or policy.sharing_for(match.rule).launch_permissions:
        return True
    if image.image_id in inventory.launch_permissions:
        return bool(inventory.launch_permissions[image.image_id])
    return None


def usage_protections(
    image: Image, inventory: RegionInventory, settings: UsageReports, now: datetime
) -> tuple[Protection, ...]:
    """What keeps a shared image that is due for removal: use in other accounts, or not knowing it yet."""
    if image.image_id not in inventory.usage_checked:
        return (Protection("usage-report", "usage in other accounts not read this run"),)
    reports = inventory.usage_reports.get(image.image_id, [])
    usable = [r for r in reports if _usable(r, image, settings, now)]
    if usable:
        newest = usable[0]
        used = newest.summary()
        if not used:
            return ()
        source = f"usage report {newest.report_id} of {newest.created:%Y-%m-%d}"
        return (Protection("other-accounts", f"{used} ({source})"),)
    return (Protection("usage-report", _why_unknown(reports, image, settings, now)),)


def used_elsewhere(
    image: Image, inventory: RegionInventory, settings: UsageReports, now: datetime
) -> tuple[Protection, ...]:
    """Use in other accounts that a usable report shows; nothing when there is none (or no report says so)."""
    return tuple(p for p in usage_protections(image, inventory, settings, now) if p.kind == "other-accounts")


def wants_report(image: Image, inventory: RegionInventory, settings: UsageReports, now: datetime) -> bool:
    """A retiring shared image needs a report: at once when it has none (its consumers are named early), and a
    fresh one once the lag after deprecation has passed and no report is usable, unless one is pending."""
    if image.image_id not in inventory.usage_checked:
        return False
    reports = inventory.usage_reports.get(image.image_id, [])
    if not reports:
        return True
    if any(r.state == PENDING for r in reports) or any(_usable(r, image, settings, now) for r in reports):
        return False
    deprecated = parse_time(image.deprecation_time)
    return deprecated is not None and deprecated + timedelta(days=settings.lag_days) <= now


def plan_usage_reports(
    plan: RegionPlan, wanted: list[Image], inventory: RegionInventory, settings: UsageReports
) -> None:
    """Reports for the images that want one, the longest-deprecated first, up to the cap; the rest wait."""
    wanted = sorted(wanted, key=lambda i: (i.deprecation_time or "~", i.image_id))
    for image in wanted[: settings.max_new_per_region]:
        generation = len(inventory.usage_reports.get(image.image_id, []))
        token = _token(image, generation)
        plan.actions.append(CreateImageUsageReport(image.region, image.image_id, token, settings.image_builder_recipes))
    plan.usage_reports_backlog = max(0, len(wanted) - settings.max_new_per_region)


def _usable(report: UsageReport, image: Image, settings: UsageReports, now: datetime) -> bool:
    deprecated = parse_time(image.deprecation_time)
    return (
        report.state == AVAILABLE
        and report.expires > now
        and report.created >= now - timedelta(days=settings.max_age_days)
        and deprecated is not None
        and report.created >= deprecated + timedelta(days=settings.lag_days)
    )


def _why_unknown(reports: list[UsageReport], image: Image, settings: UsageReports, now: datetime) -> str:
    if not reports:
        return "shared, and no AMI usage report yet"
    newest = reports[0]
    if newest.state == PENDING:
        return f"usage report {newest.report_id} pending since {newest.created:%Y-%m-%d %H:%M}"
    if newest.state == ERROR:
        return f"usage report {newest.report_id} failed: {newest.state_reason or 'no reason given'}"
    made = f"usage report {newest.report_id} of {newest.created:%Y-%m-%d}"
    if newest.expires <= now or newest.created < now - timedelta(days=settings.max_age_days):
        return f"{made} is older than {settings.max_age_days} days"
    return f"{made} was made less than {settings.lag_days} days after deprecation"


def _token(image: Image, generation: int) -> str:
    """The same request on a repeated tick (a report EC2 has not listed yet) returns the same report."""
    seed = f"{image.region}/{image.image_id}/{image.deprecation_time or ''}/{generation}"
    return "ami-lifecycle-" + hashlib.sha256(seed.encode()).hexdigest()[:48]
