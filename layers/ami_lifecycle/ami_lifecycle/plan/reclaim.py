"""What removing AMIs gives back: their snapshots' GiB and its monthly cost. Pure.

Sizes are the snapshots' provisioned size (VolumeSize), an upper bound of what is billed: EBS bills a
standard-tier snapshot for the blocks it stores, and incremental snapshots of one volume share blocks.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model.inventory import RegionInventory


def monthly_cost(gib: int, price_per_gb_month: float) -> float:
    """USD per month for `gib` of standard-tier snapshot storage, to the cent (EBS bills GB-months of 2^30 bytes)."""
    return round(gib * price_per_gb_month, 2)


def reclaimable_snapshots(inventory: RegionInventory, leaving: Iterable[str]) -> dict[str, dict[str, int]]:
    """For each leaving image of the region, the snapshots that go with it and their GiB.

    A snapshot that an image staying in the region also maps is not reclaimed. A snapshot several leaving
    images map is counted once, with the first of them in the order given.
    """
    leaving = list(dict.fromkeys(leaving))
    gone = set(leaving)
    kept = {s for image_id, image in inventory.images.items() if image_id not in gone for s in image.snapshot_ids}
    counted: set[str] = set()
    found: dict[str, dict[str, int]] = {}
    for image_id in leaving:
        image = inventory.images.get(image_id)
        own: dict[str, int] = {}
        for snapshot_id in image.snapshot_ids if image else ():
            if snapshot_id in kept or snapshot_id in counted:
                continue
            counted.add(snapshot_id)
            own[snapshot_id] = snapshot_gib(inventory, image_id, snapshot_id)
        found[image_id] = own
    return found


def snapshot_gib(inventory: RegionInventory, image_id: str, snapshot_id: str) -> int:
    """The snapshot's provisioned size, from DescribeSnapshots, else from the image's block device mapping."""
    snapshot = inventory.snapshots.get(snapshot_id)
    if snapshot is not None and snapshot.size_gib:
        return snapshot.size_gib
    image = inventory.images.get(image_id)
    return image.volume_sizes.get(snapshot_id, 0) if image else 0
