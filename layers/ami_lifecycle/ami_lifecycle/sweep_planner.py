"""The sweep's decisions: fleet inventory + policy + clock in, a plan with a reason for everything out. No I/O.

A family's versions are ranked by age across every region. Versions beyond retention are deprecated in every
region that holds them, optionally disabled after a grace period, and deregistered when they have been
deprecated long enough, image by image, unless something still uses or protects that image. Deletion fails
closed: a region whose in-use inventory is incomplete deregisters nothing, and neither does any DR region
while the home region is incomplete.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from .actions import Action, CopyImage
from .fleet import RegionInventory
from .images import FAMILY_TAG, PROTECTED_TAG, RETIRED_TAG, VERSION_TAG, Image, parse_time
from .planner import DesiredImage, desired_copy, desired_source, plan_copy, protection_digest
from .policy import Match, Policy, Retention
from .sweep_actions import (
    DeleteSnapshot,
    DeprecateImage,
    DeregisterImage,
    DisableImage,
    FinishImage,
    MarkSnapshotsRetired,
)

# Images in these states take part; pending, failed and error images are left alone.
RETIREABLE_STATES = frozenset({"available", "disabled"})

# Decision statuses, in the order an image moves through them.
KEEP, RETIRING, DEPRECATE, DISABLE, DEREGISTER, DEFERRED, BLOCKED = (
    "keep",
    "retiring",
    "deprecate",
    "disable",
    "deregister",
    "deferred",
    "blocked",
)


@dataclass(frozen=True)
class Fleet:
    """What the sweep read: each region's inventory and the product's launch records."""

    home_region: str
    regions: dict[str, RegionInventory]
    launches: dict[str, datetime] | None  # image id -> last recorded launch; None when unreadable
    launches_error: str | None = None


@dataclass(frozen=True)
class Protection:
    """Why an image must not be disabled or deregistered. `kind` names the reason in metrics."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class ImageDecision:
    region: str
    image_id: str
    name: str
    family: str
    version: str
    created: str
    status: str
    reason: str
    protections: tuple[Protection, ...] = ()


@dataclass
class RegionPlan:
    region: str
    decisions: list[ImageDecision] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    blocked: str | None = None  # why nothing is disabled or deregistered here this run
    unmanaged: int = 0

    def count(self, status: str) -> int:
        return sum(d.status == status for d in self.decisions)


@dataclass
class SweepPlan:
    now: datetime
    regions: dict[str, RegionPlan]

    @property
    def actions(self) -> list[Action]:
        return [a for plan in self.regions.values() for a in plan.actions]

    def summary(self) -> dict[str, Any]:
        counts: dict[str, int] = defaultdict(int)
        for action in self.actions:
            counts[type(action).__name__] += 1
        statuses: dict[str, int] = defaultdict(int)
        for plan in self.regions.values():
            for decision in plan.decisions:
                statuses[decision.status] += 1
        return {
            "images": dict(sorted(statuses.items())),
            "actions": dict(sorted(counts.items())),
            "blocked": {r: p.blocked for r, p in self.regions.items() if p.blocked},
        }


@dataclass
class _Member:
    """An image of a managed version, in its region."""

    image: Image
    match: Match
    source: Image | None  # the home image this is a copy of, if it still exists


@dataclass
class _Version:
    family: str
    version: str
    match: Match
    members: list[_Member] = field(default_factory=list)
    kept: str | None = None  # why the version is within retention; None once it is retiring

    @property
    def created(self) -> str:
        """When the version first existed as a usable image: a failed or pending build does not age it."""
        usable = [m.image.creation_date for m in self.members if m.image.state in RETIREABLE_STATES]
        return min(usable or [m.image.creation_date for m in self.members])

    @property
    def ranked(self) -> bool:
        return any(m.image.state in RETIREABLE_STATES for m in self.members)


def plan_sweep(fleet: Fleet, policy: Policy, now: datetime) -> SweepPlan:
    """Decide, for every managed image in every region, what happens to it in this run, and why."""
    now = now.astimezone(UTC)
    plans = {region: RegionPlan(region) for region in fleet.regions}
    home = fleet.regions.get(fleet.home_region)
    if home is None or not home.readable:
        why = f"home region {fleet.home_region} could not be read: {_unread(home)}"
        for plan in plans.values():
            plan.blocked = why
        return SweepPlan(now, plans)

    _block_incomplete_regions(fleet, plans)
    versions = _group_versions(fleet, policy, plans)
    for by_version in versions.values():
        _plan_family(fleet, policy, list(by_version.values()), plans, now)
    _plan_protection(fleet, policy, versions, plans)
    for region, plan in plans.items():
        inventory = fleet.regions[region]
        if inventory.readable:
            _plan_deregistrations(inventory, plan, policy, now)
            _plan_orphaned_snapshots(inventory, plan)
        plan.actions.sort(key=_execution_order)
        plan.decisions.sort(key=lambda d: (d.family, d.created, d.version, d.image_id))
    return SweepPlan(now, plans)


def deprecate_at(target: datetime, now: datetime) -> datetime:
    """A DeprecateAt EC2 accepts and keeps as given: on a whole minute, and in the future."""
    earliest = _next_minute(now) + timedelta(minutes=1)
    return max(_next_minute(target), earliest)


# ------------------------------------------------------------------------------------------------------------
# Grouping
# ------------------------------------------------------------------------------------------------------------


def _block_incomplete_regions(fleet: Fleet, plans: dict[str, RegionPlan]) -> None:
    home = fleet.regions[fleet.home_region]
    for region, inventory in fleet.regions.items():
        plan = plans[region]
        if not inventory.readable:
            plan.blocked = f"could not be read: {_unread(inventory)}"
        elif inventory.unread:
            plan.blocked = f"in-use inventory incomplete: {_unread(inventory)}"
        elif fleet.launches is None:
            plan.blocked = f"launch records could not be read: {fleet.launches_error}"
        elif region != fleet.home_region and home.unread:
            plan.blocked = f"home region {fleet.home_region} inventory incomplete: {_unread(home)}"


def _group_versions(
    fleet: Fleet, policy: Policy, plans: dict[str, RegionPlan]
) -> dict[tuple[str, str], dict[str, _Version]]:
    """Managed images grouped by (rule, family) and version: home sources and the DR copies made of them."""
    versions: dict[tuple[str, str], dict[str, _Version]] = defaultdict(dict)
    home = fleet.regions[fleet.home_region]
    sources: dict[str, tuple[Image, Match]] = {}
    for image in home.images.values():
        match = None if image.made_by_aws_backup or image.copied_from else _match(policy, image)
        if match is None:
            plans[home.region].unmanaged += 1
            continue
        sources[image.image_id] = (image, match)
        _add(versions, _Member(image, match, None))

    for region, inventory in fleet.regions.items():
        if region == fleet.home_region or not inventory.readable:
            continue
        for image in inventory.images.values():
            member = _copy_member(image, home, policy, sources)
            if member is None:
                plans[region].unmanaged += 1
                continue
            _add(versions, member)
    return versions


def _match(policy: Policy, image: Image) -> Match | None:
    return policy.match(image.name, image.tags, image.creation_date)


def _copy_member(
    image: Image, home: RegionInventory, policy: Policy, sources: dict[str, tuple[Image, Match]]
) -> _Member | None:
    """A DR image is managed only as a copy of a managed home source, or, once that source is gone, as a
    copy that carries this product's lineage and is still selected by a rule. The copy of a source that
    still exists but is no longer managed is left alone, like its source."""
    lineage = image.copied_from
    if lineage is None or lineage[1] != home.region or image.made_by_aws_backup:
        return None
    if lineage[0] in sources:
        source, match = sources[lineage[0]]
        return _Member(image, match, source)
    if lineage[0] in home.images:
        return None
    match = _match(policy, image)
    if match is None or FAMILY_TAG not in image.tags or VERSION_TAG not in image.tags:
        return None
    # Its lineage tags say which version it is; its own name and creation date would say something else.
    return _Member(image, Match(match.rule, image.tags[FAMILY_TAG], image.tags[VERSION_TAG]), None)


def _add(versions: dict[tuple[str, str], dict[str, _Version]], member: _Member) -> None:
    match = member.match
    by_version = versions[match.rule.name, match.family]
    if match.version not in by_version:
        by_version[match.version] = _Version(match.family, match.version, match)
    by_version[match.version].members.append(member)


# ------------------------------------------------------------------------------------------------------------
# Finishing what events missed
# ------------------------------------------------------------------------------------------------------------


def _plan_protection(
    fleet: Fleet, policy: Policy, versions: dict[tuple[str, str], dict[str, _Version]], plans: dict[str, RegionPlan]
) -> None:
    """Protection that an event did not finish, and the missing DR copies of versions within retention."""
    copies_by_source: dict[tuple[str, str], list[Image]] = defaultdict(list)
    for region, inventory in fleet.regions.items():
        for image in inventory.images.values():
            if image.copied_from:
                copies_by_source[image.copied_from[0], region].append(image)

    for by_version in versions.values():
        for version in by_version.values():
            for member in version.members:
                image = member.image
                if image.state != "available":
                    continue
                retiring = parse_time(image.deprecation_time) is not None
                desired = _desired(member, policy)
                # A retiring image is only finished if it never was: it needs the lineage tags to retire.
                if image.tags.get(PROTECTED_TAG) != protection_digest(desired) and (
                    not retiring or FAMILY_TAG not in image.tags
                ):
                    plans[image.region].actions.append(FinishImage(image.region, image, desired))
                if not version.kept or retiring or not _is_source(member):
                    continue
                for dr in policy.dr_regions_for(member.match.rule):
                    if dr.region not in fleet.regions or not fleet.regions[dr.region].readable:
                        continue
                    copies = copies_by_source.get((image.image_id, dr.region), [])
                    decision = plan_copy(image, member.match, dr, copies, policy)
                    if decision.action is not None:
                        plans[dr.region].actions.append(decision.action)


def _desired(member: _Member, policy: Policy) -> DesiredImage:
    if _is_source(member):
        return desired_source(member.image, member.match, policy)
    return desired_copy(member.source or _lost_source(member), member.match, policy)


def _lost_source(member: _Member) -> Image:
    """A copy whose source is gone keeps the lineage it has; an Image that stands in for the source."""
    source_id, source_region = member.image.copied_from or ("", "")
    return Image(
        source_id,
        source_region,
        member.image.owner_id,
        member.image.name,
        "deregistered",
        "",
        {k: v for k, v in member.image.tags.items() if k != PROTECTED_TAG},
    )


# ------------------------------------------------------------------------------------------------------------
# Retention
# ------------------------------------------------------------------------------------------------------------


def _plan_family(
    fleet: Fleet, policy: Policy, versions: list[_Version], plans: dict[str, RegionPlan], now: datetime
) -> None:
    retention = policy.retention_for(versions[0].match.rule)
    ranked = sorted((v for v in versions if v.ranked), key=lambda v: (v.created, v.version), reverse=True)
    for rank, version in enumerate(ranked):
        kept = version.kept = _kept_because(version, rank, retention, now)
        target = None if kept else _deprecation_due(version, ranked, rank, retention)
        # A source deprecated by hand deprecates its copies too, whether or not the version is kept.
        by_hand = [t for m in version.members if _is_source(m) and (t := parse_time(m.image.deprecation_time))]
        if by_hand:
            target = min([*by_hand, *([target] if target else [])])
        source_protections = _source_protections(version, fleet, retention, now)
        for member in version.members:
            _plan_image(member, version, kept, target, source_protections, fleet, retention, plans, now)
    for version in versions:
        if not version.ranked:
            for member in version.members:
                plans[member.image.region].decisions.append(
                    _decision(member, version, KEEP, f"{member.image.state}: left alone until it is available")
                )


def _kept_because(version: _Version, rank: int, retention: Retention, now: datetime) -> str | None:
    if rank < retention.keep_latest:
        return f"newest {retention.keep_latest} of its family (#{rank + 1})"
    created = parse_time(version.created)
    if retention.keep_days and created and created > now - timedelta(days=retention.keep_days):
        return f"younger than {retention.keep_days} days (created {created:%Y-%m-%d})"
    return None


def _deprecation_due(version: _Version, ranked: list[_Version], rank: int, retention: Retention) -> datetime:
    """When a version beyond retention is deprecated: deprecate_after_days after the version that pushed it
    out of the newest N arrived, and not before it is keep_days old."""
    superseded = parse_time(ranked[rank - retention.keep_latest].created) or datetime.min.replace(tzinfo=UTC)
    created = parse_time(version.created) or superseded
    return max(
        superseded + timedelta(days=retention.deprecate_after_days), created + timedelta(days=retention.keep_days)
    )


def _source_protections(
    version: _Version, fleet: Fleet, retention: Retention, now: datetime
) -> dict[str, tuple[Protection, ...]]:
    """Protections of each home source of this version; its copies inherit them (a DR copy of an AMI in
    production is what recovers that production)."""
    return {
        m.image.image_id: _image_protections(m.image, fleet, retention, now) for m in version.members if _is_source(m)
    }


def _is_source(member: _Member) -> bool:
    return member.source is None and not member.image.copied_from


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
    member: _Member,
    version: _Version,
    kept: str | None,
    target: datetime | None,
    source_protections: dict[str, tuple[Protection, ...]],
    fleet: Fleet,
    retention: Retention,
    plans: dict[str, RegionPlan],
    now: datetime,
) -> None:
    image, plan = member.image, plans[member.image.region]
    if image.state not in RETIREABLE_STATES:
        plan.decisions.append(_decision(member, version, KEEP, f"{image.state}: left alone until it is available"))
        return
    deprecate = None
    if target is not None and image.state == "available" and FAMILY_TAG in image.tags:
        when = deprecate_at(target, now)
        current = parse_time(image.deprecation_time)
        if current is None or current > when:
            deprecate = DeprecateImage(image.region, image.image_id, when)
            plan.actions.append(deprecate)

    if kept:
        note = f"; deprecated like its source from {deprecate.deprecate_at:%Y-%m-%d %H:%M}" if deprecate else ""
        plan.decisions.append(_decision(member, version, DEPRECATE if deprecate else KEEP, kept + note))
        return

    protections = _image_protections(image, fleet, retention, now)
    source_id = image.copied_from[0] if image.copied_from else None
    if source_id and source_protections.get(source_id):
        kinds = ", ".join(sorted({p.kind for p in source_protections[source_id]}))
        protections += (Protection("source-in-use", f"kept with its source {source_id} ({kinds})"),)

    deprecated = image.deprecated_at(now)
    if FAMILY_TAG not in image.tags:
        status, reason = KEEP, "beyond retention; retires once the product's lineage tags are on it"
    elif deprecate is not None:
        status, reason = DEPRECATE, f"beyond retention: deprecated from {deprecate.deprecate_at:%Y-%m-%d %H:%M}"
    elif deprecated is None and image.state == "disabled":
        status, reason = KEEP, "beyond retention, but disabled without a deprecation date: deprecate it to retire it"
    elif deprecated is None:
        status, reason = RETIRING, f"beyond retention: deprecated from {target:%Y-%m-%d %H:%M}"
    else:
        status, reason = _retirement_stage(image, deprecated, retention, now)
    if status in (DISABLE, DEREGISTER) and protections:
        status, reason = KEEP, f"{reason}, but " + "; ".join(str(p) for p in protections)
    elif protections:  # say it now: a dry run should show what will keep the image, long before it is due
        reason += "; will be kept while " + "; ".join(str(p) for p in protections)
    if status in (DISABLE, DEREGISTER) and plan.blocked:
        status, reason = BLOCKED, f"{reason}, but nothing is removed here this run: {plan.blocked}"
    if status == DISABLE:
        plan.actions.append(DisableImage(image.region, image.image_id))
    decision = _decision(member, version, status, reason, protections)
    plan.decisions.append(decision)


def _retirement_stage(image: Image, deprecated: datetime, retention: Retention, now: datetime) -> tuple[str, str]:
    since = f"deprecated since {deprecated:%Y-%m-%d}"
    deregister_from = deprecated + timedelta(days=retention.deregister_after_days)
    if deregister_from <= now:
        return DEREGISTER, f"{since}, {retention.deregister_after_days}-day grace period over"
    disable = retention.disable_after_days
    if disable is not None and image.state == "available" and deprecated + timedelta(days=disable) <= now:
        return DISABLE, f"{since}, disabled after {retention.disable_after_days} days"
    return RETIRING, f"{since}; deregistered from {deregister_from:%Y-%m-%d}"


def _plan_deregistrations(inventory: RegionInventory, plan: RegionPlan, policy: Policy, now: datetime) -> None:
    """The oldest due images up to the cap; snapshots that no remaining image maps are marked first, in one call."""
    due = sorted(
        (i for i, d in enumerate(plan.decisions) if d.status == DEREGISTER),
        key=lambda i: (plan.decisions[i].created, plan.decisions[i].image_id),
    )
    cap = policy.sweep.max_deregistrations_per_region
    mapped_by: dict[str, set[str]] = defaultdict(set)
    for image in inventory.images.values():
        for snapshot_id in image.snapshot_ids:
            mapped_by[snapshot_id].add(image.image_id)
    leaving = {plan.decisions[position].image_id for position in due[:cap]}
    to_mark: dict[str, None] = {}
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
        plan.actions.append(
            DeregisterImage(image.region, image.image_id, own, {s: image.volume_sizes.get(s, 0) for s in own})
        )
    if to_mark:
        plan.actions.append(MarkSnapshotsRetired(inventory.region, tuple(to_mark), now.strftime("%Y-%m-%dT%H:%M:%SZ")))


def _plan_orphaned_snapshots(inventory: RegionInventory, plan: RegionPlan) -> None:
    """Snapshots this product marked before deregistering their AMI, that no AMI uses any more."""
    if plan.blocked:
        return
    mapped = {s for image in inventory.images.values() for s in image.snapshot_ids}
    for snapshot in inventory.snapshots.values():
        if RETIRED_TAG in snapshot.tags and snapshot.snapshot_id not in mapped and snapshot.state == "completed":
            plan.actions.append(DeleteSnapshot(inventory.region, snapshot.snapshot_id, snapshot.size_gib))


# ------------------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------------------


_ORDER = (CopyImage, FinishImage, DeprecateImage, DisableImage, MarkSnapshotsRetired, DeregisterImage, DeleteSnapshot)


def _execution_order(action: Action) -> int:
    """Protect first, then retire; snapshots are marked before any AMI is deregistered, so that a crash
    between deregistration and snapshot deletion leaves snapshots the next run can prove are orphans."""
    return _ORDER.index(type(action))


def _decision(
    member: _Member, version: _Version, status: str, reason: str, protections: tuple[Protection, ...] = ()
) -> ImageDecision:
    image = member.image
    return ImageDecision(
        image.region,
        image.image_id,
        image.name,
        version.family,
        version.version,
        version.created,
        status,
        reason,
        protections,
    )


def _next_minute(when: datetime) -> datetime:
    floor = when.replace(second=0, microsecond=0)
    return floor if floor == when else floor + timedelta(minutes=1)


def _unread(inventory: RegionInventory | None) -> str:
    if inventory is None:
        return "not read"
    return "; ".join(f"{source}: {error}" for source, error in inventory.unread.items())
