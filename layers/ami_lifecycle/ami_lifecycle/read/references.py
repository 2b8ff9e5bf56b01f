"""What uses an AMI in a region, each a paginated listing: instances, launch templates (every version),
launch configurations and Auto Scaling groups. Each reader adds References to the region's inventory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model.inventory import Reference, RegionInventory
from .pages import pages as _pages

# Every state but terminated: a stopped instance starts again from the AMI's snapshots' volumes, and a
# shutting-down one may still be replaced by its Auto Scaling group from the same AMI.
LIVE_INSTANCE_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")


def read_instances(ec2: Any, inventory: RegionInventory) -> None:
    filters = [{"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)}]
    for page in _pages(ec2, "describe_instances", Filters=filters, MaxResults=1000):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                state = instance.get("State", {}).get("Name", "")
                inventory.refer(instance.get("ImageId"), Reference("instance", f"{instance['InstanceId']} ({state})"))


def read_launch_templates(ec2: Any, inventory: RegionInventory) -> dict[str, dict[str, Any]]:
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


def read_launch_configurations(autoscaling: Any, inventory: RegionInventory) -> dict[str, str]:
    images: dict[str, str] = {}
    for page in _pages(autoscaling, "describe_launch_configurations", MaxRecords=100):
        for configuration in page["LaunchConfigurations"]:
            name, image_id = configuration["LaunchConfigurationName"], configuration.get("ImageId", "")
            images[name] = image_id
            inventory.refer(image_id, Reference("launch-configuration", name))
    return images


def read_auto_scaling_groups(
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
