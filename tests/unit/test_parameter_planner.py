"""The sweep's plan for the family parameters, on hand-built inventories: which image each region's parameter
names, when it moves (never backwards), pins, and parameters the product did not create."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ami_lifecycle.act.finish import FinishImage
from ami_lifecycle.act.parameters import CancelDeprecation, PutImageParameter
from ami_lifecycle.act.retire import DeprecateImage, DeregisterImage, DisableImage
from ami_lifecycle.model.image import PROTECTED_TAG
from ami_lifecycle.model.inventory import Reference
from ami_lifecycle.model.parameters import ImageParameter, ParameterDecision
from ami_lifecycle.model.plan import SweepPlan
from ami_lifecycle.plan.current import Named, choose_current, should_move
from ami_lifecycle.plan.parameters import _unmoved
from ami_lifecycle.policy import Policy, parse_policy

from .test_current_version import candidates
from .test_sweep_planner import DR, HOME, NOW, Account, actions, policy, status

NAME = "/ami-lifecycle/web/latest"


def pinned(pin: str, retention: str = "keep_latest: 1") -> Policy:
    base = policy(retention)
    return parse_policy(base.model_dump_json(exclude_defaults=True)[:-1] + f', "pins": {{"web": "{pin}"}}}}')


def parameters(account: Account, named: dict[str, str | None], owned: bool = True) -> None:
    """What the sweep's read found: the family's parameter in each region, naming an image (None: no parameter)."""
    for region, inventory in account.regions.items():
        value = named.get(region)
        inventory.parameters = {} if value is None else {NAME: ImageParameter(NAME, value, owned, "Standard")}


def decision(plan: SweepPlan, region: str) -> ParameterDecision:
    (found,) = plan.regions[region].parameters
    return found


def writes(plan: SweepPlan) -> dict[str, str]:
    return {a.region: a.image_id for a in actions(plan, PutImageParameter)}


def test_each_region_gets_its_own_image_the_source_at_home_and_the_copy_in_a_dr_region() -> None:
    account = Account(policy("keep_latest: 3"))
    source = account.source(1, days_ago=1)
    copy = account.copy(source)
    parameters(account, {})

    plan = account.plan()

    assert writes(plan) == {HOME: source.image_id, DR: copy.image_id}
    (created,) = [a for a in actions(plan, PutImageParameter) if a.region == DR]
    assert created.exists is False and created.name == NAME
    assert dict(created.tags) == {
        "ami-lifecycle:family": "web",
        "ami-lifecycle:version": "1",
        "ami-lifecycle:version-created": source.creation_date,
        "ami-lifecycle:image-id": copy.image_id,
    }
    assert decision(plan, DR).status == "create"


def test_a_new_version_moves_every_parameter_and_nothing_is_written_when_nothing_changed() -> None:
    account = Account(policy("keep_latest: 3"))
    old = account.source(1, days_ago=9)
    old_copy = account.copy(old)
    new = account.source(2, days_ago=1)
    new_copy = account.copy(new)

    parameters(account, {HOME: old.image_id, DR: old_copy.image_id})
    moved = account.plan()
    parameters(account, {HOME: new.image_id, DR: new_copy.image_id})
    settled = account.plan()

    assert writes(moved) == {HOME: new.image_id, DR: new_copy.image_id}
    assert all(a.exists for a in actions(moved, PutImageParameter))
    assert decision(moved, HOME).status == "move" and decision(moved, HOME).named == old.image_id
    assert actions(settled, PutImageParameter) == []
    assert decision(settled, DR).status == "up-to-date"


def test_a_dr_parameter_waits_for_its_copy_to_be_finished() -> None:
    account = Account(policy("keep_latest: 3"))
    old = account.source(1, days_ago=9)
    old_copy = account.copy(old)
    new = account.source(2, days_ago=1)
    copy = account.copy(new)
    unfinished = {k: v for k, v in copy.tags.items() if k != PROTECTED_TAG}  # still copying: not tagged, shared
    account.add(replace(copy, tags=unfinished, state="pending"))
    parameters(account, {HOME: old.image_id, DR: old_copy.image_id})

    plan = account.plan()

    assert writes(plan) == {HOME: new.image_id}
    assert decision(plan, DR).status == "up-to-date" and decision(plan, DR).named == old_copy.image_id


def test_never_backwards_even_when_what_it_names_is_not_finished_yet() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    account.source(1, days_ago=9)
    newer = account.source(2, days_ago=1, finished=False)  # e.g. a policy change made its mark stale
    parameters(account, {HOME: newer.image_id})

    plan = account.plan()

    # the run finishes it first, so it stays current: the parameter is neither moved back nor rewritten
    assert writes(plan) == {} and [a.image.image_id for a in actions(plan, FinishImage)] == [newer.image_id]
    assert decision(plan, HOME).status == "up-to-date"


def test_never_backwards_to_an_older_version_in_the_current_decision() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    older = account.source(1, days_ago=9)
    newer_key = (account.source(2, days_ago=1).creation_date, "2")
    current = choose_current("web", HOME, [c for c in candidates(account) if c.image_id == older.image_id])

    assert should_move(current, Named("ami-newer-unfinished", newer_key)) is False
    assert _unmoved(current, Named("ami-newer-unfinished", newer_key)) == (
        "held",
        "names a newer version than 1: never moved backwards",
    )


def test_an_image_finished_in_the_same_run_is_named_after_its_finish_and_only_if_it_succeeds() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    account.source(1, days_ago=9)
    lost = account.source(2, days_ago=1, finished=False)  # its event was lost
    parameters(account, {})

    plan = account.plan()

    order = [type(a).__name__ for a in plan.regions[HOME].actions]
    assert writes(plan) == {HOME: lost.image_id} and order == ["FinishListedImage", "PutImageParameter"]
    assert FinishImage in PutImageParameter.requires


def test_a_parameter_naming_a_deprecated_or_vanished_image_moves_to_the_newest_usable_one() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    usable = account.source(1, days_ago=9)
    deprecated_by_hand = account.source(2, days_ago=1, deprecated=NOW - timedelta(hours=1))
    parameters(account, {HOME: deprecated_by_hand.image_id})

    moved_back = account.plan()
    parameters(account, {HOME: "ami-00000000000000gone"})
    replaced = account.plan()

    assert writes(moved_back) == {HOME: usable.image_id} and writes(replaced) == {HOME: usable.image_id}


def test_a_parameter_the_product_did_not_create_is_left_alone_and_reported() -> None:
    account = Account(policy("keep_latest: 3", dr=False))
    account.source(1, days_ago=1)
    parameters(account, {HOME: "ami-0123456789abcdef0"}, owned=False)

    plan = account.plan()

    assert writes(plan) == {}
    assert decision(plan, HOME).status == "not-ours"
    assert decision(plan, HOME).reason == "a parameter the product did not create is at this path: left alone"


def test_the_image_a_parameter_names_is_kept_like_any_referenced_image() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 1", dr=False))
    old = account.source(1, days_ago=90, deprecated=NOW - timedelta(days=30))
    account.source(2, days_ago=1)
    parameters(account, {HOME: old.image_id})
    # as the sweep's read of the parameters records it (read/parameters.add_parameters)
    account.regions[HOME].refer(old.image_id, Reference("ssm-parameter", f"{NAME} (the family's parameter)"))

    plan = account.plan()

    assert actions(plan, DeregisterImage) == []
    assert "used by ssm-parameter /ami-lifecycle/web/latest" in status(plan, old)[1]


def test_a_pin_moves_every_region_back_cancels_deprecations_and_survives_its_grace_period() -> None:
    account = Account(pinned("1", "keep_latest: 1, deregister_after_days: 7, disable_after_days: 3"))
    long_ago = NOW - timedelta(days=60)
    old = account.source(1, days_ago=90, deprecated=long_ago)
    old_copy = account.copy(old, deprecated=long_ago)
    new = account.source(2, days_ago=1)
    new_copy = account.copy(new)
    parameters(account, {HOME: new.image_id, DR: new_copy.image_id})

    plan = account.plan()

    assert writes(plan) == {HOME: old.image_id, DR: old_copy.image_id}
    cancelled = {a.image_id for a in actions(plan, CancelDeprecation)}
    assert cancelled == {old.image_id, old_copy.image_id}
    assert actions(plan, DeregisterImage) == [] and actions(plan, DisableImage) == []
    assert actions(plan, DeprecateImage) == []  # not the pinned version; the newest is within keep_latest
    kept, reason = status(plan, old_copy)
    assert kept == "keep" and reason == "pinned by the policy (pins: web: 1); its deprecation is cancelled"
    assert decision(plan, DR).pinned == "1" and decision(plan, DR).reason == "pinned to 1"
    order = [type(a).__name__ for a in plan.regions[DR].actions]
    assert order.index("CancelDeprecation") < order.index("PutImageParameter")


def test_removing_the_pin_moves_the_parameters_forward_and_lets_the_version_retire() -> None:
    account = Account(policy("keep_latest: 1"))
    old = account.source(1, days_ago=90)
    old_copy = account.copy(old)
    new = account.source(2, days_ago=1)
    new_copy = account.copy(new)
    parameters(account, {HOME: old.image_id, DR: old_copy.image_id})

    plan = account.plan()

    assert writes(plan) == {HOME: new.image_id, DR: new_copy.image_id}
    assert {a.image_id for a in actions(plan, DeprecateImage)} == {old.image_id, old_copy.image_id}


def test_a_pin_to_an_unknown_version_moves_nothing_and_says_so() -> None:
    account = Account(pinned("7"))
    source = account.source(1, days_ago=1)
    parameters(account, {HOME: source.image_id, DR: None})

    plan = account.plan()

    assert writes(plan) == {}
    assert decision(plan, HOME).status == "held"
    assert (
        decision(plan, HOME).reason == "pinned to 7, which has no available image in us-east-1; what it names now stays"
    )
    assert decision(plan, DR).reason == "pinned to 7, which has no available image in us-west-2; not created"
