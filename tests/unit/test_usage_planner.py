"""Use in other accounts: a shared AMI is removed only on a recent, late-enough usage report showing no use."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ami_lifecycle.act.retire import DeregisterImage
from ami_lifecycle.act.usage import CreateImageUsageReport, ReportUseInOtherAccounts
from ami_lifecycle.model.image import USE_REPORTED_TAG, Image
from ami_lifecycle.model.inventory import Fleet
from ami_lifecycle.model.plan import SweepPlan
from ami_lifecycle.model.usage import UsageEntry, UsageReport
from ami_lifecycle.plan.sweep import plan_sweep, removal_candidates
from ami_lifecycle.policy import parse_policy

from .test_sweep_planner import HOME, NOW, Account

DEPRECATED = NOW - timedelta(days=20)  # grace period (10 days) over


def shared_policy(extra: str = "") -> str:
    return f"""
home_region: us-east-1
defaults:
  retention: {{keep_latest: 1, deregister_after_days: 10}}
  sharing: {{accounts: ["111111111111"]}}
sweep:
  usage_reports: {{lag_days: 3, max_age_days: 7{extra}}}
managed_images:
  - name: golden
    select: {{tags: {{managed: "true"}}, name_pattern: '(?P<family>[a-z]+)-(?P<version>\\d+)'}}
    family: {{name_group: family}}
    version: {{name_group: version}}
"""


def account(extra: str = "") -> tuple[Account, Image]:
    world = Account(parse_policy(shared_policy(extra)))
    old = world.source(1, days_ago=60, deprecated=DEPRECATED)
    world.source(2, days_ago=1)
    return world, old


def report(image: Image, state: str = "available", days_ago: float = 1, *uses: tuple[str, str, int]) -> UsageReport:
    created = NOW - timedelta(days=days_ago)
    entries = tuple(UsageEntry(a, t, n) for a, t, n in uses)
    return UsageReport(f"amiur-{int(days_ago * 100):017x}", image.image_id, state, created,
                       created + timedelta(days=30), "quota" if state == "error" else "", entries)  # fmt: skip


def plan_with(world: Account, *reports: UsageReport, checked: bool = True) -> SweepPlan:
    world.plan()  # marks references and launch permissions read
    inventory = world.regions[HOME]
    if checked:
        inventory.usage_checked = frozenset(inventory.images)
        inventory.usage_reports = {r.image_id: [r] for r in reports}
    return plan_sweep(Fleet(HOME, world.regions, {}), world.policy, NOW)


def kept_reason(plan: SweepPlan, image: Image) -> str:
    (decision,) = [d for d in plan.regions[HOME].decisions if d.image_id == image.image_id]
    assert decision.status == "keep", decision
    return decision.reason


def test_zero_use_in_a_recent_late_enough_report_retires_the_image() -> None:
    world, old = account()

    plan = plan_with(world, report(old, days_ago=1))

    assert [a.image_id for a in plan.actions if isinstance(a, DeregisterImage)] == [old.image_id]


def test_use_in_other_accounts_keeps_the_image_and_names_them() -> None:
    world, old = account()
    uses = [("222222222222", "ec2:Instance", 12), ("333333333333", "ec2:LaunchTemplate", 2),
            ("222222222222", "ec2:LaunchTemplate", 0)]  # fmt: skip

    plan = plan_with(world, report(old, "available", 1, *uses))

    assert kept_reason(plan, old).endswith(
        "but used in 2 accounts (222222222222, 333333333333): 12 instances, 2 launch templates "
        f"(usage report amiur-{100:017x} of 2026-11-21)"
    )
    assert not [a for a in plan.actions if isinstance(a, DeregisterImage)]


@pytest.mark.parametrize(
    ("made", "why"),
    [
        ({"state": "pending"}, "usage report amiur-00000000000000064 pending since 2026-11-21 12:00"),
        ({"state": "error"}, "usage report amiur-00000000000000064 failed: quota"),
        ({"days_ago": 8}, "usage report amiur-00000000000000320 of 2026-11-14 is older than 7 days"),
        ({"days_ago": 31}, "usage report amiur-00000000000000c1c of 2026-10-22 is older than 7 days"),
    ],
    ids=["pending", "failed", "too old", "expired"],
)
def test_a_report_that_cannot_tell_keeps_the_image(made: dict[str, object], why: str) -> None:
    world, old = account(", max_age_days: 7")
    kwargs = {"state": "available", "days_ago": 1} | made

    plan = plan_with(world, report(old, str(kwargs["state"]), float(str(kwargs["days_ago"]))))

    assert kept_reason(plan, old).endswith(f"but {why}")


def test_a_report_made_too_soon_after_deprecation_keeps_the_image_and_a_new_one_is_asked() -> None:
    world, old = account(", max_age_days: 30")
    too_soon = report(old, "available", 18)  # deprecated 20 days ago: made 2 days after, the lag is 3

    plan = plan_with(world, too_soon)

    assert "was made less than 3 days after deprecation" in kept_reason(plan, old)
    (ask,) = [a for a in plan.actions if isinstance(a, CreateImageUsageReport)]
    assert ask.image_id == old.image_id


def test_no_report_keeps_the_image_and_asks_for_one_once() -> None:
    world, old = account()

    plan = plan_with(world)
    again = plan_with(world, report(old, "pending", 0.01))

    assert kept_reason(plan, old).endswith("but shared, and no AMI usage report yet")
    assert [a.image_id for a in plan.actions if isinstance(a, CreateImageUsageReport)] == [old.image_id]
    assert not [a for a in again.actions if isinstance(a, CreateImageUsageReport)]


def test_usage_not_read_this_run_keeps_the_image() -> None:
    world, old = account()

    plan = plan_with(world, checked=False)

    assert kept_reason(plan, old).endswith("but usage in other accounts not read this run")


def test_reports_are_asked_at_most_n_per_run_the_longest_deprecated_first() -> None:
    world = Account(parse_policy(shared_policy(", max_new_per_region: 2")))
    old = [world.source(v, days_ago=90 - v, deprecated=NOW - timedelta(days=40 - v)) for v in range(1, 6)]
    world.source(9, days_ago=1)

    plan = plan_with(world)

    asked = [a.image_id for a in plan.actions if isinstance(a, CreateImageUsageReport)]
    assert asked == [old[0].image_id, old[1].image_id]
    assert plan.regions[HOME].usage_reports_backlog == 3
    assert plan.summary()["usage_reports_backlog"] == {HOME: 3}


def test_retiring_shared_images_are_named_for_their_usage_reports_before_they_are_due() -> None:
    world, old = account()
    retiring = world.source(3, days_ago=30, deprecated=NOW - timedelta(days=2))
    world.source(4, days_ago=0.5)
    world.plan()

    candidates = removal_candidates(Fleet(HOME, world.regions, {}), world.policy, NOW)[HOME]

    assert candidates.due == {old.image_id}
    assert {old.image_id, retiring.image_id} <= candidates.shared


def test_a_report_is_deterministic_per_image_and_generation() -> None:
    world, old = account()
    first = [a for a in plan_with(world).actions if isinstance(a, CreateImageUsageReport)]
    second = [a for a in plan_with(world).actions if isinstance(a, CreateImageUsageReport)]
    failed = plan_with(world, report(old, "error"))
    after_a_failed_one = [a for a in failed.actions if isinstance(a, CreateImageUsageReport)]

    assert first == second and first[0].image_id == old.image_id
    assert first[0].client_token.startswith("ami-lifecycle-")
    # a repeated tick asks with the same token; once a report exists, the next one is a new request
    assert after_a_failed_one[0].client_token != first[0].client_token


def test_use_past_the_grace_period_is_reported_once_per_report() -> None:
    world, old = account()
    used = report(old, "available", 1, ("222222222222", "ec2:Instance", 3))

    plan = plan_with(world, used)
    world.regions[HOME].images[old.image_id] = replace(old, tags=old.tags | {USE_REPORTED_TAG: used.report_id})
    again = plan_with(world, used)

    (tell,) = [a for a in plan.actions if isinstance(a, ReportUseInOtherAccounts)]
    assert (tell.image_id, tell.report_id) == (old.image_id, used.report_id)
    assert tell.usage.startswith("used in 1 account (222222222222): 3 instances")
    assert plan.regions[HOME].used_elsewhere == [old.image_id] == again.regions[HOME].used_elsewhere
    assert not [a for a in again.actions if isinstance(a, ReportUseInOtherAccounts)]


def test_launch_permissions_are_read_for_at_most_n_due_images_a_run() -> None:
    text = shared_policy(", max_new_per_region: 2").replace('  sharing: {accounts: ["111111111111"]}\n', "")
    world = Account(parse_policy(text))
    old = [world.source(v, days_ago=90 - v, deprecated=DEPRECATED) for v in range(1, 6)]
    world.source(9, days_ago=1)
    world.plan(checked=False)

    candidates = removal_candidates(Fleet(HOME, world.regions, {}), world.policy, NOW)[HOME]

    assert candidates.due == {i.image_id for i in old} and not candidates.shared
    assert candidates.sharing_unknown == {old[0].image_id, old[1].image_id}  # the oldest first; the rest wait


def test_use_reported_on_an_image_whose_tags_fill_ec2s_50_makes_room_or_says_it_repeats() -> None:
    # Given an image used elsewhere past its grace period, with 47 user tags beside its lineage and protected mark
    world, old = account()
    used = report(old, "available", 1, ("222222222222", "ec2:Instance", 3))
    user = {f"cost-{i:02d}": "x" for i in range(46)}
    world.regions[HOME].images[old.image_id] = replace(old, tags=old.tags | user)
    assert len(world.regions[HOME].images[old.image_id].tags) == 50

    roomy = plan_with(world, used)
    # and the same image where the user's tags take every place but the family tag's
    family_only = {k: v for k, v in old.tags.items() if k == "ami-lifecycle:family"}
    full = {"managed": "true", **{f"cost-{i:02d}": "x" for i in range(48)}, **family_only}
    world.regions[HOME].images[old.image_id] = replace(old, tags=full)
    crowded = plan_with(world, used)

    # Then the first gives up its protected mark for the use-reported mark; the second is alerted without it,
    # and the plan says the alert repeats
    (made_room,) = [a for a in roomy.actions if isinstance(a, ReportUseInOtherAccounts)]
    assert made_room.give_up == ("ami-lifecycle:protected",) and made_room.mark
    (no_room,) = [a for a in crowded.actions if isinstance(a, ReportUseInOtherAccounts)]
    assert no_room.give_up == () and not no_room.mark
    assert any(old.image_id in n and "reported again each run" in n for n in crowded.regions[HOME].notes)
