"""The demo's script: set the stage, then the steps of the story in the order they are told, each printing its
line or two as it happens. Exit status 0 only if every expectation holds."""

from __future__ import annotations

import sys
import tempfile
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from ...cli.adoption_report import DETAIL_HEADING
from .. import fidelity
from .aws_state import AccountState, read_state
from .day_report import DayReport, Story, report_day
from .events import (
    Step,
    batches,
    complete_copies,
    copies_started,
    redeliver,
    send_build_noise,
    send_builds_available,
    send_copies_pending,
    statuses,
)
from .history import PAST_BUILDS, History, adoption_problems, seed_history
from .launches import LaunchStory, deprecate_yesterday, launch_deprecated, launch_fleet, web_builds
from .output import WIDTH, plural, say
from .parameter_story import consumers_follow_the_parameters
from .protection import skipped_checks
from .server import local_aws
from .stage import Stage, set_stage
from .sweep import (
    LaunchTemplate,
    ManagedImage,
    SweepStory,
    Tick,
    age_deprecations,
    create_launch_template,
    managed_images,
    newest_versions,
)
from .sweep_checks import sweep_checks
from .sweep_report import deprecation_lines, fit, kept_lines, label_of, removal_lines, tick_summary, unchanged
from .template_update import template_update
from .world import (
    BURST,
    CONSUMED_BUILD,
    CONSUMER,
    CONSUMER_INSTANCES,
    DR_ORIGINAL_NAME,
    ELAPSED_DAYS,
    EU,
    GRACE_DAYS,
    HOME,
    KEEP_LATEST,
    KMS_ALIAS,
    LAUNCH_WINDOW_DAYS,
    REGIONS,
    SWEEP_FUNCTION,
    TEMPLATE_NAME,
    UNMANAGED_NAME,
    WEST,
    Account,
    DemoError,
    LocalAws,
    seed_account,
)


def main() -> int:
    try:
        with local_aws() as aws, tempfile.TemporaryDirectory(prefix="ami-lifecycle-demo-") as workdir:
            return run(aws, Path(workdir))
    except DemoError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2


def run(aws: LocalAws, workdir: Path) -> int:
    """Seed, send the events, report, sweep. Needs the local AWS of `local_aws()`."""
    stage = set_stage(aws, workdir)
    introduce(stage)
    history = before_the_product(stage)  # 0
    account = seed(stage)  # 1
    with stage.handler_logs():
        noise = build_noise(stage, account)  # 2
        built = builds_available(stage, account)  # 3
        pending = copies_pending(stage)  # 4
        finished = copies_complete(stage)  # 5
        again, dr_before, dr_after = same_event_again(stage, account)  # 6
        launches = launches_tracked(stage, account)  # 7, after the copies are finished: DR instances need one
        story = Story(noise, built, pending, finished, again, dr_before, dr_after, launches)
        day = report_day(aws, account, stage.flow, story, stage.resources)  # before the sweep changes what it reads
        sweep = sweep_on_schedule(stage, account, launches, history)  # 8-11
        restored = restore_one(stage, sweep)  # 12
        parameters = consumers_follow_the_parameters(stage, account)  # 13-16
        updated = template_update(stage.aws, stage.flow, account, stage.sweeper.policy)  # 17
    return conclude(aws, account, day, sweep, restored + parameters.problems + updated)


def sweep_on_schedule(stage: Stage, account: Account, launches: LaunchStory, history: History) -> SweepStory:
    """Steps 8-11: the scheduled sweep, in dry run as a new deployment has it, then for real; time passes."""
    template = create_launch_template(stage.aws, account)
    managed, newest = managed_images(stage.aws, account), newest_versions(account)
    in_use = schedule_begins(launches, template, managed)
    start = read_state(stage.aws)
    dry, after_dry, dry_decisions = dry_run_tick(stage, start)  # 8
    on, after_on = dry_run_off_tick(stage, managed, after_dry)  # 9
    adopted = adoption_problems(stage.aws, history)
    aged, gone, after_gone, decisions = time_passes_tick(stage, managed, newest, start)  # 10
    say(*history_gone_lines(history, after_gone))
    again, end = next_tick(stage, after_gone)  # 11
    return SweepStory(
        stage.sweeper, template, managed, newest, in_use, start, dry, after_dry, dry_decisions,
        on, after_on, aged, gone, after_gone, decisions, again, end, adopted, history.retiring(),
    )  # fmt: skip


def history_gone_lines(history: History, after: AccountState) -> list[str]:
    """Step 10, for the history beyond retention that step 9 adopted and deprecated: nothing uses it."""
    retiring = history.retiring()
    gone = sorted(label for image_id, label in retiring.items() if image_id not in after.images)
    line = (
        f"    The history beyond retention, adopted and deprecated in step 9: {len(gone)}/{len(retiring)} images"
        f" deregistered with their snapshots: {', '.join(gone) or 'none'}"
    )
    return textwrap.wrap(line, WIDTH, subsequent_indent="      ", break_on_hyphens=False)


def introduce(stage: Stage) -> None:
    """Where the story runs, and what the policy asks."""
    say(
        "AMI lifecycle demo: the real image-available, launch-tracking and sweep handlers",
        f"on local AWS (moto at {stage.aws.endpoint}), in {', '.join(REGIONS)}",
        f"Policy: home {HOME}; DR {WEST} (copies encrypted with {KMS_ALIAS}) and {EU};",
        f"        shared with account {CONSUMER}, 1 organization, 1 OU (+ snapshot permissions);",
        f"        retention: newest {KEEP_LATEST} version per family, older ones deprecated and deregistered"
        f" {GRACE_DAYS} days later,",
        f"        unless in use (instance, launch template, ...) or launched within {LAUNCH_WINDOW_DAYS} days;",
        "        builds of Team legacy (rule `legacy`, listed first) are not shared",
        "",
    )


def before_the_product(stage: Stage) -> History:
    """Step 0: the account has history; the operator reads the adoption plan before installing anything."""
    history = seed_history(stage.aws)
    families = Counter(b.family for b in PAST_BUILDS)
    say(
        f"0. Before the product: {HOME} has "
        + ", ".join(f"{f} x{n}" for f, n in families.items())
        + f" (Team legacy, built over {max(b.days_ago for b in PAST_BUILDS)} days),",
        f"   {len(history.copies)} of them copied to {WEST} by another tool; none carries this product's tags.",
        "   The adoption plan, read-only, before anything is deployed:",
        "   python -m ami_lifecycle plan --policy policy/policy.yaml   (no --usage-table yet)",
        *fit(stage.sweeper.adoption_plan().split("\n", 1)[1].strip("\n"), "   | "),
        "",
    )
    return history


# --------------------------------------------------------------------------------------------------
# Steps 1-7: a day of builds and launches, as EC2 announces them
# --------------------------------------------------------------------------------------------------


def seed(stage: Stage) -> Account:
    """The account as image builders leave it."""
    from . import MANAGED_BUILDS  # the package's, read now: a test replaces it

    account = seed_account(stage.aws, stage.kms_key_arn, MANAGED_BUILDS)
    families = Counter(b.family for b, _ in account.managed)
    say(
        f"1. Seeded {HOME}: " + ", ".join(f"{f} x{n}" for f, n in families.items()) + " (managed builds)",
        f"   + {UNMANAGED_NAME} (unmanaged); {WEST}: {DR_ORIGINAL_NAME} built there (not a copy)",
    )
    return account


def build_noise(stage: Stage, account: Account) -> Step:
    noise = send_build_noise(stage.flow, account)
    say(
        f"2. Build noise: {noise.published} events (pending, failed, instance state-change)"
        f" -> {noise.delivered} delivered, {len(noise.invocations)} invocations"
    )
    return noise


def builds_available(stage: Stage, account: Account) -> Step:
    built = send_builds_available(stage.flow, account)
    say(
        f"3. Builds available: {built.published} events -> {built.delivered} delivered -> "
        f"{statuses(built.invocations)}; {copies_started(built.invocations)} copies started"
    )
    return built


def copies_pending(stage: Stage) -> Step:
    pending = send_copies_pending(stage.aws, stage.flow)
    say(f"4. Copies pending: {pending.published} 'pending' events in DR regions -> {pending.delivered} delivered")
    return pending


def copies_complete(stage: Stage) -> Step:
    finished = complete_copies(stage.flow)
    say(
        f"5. Time passes: {finished.published} copies available -> {finished.delivered} forwarded home"
        f" -> {statuses(finished.invocations)}"
    )
    return finished


def same_event_again(stage: Stage, account: Account) -> tuple[Step, int, int]:
    """The newest build's event, delivered again; with the DR image counts before and after."""
    build, image_id = account.managed[-1]
    again, before, after = redeliver(stage.aws, stage.flow, image_id)
    regions: list[dict[str, Any]] = next((i.result.get("regions", []) for i in again.invocations if i.result), [])
    say(
        f"6. Same event again ({build.name}) -> "
        + (", ".join(f"{r['region']} {r['status']}" for r in regions) or statuses(again.invocations)),
        f"   DR images before {before}, after {after}" + (": no second copy" if before == after else ": COPIED AGAIN"),
    )
    return again, before, after


def launches_tracked(stage: Stage, account: Account) -> LaunchStory:
    """Instances launch, their events reach launch-tracking; then a deprecated version is launched anyway."""
    aws, flow = stage.aws, stage.flow
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


# --------------------------------------------------------------------------------------------------
# Steps 8-11: the schedule ticks; time passes
# --------------------------------------------------------------------------------------------------


def schedule_begins(
    launches: LaunchStory, template: LaunchTemplate | None, managed: list[ManagedImage]
) -> dict[str, tuple[set[str], str]]:
    """What keeps an old version in use (source id -> protection kinds, a detail its reason must name)."""
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
    consumed = next((m for m in managed if m.region == HOME and m.build.name == CONSUMED_BUILD), None)
    if consumed is not None:  # what an AMI usage report will count; moto models no other accounts
        fidelity.set_consumer_usage(consumed.image_id, HOME, CONSUMER, "ec2:Instance", CONSUMER_INSTANCES)
        used = f"used in 1 account ({CONSUMER}): {CONSUMER_INSTANCES} instances"
        in_use[consumed.image_id] = ({"other-accounts"}, used)
        say(f"   and account {CONSUMER}, which the policy shares with, runs {CONSUMER_INSTANCES} x {CONSUMED_BUILD}")
    return in_use


def dry_run_tick(stage: Stage, start: AccountState) -> tuple[Tick, AccountState, dict[str, dict[str, Any]]]:
    """The tick, the account after it, and the plan's decisions (`plan --json`)."""
    dry = stage.sweeper.tick(None)
    after_dry = read_state(stage.aws)
    plan = stage.sweeper.plan()
    dry_decisions = stage.sweeper.decisions()
    say(
        "8. Schedule tick, new deployment (SweepDryRun is true until you change it)",
        *textwrap.wrap(f"   -> {tick_summary(dry)}", WIDTH, subsequent_indent="      "),
        f"   {unchanged(start, after_dry)}",
        "   The plan, as `python -m ami_lifecycle plan --policy ... --usage-table ...` prints it per family:",
        *fit(plan.split(f"{DETAIL_HEADING}\n", 1)[-1].strip("\n"), "   | "),
    )
    return dry, after_dry, dry_decisions


def dry_run_off_tick(stage: Stage, managed: list[ManagedImage], before: AccountState) -> tuple[Tick, AccountState]:
    on = stage.sweeper.tick("false")
    after_on = read_state(stage.aws)
    say(
        "9. Dry run turned off (SweepDryRun=false in samconfig.toml): tick",
        *textwrap.wrap(f"   -> {tick_summary(on)}", WIDTH, subsequent_indent="      "),
        *textwrap.wrap(
            f"   the history is adopted: {plural(sum(on.plan.get('adopted', {}).values()), 'image')},"
            f" {on.total('FinishListedImage')} of versions retention keeps finished (lineage, snapshots), the others"
            f" beyond retention tagged with their family ({on.total('AddLineageTags')} CreateTags) and deprecated;"
            f" {on.total('CopyImage')} copies started",
            WIDTH,
            subsequent_indent="      ",
        ),
        *deprecation_lines(managed, before, after_on),
    )
    return on, after_on


def time_passes_tick(
    stage: Stage, managed: list[ManagedImage], newest: set[tuple[str, str]], start: AccountState
) -> tuple[set[str], Tick, AccountState, dict[str, dict[str, Any]]]:
    """The images aged, the tick, the account after it, and the plan's decisions on what was kept."""
    aged = age_deprecations(stage.aws, ELAPSED_DAYS)
    gone = stage.sweeper.tick("false")
    after_gone = read_state(stage.aws)
    decisions = stage.sweeper.decisions()
    say(
        f"10. Time passes: {ELAPSED_DAYS} days (simulated: fidelity.set_deprecation_time on the"
        f" {plural(len(aged), 'deprecated image')})",
        "    and EC2 finished the AMI usage reports step 9 asked for (fidelity.complete_usage_reports)",
        *textwrap.wrap(f"    tick -> {tick_summary(gone)}", WIDTH, subsequent_indent="       "),
        *removal_lines(gone, managed, start, after_gone),
        f"    Kept, though deprecated for {ELAPSED_DAYS} days (why: the plan, `python -m ami_lifecycle plan --json`):",
        *kept_lines(managed, newest, decisions),
    )
    return aged, gone, after_gone, decisions


def next_tick(stage: Stage, before: AccountState) -> tuple[Tick, AccountState]:
    again = stage.sweeper.tick("false")
    end = read_state(stage.aws)
    say(f"11. Next tick -> {tick_summary(again)}", f"    {unchanged(before, end)}", "")
    return again, end


def restore_one(stage: Stage, sweep: SweepStory) -> list[str]:
    """Step 12: a retired version back from the Recycle Bin, launchable, and kept by the next tick. Returns
    what went wrong."""
    removed = next((m for m in sweep.removed if m.region == HOME), None)
    if removed is None:
        return []
    status, out = stage.sweeper.restore(removed.image_id, HOME)
    tick = stage.sweeper.tick("false")
    decision = stage.sweeper.decisions().get(removed.image_id, {})
    image = read_state(stage.aws).images.get(removed.image_id)
    say(
        f"12. {removed.build.name} is wanted back: python -m ami_lifecycle restore {removed.image_id} --region {HOME}",
        *fit(out, "    | "),
        f"    next tick -> {tick_summary(tick)}; {removed.build.name}: {decision.get('status')}"
        f" ({str(decision.get('reason', '')).split(', but ', 1)[-1]})",
        "",
    )
    problems = [] if status == 0 else [f"step 12: restore exited {status}"]
    if image is None or any(s not in read_state(stage.aws).snapshots for s in image.snapshot_ids):
        problems.append(f"step 12: {removed.image_id} or its snapshots are not back")
    if decision.get("status") != "keep" or "keep-tag" not in decision.get("protections", []):
        problems.append(f"step 12: the next tick does not keep {removed.image_id}: {decision}")
    return problems


def conclude(aws: LocalAws, account: Account, day: DayReport, sweep: SweepStory, restored: list[str]) -> int:
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
    problems = day.problems + sweep_checks(account, sweep) + skipped_checks(aws, account) + restored
    if problems:
        say(f"FAILED: {len(problems)} expectations not met:", *(f"  - {p}" for p in problems))
        return 1
    say(
        "OK: every managed AMI is copied, tagged, shared and encrypted as the policy says;",
        f"    {day.tracked} launches tracked (tagged, recorded), {alerts} for the deprecated version;",
        "    the sweep's dry run changed nothing; then it deprecated the old versions, deregistered the unused ones",
        "    (the one another account uses stayed), and a retired one came back from the Recycle Bin, kept;",
        "    each family's parameter named its newest finished version in every region, a pin rolled it back",
    )
    return 0
