"""The opt-in summary after a sweep that changed something: on the alerts topic, per family and region, with the
GiB and monthly cost reclaimed; never in a dry run, never when nothing changed."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from ami_lifecycle.aws.alert_topic import LAUNCH_ALERTS_TOPIC_ENV

from .conftest import EU, HOME, WEST, Account
from .sweep_world import World, sweep_policy
from .test_plan_cli import history

GRACE_OVER = 11  # days: the 10-day grace period of sweep_policy is over


class Inbox:
    """An SQS queue subscribed to the alerts topic, as an operator's e-mail would be."""

    def __init__(self) -> None:
        sns, self.sqs = boto3.client("sns", region_name=HOME), boto3.client("sqs", region_name=HOME)
        self.topic_arn = sns.create_topic(Name="launch-alerts")["TopicArn"]
        self.url = self.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})

    def messages(self) -> list[dict[str, Any]]:
        received = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in received]


@pytest.fixture
def inbox(account: Account, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    inbox = Inbox()
    monkeypatch.setenv(LAUNCH_ALERTS_TOPIC_ENV, inbox.topic_arn)
    return inbox


def summary_on(account: Account) -> World:
    """Five versions of web, each copied to both DR regions, not shared (no usage report needed to remove one)."""
    world = World(account, sweep_policy(account, "sweep: {summary: true}\n", shared=False))
    world.family()
    return world


def test_a_sweep_that_retired_versions_says_what_per_family_and_region(account: Account, inbox: Inbox) -> None:
    world = summary_on(account)

    world.sweep()
    (deprecated,) = inbox.messages()
    world.sweep(days=GRACE_OVER)  # the hourly tick before, and this one: one of them removes
    (deregistered,) = inbox.messages()
    world.sweep(days=GRACE_OVER)

    assert inbox.messages() == []  # nothing changed
    assert [(r["family"], r["region"], r["deprecated"], r["deregistered"]) for r in deprecated["retired"]] == [
        ("web", EU, 3, 0),
        ("web", HOME, 3, 0),
        ("web", WEST, 3, 0),
    ]
    assert deprecated["summary"] == "AMI lifecycle sweep: 9 deprecated" and deprecated["gib_reclaimed"] == 0
    # three versions of 8 + 20 GiB in each region, at the list price of 0.05 per GB-month
    by_region = {r["region"]: r for r in deregistered["retired"]}
    assert {r: (e["deregistered"], e["snapshots_deleted"], e["gib"]) for r, e in by_region.items()} == {
        region: (3, 6, 84) for region in (HOME, WEST, EU)
    }
    assert by_region[HOME]["monthly_cost_reclaimed"] == 4.2
    assert (deregistered["gib_reclaimed"], deregistered["monthly_cost_reclaimed"]) == (252, 12.6)
    assert deregistered["summary"] == "AMI lifecycle sweep: 9 deregistered, 252 GiB reclaimed (USD 12.60 per month)"
    assert [t.summary.gib for t in world.ticks if t.summary] == [0, 252, 0, 0]


def test_the_first_run_in_an_account_with_history_says_what_it_adopted(account: Account, inbox: Inbox) -> None:
    world = World(account, sweep_policy(account, "sweep: {summary: true}\n"))
    history(account, world)

    world.sweep()

    (message,) = inbox.messages()
    # all six images are adopted: the three of the two versions retention keeps are finished; the three beyond it
    # (2.0.0, and 2.1.0 with its copy) only get the family tag, and 2.1.0 is deprecated in the same run, the copy
    # too; 2.0.0 (deprecated by hand, grace over) waits for its usage report, being shared with other accounts
    assert (message["images_finished"], message["images_adopted"], message["adopted_retiring"]) == (3, 6, 3)
    assert message["copies_started"] == 3 and message["failures"] == 0
    retired = [(r["region"], r["deprecated"], r["deregistered"]) for r in message["retired"]]
    assert retired == [(HOME, 1, 0), (WEST, 1, 0)]
    assert message["summary"] == "AMI lifecycle sweep: 2 deprecated, 3 copies started"


def test_no_summary_in_a_dry_run_or_unless_the_policy_asks(account: Account, inbox: Inbox) -> None:
    world = summary_on(account)

    dry = world.sweep(dry_run=True)
    real = world.sweep(policy=sweep_policy(account, shared=False))  # summary off (the default)

    assert inbox.messages() == []
    assert dry.summary is None and real.summary is not None and real.summary.total("deprecated") == 9


def test_a_summary_that_cannot_be_published_is_a_failure_and_the_run_stands(
    account: Account, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = summary_on(account)
    monkeypatch.setenv(LAUNCH_ALERTS_TOPIC_ENV, inbox.topic_arn + "-gone")

    report = world.sweep()

    assert report.results[HOME].applied["DeprecateImage"] == 3
    assert report.failures == 1 and report.summary_error and "NotFound" in report.summary_error
    assert inbox.messages() == []
