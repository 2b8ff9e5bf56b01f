"""The sweep's scope: every region of the policy, whole, and the product's launch records, read concurrently."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from ..aws.clients import ClientFactory, error_code
from ..aws.usage_table import UsageStore
from ..model.inventory import IMAGE_REFERENCES, Fleet, RegionInventory
from ..policy import Policy
from .image_references import read_image_references
from .region import read_region

logger = Logger(child=True)

LaunchReader = Callable[[datetime], dict[str, Any]]  # launched since -> records by image id


def read_fleet(policy: Policy, clients: ClientFactory, now: datetime, launches: LaunchReader | None) -> Fleet:
    """Every region of the policy and the launch records, all concurrently."""
    regions = [policy.home_region, *(dr.region for dr in policy.dr_regions)]
    window = max(policy.retention_for(rule).launched_within_days for rule in policy.managed_images)
    with ThreadPoolExecutor(max_workers=len(regions) + 1) as pool:
        inventories = {region: pool.submit(read_region, clients, region) for region in regions}
        records: dict[str, datetime] | None = None
        error: str | None = "not read (no usage table given)"
        if launches is not None:
            records, error = pool.submit(read_launch_records, lambda: launches(now - timedelta(days=window))).result()
        return Fleet(policy.home_region, {r: f.result() for r, f in inventories.items()}, records, error)


def check_references(clients: ClientFactory, fleet: Fleet, candidates: dict[str, set[str]]) -> Fleet:
    """The fleet with EC2's references of the removal candidates added, regions concurrently. A region whose
    references cannot be read records it as unread, which blocks every removal there."""
    regions = [r for r, ids in candidates.items() if ids and fleet.regions[r].readable]
    if not regions:
        return fleet
    with ThreadPoolExecutor(max_workers=len(regions)) as pool:
        checked = {r: pool.submit(_check_region, clients, fleet.regions[r], candidates[r]) for r in regions}
        return replace(fleet, regions=fleet.regions | {r: f.result() for r, f in checked.items()})


def _check_region(clients: ClientFactory, inventory: RegionInventory, image_ids: set[str]) -> RegionInventory:
    try:
        found = read_image_references(clients.ec2(inventory.region), image_ids)
    except Exception as e:  # fails closed: the region removes nothing this run
        logger.warning("image references unreadable", extra={"region": inventory.region, "error": str(e)})
        unread = inventory.unread | {IMAGE_REFERENCES: f"{error_code(e)}: {e}"}
        return replace(inventory, unread=unread, errors=inventory.errors | {IMAGE_REFERENCES: e})
    references = dict(inventory.references)
    for image_id, refs in found.items():
        references[image_id] = [*references.get(image_id, []), *refs]
    return replace(inventory, references=references, references_checked=inventory.references_checked | image_ids)


def usage_reader(clients: ClientFactory, policy: Policy, table: str | None = None) -> LaunchReader:
    store = UsageStore(clients, policy.home_region, table)
    return store.launched_since


def read_launch_records(read: Callable[[], dict[str, Any]]) -> tuple[dict[str, datetime] | None, str | None]:
    """The product's own launch records (image id -> last launch), or the reason they could not be read."""
    try:
        return {image_id: record.launched_at for image_id, record in read().items()}, None
    except Exception as e:  # unreadable records block deregistration everywhere; the error is reported
        logger.warning("launch records unreadable", extra={"error": str(e)})
        return None, f"{error_code(e)}: {e}"
