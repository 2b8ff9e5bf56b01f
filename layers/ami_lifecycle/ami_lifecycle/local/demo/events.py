"""Events: published as EC2 would, routed by the deployed rules, delivered to the real handlers."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import fidelity
from ..eventbus import LocalEventBus
from ..invoke import DEFAULT_ACCOUNT_ID, LocalLambdaContext, sqs_event
from .aws_state import own_images
from .world import DR_REGIONS, FUNCTION, HOME, LAUNCH_FUNCTION, LAUNCH_QUEUE_ARN, WEST, Account, DemoError, LocalAws


@dataclass
class Invocation:
    """One invocation of the image-available function: its result, or why it failed."""

    image_id: str
    region: str
    result: dict[str, Any] | None
    error: str = ""

    @property
    def status(self) -> str:
        return str(self.result["status"]) if self.result else "error"


@dataclass
class LaunchBatch:
    """One invocation of the launch-tracking function: an SQS batch of instance events."""

    size: int
    response: dict[str, Any] | None
    error: str = ""

    @property
    def failures(self) -> int:
        """Messages SQS would redeliver: the batchItemFailures, or all of them if the invocation failed."""
        return len(self.response.get("batchItemFailures", [])) if self.response else self.size


@dataclass
class Step:
    """What one step of the story published, delivered and invoked."""

    published: int = 0
    delivered: int = 0
    invocations: list[Invocation] = field(default_factory=list)
    launch_batches: list[LaunchBatch] = field(default_factory=list)


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class EventFlow:
    """Publishes events on the local buses and invokes the handlers as Lambda would.

    The image-available function gets one invocation per event (an EventBridge target); the launch-tracking
    function reads a queue, so it gets the events of one delivery round as one SQS batch.
    """

    def __init__(self, bus: LocalEventBus, handler: Handler, launch_handler: Handler) -> None:
        self.bus = bus
        self.handler = handler
        self.launch_handler = launch_handler
        self.steps: list[Step] = []

    def start_step(self) -> Step:
        self.steps.append(Step())
        return self.steps[-1]

    def ami_state_change(self, region: str, image_id: str, state: str, error: str = "") -> None:
        detail = {"RequestId": str(uuid.uuid4()), "ImageId": image_id, "State": state, "ErrorMessage": error}
        self.bus.publish(region, "aws.ec2", "EC2 AMI State Change", detail, [f"arn:aws:ec2:{region}::image/{image_id}"])
        self.steps[-1].published += 1

    def instance_state_change(self, region: str, instance_id: str, state: str) -> None:
        arn = f"arn:aws:ec2:{region}:{DEFAULT_ACCOUNT_ID}:instance/{instance_id}"
        detail = {"instance-id": instance_id, "state": state}
        self.bus.publish(region, "aws.ec2", "EC2 Instance State-change Notification", detail, [arn])
        self.steps[-1].published += 1

    def deliver(self) -> list[Invocation]:
        step = self.steps[-1]
        launches = []
        for function, event in self.bus.deliveries():
            step.delivered += 1
            if function == FUNCTION:
                step.invocations.append(self._invoke(event))
            elif function == LAUNCH_FUNCTION:
                launches.append(event)
            else:
                raise DemoError(f"an event was routed to {function!r}, which the demo does not know")
        if launches:
            step.launch_batches.append(self._invoke_launches(launches))
        return step.invocations

    def _invoke(self, event: dict[str, Any]) -> Invocation:
        image_id, region = event["detail"]["ImageId"], event["region"]
        # The function runs in the home region; forwarded events keep the region of the AMI.
        context = LocalLambdaContext("ami-lifecycle-image-available", HOME, DEFAULT_ACCOUNT_ID)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # Powertools prints its EMF metrics to stdout
                return Invocation(image_id, region, self.handler(event, context))
        except Exception as e:  # ProtectionIncomplete or a bug: reported with the rest, the exit status says it
            return Invocation(image_id, region, None, f"{type(e).__name__}: {e}")

    def _invoke_launches(self, events: list[dict[str, Any]]) -> LaunchBatch:
        context = LocalLambdaContext("ami-lifecycle-launch-tracking", HOME, DEFAULT_ACCOUNT_ID)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics, as above
                return LaunchBatch(len(events), self.launch_handler(sqs_event(events, LAUNCH_QUEUE_ARN), context))
        except Exception as e:  # a failed invocation: SQS would redeliver the whole batch
            return LaunchBatch(len(events), None, f"{type(e).__name__}: {e}")

    @property
    def published(self) -> int:
        return sum(s.published for s in self.steps)

    @property
    def delivered(self) -> int:
        return sum(s.delivered for s in self.steps)

    @property
    def invocations(self) -> list[Invocation]:
        return [i for s in self.steps for i in s.invocations]

    @property
    def launch_batches(self) -> list[LaunchBatch]:
        return [b for s in self.steps for b in s.launch_batches]


def send_build_noise(flow: EventFlow, account: Account) -> Step:
    """What a build emits before its AMI is usable, plus unrelated EC2 events: the rules must drop all of it."""
    step = flow.start_step()
    for _, image_id in account.managed:
        flow.ami_state_change(HOME, image_id, "pending")
    flow.ami_state_change(HOME, account.unmanaged_id, "pending")
    flow.ami_state_change(WEST, account.dr_original_id, "pending")
    flow.ami_state_change(HOME, "ami-0badc0ffee0000001", "failed", "Instance i-0d15ea5e000000001 terminated")
    flow.instance_state_change(HOME, "i-0b1d0000000000001", "terminated")  # the build instance going away
    flow.deliver()
    return step


def send_builds_available(flow: EventFlow, account: Account) -> Step:
    step = flow.start_step()
    for _, image_id in account.managed:
        flow.ami_state_change(HOME, image_id, "available")
    flow.ami_state_change(HOME, account.unmanaged_id, "available")
    flow.ami_state_change(WEST, account.dr_original_id, "available")  # forwarded: the handler must skip it
    flow.deliver()
    return step


def send_copies_pending(aws: LocalAws, flow: EventFlow) -> Step:
    """EC2 announces each started copy as pending in its region; the forwarder does not pass that on."""
    step = flow.start_step()
    for region in DR_REGIONS:
        for image in own_images(aws, region):
            if image["State"] == "pending":
                flow.ami_state_change(region, image["ImageId"], "pending")
    flow.deliver()
    return step


def complete_copies(flow: EventFlow) -> Step:
    """Time passes: the copies finish, EC2 announces them in their regions, the forwarder routes them home."""
    step = flow.start_step()
    for region, image_id in fidelity.complete_pending_copies():
        flow.ami_state_change(region, image_id, "available")
    flow.deliver()
    return step


def redeliver(aws: LocalAws, flow: EventFlow, image_id: str) -> tuple[Step, int, int]:
    """EventBridge delivers at least once: the same event again must not start a second copy."""
    before = sum(len(own_images(aws, r)) for r in DR_REGIONS)
    step = flow.start_step()
    flow.ami_state_change(HOME, image_id, "available")
    flow.deliver()
    return step, before, sum(len(own_images(aws, r)) for r in DR_REGIONS)


def batches(step: Step) -> str:
    if not step.launch_batches:
        return "launch-tracking not invoked"
    sizes = "+".join(str(b.size) for b in step.launch_batches)
    failures = sum(b.failures for b in step.launch_batches)
    plural = "es" if len(step.launch_batches) > 1 else ""
    return f"launch-tracking: {len(step.launch_batches)} SQS batch{plural} of {sizes} messages, {failures} failed"


def statuses(invocations: list[Invocation]) -> str:
    counts = Counter(i.status for i in invocations)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def copies_started(invocations: list[Invocation]) -> int:
    return sum(r.get("status") == "copy-started" for i in invocations if i.result for r in i.result.get("regions", []))


def skip_reason(invocations: list[Invocation], image_id: str) -> str:
    return next((str(i.result.get("reason", "")) for i in invocations if i.image_id == image_id and i.result), "")
