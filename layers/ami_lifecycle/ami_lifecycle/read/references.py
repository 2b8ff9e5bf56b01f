"""What uses an AMI in a region, each a paginated listing: instances, launch configurations, Auto Scaling groups,
EC2 Fleets, Spot Fleet requests, spot instance requests and AWS Batch compute environments (launch templates are
read by launch_templates.py). Each reader adds References to the region's inventory; a launch template named by
a group, fleet or compute environment is resolved to the version it launches."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..model.inventory import Reference, RegionInventory
from .launch_templates import LaunchTemplate

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_autoscaling.type_defs import AutoScalingGroupTypeDef, LaunchTemplateSpecificationTypeDef
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef

# Every state but terminated: a stopped instance starts again from the AMI's snapshots' volumes, and a
# shutting-down one may still be replaced by its Auto Scaling group from the same AMI.
LIVE_INSTANCE_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")
# A fleet or request in these states launches nothing any more; its instances are read as instances.
ENDED_FLEET_STATES = frozenset({"deleted", "deleted_running", "deleted_terminating", "failed"})
ENDED_SPOT_FLEET_STATES = frozenset({"cancelled", "cancelled_running", "cancelled_terminating", "failed"})
# Spot requests that can still launch: open or active, and a persistent one also while disabled (its
# instance stopped or interrupted), since it relaunches when it is enabled again.
LAUNCHING_SPOT_STATES = frozenset({"open", "active"})
ENDED_BATCH_STATES = frozenset({"DELETING", "DELETED"})


def read_instances(ec2: EC2Client, inventory: RegionInventory) -> None:
    filters: list[FilterTypeDef] = [{"Name": "instance-state-name", "Values": list(LIVE_INSTANCE_STATES)}]
    pages = ec2.get_paginator("describe_instances").paginate(Filters=filters, PaginationConfig={"PageSize": 1000})
    for page in pages:
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                state = instance.get("State", {}).get("Name", "")
                inventory.refer(instance.get("ImageId"), Reference("instance", f"{instance['InstanceId']} ({state})"))


def read_launch_configurations(autoscaling: AutoScalingClient, inventory: RegionInventory) -> dict[str, str]:
    images: dict[str, str] = {}
    pages = autoscaling.get_paginator("describe_launch_configurations").paginate(PaginationConfig={"PageSize": 100})
    for page in pages:
        for configuration in page["LaunchConfigurations"]:
            name, image_id = configuration["LaunchConfigurationName"], configuration.get("ImageId", "")
            images[name] = image_id
            inventory.refer(image_id, Reference("launch-configuration", name))
    return images


def read_auto_scaling_groups(
    autoscaling: AutoScalingClient,
    inventory: RegionInventory,
    templates: dict[str, LaunchTemplate],
    configurations: dict[str, str],
) -> None:
    """A group uses an AMI through its launch configuration, launch template or mixed-instances overrides."""
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate(PaginationConfig={"PageSize": 100}):
        for group in page["AutoScalingGroups"]:
            name = group["AutoScalingGroupName"]
            if group.get("LaunchConfigurationName"):
                configuration = group["LaunchConfigurationName"]
                inventory.refer(
                    configurations.get(configuration),
                    Reference("auto-scaling-group", f"{name} (launch configuration {configuration})"),
                )
            for spec in _template_specs(group):
                _refer_template(inventory, templates, spec, "auto-scaling-group", name)


def _template_specs(group: AutoScalingGroupTypeDef) -> Iterator[LaunchTemplateSpecificationTypeDef]:
    if "LaunchTemplate" in group:
        yield group["LaunchTemplate"]
    mixed = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
    if "LaunchTemplateSpecification" in mixed:
        yield mixed["LaunchTemplateSpecification"]
    for override in mixed.get("Overrides", []):
        if "LaunchTemplateSpecification" in override:
            yield override["LaunchTemplateSpecification"]


def read_ec2_fleets(ec2: EC2Client, inventory: RegionInventory, templates: dict[str, LaunchTemplate]) -> None:
    """EC2 Fleets not deleted: their launch templates' versions and the ImageId of any override."""
    for page in ec2.get_paginator("describe_fleets").paginate(PaginationConfig={"PageSize": 1000}):
        for fleet in page["Fleets"]:
            if fleet.get("FleetState", "") in ENDED_FLEET_STATES:
                continue
            name = fleet["FleetId"]
            for config in fleet.get("LaunchTemplateConfigs", []):
                _refer_template(inventory, templates, config.get("LaunchTemplateSpecification", {}), "ec2-fleet", name)
                for override in config.get("Overrides", []):
                    inventory.refer(override.get("ImageId"), Reference("ec2-fleet", f"{name} (override)"))


def read_spot_fleet_requests(
    ec2: EC2Client, inventory: RegionInventory, templates: dict[str, LaunchTemplate]
) -> None:
    """Spot Fleet requests not cancelled: launch specifications, launch templates and their overrides."""
    for page in ec2.get_paginator("describe_spot_fleet_requests").paginate(PaginationConfig={"PageSize": 1000}):
        for request in page["SpotFleetRequestConfigs"]:
            if request.get("SpotFleetRequestState", "") in ENDED_SPOT_FLEET_STATES:
                continue
            name = request["SpotFleetRequestId"]
            config: Mapping[str, Any] = request.get("SpotFleetRequestConfig", {})
            for spec in config.get("LaunchSpecifications", []):
                inventory.refer(spec.get("ImageId"), Reference("spot-fleet", f"{name} (launch specification)"))
            for template_config in config.get("LaunchTemplateConfigs", []):
                spec = template_config.get("LaunchTemplateSpecification", {})
                _refer_template(inventory, templates, spec, "spot-fleet", name)
                for override in template_config.get("Overrides", []):
                    inventory.refer(override.get("ImageId"), Reference("spot-fleet", f"{name} (override)"))


def read_spot_instance_requests(ec2: EC2Client, inventory: RegionInventory) -> None:
    for page in ec2.get_paginator("describe_spot_instance_requests").paginate(PaginationConfig={"PageSize": 1000}):
        for request in page["SpotInstanceRequests"]:
            state, kind = request.get("State", ""), request.get("Type", "")
            if state in LAUNCHING_SPOT_STATES or (kind == "persistent" and state == "disabled"):
                image_id = request.get("LaunchSpecification", {}).get("ImageId")
                what = f"{request['SpotInstanceRequestId']} ({kind}, {state})"
                inventory.refer(image_id, Reference("spot-request", what))


def read_batch_compute_environments(
    batch: BatchClient, inventory: RegionInventory, templates: dict[str, LaunchTemplate]
) -> None:
    """Compute environments not being deleted: image overrides, the deprecated imageId, their launch template."""
    for page in batch.get_paginator("describe_compute_environments").paginate(PaginationConfig={"PageSize": 100}):
        for environment in page["computeEnvironments"]:
            if environment.get("status", "") in ENDED_BATCH_STATES:
                continue
            name = environment["computeEnvironmentName"]
            resources: Mapping[str, Any] = environment.get("computeResources", {})
            reference = Reference("batch-compute-environment", name)
            inventory.refer(resources.get("imageId"), reference)
            for configuration in resources.get("ec2Configuration", []):
                inventory.refer(configuration.get("imageIdOverride"), reference)
            template = resources.get("launchTemplate", {})
            spec = {
                "LaunchTemplateId": template.get("launchTemplateId"),
                "LaunchTemplateName": template.get("launchTemplateName"),
                "Version": template.get("version"),
            }
            _refer_template(inventory, templates, spec, "batch-compute-environment", name)


def _refer_template(
    inventory: RegionInventory, templates: dict[str, LaunchTemplate], spec: Mapping[str, Any], kind: str, name: str
) -> None:
    template = templates.get(spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName") or "")
    if template is None:
        return  # none named, or deleted since: its versions reference nothing any more
    number = _version_number(template, spec.get("Version"))
    what = f"{name} (launch template {template.template_id} version {number})"
    inventory.refer(template.images.get(number), Reference(kind, what))


def _version_number(template: LaunchTemplate, version: str | None) -> int:
    if version in (None, "", "$Default"):
        return template.default_version
    if version == "$Latest":
        return template.latest_version
    return int(str(version))
