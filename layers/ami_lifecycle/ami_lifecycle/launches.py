"""The "instance launched" flow: usage records, lineage tags on instances, alerts for launches from retired AMIs.

Works on a whole SQS batch at once: one DescribeInstances and one DescribeImages per region, one usage write
per distinct AMI, one CreateTags per distinct tag set. Each message then succeeds or fails on its own (SQS
redelivers only the failed ones), through Powertools' BatchProcessor.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from .actions import TagResources
from .clients import ClientFactory, error_code
from .events import InvalidEventError, parse_instance_state_change
from .images import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, Image
from .inventory import Instance, describe_images_by_id, describe_instances
from .policy import Policy
from .usage import LaunchRecord, UsageStore

logger = Logger(child=True)
metrics = Metrics()

LAUNCH_ALERTS_TOPIC_ENV = "LAUNCH_ALERTS_TOPIC_ARN"
GONE_STATES = frozenset({"shutting-down", "terminated"})
TAG_CALL_LIMIT = 500  # instances per CreateTags call


@dataclass(frozen=True)
class Launch:
    message_id: str
    instance_id: str
    region: str


@dataclass(frozen=True)
class LaunchAlert:
    image: Image
    reason: str
    instance_ids: tuple[str, ...]
    managed: bool

    def message(self) -> dict[str, Any]:
        return {
            "alert": "launch from a retired AMI",
            "image_id": self.image.image_id,
            "image_name": self.image.name,
            "region": self.image.region,
            "reason": self.reason,
            "managed": self.managed,
            "family": self.image.tags.get(FAMILY_TAG),
            "version": self.image.tags.get(VERSION_TAG),
            "instance_ids": list(self.instance_ids),
        }


@dataclass
class LaunchPlan:
    """What a batch of launches in one region asks for; `status` says what each instance is."""

    records: list[LaunchRecord] = field(default_factory=list)
    tags: list[TagResources] = field(default_factory=list)
    alerts: list[LaunchAlert] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)  # instance id -> tracked|terminated|unmanaged|...


def instance_lineage(image: Image, policy: Policy, account_id: str) -> dict[str, str] | None:
    """Lineage tags for instances of a managed AMI (a source or a DR copy of this account), else None."""
    if image.owner_id != account_id:
        return None
    family, version = image.tags.get(FAMILY_TAG), image.tags.get(VERSION_TAG)
    if not (family and version):
        # A source whose own event was missed has no lineage tags yet: the policy still says what it is.
        home = image.region == policy.home_region
        match = policy.match(image.name, image.tags, image.creation_date) if home else None
        if match is None:
            return None
        family, version = match.family, match.version
    source_id, source_region = image.copied_from or (image.image_id, image.region)
    return {FAMILY_TAG: family, VERSION_TAG: version, SOURCE_IMAGE_TAG: source_id, SOURCE_REGION_TAG: source_region}


def retired_reason(image: Image, now: datetime) -> str | None:
    if image.state == "disabled":
        return "disabled"
    deprecated = image.deprecated_at(now)
    return f"deprecated since {deprecated.isoformat()}" if deprecated else None


def plan_launches(
    instances: dict[str, Instance], images: dict[str, Image], policy: Policy, account_id: str, now: datetime
) -> LaunchPlan:
    """Pure: which usage records, instance tags and alerts a batch of launched instances calls for."""
    plan = LaunchPlan()
    by_image: dict[str, list[Instance]] = defaultdict(list)
    for instance in instances.values():
        by_image[instance.image_id].append(instance)

    for image_id, launched in sorted(by_image.items()):
        image = images.get(image_id)
        if image is None:
            plan.status |= {i.instance_id: "image-gone" for i in launched}
            continue
        lineage = instance_lineage(image, policy, account_id)
        reason = retired_reason(image, now)
        if reason:
            ids = tuple(sorted(i.instance_id for i in launched))
            plan.alerts.append(LaunchAlert(image, reason, ids, managed=lineage is not None))
        if lineage is None:
            plan.status |= {i.instance_id: "unmanaged" for i in launched}
            continue

        latest = max(launched, key=lambda i: (i.launch_time, i.instance_id))
        plan.records.append(LaunchRecord(image_id, image.region, latest.launch_time, latest.instance_id))
        rule = policy.match(image.name, image.tags, image.creation_date)
        extra = policy.tags_for(rule.rule).to_instances if rule else policy.defaults.tags.to_instances
        desired = extra.apply(image.tags) | lineage
        to_tag = sorted(
            i.instance_id
            for i in launched
            if i.state not in GONE_STATES and any(i.tags.get(k) != v for k, v in desired.items())
        )
        for start in range(0, len(to_tag), TAG_CALL_LIMIT):
            plan.tags.append(TagResources(image.region, tuple(to_tag[start : start + TAG_CALL_LIMIT]), desired))
        plan.status |= {i.instance_id: "terminated" if i.state in GONE_STATES else "tracked" for i in launched}
    return plan


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


class AlertTopic:
    def __init__(self, clients: ClientFactory, region: str, topic_arn: str | None = None) -> None:
        self._topic_arn = topic_arn or os.environ.get(LAUNCH_ALERTS_TOPIC_ENV, "")
        self._sns = clients.client("sns", region) if self._topic_arn else None

    def publish(self, alert: LaunchAlert) -> None:
        subject = f"Launch from {alert.reason.split(' ')[0]} AMI {alert.image.image_id} in {alert.image.region}"
        if self._sns is not None:
            self._sns.publish(TopicArn=self._topic_arn, Subject=subject[:100], Message=json.dumps(alert.message()))


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

        def fail(instance_ids: list[str] | tuple[str, ...], error: BaseException) -> None:
            for instance_id in instance_ids:
                for message_id in messages[instance_id]:
                    result.errors[message_id] = f"{error_code(error)}: {error}"

        ec2 = self.clients.ec2(region)
        try:
            instances, unknown = describe_instances(ec2, sorted(messages))
            images = describe_images_by_id(ec2, region, sorted({i.image_id for i in instances.values()}))
        except Exception as e:  # the whole region is retried
            logger.error("cannot read launched instances", extra={"region": region, "error": str(e)})
            fail(list(messages), e)
            result.status |= {m: "failed" for ids in messages.values() for m in ids}
            return

        plan = plan_launches(instances, images, self.policy, self.account_id, self.now)
        plan.status |= dict.fromkeys(unknown, "unknown-instance")
        of_image: dict[str, list[str]] = defaultdict(list)
        for instance in instances.values():
            of_image[instance.image_id].append(instance.instance_id)

        def attempt(step: Callable[[], object], instance_ids: list[str] | tuple[str, ...], what: str) -> None:
            try:
                step()
            except Exception as e:  # only the messages of these instances are redelivered
                logger.error(f"{what} failed", extra={"region": region, "instance_ids": list(instance_ids),
                                                      "error": str(e)})  # fmt: skip
                fail(instance_ids, e)

        for record in plan.records:
            attempt(lambda r=record: self.usage.record_launch(r), of_image[record.image_id],
                    f"usage record {record.image_id}")  # fmt: skip
        for action in plan.tags:
            attempt(lambda a=action: a.apply(ec2), action.resource_ids, f"tagging for {action.tags[FAMILY_TAG]}")
        for alert in plan.alerts:
            _report_alert(alert)
            attempt(lambda a=alert: self.alerts.publish(a), alert.instance_ids, f"alert for {alert.image.image_id}")

        for instance_id, status in plan.status.items():
            result.status |= dict.fromkeys(messages[instance_id], status)
            if status in ("unknown-instance", "image-gone"):
                logger.warning(f"launch not tracked: {status}", extra={"region": region, "instance_id": instance_id})
        _count(plan)


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
) -> dict[str, Any]:
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
        alerts or AlertTopic(clients, policy.home_region),
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
