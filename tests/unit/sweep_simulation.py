"""A pure, in-memory EC2 for the sweep: applies a plan's actions to the fleet it was planned from.

Only what the sweep planner reads is modelled: images (state, tags, deprecation time), snapshots (tags) and
the region inventories that hold them. Nothing here calls AWS; the input fleet is never mutated.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime

from ami_lifecycle.act.adopt import AddLineageTags
from ami_lifecycle.act.base import Action
from ami_lifecycle.act.finish import FinishImage
from ami_lifecycle.act.protect import CopyImage
from ami_lifecycle.act.retire import DeleteSnapshot, DeprecateImage, DeregisterImage, DisableImage, MarkRetired
from ami_lifecycle.model.image import PROTECTED_TAG, RETIRED_TAG, Image
from ami_lifecycle.model.inventory import Fleet, RegionInventory
from ami_lifecycle.model.plan import SweepPlan
from ami_lifecycle.plan.desired import protection_digest


def ec2_time(when: datetime) -> str:
    """A timestamp the way DescribeImages reports it: "2026-01-01T00:00:00.000Z"."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def apply_plan(fleet: Fleet, plan: SweepPlan) -> Fleet:
    """The fleet as the next run would read it after every action of `plan` succeeded, region by region."""
    regions = {region: _copy(inventory) for region, inventory in fleet.regions.items()}
    for region_plan in plan.regions.values():
        for action in region_plan.actions:
            _apply(action, regions[action.region], plan.now)
    return replace(fleet, regions=regions)


def _copy(inventory: RegionInventory) -> RegionInventory:
    return replace(
        inventory,
        images=dict(inventory.images),
        snapshots=dict(inventory.snapshots),
        references={k: list(v) for k, v in inventory.references.items()},
        unread=dict(inventory.unread),
    )


def _apply(action: Action, inventory: RegionInventory, now: datetime) -> None:
    images, snapshots = inventory.images, inventory.snapshots
    if isinstance(action, CopyImage):
        image_id = "ami-" + hashlib.sha256(action.client_token.encode()).hexdigest()[:17]
        images[image_id] = Image(
            image_id=image_id,
            region=inventory.region,
            owner_id="123456789012",
            name=action.name,
            state="pending",
            creation_date=ec2_time(now),
            tags=dict(action.image_tags),
            source_image_id=action.source_image_id,
            source_region=action.source_region,
        )
    elif isinstance(action, FinishImage):
        image = images[action.image.image_id]
        tags = image.tags | action.desired.image_tags | {PROTECTED_TAG: protection_digest(action.desired)}
        images[image.image_id] = replace(image, tags=tags)
        for snapshot_id in image.snapshot_ids:
            if snapshot_id in snapshots:
                snapshot = snapshots[snapshot_id]
                snapshots[snapshot_id] = replace(snapshot, tags=snapshot.tags | action.desired.snapshot_tags)
    elif isinstance(action, AddLineageTags):
        for image_id in action.image_ids:
            images[image_id] = replace(images[image_id], tags=images[image_id].tags | action.tags)
    elif isinstance(action, DeprecateImage):
        image = images[action.image_id]
        images[image.image_id] = replace(image, deprecation_time=ec2_time(action.deprecate_at))
    elif isinstance(action, DisableImage):
        images[action.image_id] = replace(images[action.image_id], state="disabled")
    elif isinstance(action, MarkRetired):
        for snapshot_id in action.snapshot_ids:
            if snapshot_id in snapshots:
                snapshot = snapshots[snapshot_id]
                snapshots[snapshot_id] = replace(snapshot, tags=snapshot.tags | {RETIRED_TAG: action.marked_at})
        for crowded in action.crowded:  # room made by removing the product's own tags, then what fits
            if crowded.resource_id in snapshots:
                snapshot = snapshots[crowded.resource_id]
                kept = {k: v for k, v in snapshot.tags.items() if k not in crowded.give_up}
                snapshots[crowded.resource_id] = replace(snapshot, tags=kept | dict(crowded.marks))
    elif isinstance(action, DeregisterImage):
        del images[action.image_id]
        for snapshot_id in action.snapshot_ids:
            snapshots.pop(snapshot_id, None)
    elif isinstance(action, DeleteSnapshot):
        snapshots.pop(action.snapshot_id, None)
    else:
        raise TypeError(f"the simulation does not know {type(action).__name__}")
