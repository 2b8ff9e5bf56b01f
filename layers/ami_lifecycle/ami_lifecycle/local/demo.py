"""`make demo`: the real image-available handler against a local AWS (a moto server), in three regions.

Seeds an account the way image builders leave one, sends the events EC2 would send through the rules of
template.yaml and dr-forwarder.yaml, lets time pass for the DR copies, then reads back from AWS what the
handler did: copies, lineage, tags, sharing and encryption. Exit status 0 only if every expectation holds.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from moto.server import ThreadedMotoServer

from ..clients import ClientFactory
from ..images import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG
from ..policy import POLICY_FILE_ENV
from . import fidelity
from .eventbus import LocalEventBus
from .invoke import DEFAULT_ACCOUNT_ID, LocalLambdaContext
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
FUNCTION = "ImageAvailableFunction"  # logical id in template.yaml: the bus names its deliveries by it

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
class Step:
    """What one step of the story published, delivered and invoked."""

    published: int = 0
    delivered: int = 0
    invocations: list[Invocation] = field(default_factory=list)


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
    for service in ("ec2", "kms", "sqs", "events"):
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
        home=HOME, west=WEST, eu=EU, kms_key=kms_key_arn, consumer=CONSUMER, org=ORG_ARN, ou=OU_ARN
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


class EventFlow:
    """Publishes events on the local buses and invokes the handler once per delivery, as Lambda would."""

    def __init__(self, bus: LocalEventBus, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> None:
        self.bus = bus
        self.handler = handler
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
        for function, event in self.bus.deliveries():
            step.delivered += 1
            if function != FUNCTION:
                raise DemoError(f"an event was routed to {function!r}, which the demo does not know")
            step.invocations.append(self._invoke(event))
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

    @property
    def published(self) -> int:
        return sum(s.published for s in self.steps)

    @property
    def delivered(self) -> int:
        return sum(s.delivered for s in self.steps)

    @property
    def invocations(self) -> list[Invocation]:
        return [i for s in self.steps for i in s.invocations]


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
# Report: everything read back from AWS
# --------------------------------------------------------------------------------------------------


def own_images(aws: LocalAws, region: str) -> list[dict[str, Any]]:
    pages = aws.ec2(region).get_paginator("describe_images").paginate(Owners=["self"])
    return [image for page in pages for image in page["Images"]]


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


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
    wanted = {k: v for k, v in tags.items() if not k.startswith("aws:")}
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
    widths = [max(len(c[i]) for c in [HEADER, *cells]) for i in range(len(HEADER))]
    return ["  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip() for values in [HEADER, *cells]]


def skipped_checks(aws: LocalAws, account: Account) -> list[str]:
    """The AMIs the handler must leave alone: no copy anywhere, no sharing, no lineage tags."""
    problems = []
    for region, image_id, what in (
        (HOME, account.unmanaged_id, UNMANAGED_NAME),
        (WEST, account.dr_original_id, DR_ORIGINAL_NAME),
    ):
        for other in REGIONS:
            if copies_of(own_images(aws, other), image_id):
                problems.append(f"{what} ({image_id}) was copied to {other}")
        image = aws.ec2(region).describe_images(ImageIds=[image_id])["Images"][0]
        if any(k.startswith("ami-lifecycle:") and k != "ami-lifecycle:managed" for k in tags_of(image)):
            problems.append(f"{what} ({image_id}) got lineage tags")
        if launch_permissions(aws, region, image_id):
            problems.append(f"{what} ({image_id}) was shared")
    return problems


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
    """The steps of one run, and the DR image counts around the re-delivery."""

    noise: Step
    built: Step
    pending: Step
    finished: Step
    again: Step
    dr_images_before: int
    dr_images_after: int


def tell_story(aws: LocalAws, flow: EventFlow, account: Account) -> Story:
    """Steps 2-6: the events of a day in the account, each step summarised in one line."""
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
    return Story(noise, built, pending, finished, again, before, after)


def expectations(aws: LocalAws, account: Account, rows: list[Row], flow: EventFlow, story: Story) -> list[str]:
    """Every way AWS differs from what the policy and the events should have produced."""
    problems = [p for row in rows for p in row.problems] + skipped_checks(aws, account)
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


def report(aws: LocalAws, account: Account, flow: EventFlow, story: Story) -> int:
    """The table, what was skipped and why, totals; 1 if any expectation failed."""
    rows = protection_rows(aws, account)
    filtered = flow.published - flow.delivered
    say("", *table(rows), "")
    say(
        "Skipped, and why:",
        f"  {UNMANAGED_NAME} ({HOME}): {skip_reason(flow.invocations, account.unmanaged_id) or '?'}",
        f"  {DR_ORIGINAL_NAME} ({WEST}): {skip_reason(flow.invocations, account.dr_original_id) or '?'}",
        f"  {filtered} events (pending, failed, instance state-change): filtered out by the rules, never delivered",
        "",
    )
    protected = sum(
        all(not r.problems for r in rows if (r.family, r.version) == (b.family, b.version)) for b, _ in account.managed
    )
    say(
        f"Totals: {protected}/{len(account.managed)} AMIs protected, {count_copies(aws)} copies made, "
        f"{len(flow.invocations)} handler invocations, {filtered} events filtered out"
    )
    problems = expectations(aws, account, rows, flow, story)
    if problems:
        say(f"FAILED: {len(problems)} expectations not met:", *(f"  - {p}" for p in problems))
        return 1
    say("OK: every managed AMI is copied, tagged, shared and encrypted as the policy says")
    return 0


def run(aws: LocalAws, workdir: Path) -> int:
    """Seed, send the events, report. Needs the local AWS of `local_aws()`."""
    root = repo_root()
    kms_key_arn = create_kms_key(aws.clients.client("kms", WEST), KMS_ALIAS)
    os.environ[POLICY_FILE_ENV] = str(write_policy(workdir, kms_key_arn))
    # Imported here, not at the top: Powertools reads its settings from the environment set above.
    from functions.image_available import image_available_handler

    bus = LocalEventBus(HOME, list(DR_REGIONS), DEFAULT_ACCOUNT_ID, root / "template.yaml", root / "dr-forwarder.yaml")
    flow = EventFlow(bus, image_available_handler.lambda_handler)
    say(
        f"AMI lifecycle demo: the real image-available handler on local AWS (moto at {aws.endpoint})",
        f"Policy: home {HOME}; DR {WEST} (copies encrypted with {KMS_ALIAS}) and {EU};",
        f"        shared with account {CONSUMER}, 1 organization, 1 OU (+ snapshot permissions)",
        "",
    )
    account = seed_account(aws, kms_key_arn)
    families = Counter(b.family for b, _ in account.managed)
    say(
        f"1. Seeded {HOME}: " + ", ".join(f"{f} x{n}" for f, n in families.items()) + " (managed builds)",
        f"   + {UNMANAGED_NAME} (unmanaged); {WEST}: {DR_ORIGINAL_NAME} built there (not a copy)",
    )
    with handler_logs_to_stderr(image_available_handler.logger):
        story = tell_story(aws, flow, account)
    return report(aws, account, flow, story)


def main() -> int:
    try:
        with local_aws() as aws, tempfile.TemporaryDirectory(prefix="ami-lifecycle-demo-") as workdir:
            return run(aws, Path(workdir))
    except DemoError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
