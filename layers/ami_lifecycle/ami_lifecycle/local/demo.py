"""`make demo`: the real image-available, launch-tracking and sweep handlers against a local AWS (a moto server).

Seeds an account the way image builders leave one, sends the events EC2 would send through the rules of
template.yaml and dr-forwarder.yaml, lets time pass for the DR copies, launches instances, then reads back
from AWS what the handlers did: copies, lineage, tags, sharing, encryption, instance tags, usage records and
alerts. Then the schedule ticks: the sweep plans in dry run (as a new deployment has it, shown with
`python -m ami_lifecycle plan`), deprecates the versions beyond retention once the dry run is off, and, when
time has passed, deregisters them with their snapshots, except those an instance, a launch record or a launch
template still uses. Exit status 0 only if every expectation holds.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import textwrap
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from moto.server import ThreadedMotoServer

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.aws.usage_table import USAGE_TABLE_ENV, LaunchRecord, UsageStore
from ami_lifecycle.model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, propagated, tags_of

from ..policy import POLICY_FILE_ENV
from . import fidelity
from .eventbus import LocalEventBus
from .invoke import DEFAULT_ACCOUNT_ID, LocalLambdaContext, sqs_event
from .seed import create_kms_key, register_ami

LOCALHOST = "127.0.0.1"
HOME, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
DR_REGIONS = (WEST, EU)
REGIONS = (HOME, *DR_REGIONS)
CONSUMER = "111111111111"
ORG_ARN = "arn:aws:organizations::222222222222:organization/o-abcdefghij"
OU_ARN = "arn:aws:organizations::222222222222:ou/o-abcdefghij/ou-ab12-cdefghij"
EXPECTED_LAUNCH = frozenset({("UserId", CONSUMER), ("OrganizationArn", ORG_ARN), ("OrganizationalUnitArn", OU_ARN)})
KMS_ALIAS = "alias/ami-dr"
FUNCTION = "ImageAvailableFunction"  # logical ids in template.yaml: the bus names its deliveries by them
LAUNCH_FUNCTION = "LaunchTrackingFunction"
USAGE_TABLE = "ami-lifecycle-usage"
ALERT_TOPIC = "ami-lifecycle-launch-alerts"
ALERT_INBOX = "launch-alerts-inbox"  # the demo's subscriber: where an operator's e-mail would be
LAUNCH_QUEUE_ARN = f"arn:aws:sqs:{HOME}:{DEFAULT_ACCOUNT_ID}:ami-lifecycle-LaunchEventsQueue"
BURST = 4  # instances of one Auto Scaling scale-out
LINEAGE_TAGS = (FAMILY_TAG, VERSION_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG)
# Retention (policy defaults.retention): what the scheduled sweep keeps, and how long a deprecated AMI waits.
KEEP_LATEST = 1
GRACE_DAYS = 14  # deregister_after_days
LAUNCH_WINDOW_DAYS = 30  # launched_within_days: a launch this recent means "in use"
ELAPSED_DAYS = GRACE_DAYS + 1  # step 10: how long the deprecated AMIs have waited
SWEEP_FUNCTION = "ami-lifecycle-sweep"
TEMPLATE_NAME = "api-server"  # a launch template in no Auto Scaling group, its version 1 on an old api version
TEMPLATE_FAMILY = "api"
WIDTH = 110  # stdout columns

POLICY_TEMPLATE = """\
version: 1
home_region: {home}
dr_regions:
  - region: {west}
    kms_key_id: {kms_key}
  - region: {eu}
defaults:
  sharing:
    accounts: ["{consumer}"]
    organization_arns: ["{org}"]
    organizational_unit_arns: ["{ou}"]
    snapshot_permissions: true
  tags:
    to_copies: {{exclude: ["BuildId"]}}
  retention:
    keep_latest: {keep_latest}
    deregister_after_days: {grace_days}
    launched_within_days: {launch_window_days}
managed_images:
  - name: golden
    select:
      tags: {{"ami-lifecycle:managed": "true"}}
      name_pattern: '(?P<family>[a-z0-9-]+)-(?P<version>\\d+\\.\\d+\\.\\d+)'
    family: {{name_group: family}}
    version: {{name_group: version}}
"""

# The handlers read these when their modules are imported, as in the deployed stack (template.yaml Globals).
HANDLER_ENV = {
    "POWERTOOLS_SERVICE_NAME": "ami-lifecycle",
    "POWERTOOLS_METRICS_NAMESPACE": "AmiLifecycle",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",  # stdout is the demo's report; warnings and errors still show
}


class DemoError(RuntimeError):
    """The demo cannot run safely (e.g. an endpoint that is not the local AWS)."""


@dataclass(frozen=True)
class Build:
    """One AMI an image pipeline produced in the home region."""

    family: str
    version: str
    volume_sizes: tuple[int, ...]
    team: str

    @property
    def name(self) -> str:
        return f"{self.family}-{self.version}"


MANAGED_BUILDS = (
    Build("web", "1.0.0", (8, 20), "frontend"),
    Build("web", "1.1.0", (8, 20), "frontend"),
    Build("web", "1.2.0", (8, 20), "frontend"),
    Build("api", "2.0.0", (8,), "platform"),
    Build("api", "2.1.0", (8,), "platform"),
    Build("batch", "0.9.0", (8, 100), "data"),
    Build("batch", "1.0.0", (8, 100), "data"),
)
UNMANAGED_NAME = "debug-box-handmade"
DR_ORIGINAL_NAME = "web-0.9.0"  # managed-looking, but built directly in a DR region: never a source


@dataclass
class Account:
    """What the demo seeded: image ids by role."""

    kms_key_arn: str
    managed: list[tuple[Build, str]] = field(default_factory=list)
    unmanaged_id: str = ""
    dr_original_id: str = ""


@dataclass
class Invocation:
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


# --------------------------------------------------------------------------------------------------
# Local AWS: server, environment, guard
# --------------------------------------------------------------------------------------------------


def use_local_aws(endpoint: str) -> ClientFactory:
    """Point every boto3 client of this process at `endpoint`, with fake credentials; clients for the demo.

    Refuses anything but 127.0.0.1: the demo creates and shares AMIs and must never reach a real account.
    """
    if urlparse(endpoint).hostname != LOCALHOST:
        raise DemoError(f"refusing to run: AWS_ENDPOINT_URL would be {endpoint}, not http://{LOCALHOST}:PORT")
    # Anything that could send a client elsewhere or use real credentials goes: profiles, per-service endpoints,
    # session tokens, the setting that makes botocore ignore AWS_ENDPOINT_URL, and ~/.aws.
    for var in list(os.environ):
        if var.startswith("AWS_ENDPOINT_URL_") or var in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        ):
            del os.environ[var]
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), LOCALHOST]))
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=HOME,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        NO_PROXY=no_proxy,
        no_proxy=no_proxy,
        MOTO_EC2_LOAD_DEFAULT_AMIS="false",  # else moto adds 1,300 public AMIs and their snapshots
        **HANDLER_ENV,
    )
    boto3.setup_default_session()  # a default session made earlier may hold other settings
    clients = ClientFactory()  # one client per service and region: creating clients is the slow part here
    for service in ("ec2", "kms", "sqs", "events", "dynamodb", "sns", "autoscaling"):  # autoscaling: the sweep
        for region in REGIONS:
            actual = clients.client(service, region).meta.endpoint_url
            if actual.rstrip("/") != endpoint:
                raise DemoError(f"refusing to run: {service} in {region} would call {actual}, not {endpoint}")
    return clients


def reset_local_aws(endpoint: str) -> None:
    """Forget every resource of the local AWS (the backends are shared by everything in this process)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    opener.open(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


@dataclass(frozen=True)
class LocalAws:
    endpoint: str
    clients: ClientFactory

    def ec2(self, region: str) -> Any:
        return self.clients.ec2(region)


@contextlib.contextmanager
def local_aws() -> Iterator[LocalAws]:
    """A moto server on a free port of 127.0.0.1, with the fidelity extension.

    The environment and boto3's default session are restored afterwards, so a caller (a test) is left as it was.
    """
    saved_env, saved_session = dict(os.environ), boto3.DEFAULT_SESSION
    werkzeug_log = logging.getLogger("werkzeug")  # the server logs every request
    saved_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)
    fidelity.install()  # same process as the server: the patches apply to what it serves
    server = ThreadedMotoServer(ip_address=LOCALHOST, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        clients = use_local_aws(endpoint)
        reset_local_aws(endpoint)  # moto's state is per process: start from an empty account
        try:
            yield LocalAws(endpoint, clients)
        finally:
            reset_local_aws(endpoint)
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        boto3.DEFAULT_SESSION = saved_session
        werkzeug_log.setLevel(saved_level)


def repo_root() -> Path:
    """Where template.yaml is: the working directory (make demo), else this checkout."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[4]):
        if (candidate / "template.yaml").is_file():
            return candidate
    raise DemoError("template.yaml not found: run the demo from the repository root (make demo)")


# --------------------------------------------------------------------------------------------------
# Seed
# --------------------------------------------------------------------------------------------------


def write_policy(directory: Path, kms_key_arn: str) -> Path:
    path = directory / "policy.yaml"
    text = POLICY_TEMPLATE.format(
        home=HOME,
        west=WEST,
        eu=EU,
        kms_key=kms_key_arn,
        consumer=CONSUMER,
        org=ORG_ARN,
        ou=OU_ARN,
        keep_latest=KEEP_LATEST,
        grace_days=GRACE_DAYS,
        launch_window_days=LAUNCH_WINDOW_DAYS,
    )
    path.write_text(text, encoding="utf-8")
    return path


def seed_account(aws: LocalAws, kms_key_arn: str) -> Account:
    """Managed builds in the home region, a hand-made AMI there, and an AMI built directly in a DR region."""
    home = aws.ec2(HOME)
    account = Account(kms_key_arn)
    for i, build in enumerate(MANAGED_BUILDS):
        tags = {"ami-lifecycle:managed": "true", "Team": build.team, "BuildId": f"build-{1000 + i}"}
        account.managed.append((build, register_ami(home, build.name, tags, volume_sizes=build.volume_sizes)))
    account.unmanaged_id = register_ami(home, UNMANAGED_NAME, {"Team": "sre", "Owner": "alice"})
    account.dr_original_id = register_ami(
        aws.ec2(WEST), DR_ORIGINAL_NAME, {"ami-lifecycle:managed": "true", "Team": "frontend"}
    )
    return account


# --------------------------------------------------------------------------------------------------
# Events: published as EC2 would, routed by the deployed rules, delivered to the real handler
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Launches: instances of the account, their events through the launch rule, the launch-tracking function
# --------------------------------------------------------------------------------------------------


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


def tell_launches(aws: LocalAws, flow: EventFlow, account: Account) -> LaunchStory:
    """Step 7, after the copies are finished: instances launch, their events reach launch-tracking."""
    fleet, instances, problems = launch_fleet(aws, flow, account)
    dr = sum(i.region == WEST for i in instances)
    (oldest, oldest_id), newest = web_builds(account)[0], web_builds(account)[-1][0]
    say(
        f"7. Launches: {BURST} x {newest.name} (Auto Scaling burst), {dr} x its {WEST} copy, 1 x {UNMANAGED_NAME}",
        f"   {fleet.published} events (pending, running) -> {fleet.delivered} delivered -> {batches(fleet)}",
    )
    deprecate_yesterday(oldest_id)
    say(f"   Time passes (simulated: fidelity.set_deprecation_time): {oldest.name} deprecated since yesterday")
    debug_box = next(i for i in instances if i.image_id == account.unmanaged_id)
    late, instance = launch_deprecated(aws, flow, oldest, oldest_id, debug_box)
    say(
        f"   1 x {oldest.name} launched anyway, the debug box stopped: {late.published} events"
        " (pending, running, stopped)",
        f"   -> {late.delivered} delivered -> {batches(late)}",
    )
    return LaunchStory(fleet, late, [*instances, instance], instance.image_id, problems)


def batches(step: Step) -> str:
    if not step.launch_batches:
        return "launch-tracking not invoked"
    sizes = "+".join(str(b.size) for b in step.launch_batches)
    failures = sum(b.failures for b in step.launch_batches)
    plural = "es" if len(step.launch_batches) > 1 else ""
    return f"launch-tracking: {len(step.launch_batches)} SQS batch{plural} of {sizes} messages, {failures} failed"


# --------------------------------------------------------------------------------------------------
# Report: everything read back from AWS
# --------------------------------------------------------------------------------------------------


def own_images(aws: LocalAws, region: str) -> list[dict[str, Any]]:
    pages = aws.ec2(region).get_paginator("describe_images").paginate(Owners=["self"])
    return [image for page in pages for image in page["Images"]]


def launch_permissions(aws: LocalAws, region: str, image_id: str) -> frozenset[tuple[str, str]]:
    attr = aws.ec2(region).describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return frozenset((k, v) for perm in attr.get("LaunchPermissions", []) for k, v in perm.items())


def snapshots_of(aws: LocalAws, region: str, image: dict[str, Any]) -> list[dict[str, Any]]:
    ids = [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("SnapshotId")]
    if not ids:
        return []
    return list(aws.ec2(region).describe_snapshots(SnapshotIds=ids)["Snapshots"])


def volume_permissions(aws: LocalAws, region: str, snapshot_id: str) -> list[dict[str, str]]:
    attr = aws.ec2(region).describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    return list(attr.get("CreateVolumePermissions", []))


def key_name(aws: LocalAws, region: str, snapshots: list[dict[str, Any]]) -> str:
    """The alias of the key encrypting the snapshots ("-" if unencrypted), as a person names it."""
    keys = {s.get("KmsKeyId") if s.get("Encrypted") else None for s in snapshots}
    if len(keys) != 1:
        return "mixed"
    (key,) = keys
    if key is None:
        return "-"
    aliases = aws.clients.client("kms", region).list_aliases(KeyId=key.split("/")[-1])["Aliases"]
    return aliases[0]["AliasName"].removeprefix("alias/") if aliases else key.split("/")[-1][:8]


def copies_of(images: list[dict[str, Any]], source_id: str) -> list[dict[str, Any]]:
    """Copies of a source, by EC2's own lineage or by the product's lineage tag."""
    return [i for i in images if source_id in (i.get("SourceImageId"), tags_of(i).get(SOURCE_IMAGE_TAG))]


@dataclass
class Row:
    """One image of one family/version in one region, as AWS now describes it."""

    family: str
    version: str
    region: str
    image_id: str = "-"
    state: str = "missing"
    lineage: bool = False
    snapshots_tagged: int = 0
    snapshots: int = 0
    launch: int = 0
    snapshot_permissions: bool = False
    key: str = "-"
    problems: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        if self.image_id == "-":
            return [self.family, self.version, self.region, "-", self.state, "-", "-", "-", "-", "-"]
        return [
            self.family,
            self.version,
            self.region,
            self.image_id,
            self.state,
            "yes" if self.lineage else "NO",
            f"{self.snapshots_tagged}/{self.snapshots}",
            f"{self.launch}/{len(EXPECTED_LAUNCH)}",
            "ok" if self.snapshot_permissions else "NO",
            self.key,
        ]


HEADER = ["FAMILY", "VERSION", "REGION", "IMAGE", "STATE", "LINEAGE", "SNAP TAGS", "LAUNCH", "SNAP PERMS", "KMS KEY"]


def inspect(
    aws: LocalAws, region: str, image: dict[str, Any], row: Row, lineage: dict[str, str], key_arn: str | None
) -> Row:
    """Fill `row` from AWS and note every way the image differs from what the policy asks for."""
    tags = tags_of(image)
    snapshots = snapshots_of(aws, region, image)
    launch = launch_permissions(aws, region, image["ImageId"])
    where = f"{row.family} {row.version} in {region} ({image['ImageId']})"
    row.image_id, row.state = image["ImageId"], image["State"]
    row.lineage = lineage.items() <= tags.items()
    # The policy carries every tag of the AMI (none are excluded for snapshots) onto each of its snapshots.
    wanted = {k: v for k, v in propagated(tags).items() if not k.startswith("aws:")}
    row.snapshots = len(snapshots)
    row.snapshots_tagged = sum(wanted.items() <= tags_of(s).items() for s in snapshots)
    row.launch = len(launch)
    row.snapshot_permissions = bool(snapshots) and all(
        volume_permissions(aws, region, s["SnapshotId"]) == [{"UserId": CONSUMER}] for s in snapshots
    )
    row.key = key_name(aws, region, snapshots)
    checks = [
        (row.state == "available", f"state is {row.state}"),
        (row.lineage, "lineage tags missing or wrong"),
        (row.snapshots > 0 and row.snapshots_tagged == row.snapshots, "a snapshot lacks the AMI's tags"),
        (launch == EXPECTED_LAUNCH, f"launch permissions {len(launch)}/{len(EXPECTED_LAUNCH)}, not the policy's"),
        (row.snapshot_permissions, f"snapshots not shared with {CONSUMER} only"),
        (key_arn is None or all(s.get("KmsKeyId") == key_arn for s in snapshots), f"not encrypted with {KMS_ALIAS}"),
    ]
    row.problems += [f"{where}: {message}" for ok, message in checks if not ok]
    return row


def protection_rows(aws: LocalAws, account: Account) -> list[Row]:
    """Per managed build: the source in the home region and its one copy in each DR region."""
    images = {region: own_images(aws, region) for region in REGIONS}
    rows = []
    for build, source_id in account.managed:
        source = next((i for i in images[HOME] if i["ImageId"] == source_id), None)
        home_row = Row(build.family, build.version, HOME)
        if source is None:
            home_row.problems.append(f"{build.name}: source {source_id} is gone")
            rows.append(home_row)
            continue
        lineage = {FAMILY_TAG: build.family, VERSION_TAG: build.version}
        rows.append(inspect(aws, HOME, source, home_row, lineage, None))
        copy_lineage = lineage | {SOURCE_IMAGE_TAG: source_id, SOURCE_REGION_TAG: HOME}
        for region in DR_REGIONS:
            row = Row(build.family, build.version, region)
            copies = copies_of(images[region], source_id)
            if len(copies) != 1:
                row.problems.append(f"{build.name} in {region}: {len(copies)} copies, expected 1")
            if copies:
                inspect(aws, region, copies[0], row, copy_lineage, account.kms_key_arn if region == WEST else None)
            rows.append(row)
    return rows


def table(rows: list[Row]) -> list[str]:
    """Plain columns; family and version only where they change, so each build reads as one block."""
    cells: list[list[str]] = []
    previous = ("", "")
    for row in rows:
        values = row.cells()
        if (row.family, row.version) == previous:
            values[0] = values[1] = ""
        previous = (row.family, row.version)
        cells.append(values)
    return columns(HEADER, cells)


def columns(header: list[str], cells: list[list[str]], indent: str = "") -> list[str]:
    """Plain left-aligned columns, two spaces apart."""
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    lines = [header, *cells]
    return [indent + "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip() for values in lines]


def skipped_checks(aws: LocalAws, account: Account) -> list[str]:
    """The AMIs the product must leave alone, handlers and sweep: no copy, no sharing, no lineage tags, not retired."""
    problems = []
    for region, image_id, what in (
        (HOME, account.unmanaged_id, UNMANAGED_NAME),
        (WEST, account.dr_original_id, DR_ORIGINAL_NAME),
    ):
        for other in REGIONS:
            if copies_of(own_images(aws, other), image_id):
                problems.append(f"{what} ({image_id}) was copied to {other}")
        image = next((i for i in all_images(aws, region) if i["ImageId"] == image_id), None)
        if image is None:
            problems.append(f"{what} ({image_id}) is gone")
            continue
        if any(k.startswith("ami-lifecycle:") and k != "ami-lifecycle:managed" for k in tags_of(image)):
            problems.append(f"{what} ({image_id}) got lineage tags")
        if launch_permissions(aws, region, image_id):
            problems.append(f"{what} ({image_id}) was shared")
        if image["State"] != "available" or image.get("DeprecationTime"):
            problems.append(
                f"{what} ({image_id}) was retired: {image['State']}, deprecation {image.get('DeprecationTime')}"
            )
    return problems


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


# --------------------------------------------------------------------------------------------------
# The sweep: the schedule's ticks through the real handler, the plan as `python -m ami_lifecycle plan` prints it
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageState:
    """What the sweep can change about an image: its state, deprecation, tags; and the snapshots it maps."""

    region: str
    state: str
    deprecation: str | None
    tags: frozenset[tuple[str, str]]
    snapshot_ids: tuple[str, ...]


@dataclass(frozen=True)
class AccountState:
    """Every image and snapshot the account owns, in every region, read at one moment."""

    images: dict[str, ImageState]
    snapshots: dict[str, tuple[int, frozenset[tuple[str, str]]]]  # snapshot id -> (GiB, tags)

    def changes(self, later: AccountState) -> list[str]:
        """What differs in `later`, one line per image or snapshot."""
        lines = []
        for image_id in sorted(self.images.keys() | later.images.keys()):
            before, after = self.images.get(image_id), later.images.get(image_id)
            if before != after:
                lines.append(f"image {image_id}: {describe_state(before)} -> {describe_state(after)}")
        for snapshot_id in sorted(self.snapshots.keys() | later.snapshots.keys()):
            if self.snapshots.get(snapshot_id) != later.snapshots.get(snapshot_id):
                lines.append(f"snapshot {snapshot_id} changed or is gone")
        return lines


def change_problems(what: str, before: AccountState, after: AccountState) -> list[str]:
    """One line for everything `what` changed, naming the first change."""
    changes = before.changes(after)
    return [f"{what} changed {len(changes)} images or snapshots, e.g. {changes[0]}"] if changes else []


def describe_state(image: ImageState | None) -> str:
    if image is None:
        return "gone"
    return f"{image.state}, deprecation {image.deprecation or '-'}, {len(image.tags)} tags"


def all_images(aws: LocalAws, region: str) -> list[dict[str, Any]]:
    """The region's own images, deprecated and disabled ones included (as the sweep lists them)."""
    pages = (
        aws.ec2(region)
        .get_paginator("describe_images")
        .paginate(Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True)
    )
    return [image for page in pages for image in page["Images"]]


def read_state(aws: LocalAws) -> AccountState:
    images: dict[str, ImageState] = {}
    snapshots: dict[str, tuple[int, frozenset[tuple[str, str]]]] = {}
    for region in REGIONS:
        for image in all_images(aws, region):
            mapped = tuple(m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if "Ebs" in m)
            tags = frozenset(tags_of(image).items())
            images[image["ImageId"]] = ImageState(region, image["State"], image.get("DeprecationTime"), tags, mapped)
        pages = aws.ec2(region).get_paginator("describe_snapshots").paginate(OwnerIds=["self"])
        for page in pages:
            for snapshot in page["Snapshots"]:
                snapshots[snapshot["SnapshotId"]] = (snapshot["VolumeSize"], frozenset(tags_of(snapshot).items()))
    return AccountState(images, snapshots)


@dataclass(frozen=True)
class ManagedImage:
    """A build's source in the home region, or one of its copies."""

    build: Build
    region: str
    image_id: str
    source_id: str

    @property
    def label(self) -> str:
        return f"{self.build.family} {self.build.version} {self.region}"


def managed_images(aws: LocalAws, account: Account) -> list[ManagedImage]:
    """Every build's source and copies, as the account holds them before the sweep."""
    images = {region: all_images(aws, region) for region in DR_REGIONS}
    managed = []
    for build, source_id in account.managed:
        managed.append(ManagedImage(build, HOME, source_id, source_id))
        for region in DR_REGIONS:
            managed += [
                ManagedImage(build, region, c["ImageId"], source_id) for c in copies_of(images[region], source_id)
            ]
    return managed


def newest_versions(account: Account) -> set[tuple[str, str]]:
    """The newest KEEP_LATEST versions of each family: what retention keeps whatever happens."""
    by_family: dict[str, list[tuple[int, ...]]] = {}
    for build, _ in account.managed:
        by_family.setdefault(build.family, []).append(tuple(int(p) for p in build.version.split(".")))
    return {
        (family, ".".join(map(str, v)))
        for family, versions in by_family.items()
        for v in sorted(versions)[-KEEP_LATEST:]
    }


@dataclass(frozen=True)
class LaunchTemplate:
    template_id: str
    image_ids: tuple[str, ...]  # by version: version 1 first


def create_launch_template(aws: LocalAws, account: Account) -> LaunchTemplate | None:
    """A template nobody launches from automatically (no Auto Scaling group): version 1 on the oldest api
    version, version 2 (the default) on the newest. Every version keeps its AMI, not only the default."""
    builds = sorted(
        ((b, i) for b, i in account.managed if b.family == TEMPLATE_FAMILY),
        key=lambda bi: tuple(int(p) for p in bi[0].version.split(".")),
    )
    if len(builds) < 2:
        return None
    ec2 = aws.ec2(HOME)
    (_, old_id), (_, new_id) = builds[0], builds[-1]
    data = {"ImageId": old_id, "InstanceType": "t3.micro"}
    template_id = ec2.create_launch_template(LaunchTemplateName=TEMPLATE_NAME, LaunchTemplateData=data)[
        "LaunchTemplate"
    ]["LaunchTemplateId"]
    ec2.create_launch_template_version(
        LaunchTemplateId=template_id, SourceVersion="1", LaunchTemplateData={"ImageId": new_id}
    )
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    return LaunchTemplate(template_id, (old_id, new_id))


@dataclass
class Tick:
    """One invocation of the sweep function: its result, or why it failed."""

    result: dict[str, Any] | None
    error: str = ""

    @property
    def plan(self) -> dict[str, Any]:
        return dict(self.result["plan"]) if self.result else {}

    @property
    def planned(self) -> dict[str, int]:
        return dict(self.plan.get("actions", {}))

    @property
    def regions(self) -> dict[str, dict[str, Any]]:
        return dict(self.result.get("regions", {})) if self.result else {}

    def applied(self, region: str | None = None) -> Counter[str]:
        results = [self.regions.get(region, {})] if region else list(self.regions.values())
        return sum((Counter(r.get("applied", {})) for r in results), Counter())

    def total(self, action: str) -> int:
        return self.applied()[action]

    @property
    def failures(self) -> list[str]:
        return [f"{region}: {f}" for region, r in self.regions.items() for f in r.get("failures", [])]

    @property
    def snapshots_deleted(self) -> int:
        return sum(int(r.get("snapshots_deleted", 0)) for r in self.regions.values())

    @property
    def gib_reclaimed(self) -> int:
        return sum(int(r.get("gib_reclaimed", 0)) for r in self.regions.values())


class Sweeper:
    """The sweep function as its schedule invokes it, and the plan command as an operator runs it."""

    def __init__(
        self, handler: Handler, plan_command: Callable[..., int], dry_run_env: str, policy: Path, table: str
    ) -> None:
        self.handler = handler
        self.plan_command = plan_command
        self.dry_run_env = dry_run_env
        self.policy = policy
        self.table = table
        self.ticks: list[Tick] = []
        self.plan_problems: list[str] = []

    def tick(self, dry_run_setting: str | None) -> Tick:
        """The schedule's input is {}; the deployment's SweepDryRun parameter reaches the function as env."""
        if dry_run_setting is None:
            os.environ.pop(self.dry_run_env, None)
        else:
            os.environ[self.dry_run_env] = dry_run_setting
        context = LocalLambdaContext(SWEEP_FUNCTION, HOME, DEFAULT_ACCOUNT_ID)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics, as for the other functions
                tick = Tick(self.handler({}, context))
        except Exception as e:  # a refused or failed run: reported with the rest, the exit status says it
            tick = Tick(None, f"{type(e).__name__}: {e}")
        self.ticks.append(tick)
        return tick

    def plan(self, *options: str) -> str:
        """`python -m ami_lifecycle plan --policy ... --usage-table ...`: its output (it changes nothing)."""
        out = io.StringIO()
        argv = ["plan", "--policy", str(self.policy), "--usage-table", self.table, *options]
        status = self.plan_command(argv, out=out)
        if status:
            self.plan_problems.append(f"`python -m ami_lifecycle {' '.join(argv[:1] + list(options))}` exited {status}")
        return out.getvalue()

    def decisions(self) -> dict[str, dict[str, Any]]:
        """The plan as JSON (`plan --json`): each image's status, reason and protections, by image id."""
        return {d["image_id"]: d for d in map(json.loads, self.plan("--json").splitlines())}


def fit(text: str, indent: str) -> list[str]:
    """The plan command's output within WIDTH columns: a long WHY wraps under its own column."""
    lines, why = [], 0
    for line in text.rstrip("\n").splitlines():
        if not line.startswith("  "):
            why = 0  # a family's name or a region's summary: a new table, or none
        elif line.lstrip().startswith("VERSION") and " WHY" in line:
            why = line.index(" WHY") + 1
        if len(indent + line) <= WIDTH:
            lines.append((indent + line).rstrip())
        elif why and len(line) > why:
            wrapped = textwrap.wrap(line[why:], WIDTH - len(indent) - why, break_on_hyphens=False)
            lines += [indent + line[:why] + wrapped[0], *(indent + " " * why + w for w in wrapped[1:])]
        else:
            lines += textwrap.wrap(
                line, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ", break_on_hyphens=False
            )
    return lines


def age_deprecations(aws: LocalAws, days: int) -> set[str]:
    """Time passes for the sweep: every deprecated image was deprecated `days` ago (EnableImageDeprecation
    refuses past dates, so the fidelity extension sets them). Returns those images."""
    when = datetime.now(UTC) - timedelta(days=days)
    aged = set()
    for image_id, image in read_state(aws).images.items():
        if image.deprecation:
            fidelity.set_deprecation_time(image_id, when, image.region)
            aged.add(image_id)
    return aged


@dataclass
class SweepStory:
    """Steps 8-11: the ticks, the account between them, and what the demo expects of each."""

    sweeper: Sweeper
    template: LaunchTemplate | None
    managed: list[ManagedImage]
    newest: set[tuple[str, str]]
    in_use: dict[str, tuple[set[str], str]]  # source id -> protection kinds, a detail its reason must name
    start: AccountState
    dry: Tick
    after_dry: AccountState
    dry_decisions: dict[str, dict[str, Any]]
    on: Tick
    after_on: AccountState
    aged: set[str]  # images whose deprecation time the demo moved back (step 10)
    gone: Tick
    after_gone: AccountState
    decisions: dict[str, dict[str, Any]]
    again: Tick
    end: AccountState

    @property
    def ticks(self) -> list[Tick]:
        return self.sweeper.ticks

    @property
    def retiring(self) -> list[ManagedImage]:
        return [m for m in self.managed if (m.build.family, m.build.version) not in self.newest]

    @property
    def kept(self) -> list[ManagedImage]:
        return [m for m in self.retiring if m.source_id in self.in_use]

    @property
    def removed(self) -> list[ManagedImage]:
        return [m for m in self.retiring if m.source_id not in self.in_use]

    @property
    def still_kept(self) -> int:
        """Old versions still registered after step 10: kept because something uses them."""
        return sum(m.image_id in self.after_gone.images for m in self.retiring)

    def total(self, action: str) -> int:
        return sum(tick.total(action) for tick in self.ticks)


# --------------------------------------------------------------------------------------------------
# The story
# --------------------------------------------------------------------------------------------------


def statuses(invocations: list[Invocation]) -> str:
    counts = Counter(i.status for i in invocations)
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"


def copies_started(invocations: list[Invocation]) -> int:
    return sum(r.get("status") == "copy-started" for i in invocations if i.result for r in i.result.get("regions", []))


def skip_reason(invocations: list[Invocation], image_id: str) -> str:
    return next((str(i.result.get("reason", "")) for i in invocations if i.image_id == image_id and i.result), "")


@contextlib.contextmanager
def handler_logs_to_stderr(logger: Any) -> Iterator[None]:
    """Only the handler's warnings and errors, on stderr: stdout is the report.

    POWERTOOLS_LOG_LEVEL is read when the handler is imported; a test may have imported it already.
    """
    handler = logger.registered_handler
    level = handler.level
    stream = handler.stream if isinstance(handler, logging.StreamHandler) else None
    handler.setLevel(logging.WARNING)
    # Assigned, not setStream(): that flushes the old stream, which a test's output capture may have closed.
    if stream is not None:
        handler.stream = sys.stderr
    try:
        yield
    finally:
        handler.setLevel(level)
        if stream is not None:
            handler.stream = stream


def say(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)  # as it happens: a crash still shows how far the story got


@dataclass
class Story:
    """The steps of one run, the DR image counts around the re-delivery, and the launches."""

    noise: Step
    built: Step
    pending: Step
    finished: Step
    again: Step
    dr_images_before: int
    dr_images_after: int
    launches: LaunchStory


def tell_story(aws: LocalAws, flow: EventFlow, account: Account) -> Story:
    """Steps 2-7: the events of a day in the account, each step summarised in a line or two."""
    noise = send_build_noise(flow, account)
    say(
        f"2. Build noise: {noise.published} events (pending, failed, instance state-change)"
        f" -> {noise.delivered} delivered, {len(noise.invocations)} invocations"
    )
    built = send_builds_available(flow, account)
    say(
        f"3. Builds available: {built.published} events -> {built.delivered} delivered -> "
        f"{statuses(built.invocations)}; {copies_started(built.invocations)} copies started"
    )
    pending = send_copies_pending(aws, flow)
    say(f"4. Copies pending: {pending.published} 'pending' events in DR regions -> {pending.delivered} delivered")
    finished = complete_copies(flow)
    say(
        f"5. Time passes: {finished.published} copies available -> {finished.delivered} forwarded home"
        f" -> {statuses(finished.invocations)}"
    )
    build, image_id = account.managed[-1]
    again, before, after = redeliver(aws, flow, image_id)
    regions = next((i.result.get("regions", []) for i in again.invocations if i.result), [])
    say(
        f"6. Same event again ({build.name}) -> "
        + (", ".join(f"{r['region']} {r['status']}" for r in regions) or statuses(again.invocations)),
        f"   DR images before {before}, after {after}" + (": no second copy" if before == after else ": COPIED AGAIN"),
    )
    launches = tell_launches(aws, flow, account)  # after the copies are finished: DR instances need one
    return Story(noise, built, pending, finished, again, before, after, launches)


def tell_sweep(aws: LocalAws, account: Account, launches: LaunchStory, sweeper: Sweeper) -> SweepStory:
    """Steps 8-11: the scheduled sweep, in dry run as a new deployment has it, then for real; time passes."""
    template = create_launch_template(aws, account)
    managed, newest = managed_images(aws, account), newest_versions(account)
    used_by = [i.instance_id for i in launches.instances if i.image_id == launches.deprecated_id]
    in_use = {launches.deprecated_id: ({"instance", "recent-launch"}, f"instance {used_by[0] if used_by else '?'}")}
    say(f"Then the schedule: EventBridge Scheduler invokes the sweep function ({SWEEP_FUNCTION}) with {{}}")
    if template is not None:
        in_use[template.image_ids[0]] = ({"launch-template"}, f"launch-template {template.template_id} version 1")
        say(
            f"   Meanwhile someone made launch template {TEMPLATE_NAME} ({template.template_id}), in no Auto Scaling"
            f" group:",
            f"   version 1 launches {label_of(managed, template.image_ids[0])}, version 2 (the default)"
            f" {label_of(managed, template.image_ids[1])}",
        )
    start = read_state(aws)

    dry = sweeper.tick(None)
    after_dry = read_state(aws)
    plan = sweeper.plan()
    dry_decisions = sweeper.decisions()
    say(
        "8. Schedule tick, new deployment (SweepDryRun is true until you change it)",
        f"   -> {tick_summary(dry)}",
        f"   {unchanged(start, after_dry)}",
        "   The plan, as `python -m ami_lifecycle plan --policy ... --usage-table ...` prints it:",
        *fit(plan, "   | "),
    )

    on = sweeper.tick("false")
    after_on = read_state(aws)
    say(
        "9. Dry run turned off (SweepDryRun=false in samconfig.toml): tick",
        f"   -> {tick_summary(on)}",
        *deprecation_lines(managed, after_dry, after_on),
    )

    aged = age_deprecations(aws, ELAPSED_DAYS)
    gone = sweeper.tick("false")
    after_gone = read_state(aws)
    decisions = sweeper.decisions()
    say(
        f"10. Time passes: {ELAPSED_DAYS} days (simulated: fidelity.set_deprecation_time on the"
        f" {plural(len(aged), 'deprecated image')})",
        f"    tick -> {tick_summary(gone)}",
        *removal_lines(gone, managed, start, after_gone),
        f"    Kept, though deprecated for {ELAPSED_DAYS} days (why: the plan, `python -m ami_lifecycle plan --json`):",
        *kept_lines(managed, newest, decisions),
    )

    again = sweeper.tick("false")
    end = read_state(aws)
    say(f"11. Next tick -> {tick_summary(again)}", f"    {unchanged(after_gone, end)}", "")
    return SweepStory(
        sweeper, template, managed, newest, in_use, start, dry, after_dry, dry_decisions,
        on, after_on, aged, gone, after_gone, decisions, again, end,
    )  # fmt: skip


def unchanged(before: AccountState, after: AccountState) -> str:
    changes = len(before.changes(after))
    counts = f"{len(after.images)} images, {len(after.snapshots)} snapshots"
    return f"nothing changed: {counts} as they were" if not changes else f"CHANGED: {changes} of the {counts}"


def label_of(managed: list[ManagedImage], image_id: str) -> str:
    return next((m.build.name for m in managed if m.image_id == image_id), image_id)


def tick_summary(tick: Tick) -> str:
    """What one tick did, from the function's result: dry run or not, actions planned and applied."""
    if tick.result is None:
        return f"FAILED: {tick.error}"
    planned = sum(tick.planned.values())
    kinds = ", ".join(f"{n} {a}" for a, n in tick.planned.items())
    failures = f", {len(tick.failures)} FAILED" if tick.failures else ""
    return (
        f"dry_run={str(tick.result.get('dry_run')).lower()}: {plural(planned, 'action')} planned"
        + (f" ({kinds})" if kinds else "")
        + f", {sum(tick.applied().values())} applied{failures}"
    )


def deprecation_lines(managed: list[ManagedImage], before: AccountState, after: AccountState) -> list[str]:
    """Per region, the images the tick deprecated; and how the copies of a hand-deprecated source fared."""
    lines = []
    for region in REGIONS:
        changed = [
            m
            for m in managed
            if m.region == region
            and (b := before.images.get(m.image_id))
            and (a := after.images.get(m.image_id))
            and a.deprecation != b.deprecation
        ]
        if changed:
            when = min(str(after.images[m.image_id].deprecation) for m in changed)
            names = ", ".join(m.build.name for m in changed)
            lines.append(f"   {region}: {names} deprecated from {when[:16].replace('T', ' ')} UTC")
    hand = [
        m for m in managed if m.region == HOME and m.image_id in before.images and before.images[m.image_id].deprecation
    ]
    for source in hand:
        copies = [m for m in managed if m.source_id == source.image_id and m.region != HOME]
        followed = sum(bool(after.images[c.image_id].deprecation) for c in copies if c.image_id in after.images)
        lines.append(
            f"   {source.build.name}: deprecated by hand in step 7; {followed}/{len(copies)} copies follow it now"
        )
    return lines


def removal_lines(tick: Tick, managed: list[ManagedImage], before: AccountState, after: AccountState) -> list[str]:
    """Per region, what the function reported; then which versions are gone, as EC2 now lists them."""
    rows = [
        [
            region,
            str(tick.applied(region)["DeregisterImage"]),
            str(tick.regions.get(region, {}).get("snapshots_deleted", 0)),
            str(tick.regions.get(region, {}).get("gib_reclaimed", 0)),
            str(len(tick.regions.get(region, {}).get("failures", []))),
        ]
        for region in REGIONS
    ]
    header = ["REGION", "AMIS DEREGISTERED", "SNAPSHOTS DELETED", "GIB RECLAIMED", "FAILURES"]
    gone = {m.build.name for m in managed if m.image_id in before.images and m.image_id not in after.images}
    partly = {m.build.name for m in managed if m.image_id in after.images} & gone
    return [
        *columns(header, rows, "      "),
        "    Deregistered with their snapshots, in every region: "
        + (", ".join(sorted(gone - partly)) or "none")
        + (f"; in some regions only: {', '.join(sorted(partly))}" if partly else ""),
    ]


def kept_lines(
    managed: list[ManagedImage], newest: set[tuple[str, str]], decisions: dict[str, dict[str, Any]]
) -> list[str]:
    """The old versions still registered, each image with the part of its reason that keeps it."""
    rows: list[list[str]] = []
    for m in managed:
        decision = decisions.get(m.image_id)
        if decision is None or (m.build.family, m.build.version) in newest:
            continue
        why = str(decision["reason"]).split(", but ", 1)[-1] if decision["status"] == "keep" else decision["reason"]
        status = "" if decision["status"] == "keep" else f"{decision['status'].upper()}: "
        rows.append([m.build.name if m.region == HOME else "", m.region, m.image_id, status + why])
    if not rows:
        return ["      none"]
    lines = columns(["VERSION", "REGION", "IMAGE", "WHY"], rows, "      ")
    why = lines[0].index("WHY")
    wrapped = []
    for line in lines:
        head, text = line[:why], line[why:]
        parts = textwrap.wrap(text, WIDTH - why, break_on_hyphens=False) or [""]
        wrapped += [head + parts[0], *(" " * why + part for part in parts[1:])]
    return wrapped


def sweep_checks(account: Account, sweep: SweepStory) -> list[str]:
    """Every way the sweep's ticks differ from what the retention policy should have produced."""
    problems = list(sweep.sweeper.plan_problems)
    for step, tick in enumerate(sweep.ticks, 8):
        if tick.error:
            problems.append(f"step {step}: the sweep function failed: {tick.error}")
        problems += [f"step {step}: {failure}" for failure in tick.failures]
        problems += [f"step {step}: {r} blocked: {why}" for r, why in tick.plan.get("blocked", {}).items()]
    problems += dry_run_problems(sweep)
    problems += deprecation_problems(sweep)
    problems += removal_problems(sweep)
    problems += kept_problems(sweep)
    if sweep.again.planned or sweep.again.regions:
        problems.append(f"step 11: the next tick planned {sweep.again.planned}, applied {dict(sweep.again.applied())}")
    problems += change_problems("step 11", sweep.after_gone, sweep.end)
    untouched = [m.image_id for m in sweep.managed if (m.build.family, m.build.version) in sweep.newest]
    untouched += [account.unmanaged_id, account.dr_original_id]
    for image_id in untouched:
        before, after = sweep.start.images.get(image_id), sweep.end.images.get(image_id)
        if image_id in sweep.aged and before and after:  # the demo moved this date, not the sweep
            after = replace(after, deprecation=before.deprecation)
        if before != after:
            problems.append(f"the sweep changed {image_id}: {describe_state(before)} -> {describe_state(after)}")
    return problems


def dry_run_problems(sweep: SweepStory) -> list[str]:
    """Step 8 planned and changed nothing; the plan command showed the same plan."""
    problems = change_problems("step 8 (dry run)", sweep.start, sweep.after_dry)
    if sweep.dry.result is not None and (sweep.dry.result.get("dry_run") is not True or sweep.dry.regions):
        problems.append(f"step 8: not a dry run with SWEEP_DRY_RUN unset: {sweep.dry.result}")
    shown = dict(sorted(Counter(d["status"] for d in sweep.dry_decisions.values()).items()))
    if not problems and sweep.dry.result is not None and shown != sweep.dry.plan.get("images"):
        problems.append(f"step 8: the plan command showed {shown}, the function planned {sweep.dry.plan.get('images')}")
    return problems


def deprecation_problems(sweep: SweepStory) -> list[str]:
    """Step 9 deprecated every image of a version beyond retention, and nothing else."""
    due = [m for m in sweep.retiring if not sweep.start.images[m.image_id].deprecation]
    problems = []
    if sweep.dry.planned.get("DeprecateImage", 0) != len(due):
        problems.append(
            f"step 8: {sweep.dry.planned.get('DeprecateImage', 0)} deprecations planned, expected {len(due)}"
        )
    if sweep.on.result is not None and sweep.on.result.get("dry_run") is not False:
        problems.append("step 9: still a dry run with SWEEP_DRY_RUN=false")
    if sweep.on.total("DeprecateImage") != len(due):
        problems.append(f"step 9: {sweep.on.total('DeprecateImage')} deprecations applied, expected {len(due)}")
    for m in sweep.retiring:
        image = sweep.after_on.images.get(m.image_id)
        if image is None or not image.deprecation:
            problems.append(f"step 9: {m.label} ({m.image_id}) is not deprecated: {describe_state(image)}")
    return problems


def removal_problems(sweep: SweepStory) -> list[str]:
    """Step 10 deregistered every unused old version in every region, with its snapshots, as reported."""
    problems = []
    snapshots = [s for m in sweep.removed for s in sweep.start.images[m.image_id].snapshot_ids]
    for m in sweep.removed:
        if m.image_id in sweep.after_gone.images:
            problems.append(f"step 10: {m.label} ({m.image_id}) is still registered")
    if left := [s for s in snapshots if s in sweep.after_gone.snapshots]:
        problems.append(f"step 10: snapshots of deregistered AMIs left: {', '.join(left)}")
    gib = sum(sweep.start.snapshots[s][0] for s in snapshots)
    deregistered = sweep.gone.total("DeregisterImage")
    reported = (deregistered, sweep.gone.snapshots_deleted, sweep.gone.gib_reclaimed)
    if reported != (len(sweep.removed), len(snapshots), gib):
        problems.append(
            f"step 10: the function reported {reported} (AMIs, snapshots, GiB), expected"
            f" {(len(sweep.removed), len(snapshots), gib)}"
        )
    return problems


def kept_problems(sweep: SweepStory) -> list[str]:
    """Step 10 kept each old version in use, in every region, and the plan names what uses it."""
    problems = []
    for m in sweep.kept:
        kinds, detail = sweep.in_use[m.source_id]
        if m.region != HOME:
            kinds, detail = {"source-in-use"}, f"kept with its source {m.source_id}"
        decision = sweep.decisions.get(m.image_id)
        if m.image_id not in sweep.after_gone.images or decision is None:
            problems.append(f"step 10: {m.label} ({m.image_id}) was deregistered, though in use ({detail})")
        elif (
            decision["status"] != "keep"
            or not kinds <= set(decision["protections"])
            or detail not in decision["reason"]
        ):
            problems.append(
                f"step 10: {m.label} ({m.image_id}) is {decision['status']} ({decision['reason']};"
                f" protections {decision['protections']}), expected keep ({', '.join(sorted(kinds))}: {detail})"
            )
    return problems


def expectations(
    aws: LocalAws, account: Account, rows: list[Row], flow: EventFlow, story: Story, launches: LaunchView
) -> list[str]:
    """Every way AWS differs from what the policy and the events should have produced (before the sweep)."""
    problems = [p for row in rows for p in row.problems]
    problems += launch_checks(story.launches, launches)
    problems += [f"invocation for {i.image_id} ({i.region}) failed: {i.error}" for i in flow.invocations if i.error]
    noise_delivered = story.noise.delivered + story.pending.delivered
    if noise_delivered:
        problems.append(f"{noise_delivered} noise events reached the handler")
    if story.dr_images_after != story.dr_images_before or copies_started(story.again.invocations):
        problems.append(f"re-delivery changed the DR images ({story.dr_images_before} -> {story.dr_images_after})")
    expected_copies = len(account.managed) * len(DR_REGIONS)
    if (copies := count_copies(aws)) != expected_copies:
        problems.append(f"{copies} copies in the DR regions, expected {expected_copies}")
    return problems


def count_copies(aws: LocalAws) -> int:
    return sum(1 for region in DR_REGIONS for image in own_images(aws, region) if image.get("SourceImageId"))


@dataclass(frozen=True)
class DayReport:
    """Steps 1-7 as AWS shows them once the launches are tracked, before any sweep: what the totals need."""

    problems: list[str]
    protected: int
    builds: int
    copies: int
    tracked: int
    alerts: int
    image_invocations: int
    launch_batches: int
    filtered: int


def report_day(aws: LocalAws, account: Account, flow: EventFlow, story: Story, resources: LaunchResources) -> DayReport:
    """The tables, what was skipped and why, the launches; the expectations of steps 1-7."""
    rows = protection_rows(aws, account)
    launches = read_launches(aws, resources, story.launches.instances)
    filtered = flow.published - flow.delivered
    say("", *table(rows), "")
    say(
        "Skipped, and why:",
        f"  {UNMANAGED_NAME} ({HOME}): {skip_reason(flow.invocations, account.unmanaged_id) or '?'}",
        f"  {DR_ORIGINAL_NAME} ({WEST}): {skip_reason(flow.invocations, account.dr_original_id) or '?'}",
        f"  {filtered} events (AMI pending/failed, instance stopped/terminated): filtered out by the rules",
        "",
    )
    say(*launch_lines(story.launches.instances, launches), "")
    protected = sum(
        all(not r.problems for r in rows if (r.family, r.version) == (b.family, b.version)) for b, _ in account.managed
    )
    return DayReport(
        problems=expectations(aws, account, rows, flow, story, launches),
        protected=protected,
        builds=len(account.managed),
        copies=count_copies(aws),
        tracked=tracked_launches(story.launches.instances, launches),
        alerts=len(launches.alerts),
        image_invocations=len(flow.invocations),
        launch_batches=len(flow.launch_batches),
        filtered=filtered,
    )


def conclude(aws: LocalAws, account: Account, day: DayReport, sweep: SweepStory) -> int:
    """Totals of the whole run; 1 if any expectation failed, of the day or of the sweep."""
    alerts = plural(day.alerts, "alert")
    invocations = day.image_invocations + day.launch_batches + len(sweep.ticks)
    say(
        f"Totals: {day.protected}/{day.builds} AMIs protected, {day.copies} copies made, "
        f"{day.tracked} launches tracked, {alerts}",
        f"        sweep: {sweep.total('DeprecateImage')} AMIs deprecated, {sweep.total('DeregisterImage')} deregistered"
        f" ({plural(sum(t.snapshots_deleted for t in sweep.ticks), 'snapshot')},"
        f" {sum(t.gib_reclaimed for t in sweep.ticks)} GiB), {sweep.still_kept} old ones kept in use",
        f"        {invocations} handler invocations ({day.image_invocations} image-available, "
        f"{day.launch_batches} launch-tracking, {len(sweep.ticks)} sweep), {day.filtered} events filtered out",
    )
    problems = day.problems + sweep_checks(account, sweep) + skipped_checks(aws, account)
    if problems:
        say(f"FAILED: {len(problems)} expectations not met:", *(f"  - {p}" for p in problems))
        return 1
    say(
        "OK: every managed AMI is copied, tagged, shared and encrypted as the policy says;",
        f"    {day.tracked} launches tracked (tagged, recorded), {alerts} for the deprecated version;",
        "    the sweep's dry run changed nothing; then it deprecated the old versions, deregistered the unused ones",
    )
    return 0


def tracked_launches(instances: list[Launched], view: LaunchView) -> int:
    """Instances that now carry lineage tags: the launches the function tracked, as EC2 shows them."""
    return sum(FAMILY_TAG in view.instance_tags.get(i.instance_id, {}) for i in instances)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def run(aws: LocalAws, workdir: Path) -> int:
    """Seed, send the events, report. Needs the local AWS of `local_aws()`."""
    root = repo_root()
    kms_key_arn = create_kms_key(aws.clients.client("kms", WEST), KMS_ALIAS)
    os.environ[POLICY_FILE_ENV] = str(write_policy(workdir, kms_key_arn))
    resources = create_launch_resources(aws)
    # Imported here, not at the top: Powertools reads its settings from the environment set above (a child
    # Logger made earlier would belong to no service and print plain text).
    from ami_lifecycle.aws.alert_topic import LAUNCH_ALERTS_TOPIC_ENV
    from ami_lifecycle.flows.sweep import DRY_RUN_ENV
    from functions.image_available import image_available_handler
    from functions.launch_tracking import launch_tracking_handler
    from functions.sweep import sweep_handler

    from ..cli import main as plan_command

    # As the template's Environment sets them; local_aws() restores the environment afterwards.
    os.environ[USAGE_TABLE_ENV] = resources.table
    os.environ[LAUNCH_ALERTS_TOPIC_ENV] = resources.topic_arn

    bus = LocalEventBus(HOME, list(DR_REGIONS), DEFAULT_ACCOUNT_ID, root / "template.yaml", root / "dr-forwarder.yaml")
    flow = EventFlow(bus, image_available_handler.lambda_handler, launch_tracking_handler.lambda_handler)
    sweeper = Sweeper(
        sweep_handler.lambda_handler, plan_command, DRY_RUN_ENV, Path(os.environ[POLICY_FILE_ENV]), resources.table
    )
    say(
        "AMI lifecycle demo: the real image-available, launch-tracking and sweep handlers",
        f"on local AWS (moto at {aws.endpoint}), in {', '.join(REGIONS)}",
        f"Policy: home {HOME}; DR {WEST} (copies encrypted with {KMS_ALIAS}) and {EU};",
        f"        shared with account {CONSUMER}, 1 organization, 1 OU (+ snapshot permissions);",
        f"        retention: newest {KEEP_LATEST} version per family, older ones deprecated and deregistered"
        f" {GRACE_DAYS} days later,",
        f"        unless in use (instance, launch template, ...) or launched within {LAUNCH_WINDOW_DAYS} days",
        "",
    )
    account = seed_account(aws, kms_key_arn)
    families = Counter(b.family for b, _ in account.managed)
    say(
        f"1. Seeded {HOME}: " + ", ".join(f"{f} x{n}" for f, n in families.items()) + " (managed builds)",
        f"   + {UNMANAGED_NAME} (unmanaged); {WEST}: {DR_ORIGINAL_NAME} built there (not a copy)",
    )
    with (
        handler_logs_to_stderr(image_available_handler.logger),
        handler_logs_to_stderr(launch_tracking_handler.logger),
        handler_logs_to_stderr(sweep_handler.logger),
    ):
        story = tell_story(aws, flow, account)
        day = report_day(aws, account, flow, story, resources)  # before the sweep changes what it reads
        sweep = tell_sweep(aws, account, story.launches, sweeper)
    return conclude(aws, account, day, sweep)


def main() -> int:
    try:
        with local_aws() as aws, tempfile.TemporaryDirectory(prefix="ami-lifecycle-demo-") as workdir:
            return run(aws, Path(workdir))
    except DemoError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
