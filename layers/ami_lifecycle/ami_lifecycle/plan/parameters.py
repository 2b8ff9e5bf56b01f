"""The family parameters: which image each family's parameter names in each region, and when it moves. Pure.

The sweep reconciles every parameter from the whole fleet (`plan_parameters`); the image-available flow moves
one as soon as an image is finished (`plan_event_parameter`). Both decide with `plan/current.py`, write only
when the value changes, and never touch a parameter the product did not create.
"""

from __future__ import annotations

from collections import defaultdict

from ..act.finish import FinishImage
from ..act.parameters import PutImageParameter, ShareParameters
from ..model.inventory import Fleet, RegionInventory
from ..model.parameters import (
    PARAMETER_IMAGE_TAG,
    ImageParameter,
    ParameterDecision,
    TaggedParameter,
    parameter_arn,
)
from ..model.plan import RegionPlan
from ..policy import Policy
from .current import Candidate, Current, Named, candidate, choose_current, should_move
from .families import Version

CREATE, MOVE, UP_TO_DATE, HELD, NOT_OURS, UNNAMED, UNREAD = (
    "create",
    "move",
    "up-to-date",
    "held",
    "not-ours",
    "unnamed",
    "unread",
)


def plan_parameters(
    fleet: Fleet, policy: Policy, versions: dict[tuple[str, str], dict[str, Version]], plans: dict[str, RegionPlan]
) -> None:
    """Each family's parameter in each region the sweep read: its decision, and a write where it must move."""
    if not policy.parameters.publish:
        return
    by_family: dict[str, list[Version]] = defaultdict(list)
    for (_, family), by_version in versions.items():
        by_family[family] += by_version.values()
    # Finished earlier in this run (FinishImage comes first, and a parameter write requires it): the parameter
    # moves in the same run, not the next.
    finishing = frozenset(
        a.image.image_id for plan in plans.values() for a in plan.actions if isinstance(a, FinishImage)
    )
    for family in sorted(set(by_family) | set(policy.pins)):
        found = [
            candidate(member, version, policy, finishing)
            for version in by_family.get(family, [])
            for member in version.members
        ]
        for region, inventory in fleet.regions.items():
            decision, action = _plan_region(family, inventory, found, policy)
            if decision is not None:
                plans[region].parameters.append(decision)
            if action is not None:
                plans[region].actions.append(action)
    if policy.parameters.share:
        for region, inventory in fleet.regions.items():
            share = plan_share(inventory, plans[region], policy)
            if share is not None:
                plans[region].actions.append(share)


def plan_share(inventory: RegionInventory, plan: RegionPlan, policy: Policy) -> ShareParameters | None:
    """What the region's resource share is missing: the product's parameters (those there and those this run
    creates) and the principals of defaults.sharing. Nothing is ever removed from it."""
    if inventory.parameters is None or inventory.parameter_share is None:
        return None
    account = next((i.owner_id for i in inventory.images.values() if i.owner_id), None)
    if account is None:
        return None
    owned = {p.name for p in inventory.parameters.values() if p.owned}
    owned |= {d.name for d in plan.parameters if d.status == CREATE}
    wanted = {parameter_arn(inventory.region, account, name) for name in owned}
    sharing = policy.defaults.sharing
    principals = {*sharing.accounts, *sharing.organization_arns, *sharing.organizational_unit_arns}
    share = inventory.parameter_share
    resources, missing = sorted(wanted - share.resources), sorted(principals - share.principals)
    if share.arn is None and not resources:
        return None  # nothing to share yet: RAM refuses a share without resources no more than it helps
    if share.arn is not None and not resources and not missing:
        return None
    return ShareParameters(inventory.region, share.arn, tuple(resources), tuple(missing if share.arn else principals))


def _plan_region(
    family: str, inventory: RegionInventory, found: list[Candidate], policy: Policy
) -> tuple[ParameterDecision | None, PutImageParameter | None]:
    region, settings, pin = inventory.region, policy.parameters, policy.pins.get(family)
    name = settings.name_for(family)
    if name is None:
        reason = f"family name {family!r} cannot be part of a parameter name ({settings.path})"
        return ParameterDecision(region, family, settings.path, UNNAMED, None, None, None, pin, reason), None
    if not inventory.readable or inventory.parameters is None:
        reason = "parameters not read in this region this run"
        return ParameterDecision(region, family, name, UNREAD, None, None, None, pin, reason), None
    existing = inventory.parameters.get(name)
    named_now = existing.value if existing else None
    if existing is not None and not existing.owned:
        reason = "a parameter the product did not create is at this path: left alone"
        return ParameterDecision(region, family, name, NOT_OURS, named_now, None, None, pin, reason), None
    current = choose_current(family, region, found, pin)
    here = [c for c in found if c.region == region]
    named = _named(existing, here, pin)
    move = should_move(current, named)
    chosen = current.candidate
    target = chosen if move else next((c for c in here if existing and c.image_id == existing.value), None)
    raise_tier = existing is not None and settings.tier == "Advanced" and existing.tier != "Advanced"
    if not move and not (raise_tier and target is not None):
        status, reason = _unmoved(current, named)
        version = chosen.version if chosen else None
        return ParameterDecision(region, family, name, status, named_now, named_now, version, pin, reason), None
    assert target is not None  # moving needs a chosen image; raising the tier, the one it names
    action = PutImageParameter(
        region,
        name,
        target.image_id,
        tuple(sorted(target.tags().items())),
        existing is not None,
        settings.tier,
        f"Current image of AMI family {family}: version {target.version}, kept by ami-lifecycle",
    )
    status = CREATE if existing is None else MOVE
    reason = current.note if move else f"raised to the {settings.tier} tier"
    decision = ParameterDecision(region, family, name, status, named_now, target.image_id, target.version, pin, reason)
    return decision, action


def _named(existing: ImageParameter | None, found: list[Candidate], pin: str | None) -> Named | None:
    """What the parameter names now, where it stands in the version order and whether it is still usable: an
    image that is gone, disabled or deprecated (unless pinned: that deprecation is being cancelled) is not."""
    if existing is None:
        return None
    image = next((c for c in found if c.image_id == existing.value), None)
    if image is None:
        return Named(existing.value, None, usable=False)
    usable = image.state == "available" and (image.deprecation_time is None or image.version == pin)
    return Named(existing.value, image.key, usable)


def _unmoved(current: Current, named: Named | None) -> tuple[str, str]:
    chosen = current.candidate
    if chosen is None:
        return HELD, current.note + ("; what it names now stays" if named else "; not created")
    if named is not None and named.image_id == chosen.image_id:
        return UP_TO_DATE, current.note
    return HELD, f"names a newer version than {chosen.version}: never moved backwards"


def plan_event_parameter(
    finished: Candidate, tagged: TaggedParameter, policy: Policy
) -> tuple[ParameterDecision, PutImageParameter | None]:
    """An image an event has just finished, against what its family's parameter in that region names now (read
    from the parameter's tags only): move it forward, create it, or leave it for the sweep."""
    region, family, settings = finished.region, finished.family, policy.parameters
    pin = policy.pins.get(family)
    if not tagged.exists:
        named: Named | None = None
    elif not tagged.owned:
        reason = "a parameter the product did not create is at this path: left alone"
        return ParameterDecision(region, family, tagged.name, NOT_OURS, None, None, None, pin, reason), None
    else:
        named = Named.from_tags(tagged.tags.get(PARAMETER_IMAGE_TAG, ""), tagged.tags)
    current = choose_current(family, region, [finished], pin)
    if finished.deprecation_time is not None:  # even pinned: the sweep cancels that deprecation first
        reason = "deprecated: a parameter never names a deprecated image (a pin's is cancelled by the sweep)"
        return ParameterDecision(region, family, tagged.name, HELD, None, None, finished.version, pin, reason), None
    if not should_move(current, named):
        status, reason = _unmoved(current, named)
        if current.candidate is not None and named is not None and named.key is None:
            reason = "its tags do not say which version it names: left to the sweep"
        return ParameterDecision(region, family, tagged.name, status, None, None, finished.version, pin, reason), None
    action = PutImageParameter(
        region,
        tagged.name,
        finished.image_id,
        tuple(sorted(finished.tags().items())),
        tagged.exists,
        settings.tier,
        f"Current image of AMI family {family}: version {finished.version}, kept by ami-lifecycle",
    )
    status = MOVE if tagged.exists else CREATE
    decision = ParameterDecision(
        region, family, tagged.name, status, None, finished.image_id, finished.version, pin, current.note
    )
    return decision, action
