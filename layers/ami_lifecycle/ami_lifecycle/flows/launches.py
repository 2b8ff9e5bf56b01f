"""The "instance launched" flow: usage records, lineage tags on instances, alerts for launches from retired AMIs.

Works on a whole SQS batch at once: one DescribeInstances and one DescribeImages per region, one usage write
per distinct AMI, one CreateTags per distinct tag set. Each message then succeeds or fails on its own (SQS
redelivers only the failed ones), through Powertools' BatchProcessor.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ..act.base import Action
from ..act.executor import apply_region
from ..act.launches import PublishAlert, RecordLaunch
from ..aws.alert_topic import AlertTopic
from ..aws.clients import ClientFactory, error_code
from ..aws.usage_table import UsageStore
from ..model.events import InvalidEventError, parse_instance_state_change
from ..model.inventory import IMAGES
from ..model.launch import Launch, LaunchAlert
from ..plan.launches import LaunchPlan, plan_launches
from ..policy import Policy
from ..read.instances import describe_instances
from ..read.region import Scope, read_region

logger = Logger(child=True)
metrics = Metrics()


@dataclass
class BatchResult:
    """Per message: a status to report, or an error that makes SQS redeliver it."""

    status: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = defaultdict(int)
        for message_id, status in self.status.items():
            counted["failed" if message_id in self.errors else status] += 1
        return dict(counted)


@dataclass
class LaunchTracker:
    """Everything a batch needs besides the launches themselves."""

    policy: Policy
    clients: ClientFactory
    usage: UsageStore
    alerts: AlertTopic
    account_id: str
    now: datetime

    def track(self, launches: list[Launch]) -> BatchResult:
        result = BatchResult()
        by_region: dict[str, list[Launch]] = defaultdict(list)
        for launch in launches:
            by_region[launch.region].append(launch)
        for region, region_launches in sorted(by_region.items()):
            self._track_region(region, region_launches, result)
        return result

    def _track_region(self, region: str, launches: list[Launch], result: BatchResult) -> None:
        messages: dict[str, list[str]] = defaultdict(list)  # instance id -> message ids (pending and running)
        for launch in launches:
            messages[launch.instance_id].append(launch.message_id)

        def fail(instance_ids: list[str] | tuple[str, ...], error: str) -> None:
            for instance_id in instance_ids:
                for message_id in messages[instance_id]:
                    result.errors[message_id] = error

        try:
            instances, unknown = describe_instances(self.clients.ec2(region), sorted(messages))
            scope = Scope(image_ids=tuple(sorted({i.image_id for i in instances.values()})))
            inventory = read_region(self.clients, region, scope) if scope.image_ids else None
            if inventory is not None and not inventory.readable:
                raise inventory.errors[IMAGES]
        except Exception as e:  # the whole region is retried
            logger.error("cannot read launched instances", extra={"region": region, "error": str(e)})
            fail(list(messages), f"{error_code(e)}: {e}")
            result.status |= {m: "failed" for ids in messages.values() for m in ids}
            return

        images = inventory.images if inventory is not None else {}
        plan = plan_launches(instances, images, self.policy, self.account_id, self.now)
        plan.status |= dict.fromkeys(unknown, "unknown-instance")
        of_image: dict[str, list[str]] = defaultdict(list)
        for instance in instances.values():
            of_image[instance.image_id].append(instance.instance_id)

        for alert in plan.alerts:
            _report_alert(alert)
        for note in plan.notes:
            logger.warning("instance tags left out", extra={"region": region, "left_out": note})
        actions, concerns = self._actions(plan, of_image)
        applied = apply_region(self.clients, region, actions)
        for position, error in applied.failed.items():
            fail(concerns[position], error)

        for instance_id, status in plan.status.items():
            result.status |= dict.fromkeys(messages[instance_id], status)
            if status in ("unknown-instance", "image-gone"):
                logger.warning(f"launch not tracked: {status}", extra={"region": region, "instance_id": instance_id})
        _count(plan)


    def _actions(self, plan: LaunchPlan, of_image: dict[str, list[str]]) -> tuple[list[Action], list[list[str]]]:
        """The plan's writes in order, and for each the instances whose messages it decides."""
        actions: list[Action] = []
        concerns: list[list[str]] = []
        for record in plan.records:
            actions.append(RecordLaunch(self.policy.home_region, record, self.usage))
            concerns.append(of_image[record.image_id])
        for tags in plan.tags:
            actions.append(tags)
            concerns.append(list(tags.resource_ids))
        for alert in plan.alerts:
            actions.append(PublishAlert(self.policy.home_region, alert, self.alerts))
            concerns.append(list(alert.instance_ids))
        return actions, concerns


def _report_alert(alert: LaunchAlert) -> None:
    metrics.add_metric(name="LaunchesFromRetiredAmis", unit=MetricUnit.Count, value=len(alert.instance_ids))
    logger.warning(f"launch from a retired AMI: {alert.reason}", extra=alert.message())


def _count(plan: LaunchPlan) -> None:
    names = {"tracked": "LaunchesTracked", "terminated": "LaunchesTracked", "unmanaged": "LaunchesUnmanaged",
             "unknown-instance": "LaunchesUnknownInstance", "image-gone": "LaunchesFromGoneImages"}  # fmt: skip
    counted: dict[str, int] = defaultdict(int)
    for status in plan.status.values():
        counted[names[status]] += 1
    for name, value in counted.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def process_launch_batch(
    event: dict[str, Any],
    policy: Policy,
    clients: ClientFactory,
    account_id: str,
    context: Any = None,
    usage: UsageStore | None = None,
    alerts: AlertTopic | None = None,
    now: datetime | None = None,
) -> PartialItemFailureResponse:
    """An SQS batch of instance state-change events in; the partial batch response out."""
    launches: list[Launch] = []
    invalid: dict[str, str] = {}
    for raw in event.get("Records", []):
        record = SQSRecord(raw)
        try:
            parsed = parse_instance_state_change(json.loads(record.body))
        except (InvalidEventError, ValueError) as e:
            invalid[record.message_id] = str(e)
            continue
        launches.append(Launch(record.message_id, parsed.detail.instance_id, parsed.region))

    result = LaunchTracker(
        policy,
        clients,
        usage or UsageStore(clients, policy.home_region),
        alerts or AlertTopic(clients),
        account_id,
        now or datetime.now(UTC),
    ).track(launches)
    for message_id, error in invalid.items():
        logger.error("malformed launch message", extra={"message_id": message_id, "error": error})
        metrics.add_metric(name="LaunchMessagesRejected", unit=MetricUnit.Count, value=1)
    result.errors |= invalid
    logger.info("launch batch", extra={"counts": result.counts(), "invalid": len(invalid)})

    def record_handler(record: SQSRecord) -> str:
        if record.message_id in result.errors:
            raise RuntimeError(result.errors[record.message_id])  # SQS redelivers it, then its DLQ keeps it
        return result.status.get(record.message_id, "")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=BatchProcessor(EventType.SQS), context=context
    )
