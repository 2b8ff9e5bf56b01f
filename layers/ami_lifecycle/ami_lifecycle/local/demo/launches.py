"""Launches: instances of the account, their events through the launch rule to the launch-tracking function."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ami_lifecycle.model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG

from .. import fidelity
from .aws_state import copies_of, own_images
from .events import EventFlow, Step
from .world import ALERT_INBOX, ALERT_TOPIC, BURST, HOME, USAGE_TABLE, WEST, Account, Build, LocalAws


@dataclass(frozen=True)
class LaunchResources:
    """What template.yaml creates for launch tracking, plus a subscriber that lets the demo read the alerts."""

    table: str
    topic_arn: str
    inbox_url: str


def create_launch_resources(aws: LocalAws) -> LaunchResources:
    """UsageTable and LaunchAlertsTopic as the template declares them, in the home region."""
    aws.clients.client("dynamodb", HOME).create_table(
        TableName=USAGE_TABLE,
        KeySchema=[{"AttributeName": "image_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "image_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sns, sqs = aws.clients.client("sns", HOME), aws.clients.client("sqs", HOME)
    topic_arn = sns.create_topic(Name=ALERT_TOPIC)["TopicArn"]
    inbox_url = sqs.create_queue(QueueName=ALERT_INBOX)["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # Raw delivery: the inbox receives the handler's JSON message itself, not SNS's envelope around it.
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    return LaunchResources(USAGE_TABLE, topic_arn, inbox_url)


@dataclass(frozen=True)
class Launched:
    """One instance the demo launched; `lineage` is the tags it must end up with (None: an unmanaged AMI)."""

    instance_id: str
    region: str
    image_id: str
    lineage: dict[str, str] | None


@dataclass
class LaunchStory:
    """Step 7: the two delivery rounds, the instances, and the web version that was deprecated."""

    fleet: Step
    late: Step
    instances: list[Launched]
    deprecated_id: str
    problems: list[str] = field(default_factory=list)


def web_builds(account: Account) -> list[tuple[Build, str]]:
    """The web versions, oldest first (versions compare as numbers, not strings)."""
    web = [(b, i) for b, i in account.managed if b.family == "web"]
    return sorted(web, key=lambda bi: tuple(int(p) for p in bi[0].version.split(".")))


def source_lineage(build: Build, source_id: str) -> dict[str, str]:
    """Instances of a source and of its copies name the same source: the one in the home region."""
    return {FAMILY_TAG: build.family, VERSION_TAG: build.version, SOURCE_IMAGE_TAG: source_id, SOURCE_REGION_TAG: HOME}


def launch(aws: LocalAws, region: str, image_id: str, lineage: dict[str, str] | None, count: int = 1) -> list[Launched]:
    reservation = aws.ec2(region).run_instances(
        ImageId=image_id, MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )
    return [Launched(i["InstanceId"], region, image_id, lineage) for i in reservation["Instances"]]


def announce(flow: EventFlow, instances: list[Launched]) -> None:
    """As EC2 does: every instance pending, then running, each event in the instance's own region."""
    for state in ("pending", "running"):
        for instance in instances:
            flow.instance_state_change(instance.region, instance.instance_id, state)


def launch_fleet(aws: LocalAws, flow: EventFlow, account: Account) -> tuple[Step, list[Launched], list[str]]:
    """A scale-out of the newest web version, a DR launch from its copy, a hand-made debug box."""
    step = flow.start_step()
    problems = []
    build, source_id = web_builds(account)[-1]
    lineage = source_lineage(build, source_id)
    instances = launch(aws, HOME, source_id, lineage, BURST)
    copies = [c for c in copies_of(own_images(aws, WEST), source_id) if c["State"] == "available"]
    if copies:  # its events reach the home region through the DR forwarder's rule
        instances += launch(aws, WEST, copies[0]["ImageId"], lineage)
    else:
        problems.append(f"no available copy of {build.name} in {WEST} to launch from")
    instances += launch(aws, HOME, account.unmanaged_id, None)
    announce(flow, instances)
    flow.deliver()
    return step, instances, problems


def deprecate_yesterday(image_id: str) -> None:
    """Time passes: EnableImageDeprecation refuses past dates, so the fidelity extension sets the date directly."""
    fidelity.set_deprecation_time(image_id, datetime.now(UTC) - timedelta(days=1), HOME)


def launch_deprecated(
    aws: LocalAws, flow: EventFlow, build: Build, image_id: str, debug_box: Launched
) -> tuple[Step, Launched]:
    """Someone launches a deprecated version anyway; the debug box is stopped (noise for the launch rule)."""
    step = flow.start_step()
    (instance,) = launch(aws, HOME, image_id, source_lineage(build, image_id))
    announce(flow, [instance])
    aws.ec2(HOME).stop_instances(InstanceIds=[debug_box.instance_id])
    flow.instance_state_change(HOME, debug_box.instance_id, "stopped")  # the launch rule passes pending/running only
    flow.deliver()
    return step, instance
