"""The day before the sweep (steps 1-7) as AWS shows it: the protection table, what was skipped and why, the
launches; and every way it differs from what the policy and the events should have produced."""

from __future__ import annotations

from dataclasses import dataclass

from .aws_state import count_copies
from .events import EventFlow, Step, copies_started, skip_reason
from .launch_report import LaunchView, launch_checks, launch_lines, read_launches, tracked_launches
from .launches import LaunchResources, LaunchStory
from .output import say
from .protection import Row, protection_rows, table
from .world import DR_ORIGINAL_NAME, DR_REGIONS, HOME, UNMANAGED_NAME, WEST, Account, LocalAws


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
    if (copies := count_copies(aws, {i for _, i in account.managed})) != expected_copies:
        problems.append(f"{copies} copies in the DR regions, expected {expected_copies}")
    return problems


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
        copies=count_copies(aws, {i for _, i in account.managed}),
        tracked=tracked_launches(story.launches.instances, launches),
        alerts=len(launches.alerts),
        image_invocations=len(flow.invocations),
        launch_batches=len(flow.launch_batches),
        filtered=filtered,
    )
