"""Fitting tags within EC2's limits (50 user tags per resource, keys of 128 and values of 256 characters, `aws:`
reserved and not counted): the order, what is kept free, what is left out and named. Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ami_lifecycle.act.finish import FinishImage
from ami_lifecycle.act.protect import TagResources
from ami_lifecycle.act.retire import DeprecateImage, DeregisterImage, DisableImage, MarkRetired, retirement_marks
from ami_lifecycle.model.image import (
    FAMILY_TAG,
    IMAGE_MARKS,
    PROTECTED_TAG,
    RECYCLE_TAG,
    RETIRED_TAG,
    SNAPSHOT_MARKS,
    SOURCE_IMAGE_TAG,
    SOURCE_REGION_TAG,
    VERSION_TAG,
    Image,
)
from ami_lifecycle.model.inventory import Fleet, ImageState, Instance, Snapshot
from ami_lifecycle.model.plan import KEEP, SweepPlan
from ami_lifecycle.plan.desired import desired_copy, desired_source, protection_digest
from ami_lifecycle.plan.launches import plan_launches
from ami_lifecycle.plan.protect import plan_finish
from ami_lifecycle.plan.retire import SNAPSHOT_EXPENDABLE
from ami_lifecycle.plan.sweep import plan_sweep
from ami_lifecycle.plan.tag_fit import fit_marks, fit_tags, free_slots, ranked_keys
from ami_lifecycle.policy import PolicyError, parse_policy
from tests.unit.test_sweep_planner import HOME, NOW
from tests.unit.test_sweep_planner import Account as PlannerAccount
from tests.unit.test_sweep_planner import policy as planner_policy

LINEAGE = (FAMILY_TAG, VERSION_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG)
POLICY_TEXT = """
home_region: us-east-1
dr_regions: [{region: us-west-2}]
defaults:
  tags:
    to_copies: {exclude: [Build*]}
    to_instances: {include: ["cost-*"]}
    priority: ["CostCenter", "Owner*"]
managed_images:
  - name: tagged
    select: {tags: {Managed: "true"}}
    family: {value: web}
    version: {tag: Version}
"""
POLICY = parse_policy(POLICY_TEXT)


def user_tags(count: int, prefix: str = "tag") -> dict[str, str]:
    return {f"{prefix}-{i:02d}": str(i) for i in range(count)}


def source(count: int, snapshot_ids: tuple[str, ...] = ("snap-1",), **extra: str) -> Image:
    """A managed source with `count` user tags in all."""
    tags = {"Managed": "true", "Version": "1.0", **extra}
    tags |= user_tags(count - len(tags))
    return Image("ami-0source", "us-east-1", "123456789012", "web", "available", "2026-11-01T00:00:00.000Z",
                 tags, snapshot_ids)  # fmt: skip


def count(tags: dict[str, str]) -> int:
    return sum(not k.lower().startswith("aws:") for k in tags)


# --- the order and the budget ---------------------------------------------------------------------------------


def test_product_tags_come_first_then_priority_globs_in_order_then_the_rest_alphabetically() -> None:
    # Given room for 5 new tags and more propagated tags than that
    existing = user_tags(45, "old")
    propagated = {"zeta": "1", "alpha": "2", "Owner-b": "3", "Owner-a": "4", "CostCenter": "5", "beta": "6"}

    fit = fit_tags({FAMILY_TAG: "web", VERSION_TAG: "1"}, propagated, existing, priority=["CostCenter", "Owner*"])

    # Then the product's two tags, CostCenter, then the Owner* keys alphabetically; the rest are named as dropped
    assert list(fit.tags) == [FAMILY_TAG, VERSION_TAG, "CostCenter", "Owner-a", "Owner-b"]
    assert fit.dropped == ("alpha", "beta", "zeta")
    assert "3 tags left out, EC2 allows 50: alpha, beta, zeta" in fit.describe()


def test_keys_a_resource_already_has_cost_nothing_and_aws_tags_do_not_count() -> None:
    existing = user_tags(49) | {"aws:cloudformation:stack-name": "s", FAMILY_TAG: "old"}

    fit = fit_tags({FAMILY_TAG: "web"}, {"tag-00": "new", "extra": "x"}, existing)

    assert fit.tags == {FAMILY_TAG: "web", "tag-00": "new"} and fit.dropped == ("extra",)


def test_reserved_marks_are_kept_free() -> None:
    fit = fit_tags({FAMILY_TAG: "web"}, user_tags(60), reserve=IMAGE_MARKS)

    assert count(fit.tags) == 50 - len(IMAGE_MARKS) and FAMILY_TAG in fit.tags
    assert free_slots(fit.tags, IMAGE_MARKS) == 0


def test_keys_and_values_ec2_refuses_are_left_out_and_named() -> None:
    long_key, long_value = "k" * 129, "v" * 257
    propagated = {long_key: "x", "big": long_value, "aws:thing": "y", "edge": "v" * 256, "k" * 128: "ok"}

    fit = fit_tags({}, propagated)

    assert set(fit.tags) == {"edge", "k" * 128}
    assert set(fit.invalid) == {long_key, "big", "aws:thing"}
    assert "over EC2's 128/256-character key/value limits" in fit.describe()


def test_a_full_resource_takes_nothing_new() -> None:
    fit = fit_tags({FAMILY_TAG: "web"}, {"a": "1"}, user_tags(50))

    assert fit.tags == {} and fit.dropped == (FAMILY_TAG, "a")


def test_ranking_without_priority_is_alphabetical() -> None:
    assert ranked_keys(["b", "a", "C"]) == ["C", "a", "b"]
    assert ranked_keys(["b", "Owner", "a"], ["Owner"]) == ["Owner", "a", "b"]


tag_keys = st.text(alphabet="abcdefgh:-", min_size=1, max_size=6)


@given(
    existing=st.dictionaries(tag_keys, st.just("e"), max_size=55),
    product=st.dictionaries(tag_keys, st.just("p"), max_size=6),
    propagated=st.dictionaries(tag_keys, st.text(max_size=3), max_size=60),
    reserve=st.lists(tag_keys, max_size=4),
)
def test_what_is_written_fits_and_everything_else_is_named(
    existing: dict[str, str], product: dict[str, str], propagated: dict[str, str], reserve: list[str]
) -> None:
    fit = fit_tags(product, propagated, existing, reserve)

    # Never more new keys than room, whatever the resource already has; every wanted key is written or named
    new = set(fit.tags) - set(existing)
    assert len(new) <= max(free_slots(existing, reserve), 0)
    assert set(fit.tags) | set(fit.dropped) | set(fit.invalid) == set(product) | set(propagated)
    assert not set(fit.tags) & (set(fit.dropped) | set(fit.invalid))
    if count(existing) <= 50:
        assert count(existing | fit.tags) <= 50


# --- marks that make room ---------------------------------------------------------------------------------------


def test_a_mark_takes_the_place_of_the_products_own_tags_in_the_given_order() -> None:
    marks = {RECYCLE_TAG: "true", RETIRED_TAG: "2026-12-01T00:00:00Z"}
    existing = user_tags(46) | {FAMILY_TAG: "web", VERSION_TAG: "1", PROTECTED_TAG: "d", "aws:x": "y"}

    fit = fit_marks(existing, marks, (PROTECTED_TAG, VERSION_TAG, FAMILY_TAG))

    assert fit.give_up == (PROTECTED_TAG,) and fit.marks == marks


def test_only_the_first_mark_fits_where_only_one_tag_of_the_product_can_go() -> None:
    marks = {RECYCLE_TAG: "true", RETIRED_TAG: "2026-12-01T00:00:00Z"}

    fit = fit_marks(user_tags(49) | {FAMILY_TAG: "web"}, marks, (PROTECTED_TAG, FAMILY_TAG))

    assert fit.give_up == (FAMILY_TAG,) and fit.marks == {RECYCLE_TAG: "true"}


def test_the_users_tags_are_never_given_up() -> None:
    fit = fit_marks(user_tags(50), {RECYCLE_TAG: "true"}, (PROTECTED_TAG, FAMILY_TAG))

    assert fit.marks == {} and fit.give_up == ()


def test_a_crowded_snapshot_gives_up_the_protected_mark_before_its_lineage_when_it_retires() -> None:
    """The sweep's finishing may leave the protected mark on snapshots (it rides in the image's tag write); it
    means nothing there, so a snapshot retiring without room gives it up first."""
    marks = {RECYCLE_TAG: "true", RETIRED_TAG: "2026-12-01T00:00:00Z"}
    lineage = {FAMILY_TAG: "web", VERSION_TAG: "1", SOURCE_IMAGE_TAG: "ami-1", SOURCE_REGION_TAG: "us-east-1"}
    existing = user_tags(44) | lineage | {PROTECTED_TAG: "d"}  # 49: room for one mark

    fit = fit_marks(existing, marks, SNAPSHOT_EXPENDABLE)

    assert fit.give_up == (PROTECTED_TAG,) and fit.marks == marks


def test_marks_already_present_cost_nothing() -> None:
    fit = fit_marks(user_tags(49) | {RECYCLE_TAG: "true"}, {RECYCLE_TAG: "true", RETIRED_TAG: "t"}, ())

    assert fit.marks == {RECYCLE_TAG: "true"} and fit.as_is


# --- what the planners ask for ------------------------------------------------------------------------------------


def test_a_copy_of_a_source_with_49_tags_carries_its_lineage_and_keeps_room_for_marks() -> None:
    crowded = source(49, CostCenter="cc-1", OwnerTeam="platform", BuildId="b-1")
    match = POLICY.match(crowded.name, crowded.tags, crowded.creation_date)
    assert match is not None

    desired = desired_copy(crowded, match, POLICY)

    assert all(k in desired.image_tags for k in LINEAGE)
    assert count(desired.image_tags) == 50 - len(IMAGE_MARKS)
    assert count(desired.snapshot_tags) <= 50 - len(SNAPSHOT_MARKS)
    # the priority keys are carried; BuildId is excluded by the policy, not left out for room
    assert desired.image_tags["CostCenter"] == "cc-1" and desired.image_tags["OwnerTeam"] == "platform"
    assert "BuildId" not in desired.image_tags and "BuildId" not in desired.left_out
    # 48 propagated (BuildId excluded) for 42 places beside 4 lineage tags and 4 marks: the last 6 alphabetically
    assert desired.left_out.endswith("6 tags left out, EC2 allows 50: tag-38, tag-39, tag-40, tag-41, tag-42, tag-43")


def test_a_source_with_49_tags_gets_its_family_tag_and_no_protected_mark() -> None:
    crowded = source(49)
    match = POLICY.match(crowded.name, crowded.tags, crowded.creation_date)
    assert match is not None
    desired = desired_source(crowded, match, POLICY)

    actions = plan_finish(crowded, ImageState(), desired)

    on_image = [a for a in actions if isinstance(a, TagResources) and crowded.image_id in a.resource_ids]
    assert [a.tags for a in on_image] == [{FAMILY_TAG: "web"}]
    assert desired.image_tags == {FAMILY_TAG: "web"} and VERSION_TAG in desired.left_out


def test_a_source_with_48_tags_gets_its_family_tag_and_the_protected_mark() -> None:
    crowded = source(48)
    match = POLICY.match(crowded.name, crowded.tags, crowded.creation_date)
    assert match is not None
    desired = desired_source(crowded, match, POLICY)

    actions = plan_finish(crowded, ImageState(), desired)

    written: dict[str, str] = {}
    for action in actions:
        if isinstance(action, TagResources) and crowded.image_id in action.resource_ids:
            written |= action.tags
    assert written == {FAMILY_TAG: "web", PROTECTED_TAG: protection_digest(desired)}


def test_snapshots_tagged_by_their_builder_get_what_fits_beside_those_tags() -> None:
    image = source(10, snapshot_ids=("snap-roomy", "snap-packer"))
    match = POLICY.match(image.name, image.tags, image.creation_date)
    assert match is not None
    desired = desired_source(image, match, POLICY)
    state = ImageState(snapshot_tags={"snap-packer": user_tags(45, "packer")})

    actions = plan_finish(image, state, desired)

    by_snapshot = {r: a.tags for a in actions if isinstance(a, TagResources) for r in a.resource_ids}
    assert by_snapshot["snap-roomy"] == desired.snapshot_tags
    packer = by_snapshot["snap-packer"]
    assert FAMILY_TAG in packer and count(state.snapshot_tags["snap-packer"] | packer) == 50 - len(SNAPSHOT_MARKS)


def test_an_instance_with_many_tags_gets_the_lineage_that_fits_and_the_rest_is_named() -> None:
    tags = {"Managed": "true", "Version": "1.0", "cost-a": "1", FAMILY_TAG: "web", VERSION_TAG: "1.0"}
    image = Image("ami-0source", "us-east-1", "123456789012", "web", "available", "2026-11-01T00:00:00.000Z", tags)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    instances = {
        "i-roomy": Instance("i-roomy", image.image_id, "running", now, {}),
        "i-full": Instance("i-full", image.image_id, "running", now, user_tags(48)),
    }

    plan = plan_launches(instances, {image.image_id: image}, POLICY, "123456789012", now)

    tags = {r: a.tags for a in plan.tags for r in a.resource_ids}
    assert set(tags["i-roomy"]) == {*LINEAGE, "cost-a"}
    assert tags["i-full"] == {FAMILY_TAG: "web", VERSION_TAG: "1.0"}
    assert len(plan.notes) == 1 and "i-full" in plan.notes[0] and SOURCE_IMAGE_TAG in plan.notes[0]


def test_priority_must_be_a_list_of_globs_and_the_error_names_the_field() -> None:
    text = POLICY_TEXT.replace('priority: ["CostCenter", "Owner*"]', "priority: CostCenter")

    with pytest.raises(PolicyError) as error:
        parse_policy(text)

    assert "defaults.tags.priority" in str(error.value)


# --- retiring images whose tags fill EC2's 50 ----------------------------------------------------------------------

DEPRECATED = NOW - timedelta(days=40)  # beyond the 30-day grace period of sweep_planner's default retention


def crowded_account(user: int, snapshot_user: int = 0) -> tuple[PlannerAccount, Image]:
    """web-1 (deprecated, due for deregistration) with `user` tags of the user's beside its lineage, and web-2."""
    account = PlannerAccount(planner_policy(dr=False))
    old = account.source(1, days_ago=90, deprecated=DEPRECATED)
    old = account.add(replace(old, tags=old.tags | user_tags(user - 1)))  # `managed` is the user's too
    snapshot = old.snapshot_ids[0]
    account.regions[HOME].snapshots[snapshot] = Snapshot(snapshot, 8, "completed", user_tags(snapshot_user, "pk"))
    account.source(2, days_ago=1)
    return account, old


def plan_with(account: PlannerAccount, recycle_bin_days: int) -> SweepPlan:
    """The account's plan (as PlannerAccount.plan makes it) with the stack's Recycle Bin rules, or without."""
    account.plan()  # sets what the reads of the candidates would leave
    return plan_sweep(Fleet(HOME, account.regions, {}, recycle_bin_days=recycle_bin_days), account.policy, NOW)


def marked(plan: SweepPlan) -> MarkRetired:
    (action,) = [a for a in plan.actions if isinstance(a, MarkRetired)]
    return action


def test_an_image_with_room_for_the_marks_is_marked_in_the_one_call() -> None:
    account, old = crowded_account(user=10)

    mark = marked(account.plan())

    assert mark.image_ids == (old.image_id,) and mark.snapshot_ids == old.snapshot_ids and mark.crowded == ()


def test_the_marks_take_the_place_of_the_products_own_tags_never_the_users() -> None:
    # Given web-1 with 47 user tags beside its family, version and protected tags: 50 in all
    account, old = crowded_account(user=47)
    assert count(old.tags) == 50

    plan = account.plan()

    # Then its protected mark and version tag make room for the two marks; it is deregistered after them
    (crowded,) = marked(plan).crowded
    assert crowded.resource_id == old.image_id and crowded.give_up == (PROTECTED_TAG, VERSION_TAG)
    assert dict(crowded.marks) == retirement_marks(NOW.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert [a.image_id for a in plan.actions if isinstance(a, DeregisterImage)] == [old.image_id]
    assert any(old.image_id in note and "to make room" in note for note in plan.regions[HOME].notes)


def test_the_family_tag_is_given_up_only_for_the_recycle_mark_a_recycle_bin_needs() -> None:
    # Given web-1 with 49 user tags and its family tag
    account, old = crowded_account(user=49)
    account.regions[HOME].images[old.image_id] = replace(old, tags={**user_tags(48), "managed": "true",
                                                                    FAMILY_TAG: "web"})  # fmt: skip

    # When the stack keeps retired AMIs in the Recycle Bin, and when it does not
    with_bin, without = plan_with(account, 14), plan_with(account, 0)

    # Then with a bin, the family tag gives way to the recycle mark; without one, it stays and no mark fits
    (binned,) = marked(with_bin).crowded
    assert binned.give_up == (FAMILY_TAG,) and dict(binned.marks) == {RECYCLE_TAG: "true"}
    (plain,) = marked(without).crowded
    assert plain.give_up == () and plain.marks == ()
    for plan in (with_bin, without):
        assert [a.image_id for a in plan.actions if isinstance(a, DeregisterImage)] == [old.image_id]


def test_with_a_recycle_bin_an_image_whose_snapshot_cannot_take_the_recycle_mark_is_kept() -> None:
    # Given web-1 whose snapshot its builder tagged with 50 tags, and the stack's Recycle Bin rules
    account, old = crowded_account(user=10, snapshot_user=50)

    plan = plan_with(account, 14)

    # Then nothing is marked or deregistered, and the reason names the snapshot
    assert not [a for a in plan.actions if isinstance(a, (MarkRetired, DeregisterImage))]
    decision = next(d for d in plan.regions[HOME].decisions if d.image_id == old.image_id)
    assert decision.status == KEEP and old.snapshot_ids[0] in decision.reason and RECYCLE_TAG in decision.reason


def test_an_image_carrying_the_recycle_mark_instead_of_its_family_tag_is_deregistered_not_disabled() -> None:
    account, old = crowded_account(user=10)
    account.add(replace(old, tags={"managed": "true", **user_tags(48), RECYCLE_TAG: "true"}))

    plan = account.plan()

    assert [a.image_id for a in plan.actions if isinstance(a, DeregisterImage)] == [old.image_id]
    assert not [a for a in plan.actions if isinstance(a, (DisableImage, DeprecateImage, FinishImage))]


def test_an_image_carrying_the_recycle_mark_instead_of_its_family_tag_is_not_disabled() -> None:
    # Given a policy that disables 5 days after deprecation and deregisters after 60, and a web-1 deprecated 40
    # days ago that carries the recycle mark in the place of its family tag (a deregistration that failed)
    account = PlannerAccount(planner_policy("keep_latest: 1, disable_after_days: 5, deregister_after_days: 60", False))
    old = account.source(1, days_ago=90, deprecated=DEPRECATED)
    account.add(replace(old, tags={"managed": "true", **user_tags(48), RECYCLE_TAG: "true"}))
    account.source(2, days_ago=1)

    plan = account.plan()

    # Then it is not disabled (the stack's IAM policy asks for the family tag for that), and says why
    assert not [a for a in plan.actions if isinstance(a, DisableImage)]
    decision = next(d for d in plan.regions[HOME].decisions if d.image_id == old.image_id)
    assert decision.status == "retiring" and f"no longer carries {FAMILY_TAG}" in decision.reason


def test_a_copy_tagged_by_hand_to_50_gives_up_only_its_marks_never_its_lineage() -> None:
    # Given a DR copy of web-1 that someone tagged by hand up to EC2's 50, due for deregistration with its source
    account = PlannerAccount(planner_policy())
    old = account.source(1, days_ago=90, deprecated=DEPRECATED)
    copy = account.copy(old, deprecated=DEPRECATED)
    copy = account.add(replace(copy, tags=copy.tags | user_tags(50 - count(copy.tags), "hand")))
    account.source(2, days_ago=1)

    plan = plan_with(account, 14)

    # Then only its protected mark makes room (the recycle mark takes it); its lineage stays
    (crowded,) = [c for c in marked_in(plan, "us-west-2").crowded if c.resource_id == copy.image_id]
    assert crowded.give_up == (PROTECTED_TAG,) and dict(crowded.marks) == {RECYCLE_TAG: "true"}


def marked_in(plan: SweepPlan, region: str) -> MarkRetired:
    (action,) = [a for a in plan.regions[region].actions if isinstance(a, MarkRetired)]
    return action
