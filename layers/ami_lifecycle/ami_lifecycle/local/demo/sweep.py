"""The sweep: the schedule's ticks through the real handler, the plan command as an operator runs it, and what
the demo expects of them (the builds beyond retention, the ones in use, a launch template)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ...cli.adoption_report import DETAIL_HEADING
from .. import fidelity
from ..invoke import DEFAULT_ACCOUNT_ID, LocalLambdaContext
from .aws_state import AccountState, all_images, copies_of, read_state
from .events import Handler
from .world import (
    DR_REGIONS,
    HOME,
    KEEP_LATEST,
    SWEEP_FUNCTION,
    TEMPLATE_FAMILY,
    TEMPLATE_NAME,
    Account,
    Build,
    LocalAws,
)


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

    def adoption_plan(self) -> str:
        """`python -m ami_lifecycle plan --policy ...` before the stack exists: no usage table, so nothing is
        removed (exit status 1, a blocked plan); its output up to the per-family detail."""
        out = io.StringIO()
        status = self.plan_command(["plan", "--policy", str(self.policy)], out=out)
        if status not in (0, 1):
            self.plan_problems.append(f"`python -m ami_lifecycle plan` (adoption plan) exited {status}")
        return out.getvalue().split(f"\n{DETAIL_HEADING}", 1)[0]

    def restore(self, image_id: str, region: str) -> tuple[int, str]:
        """`python -m ami_lifecycle restore IMAGE_ID --region R --policy ...`: its exit status and output."""
        out = io.StringIO()
        status = self.plan_command(["restore", image_id, "--region", region, "--policy", str(self.policy)], out=out)
        return status, out.getvalue()

    def decisions(self) -> dict[str, dict[str, Any]]:
        """The plan as JSON (`plan --json`): each image's status, reason and protections, by image id."""
        return {d["image_id"]: d for d in json.loads(self.plan("--json"))["decisions"]}


def age_deprecations(aws: LocalAws, days: int) -> set[str]:
    """Time passes for the sweep: every deprecated image was deprecated `days` ago (EnableImageDeprecation
    refuses past dates, so the fidelity extension sets them). Returns those images."""
    when = datetime.now(UTC) - timedelta(days=days)
    aged = set()
    for image_id, image in read_state(aws).images.items():
        if image.deprecation:
            fidelity.set_deprecation_time(image_id, when, image.region)
            aged.add(image_id)
    fidelity.complete_usage_reports()  # EC2 filled in the usage reports the last tick asked for
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
    adoption: list[str] = field(default_factory=list)  # what step 9 left of the history unadopted
    # The history beyond retention (image id -> what it is): adopted and deprecated by step 9, gone after step 10.
    history_retiring: dict[str, str] = field(default_factory=dict)

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
