"""The one region read: a scope of a region's images, and for a whole region everything that uses them.

Every trigger reads through here. The sweep reads whole regions; the image-available flow narrows the same
read to one image, or to the copies of one source; the launch flow to the images its instances run. Every
source is a paginated listing, so calls grow with pages, never with AMIs. A source that cannot be read is
recorded, not raised: the planner then refuses to remove anything in that region.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ..aws.clients import ClientFactory, error_code
from ..aws.regions import per_region
from ..model.image import Image, tags_of
from ..model.inventory import (
    AUTO_SCALING_GROUPS,
    BATCH_COMPUTE_ENVIRONMENTS,
    EC2_FLEETS,
    IMAGES,
    INSTANCES,
    LAUNCH_CONFIGURATIONS,
    LAUNCH_TEMPLATES,
    SNAPSHOTS,
    SPOT_FLEET_REQUESTS,
    SPOT_INSTANCE_REQUESTS,
    RegionInventory,
    Snapshot,
)
from .launch_templates import LaunchTemplate, LaunchTemplateCache, read_launch_templates
from .references import (
    read_auto_scaling_groups,
    read_batch_compute_environments,
    read_ec2_fleets,
    read_instances,
    read_launch_configurations,
    read_spot_fleet_requests,
    read_spot_instance_requests,
)

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef, ImageTypeDef

logger = Logger(child=True)

FILTER_VALUES_LIMIT = 200  # EC2 takes at most 200 values per filter


@dataclass(frozen=True)
class Scope:
    """Which images of a region a read covers. The default is the whole region, with what uses its images."""

    image_ids: tuple[str, ...] = ()  # these images, of any owner, deprecated and disabled included
    copies_of: str | None = None  # this account's copies of a source, whoever made them (EC2's ancestry)

    @property
    def whole_region(self) -> bool:
        return not self.image_ids and self.copies_of is None


WHOLE_REGION = Scope()


def read_region(
    clients: ClientFactory,
    region: str,
    scope: Scope = WHOLE_REGION,
    template_cache: LaunchTemplateCache | None = None,
) -> RegionInventory:
    """The scope's images; for the whole region, what uses them too (launch template versions through the cache,
    when one is given)."""
    inventory = RegionInventory(region)
    ec2 = clients.ec2(region)

    def read(source: str, reader: Callable[[], None]) -> None:
        try:
            reader()
        except Exception as e:  # any failure makes the region fail closed; the error is reported
            inventory.unread[source] = f"{error_code(e)}: {e}"
            inventory.errors[source] = e
            logger.warning("inventory source unreadable", extra={"region": region, "source": source, "error": str(e)})

    read(IMAGES, lambda: _read_images(ec2, inventory, scope))
    if not inventory.readable or not scope.whole_region:
        return inventory
    autoscaling, batch = clients.autoscaling(region), clients.batch(region)
    read(SNAPSHOTS, lambda: _read_snapshots(ec2, inventory))
    read(INSTANCES, lambda: read_instances(ec2, inventory))
    templates: dict[str, LaunchTemplate] = {}
    read(LAUNCH_TEMPLATES, lambda: templates.update(read_launch_templates(ec2, inventory, template_cache)))
    configurations: dict[str, str] = {}
    read(LAUNCH_CONFIGURATIONS, lambda: configurations.update(read_launch_configurations(autoscaling, inventory)))
    if LAUNCH_TEMPLATES in inventory.unread or LAUNCH_CONFIGURATIONS in inventory.unread:
        inventory.unread[AUTO_SCALING_GROUPS] = "not read: the templates or configurations they use are unknown"
    else:
        read(AUTO_SCALING_GROUPS, lambda: read_auto_scaling_groups(autoscaling, inventory, templates, configurations))
    read(SPOT_INSTANCE_REQUESTS, lambda: read_spot_instance_requests(ec2, inventory))
    template_users: dict[str, Callable[[], None]] = {
        EC2_FLEETS: lambda: read_ec2_fleets(ec2, inventory, templates),
        SPOT_FLEET_REQUESTS: lambda: read_spot_fleet_requests(ec2, inventory, templates),
        BATCH_COMPUTE_ENVIRONMENTS: lambda: read_batch_compute_environments(batch, inventory, templates),
    }
    for source, reader in template_users.items():
        if LAUNCH_TEMPLATES in inventory.unread:
            inventory.unread[source] = "not read: the launch templates it uses are unknown"
        else:
            read(source, reader)
    return inventory


def read_image(clients: ClientFactory, region: str, image_id: str) -> Image | None:
    """One image of any owner, or None if EC2 does not know it; a failed read raises."""
    inventory = read_region(clients, region, Scope(image_ids=(image_id,)))
    if not inventory.readable:
        raise inventory.errors[IMAGES]
    return inventory.images.get(image_id)


def read_regions(clients: ClientFactory, scopes: Mapping[str, Scope]) -> dict[str, RegionInventory]:
    """Several regions, concurrently."""
    return per_region(scopes, lambda region, scope: read_region(clients, region, scope))


def _read_images(ec2: EC2Client, inventory: RegionInventory, scope: Scope) -> None:
    paginator = ec2.get_paginator("describe_images")
    found: list[ImageTypeDef] = []
    if scope.image_ids:
        # A filter, unlike ImageIds, does not fail the whole call for an id that no longer exists.
        ids = list(scope.image_ids)
        for start in range(0, len(ids), FILTER_VALUES_LIMIT):
            batch = ids[start : start + FILTER_VALUES_LIMIT]
            by_id: list[FilterTypeDef] = [{"Name": "image-id", "Values": batch}]
            pages = paginator.paginate(Filters=by_id, IncludeDeprecated=True, IncludeDisabled=True)
            found += [image for page in pages for image in page["Images"]]
    elif scope.copies_of:
        # EC2 sets SourceImageId on every copy when CopyImage starts it, the product's (tagged at creation too)
        # and those of Packer, DLM or a script; CopyImage's ClientToken covers a copy not yet listed.
        lineage: list[FilterTypeDef] = [{"Name": "source-image-id", "Values": [scope.copies_of]}]
        pages = paginator.paginate(Owners=["self"], IncludeDisabled=True, Filters=lineage)
        found += [image for page in pages for image in page["Images"]]
    else:
        pages = paginator.paginate(
            Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True, PaginationConfig={"PageSize": 1000}
        )
        found += [image for page in pages for image in page["Images"]]
    inventory.images = {d["ImageId"]: Image.from_api(inventory.region, d) for d in found}


def _read_snapshots(ec2: EC2Client, inventory: RegionInventory) -> None:
    listing = ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], PaginationConfig={"PageSize": 1000})
    inventory.snapshots = {
        s["SnapshotId"]: Snapshot(s["SnapshotId"], int(s.get("VolumeSize") or 0), s.get("State", ""), tags_of(s))
        for page in listing
        for s in page["Snapshots"]
    }
