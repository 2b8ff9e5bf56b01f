"""The rules of template.yaml and dr-forwarder.yaml route exactly the events the handler is for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from ami_lifecycle.local.eventbus import LocalEventBus
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.model.events import parse_ami_state_change, parse_instance_state_change

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


def test_ami_events_of_other_sources_invoke_nothing(bus: LocalEventBus) -> None:
    bus.publish("us-east-1", "custom.builder", "EC2 AMI State Change",
                {"ImageId": "ami-0123456789abcdef0", "State": "available"}, [])  # fmt: skip

    assert bus.deliveries() == []


def test_instance_events_never_reach_the_image_available_function(bus: LocalEventBus) -> None:
    bus.publish("us-east-1", "aws.ec2", "EC2 Instance State-change Notification",
                {"instance-id": "i-0123456789abcdef0", "state": "running"}, [])  # fmt: skip

    assert [function for function, _ in bus.deliveries()] == ["LaunchTrackingFunction"]


def test_events_of_regions_without_a_forwarder_invoke_nothing(bus: LocalEventBus) -> None:
    sample = json.loads(SAMPLES[0].read_text())

    bus.publish("eu-central-1", sample["source"], sample["detail-type"], sample["detail"], sample["resources"])

    assert bus.deliveries() == []


@pytest.mark.parametrize("state", ["pending", "running"])
def test_instance_launches_reach_the_launch_tracking_function(bus: LocalEventBus, state: str) -> None:
    sample = json.loads(Path("events/instance-launched.json").read_text())
    parse_instance_state_change(sample)

    bus.publish(sample["region"], sample["source"], sample["detail-type"], sample["detail"] | {"state": state},
                sample["resources"])  # fmt: skip

    ((function, event),) = bus.deliveries()
    assert function == "LaunchTrackingFunction" and event["detail"]["state"] == state


@pytest.mark.parametrize("state", ["stopping", "stopped", "shutting-down", "terminated"])
def test_other_instance_states_invoke_nothing(bus: LocalEventBus, state: str) -> None:
    bus.publish("us-east-1", "aws.ec2", "EC2 Instance State-change Notification",
                {"instance-id": "i-0123456789abcdef0", "state": state}, [])  # fmt: skip

    assert bus.deliveries() == []


def test_launches_in_a_dr_region_are_forwarded(bus: LocalEventBus) -> None:
    bus.publish("us-west-2", "aws.ec2", "EC2 Instance State-change Notification",
                {"instance-id": "i-0123456789abcdef0", "state": "running"}, [])  # fmt: skip

    ((function, event),) = bus.deliveries()
    assert function == "LaunchTrackingFunction" and event["region"] == "us-west-2"
