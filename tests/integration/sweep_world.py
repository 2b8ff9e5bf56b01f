"""A managed fleet in the local account, protected by the real image-available flow, and a sweep to run on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from ami_lifecycle.aws.launch_template_table import LaunchTemplateTable
from ami_lifecycle.aws.usage_table import UsageStore
from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.flows.sweep import SweepReport, run_sweep
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.local.seed import backdate_image, create_launch_template_table, create_usage_table
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.policy import Policy, parse_policy

from .conftest import EU, HOME, WEST, Account, ami_event

TABLE = "ami-usage"
TICK = 1 / 24  # the sweep's schedule: hourly
TEMPLATE_TABLE = "ami-launch-templates"
RETENTION = """
  retention:
    keep_latest: 2
    deregister_after_days: 10
    launched_within_days: 14
"""


def sweep_policy(account: Account, extra: str = "", shared: bool = True) -> Policy:
    """The account's policy with a short retention: the newest 2 versions stay, 10 days of grace. Its AMIs
    are shared with other accounts unless told otherwise (then no usage report is needed to remove one)."""
    text = account.policy_text.replace("defaults:\n", "defaults:\n" + RETENTION, 1)
    if not shared:
        start, end = text.index("  sharing:\n"), text.index("  tags:\n")
        text = text[:start] + text[end:]
    return parse_policy(text + extra)


class World:
    """Given steps for sweep scenarios. `now` is the sweep's clock; AMIs are backdated relative to it."""

    def __init__(self, account: Account, policy: Policy | None = None) -> None:
        self.account = account
        self.policy = policy or sweep_policy(account)
        self.clients = account.clients()
        dynamodb = boto3.client("dynamodb", region_name=HOME)
        create_usage_table(dynamodb, TABLE)
        create_launch_template_table(dynamodb, TEMPLATE_TABLE)
        self.usage = UsageStore(self.clients, HOME, TABLE)
        self.templates: LaunchTemplateTable | None = LaunchTemplateTable(self.clients, HOME, TEMPLATE_TABLE)
        self.now = datetime.now(UTC)
        self.built: list[str] = []  # the family's versions, oldest first
        self.last_tick = 0.0
        self.ticks: list[SweepReport] = []  # every tick's report, the hourly ones before a jump included
        self.recycle_bin_days = 0  # the stack's RecycleBinRetentionDays, as the function's environment has it

    def autoscaling(self, region: str = HOME) -> Any:
        return self.clients.client("autoscaling", region)

    def ec2(self, region: str = HOME) -> Any:
        return self.account.ec2(region)

    def version(self, name: str, days_ago: int, protect: bool = True, **tags: str) -> str:
        """A build of `name` made `days_ago` days before now; protected (tags, copies) unless told not to."""
        image_id = self.account.build_ami(name, **tags)
        backdate_image(HOME, image_id, self.now - timedelta(days=days_ago))
        if protect:
            self.event(image_id, HOME)
        return image_id

    def family(self, days_ago: tuple[int, ...] = (100, 80, 60, 40, 20)) -> list[str]:
        """web-1.0.0 ... web-1.4.0, oldest first, protected and copied to both DR regions."""
        self.built = [self.version(f"web-1.{i}.0", days) for i, days in enumerate(days_ago)]
        self.finish_copies()
        return self.built

    def event(self, image_id: str, region: str) -> None:
        event = parse_ami_state_change(ami_event(image_id, region))
        handle_image_available(event, self.policy, self.clients, DEFAULT_ACCOUNT_ID)

    def finish_copies(self) -> None:
        for region, copy_id in fidelity.complete_pending_copies():
            self.event(copy_id, region)

    def copies(self, source_id: str) -> dict[str, str]:
        return {r: c["ImageId"] for r in (WEST, EU) for c in self.account.copies_of(source_id, r)}

    def sweep(self, days: float = 0, dry_run: bool = False, policy: Policy | None = None) -> SweepReport:
        """The tick at `days`, after the hourly tick before it: EC2 fills in the usage reports a tick asks for
        within the hour, so that tick is where the reports this one reads were asked for (shared AMIs are
        removed only on a report made long enough after their deprecation)."""
        if days - self.last_tick >= 1:
            self._tick(days - TICK, dry_run, policy)
        return self._tick(days, dry_run, policy)

    def _tick(self, days: float, dry_run: bool, policy: Policy | None) -> SweepReport:
        at = self.now + timedelta(days=days)
        fidelity.complete_usage_reports()
        launches = self.usage.launched_since
        report = run_sweep(
            policy or self.policy, self.clients, at, dry_run, launches, self.templates, self.recycle_bin_days
        )
        for region, result in report.results.items():
            for report_id in (i for i in result.created_ids if i.startswith("amiur-")):
                fidelity.age_usage_report(report_id, region, (datetime.now(UTC) - at) / timedelta(days=1))
        self.last_tick = days
        self.ticks.append(report)
        return report

    def image(self, image_id: str, region: str = HOME) -> dict[str, Any] | None:
        found = self.ec2(region).describe_images(
            Filters=[{"Name": "image-id", "Values": [image_id]}], IncludeDisabled=True, IncludeDeprecated=True
        )["Images"]
        return found[0] if found else None

    def exists(self, image_id: str, region: str = HOME) -> bool:
        return self.image(image_id, region) is not None

    def snapshots(self, region: str = HOME) -> set[str]:
        return {s["SnapshotId"] for s in self.ec2(region).describe_snapshots(OwnerIds=["self"])["Snapshots"]}

    def snapshots_of(self, image_id: str, region: str = HOME) -> set[str]:
        image = self.image(image_id, region) or {}
        return {m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", []) if "Ebs" in m}


def decision(report: SweepReport, image_id: str) -> Any:
    """The plan's decision about one image, in whichever region it lives."""
    for plan in report.plan.regions.values():
        for found in plan.decisions:
            if found.image_id == image_id:
                return found
    raise AssertionError(f"no decision about {image_id}")
