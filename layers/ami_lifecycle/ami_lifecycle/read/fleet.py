"""The sweep's scope: every region of the policy, whole, and the product's launch records, read concurrently."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from ..aws.clients import ClientFactory, error_code
from ..aws.launch_template_table import LAUNCH_TEMPLATE_TABLE_ENV, LaunchTemplateTable
from ..aws.regions import per_region
from ..aws.usage_table import UsageStore
from ..model.inventory import IMAGE_REFERENCES, LAUNCH_PERMISSIONS, USAGE_REPORTS, Fleet, RegionInventory
from ..model.plan import Candidates
from ..policy import Policy
from .image_references import read_image_references
from .images import read_launch_permissions
from .launch_templates import LaunchTemplateCache
from .parameters import add_parameters, read_region_parameters
from .region import WHOLE_REGION, read_region
from .usage_reports import read_usage_reports

logger = Logger(child=True)

LaunchReader = Callable[[datetime], dict[str, Any]]  # launched since -> records by image id


def read_fleet(
    policy: Policy,
    clients: ClientFactory,
    now: datetime,
    launches: LaunchReader | None,
    templates: LaunchTemplateTable | None = None,
) -> Fleet:
    """Every region of the policy and the launch records, all concurrently; launch template versions through
    the table of those already read, when one is given."""
    regions = [policy.home_region, *(dr.region for dr in policy.dr_regions)]
    window = max(policy.retention_for(rule).launched_within_days for rule in policy.managed_images)
    refresh = timedelta(hours=policy.sweep.launch_template_refresh_hours)
    cache = LaunchTemplateCache(templates, now, refresh) if templates is not None else None
    with ThreadPoolExecutor(max_workers=2 * len(regions) + 1) as pool:
        inventories = {region: pool.submit(read_region, clients, region, WHOLE_REGION, cache) for region in regions}
        prefix, shared = policy.parameters.prefix, policy.parameters.share
        parameters = (
            {region: pool.submit(read_region_parameters, clients, region, prefix, shared) for region in regions}
            if policy.parameters.publish
            else {}
        )
        records: dict[str, datetime] | None = None
        error: str | None = "not read (no usage table given)"
        if launches is not None:
            records, error = pool.submit(read_launch_records, lambda: launches(now - timedelta(days=window))).result()
        fleet = Fleet(policy.home_region, {r: f.result() for r, f in inventories.items()}, records, error)
        for region, found in parameters.items():
            add_parameters(fleet.regions[region], found.result())
        return fleet


def read_candidates(clients: ClientFactory, fleet: Fleet, candidates: dict[str, Candidates]) -> Fleet:
    """The fleet with what only the removal candidates need read: EC2's references of the images due (and
    deferred), the launch permissions of those due, and the usage reports of retiring shared images. Regions
    concurrently; a source that cannot be read is recorded as unread, which blocks every removal there."""
    wanted = {r: c for r, c in candidates.items() if (c.referenced or c.shared) and fleet.regions[r].readable}
    if not wanted:
        return fleet
    read = per_region(wanted, lambda region, c: _read_region_candidates(clients, fleet.regions[region], c))
    return replace(fleet, regions=fleet.regions | read)


def _read_region_candidates(
    clients: ClientFactory, inventory: RegionInventory, candidates: Candidates
) -> RegionInventory:
    ec2 = clients.ec2(inventory.region)
    unread, errors = dict(inventory.unread), dict(inventory.errors)

    def attempt(source: str, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except Exception as e:  # fails closed: the region removes nothing this run
            logger.warning(f"{source} unreadable", extra={"region": inventory.region, "error": str(e)})
            unread[source], errors[source] = f"{error_code(e)}: {e}", e
            return None

    references = dict(inventory.references)
    checked = inventory.references_checked
    found = attempt(IMAGE_REFERENCES, lambda: read_image_references(ec2, candidates.referenced)) or {}
    if IMAGE_REFERENCES not in unread:
        checked = checked | candidates.referenced
        for image_id, refs in found.items():
            references[image_id] = [*references.get(image_id, []), *refs]
    unknown = candidates.sharing_unknown
    permissions = attempt(LAUNCH_PERMISSIONS, lambda: read_launch_permissions(ec2, unknown)) or {}
    shared = candidates.shared | {image_id for image_id, granted in permissions.items() if granted}
    reports = attempt(USAGE_REPORTS, lambda: read_usage_reports(ec2, shared)) if shared else {}
    return replace(
        inventory,
        references=references,
        references_checked=checked,
        launch_permissions=inventory.launch_permissions | permissions,
        usage_reports=reports or {},
        usage_checked=frozenset(shared) if USAGE_REPORTS not in unread else frozenset(),
        unread=unread,
        errors=errors,
    )


def usage_reader(clients: ClientFactory, policy: Policy, table: str | None = None) -> LaunchReader:
    store = UsageStore(clients, policy.home_region, table)
    return store.launched_since


def launch_template_table(
    clients: ClientFactory, policy: Policy, table: str | None = None, read_only: bool = False
) -> LaunchTemplateTable | None:
    """The table of launch template versions already read, or None (every template is read) when none is set."""
    if not (table or os.environ.get(LAUNCH_TEMPLATE_TABLE_ENV)):
        logger.warning(f"no launch template table ({LAUNCH_TEMPLATE_TABLE_ENV}): every template's versions are read")
        return None
    return LaunchTemplateTable(clients, policy.home_region, table, read_only)


def read_launch_records(read: Callable[[], dict[str, Any]]) -> tuple[dict[str, datetime] | None, str | None]:
    """The product's own launch records (image id -> last launch), or the reason they could not be read."""
    try:
        return {image_id: record.launched_at for image_id, record in read().items()}, None
    except Exception as e:  # unreadable records block deregistration everywhere; the error is reported
        logger.warning("launch records unreadable", extra={"error": str(e)})
        return None, f"{error_code(e)}: {e}"
