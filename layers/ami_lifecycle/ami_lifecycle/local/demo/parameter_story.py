"""Steps 13-16: consumers resolve each family's parameter; a new build moves it (at home at once, in a DR region
when its copy is finished); a pin rolls the family back in every region; removing it moves it forward again."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...model.parameters import PARAMETER_VERSION_TAG
from ...policy import POLICY_FILE_ENV
from ..seed import register_ami
from .events import complete_copies
from .output import columns, say
from .stage import Stage
from .sweep import Tick
from .sweep_report import fit, tick_summary
from .world import HOME, REGIONS, Account, LocalAws

PREFIX = "/ami-lifecycle"
FAMILY, NEW_VERSION, PINNED_VERSION = "web", "1.3.0", "1.2.0"
NAME = f"{PREFIX}/{FAMILY}/latest"


@dataclass
class ParameterStory:
    """What the steps saw, for the checks: the web parameter's version per region after each step."""

    after: dict[str, dict[str, str | None]] = field(default_factory=dict)
    deprecated_while_pinned: list[str] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def consumers_follow_the_parameters(stage: Stage, account: Account) -> ParameterStory:
    story = ParameterStory()
    say(
        f"13. Consumers launch the current version by name: {PREFIX}/<family>/latest in every region",
        "    (CloudFormation {{resolve:ssm:...}}, Terraform aws_ssm_parameter, a launch template's resolve:ssm:)",
        *parameter_lines(stage.aws),
    )
    story.after["start"] = versions(stage.aws)

    image_id = register_ami(stage.aws.ec2(HOME), f"{FAMILY}-{NEW_VERSION}", {"ami-lifecycle:managed": "true",
                            "Team": "frontend", "BuildId": "build-2000"}, volume_sizes=(8, 20))  # fmt: skip
    step = stage.flow.start_step()
    stage.flow.ami_state_change(HOME, image_id, "available")
    stage.flow.deliver()
    story.after["built"] = versions(stage.aws)
    complete_copies(stage.flow)
    story.after["copied"] = versions(stage.aws)
    say(
        f"14. {FAMILY}-{NEW_VERSION} is built: its event ({len(step.invocations)} invocation) moves {NAME} in {HOME}"
        " at once,",
        f"    each DR region's when its copy is finished: {_row(story.after['built'])}",
        f"    {' ' * 43}-> {_row(story.after['copied'])}",
    )
    tick = stage.sweeper.tick("false")
    story.ticks.append(tick)
    say(f"    next tick -> {tick_summary(tick)}")

    policy = Path(os.environ[POLICY_FILE_ENV])
    original = policy.read_text(encoding="utf-8")
    _write(policy, original + f"pins: {{{FAMILY}: {PINNED_VERSION}}}\n")
    plan = [line for line in stage.sweeper.plan().splitlines() if NAME in line or "pinned to" in line]
    tick = stage.sweeper.tick("false")
    story.ticks.append(tick)
    story.after["pinned"] = versions(stage.aws)
    story.deprecated_while_pinned = _deprecated(stage.aws, f"{FAMILY}-{PINNED_VERSION}")
    say(
        f"15. {FAMILY}-{NEW_VERSION} turns out bad: policy.yaml pins {FAMILY} to {PINNED_VERSION}, already deprecated;"
        " the plan shows the pin:",
        *fit("\n".join(plan[:4]), "    | "),
        f"    tick -> {tick_summary(tick)}",
        f"    {NAME}: {_row(story.after['pinned'])};",
        f"    {FAMILY}-{PINNED_VERSION} deprecated in: {', '.join(story.deprecated_while_pinned) or 'no region now'}",
    )

    _write(policy, original)
    tick = stage.sweeper.tick("false")
    story.ticks.append(tick)
    story.after["unpinned"] = versions(stage.aws)
    say(
        f"16. Pin removed; tick -> {tick_summary(tick)}",
        f"    {NAME}: {_row(story.after['unpinned'])};",
        f"    {FAMILY}-{PINNED_VERSION} retires normally again"
        f" (deprecated in {len(_deprecated(stage.aws, f'{FAMILY}-{PINNED_VERSION}'))} regions)",
        "",
    )
    story.problems = _checks(story)
    return story


def parameter_lines(aws: LocalAws) -> list[str]:
    """Each family's parameter in each region: the version and image it names."""
    found: dict[str, dict[str, str]] = {}
    for region in REGIONS:
        ssm = aws.clients.ssm(region)
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=PREFIX, Recursive=True):
            for p in page["Parameters"]:
                version = _version_tag(ssm, p["Name"])
                family = p["Name"].removeprefix(f"{PREFIX}/").removesuffix("/latest")
                found.setdefault(family, {})[region] = f"{version} {p['Value']}"
    cells = [[family, *(found[family].get(r, "-") for r in REGIONS)] for family in sorted(found)]
    return columns(["FAMILY", *REGIONS], cells, "    ")


def versions(aws: LocalAws) -> dict[str, str | None]:
    """The version the web parameter names, per region (None: no parameter)."""
    named: dict[str, str | None] = {}
    for region in REGIONS:
        ssm = aws.clients.ssm(region)
        try:
            ssm.get_parameter(Name=NAME)
        except ssm.exceptions.ParameterNotFound:
            named[region] = None
            continue
        named[region] = _version_tag(ssm, NAME)
    return named


def _version_tag(ssm: Any, name: str) -> str:
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    return next((t["Value"] for t in tags if t["Key"] == PARAMETER_VERSION_TAG), "?")


def _deprecated(aws: LocalAws, image_name: str) -> list[str]:
    regions = []
    for region in REGIONS:
        images = aws.ec2(region).describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [image_name]}])
        if any(i.get("DeprecationTime") for i in images["Images"]):
            regions.append(region)
    return regions


def _row(named: dict[str, str | None]) -> str:
    return ", ".join(f"{region} {version or '-'}" for region, version in named.items())


def _write(policy: Path, text: str) -> None:
    policy.write_text(text, encoding="utf-8")
    stat = policy.stat()  # a new modification time: the functions read the policy again
    os.utime(policy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def _checks(story: ParameterStory) -> list[str]:
    new, pinned = dict.fromkeys(REGIONS, NEW_VERSION), dict.fromkeys(REGIONS, PINNED_VERSION)
    expected = {
        "start": pinned,  # web-1.2.0 was the newest build of the day
        "built": {r: NEW_VERSION if r == HOME else PINNED_VERSION for r in REGIONS},
        "copied": new,
        "pinned": pinned,
        "unpinned": new,
    }
    problems = [
        f"steps 13-16: after {moment}, {NAME} names {story.after.get(moment)}, not {want}"
        for moment, want in expected.items()
        if story.after.get(moment) != want
    ]
    if story.deprecated_while_pinned:
        problems.append(
            f"step 15: pinned {FAMILY}-{PINNED_VERSION} still deprecated in {story.deprecated_while_pinned}"
        )
    problems += [f"steps 14-16: tick failed: {t.error}" for t in story.ticks if t.error]
    problems += [f"steps 14-16: {f}" for t in story.ticks for f in t.failures]
    return problems
