"""The sweep's plan: fleet inventory + policy + clock in, a plan with a reason for everything out. No I/O.

A family's versions are ranked by age across every region. Versions beyond retention are deprecated in every
region that holds them, optionally disabled after a grace period, and deregistered when they have been
deprecated long enough, image by image, unless something still uses or protects that image. Deletion fails
closed: a region whose in-use inventory is incomplete deregisters nothing, and neither does any DR region
while the home region is incomplete.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from ..act.adopt import AddLineageTags
from ..act.base import Action
from ..act.finish import FinishListedImage
from ..act.parameters import CancelDeprecation, PutImageParameter, ShareParameters
from ..act.protect import CopyImage
from ..act.retire import DeleteSnapshot, DeprecateImage, DeregisterImage, DisableImage, MarkRetired
from ..act.usage import CreateImageUsageReport, ReportUseInOtherAccounts
from ..model.image import FAMILY_TAG, MAX_USER_TAGS, PROTECTED_TAG, VERSION_TAG, Image, is_reserved_tag, parse_time
from ..model.inventory import Fleet, RegionInventory
from ..model.plan import DEFERRED, DEREGISTER, DISABLE, RETIREABLE_STATES, Candidates, RegionPlan, SweepPlan
from ..policy import Policy
from .desired import desired_for_member, protection_digest
from .families import Member, Version, group_versions, is_source
from .parameters import plan_parameters
from .protect import plan_copy, plan_lineage_tags
from .retire import plan_deregistrations, plan_family, plan_orphaned_snapshots
from .usage import plan_usage_reports


def plan_sweep(fleet: Fleet, policy: Policy, now: datetime, checks: bool = True) -> SweepPlan:
    """Decide, for every managed image in every region, what happens to it in this run, and why."""
    now = now.astimezone(UTC)
    plans = {region: RegionPlan(region) for region in fleet.regions}
    home = fleet.regions.get(fleet.home_region)
    if home is None or not home.readable:
        why = f"home region {fleet.home_region} could not be read: {unread_sources(home)}"
        for plan in plans.values():
            plan.blocked = why
        return SweepPlan(now, plans)

    block_incomplete_regions(fleet, plans)
    versions = group_versions(fleet, policy, plans)
    for by_version in versions.values():
        plan_family(fleet, policy, list(by_version.values()), plans, now, checks)
    plan_protection(fleet, policy, versions, plans)
    plan_parameters(fleet, policy, versions, plans)
    for region, plan in plans.items():
        inventory = fleet.regions[region]
        if inventory.readable:
            plan_deregistrations(inventory, plan, policy, now, fleet.recycle_bin_days)
            plan_orphaned_snapshots(inventory, plan)
            plan_usage_reports(plan, plan.reports_wanted, inventory, policy.sweep.usage_reports)
        plan.actions.sort(key=_execution_order)
        plan.decisions.sort(key=lambda d: (d.family, d.created, d.version, d.image_id))
    return SweepPlan(now, plans)


def removal_candidates(fleet: Fleet, policy: Policy, now: datetime) -> dict[str, Candidates]:
    """The plan without the candidates' own reads: which images they are, region by region."""
    plan = plan_sweep(fleet, policy, now, checks=False)
    cap = policy.sweep.max_deregistrations_per_region
    candidates = {}
    for region, region_plan in plan.regions.items():
        # The oldest deferred images are next in line if a due one turns out to be in use; the rest of the
        # backlog waits for later runs (unchecked, it cannot be removed in this one).
        deferred = sorted(
            (d for d in region_plan.decisions if d.status == DEFERRED), key=lambda d: (d.created, d.image_id)
        )
        due = sorted(
            (d for d in region_plan.decisions if d.status in (DISABLE, DEREGISTER)),
            key=lambda d: (d.created, d.image_id),
        )
        # One DescribeImageAttribute each: as many per run as usage reports may be asked for; the rest wait.
        unknown = [d.image_id for d in due if d.image_id not in region_plan.shared_retiring]
        candidates[region] = Candidates(
            frozenset(d.image_id for d in due),
            frozenset(d.image_id for d in deferred[:cap]),
            frozenset(region_plan.shared_retiring),
            frozenset(unknown[: policy.sweep.usage_reports.max_new_per_region]),
        )
    return candidates


def block_incomplete_regions(fleet: Fleet, plans: dict[str, RegionPlan]) -> None:
    home = fleet.regions[fleet.home_region]
    for region, inventory in fleet.regions.items():
        plan = plans[region]
        if not inventory.readable:
            plan.blocked = f"could not be read: {unread_sources(inventory)}"
        elif inventory.unread:
            plan.blocked = f"in-use inventory incomplete: {unread_sources(inventory)}"
        elif fleet.launches is None:
            plan.blocked = f"launch records could not be read: {fleet.launches_error}"
        elif region != fleet.home_region and home.unread:
            plan.blocked = f"home region {fleet.home_region} inventory incomplete: {unread_sources(home)}"


def plan_protection(
    fleet: Fleet, policy: Policy, versions: dict[tuple[str, str], dict[str, Version]], plans: dict[str, RegionPlan]
) -> None:
    """Protection that an event did not finish, and the missing DR copies of versions within retention.

    An image the product never tagged (built, copied or retired by something else) is adopted: in a version
    within retention it is finished like the product's own; beyond retention it only gets the lineage tags it
    retires with and is known by later, in bulk. A copy is known by its lineage tags or by EC2's ancestry,
    whoever made it, so a source is never copied again where a copy exists."""
    copies_by_source: dict[tuple[str, str], list[Image]] = defaultdict(list)
    for region, inventory in fleet.regions.items():
        for image in inventory.images.values():
            if image.copy_of and not image.made_by_aws_backup:
                copies_by_source[image.copy_of[0], region].append(image)

    lineage_wanted: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)  # region -> image id -> tags
    for by_version in versions.values():
        for version in by_version.values():
            for member in version.members:
                image = member.image
                if not version.kept and image.state in RETIREABLE_STATES:
                    wanted = _retiring_lineage(member, version, image)
                    if wanted:
                        lineage_wanted[image.region][image.image_id] = wanted
                        if member.adopted:
                            plans[image.region].adopted.append(image.image_id)
                    # Beyond retention, the family tag is all it needs: sharing and marks would only go on an image
                    # about to retire (or one whose tags leave no room, which the retirement plan keeps and says why).
                    continue
                if image.state != "available":
                    continue
                retiring = parse_time(image.deprecation_time) is not None
                desired = desired_for_member(member, policy)
                # A retiring image is only finished if it never was: it needs the lineage tags to retire.
                if image.tags.get(PROTECTED_TAG) != protection_digest(desired) and (
                    not retiring or not image.tagged_by_product
                ):
                    reason = ""
                    if member.adopted:
                        plans[image.region].adopted.append(image.image_id)
                        reason = f"adopt ({_adopted_as(member)})"
                    snapshots = fleet.regions[image.region].snapshots  # the listing; an unlisted one is tagged
                    snapshot_tags = {s: snapshots[s].tags for s in image.snapshot_ids if s in snapshots}
                    finish = FinishListedImage(image.region, image, desired, reason, snapshot_tags)
                    plans[image.region].actions.append(finish)
                    if desired.left_out:
                        plans[image.region].notes.append(desired.left_out)
                if not version.kept or retiring or not is_source(member):
                    continue
                for dr in policy.dr_regions_for(member.match.rule):
                    if dr.region not in fleet.regions or not fleet.regions[dr.region].readable:
                        continue
                    copies = copies_by_source.get((image.image_id, dr.region), [])
                    decision = plan_copy(image, member.match, dr, copies, policy)
                    if decision.action is not None:
                        plans[dr.region].actions.append(decision.action)
                        if decision.action.left_out:
                            plans[dr.region].notes.append(decision.action.left_out)
    for region, by_image in lineage_wanted.items():
        plans[region].actions.extend(plan_lineage_tags(region, by_image))


def _retiring_lineage(member: Member, version: Version, image: Image) -> dict[str, str]:
    """What an image beyond retention needs to retire, and to be known later: its family (the retirement writes
    are granted on it), the same for all a family's images, so a region's are tagged in one call per family.
    Its version comes from the policy, or for a copy whose source is gone, from its own name or tags; only where
    the policy takes versions from creation dates does a copy need its version tag (its date is not the version's)."""
    lineage = {FAMILY_TAG: version.family}
    if member.match.rule.version is None and not is_source(member):
        lineage[VERSION_TAG] = version.version
    missing = [(k, v) for k, v in lineage.items() if k not in image.tags]
    # Only what fits beside its tags, the family first: an image with no room is kept, with that reason.
    room = MAX_USER_TAGS - sum(not is_reserved_tag(k) for k in image.tags)
    return dict(missing[: max(room, 0)])


def _adopted_as(member: Member) -> str:
    if member.lineage is None:
        return "a managed source without lineage tags"
    how = "lineage tags" if member.image.copied_from else "EC2's ancestry"
    return f"a copy of {member.lineage[0]} by {how}"


_ORDER = (
    CopyImage,
    FinishListedImage,
    AddLineageTags,
    CancelDeprecation,
    PutImageParameter,
    ShareParameters,
    DeprecateImage,
    CreateImageUsageReport,
    ReportUseInOtherAccounts,
    DisableImage,
    MarkRetired,
    DeregisterImage,
    DeleteSnapshot,
)


def _execution_order(action: Action) -> int:
    """Protect first, then retire; snapshots are marked before any AMI is deregistered, so that a crash
    between deregistration and snapshot deletion leaves snapshots the next run can prove are orphans."""
    return _ORDER.index(type(action))


def unread_sources(inventory: RegionInventory | None) -> str:
    if inventory is None:
        return "not read"
    return "; ".join(f"{source}: {error}" for source, error in inventory.unread.items())
