"""The rules of template.yaml and dr-forwarder.yaml route exactly the events the handler is for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from ami_lifecycle.events import parse_ami_state_change
from ami_lifecycle.local.eventbus import LocalEventBus
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID

SAMPLES = sorted(Path("events").glob("ami-*.json"))


@pytest.fixture
def bus() -> Iterator[LocalEventBus]:
    with mock_aws():
        yield LocalEventBus("us-east-1", ["us-west-2"], DEFAULT_ACCOUNT_ID)


def publish_sample(bus: LocalEventBus, sample: dict, **detail: str) -> None:
    bus.publish(
        sample["region"], sample["source"], sample["detail-type"], sample["detail"] | detail, sample["resources"]
    )


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_reaches_the_image_available_function_intact(bus: LocalEventBus, path: Path) -> None:
    sample = json.loads(path.read_text())
    parse_ami_state_change(sample)  # the sample is valid for the handler

    publish_sample(bus, sample)

    ((function, event),) = bus.deliveries()
    assert function == "ImageAvailableFunction"
    assert (event["region"], event["detail"]) == (sample["region"], sample["detail"])
    assert parse_ami_state_change(event).detail.image_id == sample["detail"]["ImageId"]


@pytest.mark.parametrize("state", ["pending", "failed", "deregistered", "disabled"])
def test_other_ami_states_invoke_nothing(bus: LocalEventBus, state: str) -> None:
    sample = json.loads(SAMPLES[0].read_text())

    publish_sample(bus, sample, State=state)

    assert bus.deliveries() == []


def test_other_detail_types_and_sources_invoke_nothing(bus: LocalEventBus) -> None:
    bus.publish(
        "us-east-1",
        "aws.ec2",
        "EC2 Instance State-change Notification",
        {"instance-id": "i-0123456789abcdef0", "state": "running"},
        [],
    )
    bus.publish(
        "us-east-1",
        "custom.builder",
        "EC2 AMI State Change",
        {"ImageId": "ami-0123456789abcdef0", "State": "available"},
        [],
    )

    assert bus.deliveries() == []


def test_events_of_regions_without_a_forwarder_invoke_nothing(bus: LocalEventBus) -> None:
    sample = json.loads(SAMPLES[0].read_text())

    bus.publish("eu-central-1", sample["source"], sample["detail-type"], sample["detail"], sample["resources"])

    assert bus.deliveries() == []
