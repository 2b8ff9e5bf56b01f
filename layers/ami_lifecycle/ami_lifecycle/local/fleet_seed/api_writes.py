"""What refers to the AMIs, written through the API (few of them, and their API is quick): instances, launch
templates with their versions, launch configurations, Auto Scaling groups, and the usage table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from ami_lifecycle.aws.usage_table import RECORD_LIFETIME

from ..seed import create_usage_table
from .ground_truth import FleetShape, SeededFleet
from .layout import Layout, Uses, member, nearest_image_id

USAGE_TABLE = "usage"


def launch_instances(layout: Layout, fleet: SeededFleet, instances: list[tuple[str, str, int, bool]]) -> None:
    stopped: dict[str, list[str]] = {}
    clients: dict[str, Any] = {region: boto3.client("ec2", region) for region in fleet.regions}
    for region, family, rank, stop in instances:
        image_id = member(layout, region, family, rank)
        if image_id is None:
            continue
        (instance,) = clients[region].run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
            "Instances"
        ]
        if stop:
            stopped.setdefault(region, []).append(instance["InstanceId"])
        fleet.instances["stopped" if stop else "running"] = fleet.instances.get("stopped" if stop else "running", 0) + 1
    for region, ids in stopped.items():
        clients[region].stop_instances(InstanceIds=ids)


def write_launch_setup(layout: Layout, fleet: SeededFleet, uses: Uses, shape: FleetShape) -> None:
    """Launch templates with all their versions, launch configurations, and Auto Scaling groups using them:
    by launch template ($Latest, $Default or a number), by launch configuration, or by a mixed-instances
    policy whose overrides name a second template."""
    templates: dict[str, list[tuple[str, int]]] = {}  # region -> (template id, versions)
    clients: dict[str, Any] = {region: boto3.client("ec2", region) for region in fleet.regions}
    for t, (region, family, ranks, default) in enumerate(uses.templates):
        ec2 = clients[region]
        template_id = ""
        for number, rank in enumerate(ranks, start=1):
            data = {"ImageId": nearest_image_id(layout, region, family, rank) or "", "InstanceType": "t3.micro"}
            if number == 1:
                template_id = ec2.create_launch_template(LaunchTemplateName=f"{family}-lt{t}", LaunchTemplateData=data)[
                    "LaunchTemplate"
                ]["LaunchTemplateId"]
            else:
                ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData=data)
            fleet.template_versions += 1
        if default != len(ranks):
            ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(default))
        templates.setdefault(region, []).append((template_id, len(ranks)))
        fleet.launch_templates[region] = fleet.launch_templates.get(region, 0) + 1

    autoscaling = boto3.client("autoscaling", layout.home)
    configurations = []
    for c, (family, rank) in enumerate(uses.configurations):
        name = f"{family}-lc{c}"
        image_id = nearest_image_id(layout, layout.home, family, rank) or ""
        autoscaling.create_launch_configuration(LaunchConfigurationName=name, ImageId=image_id, InstanceType="t3.micro")
        configurations.append(name)
        fleet.launch_configurations += 1

    home_templates = templates.get(layout.home, [])
    groups = max(5, shape.amis // 80)
    for g in range(groups):
        params: dict[str, Any] = {
            "AutoScalingGroupName": f"asg{g}",
            "MinSize": 0,
            "MaxSize": 4,
            "DesiredCapacity": 0,
            "AvailabilityZones": [f"{layout.home}a"],
        }
        template_id, versions = home_templates[g % len(home_templates)]
        kind = g % 5
        if kind < 3:
            version = ("$Latest", "$Default", str(max(1, versions - 1)))[kind]
            params["LaunchTemplate"] = {"LaunchTemplateId": template_id, "Version": version}
        elif kind == 3:
            params["LaunchConfigurationName"] = configurations[g % len(configurations)]
        else:
            other, _ = home_templates[(g * 7 + 3) % len(home_templates)]
            params["MixedInstancesPolicy"] = {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "$Latest"},
                    "Overrides": [
                        {"InstanceType": "t3.large"},
                        {
                            "InstanceType": "m6g.large",
                            "LaunchTemplateSpecification": {"LaunchTemplateId": other, "Version": "$Default"},
                        },
                    ],
                },
                "InstancesDistribution": {"OnDemandBaseCapacity": 0},
            }
            fleet.mixed_instances_groups += 1
        autoscaling.create_auto_scaling_group(**params)
        fleet.auto_scaling_groups += 1


def write_launch_records(layout: Layout, fleet: SeededFleet, uses: Uses, now: datetime) -> None:
    """The usage table with one record per launched AMI, as launch-tracking writes it, in batches of 25."""
    dynamodb: Any = boto3.client("dynamodb", layout.home)
    create_usage_table(dynamodb, USAGE_TABLE)
    window = layout.retention.launched_within_days
    items: dict[str, dict[str, Any]] = {}
    for kind, picks, age in (("old", uses.old_launches, (window + 5, 300)), ("recent", uses.recent_launches, (0, 25))):
        for region, family, rank in picks:
            image_id = member(layout, region, family, rank)
            if image_id is None:
                continue
            launched = now - timedelta(days=layout.rng.uniform(*age))
            items[image_id] = {
                "image_id": {"S": image_id},
                "last_launched_at": {"S": launched.astimezone(UTC).isoformat()},
                "last_instance_id": {"S": f"i-{layout.rng.getrandbits(68):017x}"},
                "image_region": {"S": region},
                "expires_at": {"N": str(int((launched + RECORD_LIFETIME).timestamp()))},
                "kind": {"S": kind},
            }
    for item in items.values():
        kind = item.pop("kind")["S"]
        fleet.launch_records[kind] = fleet.launch_records.get(kind, 0) + 1
    rows = list(items.values())
    for start in range(0, len(rows), 25):
        chunk = [{"PutRequest": {"Item": item}} for item in rows[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={USAGE_TABLE: chunk})
