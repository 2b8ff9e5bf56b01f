"""Instance launches: usage records, lineage tags on instances, alerts, partial batch failures, call budget."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from ami_lifecycle.aws.alert_topic import AlertTopic
from ami_lifecycle.aws.usage_table import LaunchRecord, UsageStore
from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.flows.launches import process_launch_batch
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID, sqs_event
from ami_lifecycle.local.seed import create_usage_table, register_ami
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, tags_of

from .conftest import HOME, WEST, Account, ami_event

TABLE = "ami-usage"


class Launches:
    """The launch-tracking side of the account: usage table, alert topic (read through an SQS subscriber)."""

    def __init__(self, account: Account) -> None:
        self.account = account
        create_usage_table(boto3.client("dynamodb", region_name=HOME), TABLE)
        sns, sqs = boto3.client("sns", region_name=HOME), boto3.client("sqs", region_name=HOME)
        self.topic_arn = sns.create_topic(Name="launch-alerts")["TopicArn"]
        self.inbox = sqs.create_queue(QueueName="alert-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn["QueueArn"],
                      Attributes={"RawMessageDelivery": "true"})  # fmt: skip
        self.clients = account.clients()
        self.usage = UsageStore(self.clients, HOME, TABLE)

    def managed_ami(self, name: str = "web-1.0.0") -> str:
        image_id = self.account.build_ami(name)
        event = parse_ami_state_change(ami_event(image_id))
        handle_image_available(event, self.account.policy, self.clients, DEFAULT_ACCOUNT_ID)
        return image_id

    def run(self, image_id: str, count: int = 1, region: str = HOME) -> list[str]:
        reservation = self.account.ec2(region).run_instances(ImageId=image_id, MinCount=count, MaxCount=count)
        return [i["InstanceId"] for i in reservation["Instances"]]

    def process(self, events: list[dict[str, Any]], now: datetime | None = None) -> dict[str, Any]:
        return process_launch_batch(
            sqs_batch(events), self.account.policy, self.clients, DEFAULT_ACCOUNT_ID,
            usage=self.usage, alerts=AlertTopic(self.clients, self.topic_arn), now=now,
        )  # fmt: skip

    def alerts(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=HOME)
        messages = sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def tags(self, instance_id: str, region: str = HOME) -> dict[str, str]:
        data = self.account.ec2(region).describe_instances(InstanceIds=[instance_id])
        return tags_of(data["Reservations"][0]["Instances"][0])


@pytest.fixture
def launches(account: Account) -> Launches:
    return Launches(account)


def launch_event(instance_id: str, state: str = "running", region: str = HOME) -> dict[str, Any]:
    """An "EC2 Instance State-change Notification" exactly as EventBridge delivers it."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2", "account": DEFAULT_ACCOUNT_ID, "time": "2026-11-22T10:00:00Z", "region": region,
        "resources": [f"arn:aws:ec2:{region}:{DEFAULT_ACCOUNT_ID}:instance/{instance_id}"],
        "detail": {"instance-id": instance_id, "state": state},
    }  # fmt: skip


def sqs_batch(bodies: list[Any]) -> dict[str, Any]:
    return sqs_event(bodies, f"arn:aws:sqs:{HOME}:{DEFAULT_ACCOUNT_ID}:launch-events")


def failed_ids(response: dict[str, Any]) -> set[str]:
    return {f["itemIdentifier"] for f in response["batchItemFailures"]}


def test_launch_is_recorded_and_instances_carry_lineage(launches: Launches) -> None:
    image_id = launches.managed_ami("web-1.4.0")
    instance_ids = launches.run(image_id, count=3)

    response = launches.process([launch_event(i, state) for i in instance_ids for state in ("pending", "running")])

    assert response == {"batchItemFailures": []}
    record = launches.usage.last_launch(image_id)
    assert record is not None and record.instance_id in instance_ids and record.region == HOME
    assert abs(record.launched_at - datetime.now(UTC)) < timedelta(minutes=5)
    for instance_id in instance_ids:
        tags = launches.tags(instance_id)
        assert (tags[FAMILY_TAG], tags[VERSION_TAG]) == ("web", "1.4.0")
        assert (tags[SOURCE_IMAGE_TAG], tags[SOURCE_REGION_TAG]) == (image_id, HOME)
    assert launches.alerts() == []


def test_instances_of_a_dr_copy_name_the_source(launches: Launches) -> None:
    source_id = launches.managed_ami()
    fidelity.complete_pending_copies(WEST)
    (copy,) = launches.account.copies_of(source_id, WEST)
    (instance_id,) = launches.run(copy["ImageId"], region=WEST)

    launches.process([launch_event(instance_id, region=WEST)])

    tags = launches.tags(instance_id, WEST)
    assert (tags[SOURCE_IMAGE_TAG], tags[SOURCE_REGION_TAG]) == (source_id, HOME)
    assert launches.usage.last_launch(copy["ImageId"]) is not None


def test_duplicate_and_out_of_order_events_leave_one_correct_record(launches: Launches) -> None:
    image_id = launches.managed_ami()
    (instance_id,) = launches.run(image_id)
    events = [launch_event(instance_id, "running"), launch_event(instance_id, "pending")]

    first = launches.process(events + events)
    again = launches.process(events)

    assert failed_ids(first) == failed_ids(again) == set()
    record = launches.usage.last_launch(image_id)
    assert record is not None and record.instance_id == instance_id


def test_an_older_launch_never_replaces_a_newer_record(launches: Launches) -> None:
    now = datetime.now(UTC)
    newer = LaunchRecord("ami-0123456789abcdef0", HOME, now, "i-0000000000000000b")
    older = LaunchRecord("ami-0123456789abcdef0", HOME, now - timedelta(hours=1), "i-0000000000000000a")

    assert launches.usage.record_launch(newer) is True
    assert launches.usage.record_launch(older) is False
    assert launches.usage.last_launch("ami-0123456789abcdef0") == newer


def test_odd_messages_are_handled_one_by_one(launches: Launches) -> None:
    image_id = launches.managed_ami()
    gone_image = launches.account.build_ami("web-0.1.0")
    terminated, running = launches.run(image_id, count=2)
    launches.account.ec2(HOME).terminate_instances(InstanceIds=[terminated])
    (orphan,) = launches.run(gone_image)
    launches.account.ec2(HOME).deregister_image(ImageId=gone_image)

    # m0 already terminated: recorded, not tagged; m1 unknown instance; m2 its AMI is deregistered;
    # m3 and m4 malformed; m5 fine.
    response = launches.process(
        [
            launch_event(terminated),
            launch_event("i-0123456789abcdef0"),
            launch_event(orphan),
            "{not json",
            {"detail-type": "EC2 Instance State-change Notification", "detail": {}},
            launch_event(running),
        ]
    )

    assert failed_ids(response) == {"m3", "m4"}  # redelivered, then kept by the dead-letter queue
    assert launches.usage.last_launch(image_id) is not None
    assert FAMILY_TAG in launches.tags(running) and FAMILY_TAG not in launches.tags(terminated)
    assert launches.usage.last_launch(gone_image) is None


def test_a_transient_error_fails_only_its_own_messages(launches: Launches) -> None:
    first, second = sorted([launches.managed_ami("web-1.0.0"), launches.managed_ami("api-1.0.0")])
    a = launches.run(first, count=2)
    b = launches.run(second, count=2)
    # The first CreateTags outlasts botocore's retries (the test clients retry 3 times).
    launches.account.faults.fail("CreateTags", "RequestLimitExceeded", region=HOME, times=4)

    response = launches.process([launch_event(i) for i in a + b])

    assert failed_ids(response) == {"m0", "m1"}  # the instances of the AMI whose CreateTags failed
    assert all(FAMILY_TAG in launches.tags(i) for i in b)
    retried = launches.process([launch_event(i) for i in a])
    assert failed_ids(retried) == set() and all(FAMILY_TAG in launches.tags(i) for i in a)


def test_unmanaged_launches_are_counted_and_left_alone(launches: Launches) -> None:
    image_id = register_ami(launches.account.ec2(HOME), "hand-made", {"Team": "data"})
    (instance_id,) = launches.run(image_id)

    response = launches.process([launch_event(instance_id)])

    assert failed_ids(response) == set()
    assert launches.tags(instance_id) == {} and launches.usage.last_launch(image_id) is None
    assert launches.alerts() == []


def test_launch_from_a_disabled_ami_is_alerted(launches: Launches) -> None:
    image_id = launches.managed_ami()
    (instance_id,) = launches.run(image_id)
    launches.account.ec2(HOME).disable_image(ImageId=image_id)

    launches.process([launch_event(instance_id)])

    (alert,) = launches.alerts()
    assert alert["image_id"] == image_id and alert["reason"] == "disabled"
    assert alert["managed"] is True and alert["instance_ids"] == [instance_id]
    assert launches.usage.last_launch(image_id) is not None  # still in use: the sweep must see it


def test_thousand_launches_across_five_amis_cost_at_most_twenty_calls(launches: Launches) -> None:
    images = [launches.managed_ami(f"app{i}-1.0.0") for i in range(5)]
    instance_ids = [i for image_id in images for i in launches.run(image_id, count=200)]

    with record_calls() as calls:
        response = launches.process([launch_event(i) for i in instance_ids])

    assert failed_ids(response) == set()
    ops = calls.by_operation()
    assert ops["DescribeInstances"] == 1 and ops["DescribeImages"] == 1
    assert ops["UpdateItem"] == 5 and ops["CreateTags"] == 5
    assert len(calls.calls) <= 20


def test_launch_from_a_deprecated_ami_is_alerted_and_from_an_expired_unmanaged_one_too(launches: Launches) -> None:
    managed = launches.managed_ami()
    unmanaged = register_ami(launches.account.ec2(HOME), "vendor-image", {})
    yesterday = datetime.now(UTC) - timedelta(days=1)
    for image_id in (managed, unmanaged):
        fidelity.set_deprecation_time(image_id, yesterday, HOME)
    instances = launches.run(managed) + launches.run(unmanaged)

    launches.process([launch_event(i) for i in instances])

    alerts = {a["image_id"]: a for a in launches.alerts()}
    assert alerts.keys() == {managed, unmanaged}
    assert alerts[managed]["managed"] is True and alerts[unmanaged]["managed"] is False
    assert alerts[managed]["reason"].startswith("deprecated since") and alerts[managed]["family"] == "web"


def test_a_deprecation_date_still_ahead_raises_no_alert(launches: Launches) -> None:
    image_id = launches.managed_ami()
    launches.account.ec2(HOME).enable_image_deprecation(
        ImageId=image_id, DeprecateAt=datetime.now(UTC) + timedelta(days=30)
    )
    instances = launches.run(image_id)

    launches.process([launch_event(i) for i in instances])

    assert launches.alerts() == []


def test_a_recent_launch_stays_on_record_after_its_instances_are_gone(launches: Launches) -> None:
    used = launches.managed_ami("web-1.0.0")
    idle = launches.managed_ami("web-0.9.0")
    instance_ids = launches.run(used, count=2)
    launches.process([launch_event(i) for i in instance_ids])
    launches.account.ec2(HOME).terminate_instances(InstanceIds=instance_ids)

    recent = launches.usage.launched_since(datetime.now(UTC) - timedelta(days=30))
    future = launches.usage.launched_since(datetime.now(UTC) + timedelta(minutes=5))

    assert set(recent) == {used} and recent[used].instance_id in instance_ids and idle not in recent
    assert future == {}
