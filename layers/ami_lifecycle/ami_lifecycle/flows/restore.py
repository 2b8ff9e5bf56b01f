"""Restore a retired AMI: the AMI and its snapshots out of the Recycle Bin, the sweep's marks off, the keep tag
on, so the next sweeps keep it. Safe to run again after a partial failure: each step checks what is done."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from ..act.base import Action
from ..act.executor import RegionResult, apply_region
from ..act.protect import TagResources
from ..act.restore import RemoveTags, RestoreImage, RestoreSnapshot
from ..aws.clients import ClientFactory
from ..model.image import MAX_USER_TAGS, RECYCLE_TAG, RETIRED_TAG, Image, is_reserved_tag
from ..policy import Policy
from ..read.region import read_image

MAX_REFUSALS = 20  # RestoreImage attempts, each after restoring the snapshots EC2 said it still misses


class NotRestorable(LookupError):
    """The AMI is neither registered nor in the Recycle Bin (never retired with a rule, or its retention ended)."""


@dataclass
class Restoration:
    region: str
    image_id: str
    keep_tag: str
    changes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    snapshots: tuple[str, ...] = ()


def restore_image(
    clients: ClientFactory,
    region: str,
    image_id: str,
    policy: Policy | None,
    now: datetime,
    snapshot_ids: tuple[str, ...] = (),
) -> Restoration:
    """EC2 restores an AMI only once its snapshots are back, and lists a binned AMI without its block device
    mappings: its snapshots are the ones named (the sweep's report names them), the binned ones whose
    description names the AMI (CreateImage and CopyImage write it there), and any EC2 names when it refuses."""
    ec2 = clients.ec2(region)
    in_bin = ec2.list_images_in_recycle_bin(ImageIds=[image_id]).get("Images", [])
    if not in_bin and not read_image(clients, region, image_id):
        raise NotRestorable(f"{image_id} is neither registered in {region} nor in its Recycle Bin")
    result = RegionResult(region)
    if in_bin:
        pages = ec2.get_paginator("list_snapshots_in_recycle_bin").paginate(PaginationConfig={"PageSize": 1000})
        binned = [s for page in pages for s in page.get("Snapshots", [])]
        wanted = set(snapshot_ids) | {s["SnapshotId"] for s in binned if image_id in s.get("Description", "")}
        result = apply_region(clients, region, [RestoreSnapshot(region, s) for s in sorted(wanted)])
        for _ in range(MAX_REFUSALS):
            attempt = apply_region(clients, region, [RestoreImage(region, image_id)])
            result.changes += attempt.changes
            named = set(re.findall(r"snap-[0-9a-f]+", attempt.error or "")) - wanted
            if attempt.error is None or not named:
                result.failures += attempt.failures
                break
            wanted |= named
            restored = apply_region(clients, region, [RestoreSnapshot(region, s) for s in sorted(named)])
            result.changes += restored.changes
    image = read_image(clients, region, image_id)
    if image is None:
        raise NotRestorable(f"{image_id} could not be restored in {region}: {'; '.join(result.failures)}")

    binned = ec2.list_snapshots_in_recycle_bin(SnapshotIds=list(image.snapshot_ids)).get("Snapshots", [])
    keep_tag = _keep_tag(image, policy)
    resources = (image.image_id, *image.snapshot_ids)
    followups: list[Action] = [RestoreSnapshot(region, s["SnapshotId"]) for s in binned if "SnapshotId" in s]
    keep = TagResources(region, (image.image_id,), {keep_tag: f"restored {now:%Y-%m-%d}"})
    unmark = RemoveTags(region, resources, (RETIRED_TAG, RECYCLE_TAG))
    # The keep tag goes on first, so the AMI is never without both; where EC2's 50 tags leave no room for it,
    # the sweep's marks make that room.
    room = keep_tag in image.tags or sum(not is_reserved_tag(k) for k in image.tags) < MAX_USER_TAGS
    followups += [keep, unmark] if room else [unmark, keep]
    rest = apply_region(clients, region, followups)
    return Restoration(
        region, image_id, keep_tag, result.changes + rest.changes, result.failures + rest.failures, image.snapshot_ids
    )


def _keep_tag(image: Image, policy: Policy | None) -> str:
    if policy is None:
        return "ami-lifecycle:keep"
    match = policy.match(image.name, image.tags, image.creation_date)
    return (policy.retention_for(match.rule) if match else policy.defaults.retention).keep_tag
