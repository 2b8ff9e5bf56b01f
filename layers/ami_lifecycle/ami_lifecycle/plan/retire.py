"""Retention rules: which versions are kept, when the others are deprecated, disabled and deregistered, and
what keeps an image in use. Pure: the clock is an argument."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ..act.parameters import CancelDeprecation
from ..act.retire import (
    CrowdedResource,
    DeleteSnapshot,
    DeprecateImage,
    DeregisterImage,
    DisableImage,
    MarkRetired,
    retirement_marks,
)
from ..act.usage import ReportUseInOtherAccounts
from ..model.image import (
    FAMILY_TAG,
    MAX_USER_TAGS,
    PROTECTED_TAG,
    RECYCLE_TAG,
    RETIRED_TAG,
    SOURCE_IMAGE_TAG,
    SOURCE_REGION_TAG,
    USE_REPORTED_TAG,
    VERSION_TAG,
    Image,
    parse_time,
)
from ..model.inventory import Fleet, RegionInventory
from ..model.plan import (
    BLOCKED,
    DEFERRED,
    DEPRECATE,
    DEREGISTER,
    DISABLE,
    KEEP,
    RETIREABLE_STATES,
    RETIRING,
    Protection,
    RegionPlan,
)
from ..policy import Policy, Retention
from .families import Member, Version, image_decision, is_source
from .tag_fit import MarkFit, fit_marks
from .usage import shared, usage_protections, used_elsewhere, wants_report

# The product's own tags an image or snapshot gives up, in this order, for the marks set just before it is
# deregistered. An image gives up its family tag only for the recycle mark, which then stands for it (the
# stack's IAM policy lets the sweep deregister an image carrying either), and only where a Recycle Bin keeps it.
IMAGE_EXPENDABLE = (PROTECTED_TAG, USE_REPORTED_TAG, VERSION_TAG)
COPY_EXPENDABLE = (PROTECTED_TAG, USE_REPORTED_TAG)
# A snapshot may carry the protected mark (the sweep writes it with the image's tags): it means nothing there.
SNAPSHOT_EXPENDABLE = (PROTECTED_TAG, VERSION_TAG, FAMILY_TAG, SOURCE_REGION_TAG, SOURCE_IMAGE_TAG)


def deprecate_at(target: datetime, now: datetime) -> datetime:
    """A DeprecateAt EC2 accepts and keeps as given: on a whole minute, and in the future."""
    earliest = _next_minute(now) + timedelta(minutes=1)
    return max(_next_minute(target), earliest)


def plan_family(
    fleet: Fleet,
    policy: Policy,
    versions: list[Version],
    plans: dict[str, RegionPlan],
    now: datetime,
    checks: bool = True,
) -> None:
    """`checks=False` leaves out what only the candidates' own reads can tell (EC2's references, sharing, use in
    other accounts): the plan that names those candidates."""
    retention = policy.retention_for(versions[0].match.rule)
    ranked = sorted((v for v in versions if v.ranked), key=lambda v: (v.created, v.version), reverse=True)
    for rank, version in enumerate(ranked):
        pinned = _pinned(version, policy)
        kept = version.kept = pinned or _kept_because(version, rank, retention, now)
        target = None if kept else _deprecation_due(version, ranked, rank, retention)
        # A source deprecated by hand deprecates its copies too, whether or not the version is kept (unless
        # pinned: a pin cancels every deprecation of its version).
        by_hand = [t for m in version.members if is_source(m) and (t := parse_time(m.image.deprecation_time))]
        by_hand = [] if pinned else by_hand
        if by_hand:
            target = min([*by_hand, *([target] if target else [])])
        source_protections = _source_protections(version, fleet, policy, now)
        for member in version.members:
            _plan_image(member, version, kept, target, source_protections, fleet, policy, plans, now, checks)
    for version in versions:
        if not version.ranked:
            for member in version.members:
                plans[member.image.region].decisions.append(
                    image_decision(member, version, KEEP, f"{member.image.state}: left alone until it is available")
                )


def _pinned(version: Version, policy: Policy) -> str | None:
    pin = policy.pins.get(version.family)
    return f"pinned by the policy (pins: {version.family}: {pin})" if pin == version.version else None


def _kept_because(version: Version, rank: int, retention: Retention, now: datetime) -> str | None:
    if rank < retention.keep_latest:
        return f"newest {retention.keep_latest} of its family (#{rank + 1})"
    created = parse_time(version.created)
    if retention.keep_days and created and created > now - timedelta(days=retention.keep_days):
        return f"younger than {retention.keep_days} days (created {created:%Y-%m-%d})"
    return None


def _deprecation_due(version: Version, ranked: list[Version], rank: int, retention: Retention) -> datetime:
    """When a version beyond retention is deprecated: deprecate_after_days after the version that pushed it
    out of the newest N arrived, and not before it is keep_days old."""
    superseded = parse_time(ranked[rank - retention.keep_latest].created) or datetime.min.replace(tzinfo=UTC)
    created = parse_time(version.created) or superseded
    return max(
        superseded + timedelta(days=retention.deprecate_after_days), created + timedelta(days=retention.keep_days)
    )


def _source_protections(
    version: Version, fleet: Fleet, policy: Policy, now: datetime
) -> dict[str, tuple[Protection, ...]]:
    """Protections of each home source of this version; its copies inherit them (a DR copy of an AMI in
    production is what recovers that production)."""
    return {
        m.image.image_id: _image_protections(m.image, fleet, policy.retention_for(version.match.rule), now)
        + used_elsewhere(m.image, fleet.regions[m.image.region], policy.sweep.usage_reports, now)
        for m in version.members
        if is_source(m)
    }


def _image_protections(image: Image, fleet: Fleet, retention: Retention, now: datetime) -> tuple[Protection, ...]:
    inventory = fleet.regions[image.region]
    protections = [Protection(r.kind, f"used by {r}") for r in inventory.references.get(image.image_id, [])]
    window = now - timedelta(days=retention.launched_within_days)
    recorded = (fleet.launches or {}).get(image.image_id)
    if recorded is not None and recorded >= window:
        protections.append(Protection("recent-launch", f"launched {recorded:%Y-%m-%d %H:%M} (launch record)"))
    last_launched = parse_time(image.last_launched_time)
    if last_launched is not None and last_launched >= window:
        protections.append(Protection("last-launched", f"lastLaunchedTime {last_launched:%Y-%m-%d %H:%M}"))
    if retention.keep_tag in image.tags:
        protections.append(Protection("keep-tag", f"tagged {retention.keep_tag}"))
    if image.protected_from_deregistration:
        protections.append(
            Protection("deregistration-protection", f"deregistration protection {image.deregistration_protection}")
        )
    return tuple(protections)


def _plan_image(
    member: Member,
    version: Version,
    kept: str | None,
    target: datetime | None,
    source_protections: dict[str, tuple[Protection, ...]],
    fleet: Fleet,
    policy: Policy,
    plans: dict[str, RegionPlan],
    now: datetime,
    checks: bool,
) -> None:
    image, plan, inventory = member.image, plans[member.image.region], fleet.regions[member.image.region]
    retention = policy.retention_for(member.match.rule)
    if image.state not in RETIREABLE_STATES:
        plan.decisions.append(image_decision(member, version, KEEP, f"{image.state}: left alone until it is available"))
        return
    # An adopted image beyond retention gets its lineage tags in this run, before anything retires it
    # (AddLineageTags, which the retirement writes require): it retires in the same run as a product-built one.
    tagged = image.tagged_by_product or (member.adopted and not kept and not image.full_of_user_tags)
    deprecate = None
    # The stack's IAM policy lets the sweep deprecate and disable only images that carry the family tag.
    if target is not None and image.state == "available" and tagged:
        when = deprecate_at(target, now)
        current = parse_time(image.deprecation_time)
        if current is None or current > when:
            deprecate = DeprecateImage(image.region, image.image_id, when)
            plan.actions.append(deprecate)

    if kept and _pinned(version, policy):
        note = ""
        if image.deprecation_time is not None and image.state == "available":
            plan.actions.append(CancelDeprecation(image.region, image.image_id, version.version))
            note = "; its deprecation is cancelled"
        pin = (Protection("pinned", kept),)
        plan.decisions.append(image_decision(member, version, KEEP, kept + note, pin))
        return
    if kept:
        note = f"; deprecated like its source from {deprecate.deprecate_at:%Y-%m-%d %H:%M}" if deprecate else ""
        plan.decisions.append(image_decision(member, version, DEPRECATE if deprecate else KEEP, kept + note))
        return

    protections = _image_protections(image, fleet, retention, now)
    source_id = member.lineage[0] if member.lineage else None
    if source_id and source_protections.get(source_id):
        kinds = ", ".join(sorted({p.kind for p in source_protections[source_id]}))
        protections += (Protection("source-in-use", f"kept with its source {source_id} ({kinds})"),)

    deprecated = image.deprecated_at(now)
    if not tagged and image.full_of_user_tags:
        status, reason = KEEP, (
            f"beyond retention, but its {MAX_USER_TAGS} user tags leave no room for {FAMILY_TAG}, which retiring "
            "it needs: remove one of its tags to let it retire"
        )
    elif not tagged:
        status, reason = KEEP, "beyond retention; retires once the product's lineage tags are on it"
    elif deprecate is not None:
        status, reason = DEPRECATE, f"beyond retention: deprecated from {deprecate.deprecate_at:%Y-%m-%d %H:%M}"
    elif deprecated is None and image.state == "disabled":
        status, reason = KEEP, "beyond retention, but disabled without a deprecation date: deprecate it to retire it"
    elif deprecated is None:
        status, reason = RETIRING, f"beyond retention: deprecated from {target:%Y-%m-%d %H:%M}"
    else:
        status, reason = _retirement_stage(image, deprecated, retention, now)
        if status == DISABLE and FAMILY_TAG not in image.tags:  # it carries the recycle mark in its place
            status, reason = RETIRING, f"{reason}; not disabled: it no longer carries {FAMILY_TAG}"
    sharing = shared(image, member.match, policy, inventory)
    if sharing and status != KEEP:
        plan.shared_retiring.add(image.image_id)
        if wants_report(image, inventory, policy.sweep.usage_reports, now):
            plan.reports_wanted.append(image)
    if checks and status in (DISABLE, DEREGISTER) and not plan.blocked and not protections:
        # Only what would be removed is read further (a blocked region's candidates are not read at all).
        protections += _candidate_checks(image, inventory, sharing, policy, now)
    if status in (DISABLE, DEREGISTER) and any(p.kind == "other-accounts" for p in protections):
        _report_use(image, inventory, protections, plan)
    if status in (DISABLE, DEREGISTER) and protections:
        status, reason = KEEP, f"{reason}, but " + "; ".join(str(p) for p in protections)
    elif protections:  # say it now: a dry run should show what will keep the image, long before it is due
        reason += "; will be kept while " + "; ".join(str(p) for p in protections)
    if status in (DISABLE, DEREGISTER) and plan.blocked:
        status, reason = BLOCKED, f"{reason}, but nothing is removed here this run: {plan.blocked}"
    if status == DISABLE:
        plan.actions.append(DisableImage(image.region, image.image_id))
    decision = image_decision(member, version, status, reason, protections)
    schedule = _retirement_schedule(image, deprecate, target, retention, now)
    plan.decisions.append(replace(decision, deprecated_from=schedule[0], removable_from=schedule[1]))


def _retirement_schedule(
    image: Image, deprecate: DeprecateImage | None, target: datetime | None, retention: Retention, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """When an image beyond retention is deprecated (already, by this run, or once it carries the lineage tags)
    and from when it may be deregistered; (None, None) for a disabled image without a deprecation time."""
    if deprecate is not None:
        deprecated: datetime | None = deprecate.deprecate_at
    elif image.deprecation_time is not None:
        deprecated = parse_time(image.deprecation_time)
    elif image.state == "available" and target is not None:
        deprecated = deprecate_at(target, now)
    else:
        deprecated = None
    if deprecated is None:
        return None, None
    return deprecated, deprecated + timedelta(days=retention.deregister_after_days)


def _candidate_checks(
    image: Image, inventory: RegionInventory, sharing: bool | None, policy: Policy, now: datetime
) -> tuple[Protection, ...]:
    """What is read only for images due for removal; an image any of it is missing for is never removed."""
    found: tuple[Protection, ...] = ()
    if image.image_id not in inventory.references_checked:
        found += (Protection("references-unchecked", "not checked with DescribeImageReferences"),)
    if sharing is None:
        found += (Protection("sharing-unchecked", "launch permissions not read this run"),)
    elif sharing:
        found += usage_protections(image, inventory, policy.sweep.usage_reports, now)
    return found


def _report_use(
    image: Image, inventory: RegionInventory, protections: tuple[Protection, ...], plan: RegionPlan
) -> None:
    report = inventory.usage_reports[image.image_id][0]
    plan.used_elsewhere.append(image.image_id)
    if image.tags.get(USE_REPORTED_TAG) != report.report_id:
        usage = next(p.detail for p in protections if p.kind == "other-accounts")
        fit = fit_marks(image.tags, {USE_REPORTED_TAG: report.report_id}, (PROTECTED_TAG, VERSION_TAG))
        if not fit.marks:
            plan.notes.append(
                f"{image.image_id}: no room for {USE_REPORTED_TAG} within EC2's {MAX_USER_TAGS} tags; "
                "its use in other accounts is reported again each run"
            )
        action = ReportUseInOtherAccounts(
            image.region, image.image_id, report.report_id, usage, fit.give_up, bool(fit.marks)
        )
        plan.actions.append(action)


def _retirement_stage(image: Image, deprecated: datetime, retention: Retention, now: datetime) -> tuple[str, str]:
    since = f"deprecated since {deprecated:%Y-%m-%d}"
    deregister_from = deprecated + timedelta(days=retention.deregister_after_days)
    if deregister_from <= now:
        return DEREGISTER, f"{since}, {retention.deregister_after_days}-day grace period over"
    disable = retention.disable_after_days
    if disable is not None and image.state == "available" and deprecated + timedelta(days=disable) <= now:
        return DISABLE, f"{since}, disabled after {retention.disable_after_days} days"
    return RETIRING, f"{since}; deregistered from {deregister_from:%Y-%m-%d}"


def plan_deregistrations(
    inventory: RegionInventory, plan: RegionPlan, policy: Policy, now: datetime, recycle_bin_days: int = 0
) -> None:
    """The oldest due images up to the cap; they and the snapshots no remaining image maps are marked first, in
    one call. With the stack's Recycle Bin rules they can be restored for `recycle_bin_days`; an image that
    cannot carry the recycle mark (or whose snapshots cannot) then stays, with the reason."""
    restorable = now + timedelta(days=recycle_bin_days) if recycle_bin_days else None
    marked_at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    marks = retirement_marks(marked_at)
    due = sorted(
        (i for i, d in enumerate(plan.decisions) if d.status == DEREGISTER),
        key=lambda i: (plan.decisions[i].created, plan.decisions[i].image_id),
    )
    cap = policy.sweep.max_deregistrations_per_region
    mapped_by: dict[str, set[str]] = defaultdict(set)
    for image in inventory.images.values():
        for snapshot_id in image.snapshot_ids:
            mapped_by[snapshot_id].add(image.image_id)
    fits = {}
    for position in due[:cap]:
        image = inventory.images[plan.decisions[position].image_id]
        # A copy keeps its lineage: without it, a copy whose source is gone would no longer be known as one.
        expendable = COPY_EXPENDABLE if image.copied_from else IMAGE_EXPENDABLE + ((FAMILY_TAG,) if restorable else ())
        fits[image.image_id] = fit_marks(image.tags, marks, expendable)
        for snapshot_id in image.snapshot_ids:
            fits[snapshot_id] = fit_marks(_snapshot_tags(inventory, snapshot_id), marks, SNAPSHOT_EXPENDABLE)
    if restorable:
        due = [p for p in due if not _kept_unmarkable(plan, p, inventory, fits)]
    leaving = {plan.decisions[position].image_id for position in due[:cap]}
    to_mark: dict[str, None] = {}
    marked_images: list[str] = []
    for rank, position in enumerate(due):
        decision = plan.decisions[position]
        if rank >= cap:
            plan.decisions[position] = replace(
                decision,
                status=DEFERRED,
                reason=f"{decision.reason}; deferred: the cap of {cap} deregistrations per run is reached",
            )
            continue
        image = inventory.images[decision.image_id]
        # A snapshot shared only among images deregistered in this run goes with the last of them.
        own = tuple(s for s in image.snapshot_ids if mapped_by[s] <= leaving)
        to_mark |= dict.fromkeys(own)
        marked_images.append(image.image_id)
        if restorable:
            until = f"; restorable from the Recycle Bin until {restorable:%Y-%m-%d %H:%M}"
            plan.decisions[position] = replace(decision, reason=decision.reason + until)
        sizes = {s: image.volume_sizes.get(s, 0) for s in own}
        plan.actions.append(DeregisterImage(image.region, image.image_id, own, sizes, restorable))
    if marked_images:
        crowded = tuple(
            CrowdedResource(r, tuple(fits[r].marks.items()), fits[r].give_up)
            for r in (*marked_images, *to_mark)
            if fits[r].marks != marks or not fits[r].as_is
        )
        crowded_ids = {c.resource_id for c in crowded}
        for resource in crowded:
            plan.notes.append(f"{resource} before deregistration")
        plan.actions.append(
            MarkRetired(
                inventory.region,
                tuple(s for s in to_mark if s not in crowded_ids),
                marked_at,
                tuple(i for i in marked_images if i not in crowded_ids),
                crowded,
            )
        )


def _snapshot_tags(inventory: RegionInventory, snapshot_id: str) -> dict[str, str]:
    snapshot = inventory.snapshots.get(snapshot_id)
    return snapshot.tags if snapshot else {}


def _kept_unmarkable(plan: RegionPlan, position: int, inventory: RegionInventory, fits: dict[str, MarkFit]) -> bool:
    """An image the Recycle Bin could not keep (no room for the recycle mark on it or a snapshot it maps) stays."""
    decision = plan.decisions[position]
    if decision.image_id not in fits:
        return False  # beyond the cap: deferred, checked when its turn comes
    image = inventory.images[decision.image_id]
    full = [r for r in (image.image_id, *image.snapshot_ids) if RECYCLE_TAG not in fits[r].marks]
    if not full:
        return False
    reason = (
        f"{decision.reason}, but no room for the {RECYCLE_TAG} mark that keeps it restorable on {', '.join(full)} "
        f"(EC2 allows {MAX_USER_TAGS} tags, all of them the user's): remove a tag there to let it retire"
    )
    plan.decisions[position] = replace(decision, status=KEEP, reason=reason)
    return True


def plan_orphaned_snapshots(inventory: RegionInventory, plan: RegionPlan) -> None:
    """Snapshots this product marked before deregistering their AMI, that no AMI uses any more."""
    if plan.blocked:
        return
    mapped = {s for image in inventory.images.values() for s in image.snapshot_ids}
    for snapshot in inventory.snapshots.values():
        if RETIRED_TAG in snapshot.tags and snapshot.snapshot_id not in mapped and snapshot.state == "completed":
            plan.actions.append(DeleteSnapshot(inventory.region, snapshot.snapshot_id, snapshot.size_gib))


# ------------------------------------------------------------------------------------------------------------
def _next_minute(when: datetime) -> datetime:
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + timedelta(minutes=1)
