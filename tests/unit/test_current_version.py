"""The current-version decision: which image a family's parameter names in a region, and when it moves."""

from __future__ import annotations

from datetime import timedelta

from ami_lifecycle.model.inventory import Fleet
from ami_lifecycle.model.plan import RegionPlan
from ami_lifecycle.plan.current import (
    PARAMETER_CREATED_TAG,
    PARAMETER_VERSION_TAG,
    Candidate,
    Named,
    choose_current,
    event_candidate,
    should_move,
)
from ami_lifecycle.plan.current import candidate as sweep_candidate
from ami_lifecycle.plan.families import group_versions
from ami_lifecycle.policy import parse_policy

from .test_sweep_planner import DR, HOME, NOW, Account, ec2_time, policy


def candidates(account: Account) -> list[Candidate]:
    fleet = Fleet(HOME, account.regions, {})
    plans = {r: RegionPlan(r) for r in account.regions}
    return [
        sweep_candidate(member, version, account.policy)
        for by_version in group_versions(fleet, account.policy, plans).values()
        for version in by_version.values()
        for member in version.members
    ]


def test_the_newest_finished_undeprecated_version_is_current_in_each_region() -> None:
    account = Account(policy("keep_latest: 3"))
    old, new = account.source(1, days_ago=9), account.source(2, days_ago=1)
    old_copy, new_copy = account.copy(old), account.copy(new)

    found = candidates(account)

    home, dr = choose_current("web", HOME, found), choose_current("web", DR, found)
    assert home.candidate is not None and home.candidate.image_id == new.image_id
    assert dr.candidate is not None and dr.candidate.image_id == new_copy.image_id
    assert home.candidate.key > next(c for c in found if c.image_id == old_copy.image_id).key


def test_unfinished_deprecated_and_pending_images_are_never_current() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    finished = account.source(1, days_ago=9)
    account.source(2, days_ago=5, finished=False)
    account.source(3, days_ago=3, deprecated=NOW + timedelta(days=1))  # scheduled: already retiring
    account.source(4, days_ago=1, state="pending")

    current = choose_current("web", HOME, candidates(account))

    assert current.candidate is not None and current.candidate.image_id == finished.image_id


def test_a_pin_names_the_pinned_version_even_when_deprecated_and_an_unknown_pin_names_nothing() -> None:
    account = Account(policy("keep_latest: 3"))
    pinned = account.source(1, days_ago=9, deprecated=NOW - timedelta(days=1))
    pinned_copy = account.copy(pinned, deprecated=NOW - timedelta(days=1))
    account.copy(account.source(2, days_ago=1))
    found = candidates(account)

    home, dr = choose_current("web", HOME, found, pin="1"), choose_current("web", DR, found, pin="1")
    unknown = choose_current("web", HOME, found, pin="7")

    assert home.candidate is not None and home.candidate.image_id == pinned.image_id and home.pinned == "1"
    assert dr.candidate is not None and dr.candidate.image_id == pinned_copy.image_id
    assert unknown.candidate is None and unknown.note == "pinned to 7, which has no available image in us-east-1"
    assert should_move(home, Named("ami-newer", ("2026-11-21", "2"))) is True  # a pin may move backwards
    assert should_move(unknown, Named("ami-newer", ("2026-11-21", "2"))) is False


def test_never_backwards_unless_what_it_names_is_no_longer_usable() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    image = account.source(1, days_ago=9)
    older = choose_current("web", HOME, candidates(account))
    newer_key = (ec2_time(NOW), "2")

    assert should_move(older, Named("ami-newer", newer_key)) is False  # out-of-order or redelivered event
    assert should_move(older, Named("ami-newer", newer_key, usable=False)) is True  # deprecated by hand, gone
    assert should_move(older, Named("ami-other", None)) is False  # tags that do not say: left to the sweep
    assert should_move(older, Named(image.image_id, ("", ""))) is False  # already names it
    assert should_move(older, None) is True  # no parameter yet


def test_an_event_compares_with_the_parameters_tags_only() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    first, second = account.source(1, days_ago=9), account.source(2, days_ago=1)
    named = Named.from_tags(first.image_id, {PARAMETER_VERSION_TAG: "1", PARAMETER_CREATED_TAG: first.creation_date})

    newer = choose_current("web", HOME, [event_candidate(second, "web", "2", second.creation_date)])
    older = choose_current("web", HOME, [event_candidate(first, "web", "1", first.creation_date)])

    assert should_move(newer, named) is True
    assert should_move(older, Named.from_tags(
        second.image_id, {PARAMETER_VERSION_TAG: "2", PARAMETER_CREATED_TAG: second.creation_date}
    )) is False  # fmt: skip
    pinned_elsewhere = choose_current("web", HOME, [event_candidate(second, "web", "2", second.creation_date)], "1")
    assert pinned_elsewhere.candidate is None


def test_an_event_never_names_a_deprecated_image_even_a_pinned_one() -> None:
    from ami_lifecycle.model.parameters import TaggedParameter
    from ami_lifecycle.plan.parameters import plan_event_parameter

    pinned = parse_policy(MINIMAL_PINNED)
    account = Account(policy("keep_latest: 3", dr=False))
    image = account.source(1, days_ago=9, deprecated=NOW - timedelta(days=1))
    finished = event_candidate(image, "web", "1", image.creation_date)

    decision, action = plan_event_parameter(finished, TaggedParameter("/ami-lifecycle/web/latest", False), pinned)

    assert action is None and decision.status == "held" and decision.reason.startswith("deprecated")


MINIMAL_PINNED = """
home_region: us-east-1
managed_images:
  - name: golden
    select: {tags: {managed: "true"}}
    family: {value: web}
pins: {web: "1"}
"""
