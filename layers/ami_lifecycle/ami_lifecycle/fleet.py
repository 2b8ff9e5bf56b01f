"""Reads for the sweep: everything a region holds that decides whether an AMI may retire, in bulk.

Every source is one paginated listing, so the calls grow with pages, never with AMIs (launch template
versions are listed per template). A source that cannot be read is recorded, not raised: the planner then
refuses to deregister anything in that region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from .clients import ClientFactory, error_code
from .images import Image, tags_of

logger = Logger(child=True)

# Every state but terminated: a stopped instance starts again from the AMI's snapshots' volumes, and a
# shutting-down one may still be replaced by its Auto Scaling group from the same AMI.
LIVE_INSTANCE_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")

IMAGES, SNAPSHOTS, INSTANCES = "images", "snapshots", "instances"
LAUNCH_TEMPLATES, AUTO_SCALING_GROUPS, LAUNCH_CONFIGURATIONS = (
    "launch templates",
    "Auto Scaling groups",
    "launch configurations",
)


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    size_gib: int
    state: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Reference:
    """Something that launches or may launch instances from an AMI."""

    kind: str  # instance | launch-template | auto-scaling-group | launch-configuration
    resource: str  # what it is, readable: "i-0abc (running)", "lt-0abc version 3", ...

    def __str__(self) -> str:
        return f"{self.kind} {self.resource}"


@dataclass
class RegionInventory:
    """One region as the sweep sees it. `unread` names the in-use sources that could not be read."""

    region: str
    images: dict[str, Image] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    references: dict[str, list[Reference]] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)

    @property
    def readable(self) -> bool:
        """False when the region's own images could not be listed: nothing is known about it."""
        return IMAGES not in self.unread

    def refer(self, image_id: str | None, reference: Reference) -> None:
        if image_id:
            self.references.setdefault(image_id, []).append(reference)


def read_region(clients: ClientFactory, region: str) -> RegionInventory:
    """List the region's own AMIs and snapshots and everything that references an AMI."""
    inventory = RegionInventory(region)
    ec2 = clients.ec2(region)
    autoscaling = clients.client("autoscaling", region)

    def read(source: str, reader: Callable[[], None]) -> None:
        try:
            reader()
        except Exception as e:  # any failure makes the region fail closed; the error is reported
            inventory.unread[source] = f"{error_code(e)}: {e}"
            logger.warning("inventory source unreadable", extra={"region": region, "source": source, "error": str(e)})

    read(IMAGES, lambda: _read_images(ec2, inventory))
    if not inventory.readable:
        return inventory
    read(SNAPSHOTS, lambda: _read_snapshots(ec2, inventory))
    read(INSTANCES, lambda: _read_instances(ec2, inventory))
    templates: dict[str, dict[str, Any]] = {}
    read(LAUNCH_TEMPLATES, lambda: templates.update(_read_launch_templates(ec2, inventory)))
    configurations: dict[str, str] = {}
    read(LAUNCH_CONFIGURATIONS, lambda: configurations.update(_read_launch_configurations(autoscaling, inventory)))
    if LAUNCH_TEMPLATES in inventory.unread or LAUNCH_CONFIGURATIONS in inventory.unread:
        inventory.unread[AUTO_SCALING_GROUPS] = "not read: the templates or configurations they use are unknown"
    else:
        read(AUTO_SCALING_GROUPS, lambda: _read_auto_scaling_groups(autoscaling, inventory, templates, configurations))
    return inventory


def _pages(client: Any, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
    yield from client.get_paginator(operation).paginate(**params)


def _read_images(ec2: Any, inventory: RegionInventory) -> None:
    pages = _pages(
        ec2,
        "describe_images",
        Owners=["self"],
        IncludeDeprecated=True,
        IncludeDisabled=True,
        MaxResults=1000,
    )
    inventory.images = {d["ImageId"]: Image.from_api(inventory.region, d) for page in pages for d in page["Images"]}


def _read_snapshots(ec2: Any, inventory: RegionInventory) -> None:
    pages = _pages(ec2, "describe_snapshots", OwnerIds=["self"], MaxResults=1000)
    inventory.snapshots = {
        s["SnapshotId"]: Snapshot(s["SnapshotId"], int(s.get("VolumeSize") or 0), s.get("State", ""), tags_of(s))
        for page in pages
        for s in page["Snapshots"]
    }


def _read_instances(ec2: Any, inventory: RegionInventory) -> None:
    filters = [{"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)}]
    for page in _pages(ec2, "describe_instances", Filters=filters, MaxResults=1000):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                state = instance.get("State", {}).get("Name", "")
                inventory.refer(instance.get("ImageId"), Reference("instance", f"{instance['InstanceId']} ({state})"))


def _read_launch_templates(ec2: Any, inventory: RegionInventory) -> dict[str, dict[str, Any]]:
    """Every version of every template, attached to an Auto Scaling group or not; templates by id and name."""
    templates: dict[str, dict[str, Any]] = {}
    for page in _pages(ec2, "describe_launch_templates", MaxResults=200):
        for template in page["LaunchTemplates"]:
            template = {**template, "Images": {}}
            templates[template["LaunchTemplateId"]] = templates[template["LaunchTemplateName"]] = template
    for template_id, template in templates.items():
        if template_id != template["LaunchTemplateId"]:
            continue  # the same template under its name
        pages = _pages(
            ec2,
            "describe_launch_template_versions",
            LaunchTemplateId=template_id,
            ResolveAlias=True,  # an ImageId given as resolve:ssm:... comes back as the AMI it names now
            MaxResults=200,
        )
        for page in pages:
            for version in page["LaunchTemplateVersions"]:
                image_id = version.get("LaunchTemplateData", {}).get("ImageId")
                number = version["VersionNumber"]
                if image_id and not image_id.startswith("ami-"):
                    raise ValueError(f"{template_id} version {number}: image {image_id!r} did not resolve to an AMI")
                template["Images"][number] = image_id
                inventory.refer(image_id, Reference("launch-template", f"{template_id} version {number}"))
    return templates


def _read_launch_configurations(autoscaling: Any, inventory: RegionInventory) -> dict[str, str]:
    images: dict[str, str] = {}
    for page in _pages(autoscaling, "describe_launch_configurations", MaxRecords=100):
        for configuration in page["LaunchConfigurations"]:
            name, image_id = configuration["LaunchConfigurationName"], configuration.get("ImageId", "")
            images[name] = image_id
            inventory.refer(image_id, Reference("launch-configuration", name))
    return images


def _read_auto_scaling_groups(
    autoscaling: Any, inventory: RegionInventory, templates: dict[str, dict[str, Any]], configurations: dict[str, str]
) -> None:
    """A group uses an AMI through its launch configuration, launch template or mixed-instances overrides."""
    for page in _pages(autoscaling, "describe_auto_scaling_groups", MaxRecords=100):
        for group in page["AutoScalingGroups"]:
            name = group["AutoScalingGroupName"]
            if group.get("LaunchConfigurationName"):
                configuration = group["LaunchConfigurationName"]
                inventory.refer(
                    configurations.get(configuration),
                    Reference("auto-scaling-group", f"{name} (launch configuration {configuration})"),
                )
            for spec in _template_specs(group):
                template = templates.get(spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName") or "")
                if template is None:
                    continue  # deleted since: its versions reference nothing any more
                number = _version_number(template, spec.get("Version"))
                inventory.refer(
                    template["Images"].get(number),
                    Reference(
                        "auto-scaling-group",
                        f"{name} (launch template {template['LaunchTemplateId']} version {number})",
                    ),
                )


def _template_specs(group: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if group.get("LaunchTemplate"):
        yield group["LaunchTemplate"]
    mixed = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
    if mixed.get("LaunchTemplateSpecification"):
        yield mixed["LaunchTemplateSpecification"]
    for override in mixed.get("Overrides", []):
        if override.get("LaunchTemplateSpecification"):
            yield override["LaunchTemplateSpecification"]


def _version_number(template: dict[str, Any], version: str | None) -> int:
    if version in (None, "", "$Default"):
        return int(template["DefaultVersionNumber"])
    if version == "$Latest":
        return int(template["LatestVersionNumber"])
    return int(str(version))


def read_launch_records(read: Callable[[], dict[str, Any]]) -> tuple[dict[str, datetime] | None, str | None]:
    """The product's own launch records (image id -> last launch), or the reason they could not be read."""
    try:
        return {image_id: record.launched_at for image_id, record in read().items()}, None
    except Exception as e:  # unreadable records block deregistration everywhere; the error is reported
        logger.warning("launch records unreadable", extra={"error": str(e)})
        return None, f"{error_code(e)}: {e}"
