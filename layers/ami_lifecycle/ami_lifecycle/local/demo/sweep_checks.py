"""Every way the sweep's ticks differ from what the retention policy should have produced."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from .aws_state import AccountState, describe_state
from .sweep import SweepStory
from .world import HOME, Account


def change_problems(what: str, before: AccountState, after: AccountState) -> list[str]:
    """One line for everything `what` changed, naming the first change."""
    changes = before.changes(after)
    return [f"{what} changed {len(changes)} images or snapshots, e.g. {changes[0]}"] if changes else []


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
    problems += sweep.adoption
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
    due = [m.image_id for m in sweep.retiring if not sweep.start.images[m.image_id].deprecation]
    due += list(sweep.history_retiring)  # adopted with the family tag in the same run, and deprecated by it
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
    for image_id, label in sweep.history_retiring.items():
        image = sweep.after_on.images.get(image_id)
        if image is None or not image.deprecation:
            problems.append(f"step 9: {label} ({image_id}) is not deprecated: {describe_state(image)}")
    return problems


def removal_problems(sweep: SweepStory) -> list[str]:
    """Step 10 deregistered every unused old version in every region, with its snapshots, as reported."""
    problems = []
    # the history beyond retention goes too: nothing uses it
    removed = {m.image_id: m.label for m in sweep.removed} | sweep.history_retiring
    snapshots = [s for image_id in removed for s in sweep.start.images[image_id].snapshot_ids]
    for image_id, label in removed.items():
        if image_id in sweep.after_gone.images:
            problems.append(f"step 10: {label} ({image_id}) is still registered")
    if left := [s for s in snapshots if s in sweep.after_gone.snapshots]:
        problems.append(f"step 10: snapshots of deregistered AMIs left: {', '.join(left)}")
    gib = sum(sweep.start.snapshots[s][0] for s in snapshots)
    deregistered = sweep.gone.total("DeregisterImage")
    reported = (deregistered, sweep.gone.snapshots_deleted, sweep.gone.gib_reclaimed)
    if reported != (len(removed), len(snapshots), gib):
        problems.append(
            f"step 10: the function reported {reported} (AMIs, snapshots, GiB), expected"
            f" {(len(removed), len(snapshots), gib)}"
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
