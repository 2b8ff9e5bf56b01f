"""The launches as AWS now shows them: instance tags (EC2), usage records (DynamoDB), alerts (SNS); their tables,
and every way they differ from what launch-tracking should have done."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ami_lifecycle.aws.usage_table import LaunchRecord, UsageStore
from ami_lifecycle.model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, VERSION_TAG, tags_of

from .launches import Launched, LaunchResources, LaunchStory
from .output import columns
from .world import ALERT_TOPIC, HOME, LINEAGE_TAGS, LocalAws


@dataclass
class LaunchView:
    """What AWS now says about the launches: instance tags (EC2), usage records (DynamoDB), alerts (SNS)."""

    instance_tags: dict[str, dict[str, str]]  # instance id -> tags
    image_labels: dict[str, str]  # image id -> "web 1.2.0", "web 1.2.0 copy", "unmanaged", + " deprecated"
    usage: dict[str, LaunchRecord | None]  # image id -> its item in the usage table
    alerts: list[dict[str, Any]]


def image_label(image: dict[str, Any], now: datetime) -> str:
    """How a person names the AMI of an instance, from the image's own tags and deprecation time."""
    tags = tags_of(image)
    if FAMILY_TAG not in tags:
        return "unmanaged"
    label = f"{tags[FAMILY_TAG]} {tags.get(VERSION_TAG, '?')}"
    if image.get("SourceImageId") or SOURCE_IMAGE_TAG in tags:
        label += " copy"
    deprecated = image.get("DeprecationTime")
    if deprecated and datetime.fromisoformat(deprecated.replace("Z", "+00:00")) <= now:
        label += " deprecated"
    return label


def read_alerts(aws: LocalAws, inbox_url: str) -> list[dict[str, Any]]:
    """Every message the inbox holds (deleted once read, as a mail client would)."""
    sqs, alerts = aws.clients.client("sqs", HOME), []
    while messages := sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            alerts.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=message["ReceiptHandle"])
    return alerts


def read_launches(aws: LocalAws, resources: LaunchResources, instances: list[Launched]) -> LaunchView:
    tags: dict[str, dict[str, str]] = {}
    labels: dict[str, str] = {}
    now = datetime.now(UTC)
    for region in sorted({i.region for i in instances}):
        ec2 = aws.ec2(region)
        ids = [i.instance_id for i in instances if i.region == region]
        for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
            tags |= {i["InstanceId"]: tags_of(i) for i in reservation["Instances"]}
        images = sorted({i.image_id for i in instances if i.region == region})
        labels |= {i["ImageId"]: image_label(i, now) for i in ec2.describe_images(ImageIds=images)["Images"]}
    store = UsageStore(aws.clients, HOME, resources.table)
    usage = {image_id: store.last_launch(image_id) for image_id in dict.fromkeys(i.image_id for i in instances)}
    return LaunchView(tags, labels, usage, read_alerts(aws, resources.inbox_url))


def lineage_cell(tags: dict[str, str]) -> str:
    if not any(k in tags for k in LINEAGE_TAGS):
        return "-"
    family, version, source, region = (tags.get(k, "?") for k in LINEAGE_TAGS)
    return f"{family} {version} <- {source} ({region})"


def launch_lines(instances: list[Launched], view: LaunchView) -> list[str]:
    """Instances, then the usage record of each AMI launched, then the alerts."""
    return [
        "Launches, as EC2 describes the instances now:",
        *instance_table(instances, view),
        "",
        "Usage table (DynamoDB), last launch per AMI:",
        *usage_table(instances, view),
        "",
        f"Alerts received by the inbox subscribed to {ALERT_TOPIC}: {len(view.alerts)}",
        *(line for alert in view.alerts for line in alert_lines(alert)),
    ]


def instance_table(instances: list[Launched], view: LaunchView) -> list[str]:
    header = ["INSTANCE", "REGION", "AMI", "LINEAGE TAGS (family version <- source image)"]
    rows = [
        [
            i.instance_id,
            i.region,
            view.image_labels.get(i.image_id, "?"),
            lineage_cell(view.instance_tags[i.instance_id]),
        ]
        for i in instances
    ]
    return columns(header, rows, "  ")


def usage_table(instances: list[Launched], view: LaunchView) -> list[str]:
    region_of = {i.image_id: i.region for i in instances}
    rows = []
    for image_id, record in view.usage.items():
        when = f"{record.launched_at:%Y-%m-%d %H:%M:%S}Z by {record.instance_id}" if record else "no record"
        rows.append([view.image_labels.get(image_id, "?"), image_id, region_of[image_id], when])
    return columns(["AMI", "IMAGE", "REGION", "LAST LAUNCH"], rows, "  ")


def alert_lines(alert: dict[str, Any]) -> list[str]:
    """The alert as its reader sees it: which AMI, why it is retired, which instances."""
    name = f"{alert.get('family')} {alert.get('version')}" if alert.get("managed") else "unmanaged"
    return [
        f"  {name} ({alert.get('image_id')}, {alert.get('region')}): {alert.get('reason')}",
        f"    instances: {', '.join(alert.get('instance_ids', []))}",
    ]


def launch_checks(story: LaunchStory, view: LaunchView) -> list[str]:
    """Instances carry the right lineage, usage is recorded for managed AMIs only, one alert, no failures."""
    return [
        *story.problems,
        *lineage_problems(story.instances, view),
        *usage_problems(story.instances, view),
        *alert_problems(story, view),
        *delivery_problems(story),
    ]


def lineage_problems(instances: list[Launched], view: LaunchView) -> list[str]:
    problems = []
    for i in instances:
        found = {k: v for k, v in view.instance_tags[i.instance_id].items() if k in LINEAGE_TAGS}
        if found != (i.lineage or {}):  # an unmanaged instance must carry none
            problems.append(f"instance {i.instance_id} ({i.region}): lineage tags {found}, expected {i.lineage or {}}")
    return problems


def usage_problems(instances: list[Launched], view: LaunchView) -> list[str]:
    """A record per managed AMI, naming one of its instances; none for the unmanaged AMI."""
    problems = []
    for image_id, record in view.usage.items():
        launched = {i.instance_id: i for i in instances if i.image_id == image_id}
        managed = any(i.lineage for i in launched.values())
        if not managed:
            if record is not None:
                problems.append(f"usage recorded for the unmanaged {image_id}")
        elif record is None or record.instance_id not in launched:
            problems.append(f"usage of {image_id}: {record or 'no record'}, expected a launch of {sorted(launched)}")
        elif record.region != launched[record.instance_id].region:
            problems.append(
                f"usage of {image_id}: region {record.region}, expected {launched[record.instance_id].region}"
            )
    return problems


def alert_problems(story: LaunchStory, view: LaunchView) -> list[str]:
    """Exactly one alert: the deprecated version, naming the instance launched from it."""
    expected = [(story.deprecated_id, [i.instance_id for i in story.instances if i.image_id == story.deprecated_id])]
    received = [(a.get("image_id"), a.get("instance_ids")) for a in view.alerts]
    return [] if received == expected else [f"alerts for {received}, expected {expected}"]


def delivery_problems(story: LaunchStory) -> list[str]:
    """Every batch succeeded; pending and running of each instance were delivered, stopped was not."""
    problems = [
        f"launch batch of {b.size} messages failed: {b.error or b.response}"
        for b in story.fleet.launch_batches + story.late.launch_batches
        if b.failures or b.error
    ]
    delivered, wanted = story.fleet.delivered + story.late.delivered, 2 * len(story.instances)
    if delivered != wanted:
        problems.append(f"{delivered} instance events delivered, expected {wanted} (pending and running of each)")
    return problems


def tracked_launches(instances: list[Launched], view: LaunchView) -> int:
    """Instances that now carry lineage tags: the launches the function tracked, as EC2 shows them."""
    return sum(FAMILY_TAG in view.instance_tags.get(i.instance_id, {}) for i in instances)
