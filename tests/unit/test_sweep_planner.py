"""The sweep planner's retention rules, on hand-built inventories: what it plans, when, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ami_lifecycle.act.adopt import AddLineageTags
from ami_lifecycle.act.finish import FinishImage
from ami_lifecycle.act.protect import CopyImage
from ami_lifecycle.act.retire import DeprecateImage, DeregisterImage, DisableImage, MarkRetired
from ami_lifecycle.model.image import FAMILY_TAG, PROTECTED_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, Image
from ami_lifecycle.model.inventory import Fleet, Reference, RegionInventory
from ami_lifecycle.model.plan import Candidates, SweepPlan
from ami_lifecycle.plan.desired import desired_copy, desired_source, protection_digest
from ami_lifecycle.plan.retire import deprecate_at
from ami_lifecycle.plan.sweep import plan_sweep, removal_candidates
from ami_lifecycle.policy import Policy, parse_policy

HOME, DR = "us-east-1", "us-west-2"
NOW = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)


def policy(retention: str = "keep_latest: 1", dr: bool = True) -> Policy:
    regions = "dr_regions: [{region: us-west-2}]\n" if dr else ""
    return parse_policy(f"""
home_region: us-east-1
{regions}defaults:
  retention: {{{retention}}}
managed_images:
  - name: golden
    select: {{tags: {{managed: "true"}}, name_pattern: '(?P<family>[a-z]+)-(?P<version>\\d+)'}}
    family: {{name_group: family}}
    version: {{name_group: version}}
""")


def ec2_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Account:
    """Images of one family, finished by the image-available flow unless told otherwise."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.regions = {r: RegionInventory(r) for r in [HOME, *(d.region for d in policy.dr_regions)]}
        self.count = 0

    def source(self, version: int, days_ago: float, state: str = "available", finished: bool = True,
               deprecated: datetime | None = None) -> Image:  # fmt: skip
        self.count += 1
        image = Image(
            f"ami-{self.count:017x}", HOME, "123456789012", f"web-{version}", state,
            ec2_time(NOW - timedelta(days=days_ago)), {"managed": "true"}, (f"snap-{self.count:017x}",),
            deprecation_time=ec2_time(deprecated) if deprecated else None,
        )  # fmt: skip
        if finished:
            match = self.policy.match(image.name, image.tags, image.creation_date)
            desired = desired_source(image, match, self.policy)
            image = _with_tags(image, desired.image_tags | {PROTECTED_TAG: protection_digest(desired)})
        return self.add(image)

    def copy(self, source: Image, deprecated: datetime | None = None) -> Image:
        self.count += 1
        match = self.policy.match(source.name, source.tags, source.creation_date)
        desired = desired_copy(source, match, self.policy)
        tags = desired.image_tags | {PROTECTED_TAG: protection_digest(desired)}
        image = Image(
            f"ami-{self.count:017x}", DR, source.owner_id, source.name, "available", source.creation_date, tags,
            (f"snap-{self.count:017x}",), source.image_id, HOME,
            deprecation_time=ec2_time(deprecated) if deprecated else None,
        )  # fmt: skip
        return self.add(image)

    def add(self, image: Image) -> Image:
        self.regions[image.region].images[image.image_id] = image
        return image

    def plan(self, now: datetime = NOW, checked: bool = True) -> SweepPlan:
        for inventory in self.regions.values():  # as the sweep's reads of its candidates leave them
            inventory.references_checked = frozenset(inventory.images) if checked else frozenset()
            inventory.launch_permissions = dict.fromkeys(inventory.images, frozenset()) if checked else {}
        return plan_sweep(Fleet(HOME, self.regions, {}), self.policy, now)


def _with_tags(image: Image, tags: dict[str, str]) -> Image:
    return Image(**{**image.__dict__, "tags": image.tags | tags})


def actions(plan: SweepPlan, kind: type) -> list:
    return [a for a in plan.actions if isinstance(a, kind)]


def status(plan: SweepPlan, image: Image) -> tuple[str, str]:
    found = next(d for p in plan.regions.values() for d in p.decisions if d.image_id == image.image_id)
    return found.status, found.reason


def test_deprecation_waits_deprecate_after_days_from_when_the_version_was_superseded() -> None:
    account = Account(policy("keep_latest: 1, deprecate_after_days: 7", dr=False))
    old = account.source(1, days_ago=30)
    account.source(2, days_ago=3)  # superseded web-1 three days ago

    plan = account.plan()

    (deprecation,) = actions(plan, DeprecateImage)
    assert deprecation.image_id == old.image_id
    assert deprecation.deprecate_at == deprecate_at(NOW - timedelta(days=3) + timedelta(days=7), NOW)
    assert status(plan, old)[0] == "deprecate"


def test_deprecate_at_is_a_whole_minute_in_the_future() -> None:
    assert deprecate_at(NOW - timedelta(days=9), NOW) == datetime(2026, 11, 22, 12, 2, tzinfo=UTC)
    assert deprecate_at(NOW + timedelta(hours=1), NOW) == datetime(2026, 11, 22, 13, 1, tzinfo=UTC)


def test_keep_days_keeps_a_young_version_beyond_keep_latest() -> None:
    account = Account(policy("keep_latest: 1, keep_days: 14", dr=False))
    young = account.source(1, days_ago=10)
    account.source(2, days_ago=1)

    plan = account.plan()

    assert status(plan, young) == ("keep", "younger than 14 days (created 2026-11-12)")
    assert plan.actions == []


def test_copies_follow_a_source_deprecated_by_hand_even_when_the_version_is_kept() -> None:
    account = Account(policy("keep_latest: 3"))
    by_hand = NOW - timedelta(days=2)
    source = account.source(1, days_ago=5, deprecated=by_hand)
    copy = account.copy(source)

    plan = account.plan()

    (deprecation,) = actions(plan, DeprecateImage)
    assert deprecation.image_id == copy.image_id and deprecation.deprecate_at == deprecate_at(by_hand, NOW)
    assert status(plan, source)[0] == "keep" and "deprecated like its source" in status(plan, copy)[1]


def test_a_version_retires_in_every_region_and_copies_of_a_kept_source_stay() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 10"))
    long_ago = NOW - timedelta(days=20)
    old = account.source(1, days_ago=60, deprecated=long_ago)
    old_copy = account.copy(old, deprecated=long_ago)
    newest = account.source(2, days_ago=1)
    account.copy(newest)

    plan = account.plan()

    assert {a.image_id for a in actions(plan, DeregisterImage)} == {old.image_id, old_copy.image_id}
    assert all(a.snapshot_ids for a in actions(plan, DeregisterImage))


def test_an_image_ec2_was_not_asked_about_is_never_removed() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 10"))
    long_ago = NOW - timedelta(days=20)
    old = account.source(1, days_ago=60, deprecated=long_ago)
    old_copy = account.copy(old, deprecated=long_ago)
    account.copy(account.source(2, days_ago=1))

    plan = account.plan(checked=False)

    assert actions(plan, DeregisterImage) == []
    assert status(plan, old) == (
        "keep",
        "deprecated since 2026-11-02, 10-day grace period over, but not checked with DescribeImageReferences; "
        "launch permissions not read this run",
    )
    assert status(plan, old_copy)[0] == "keep"


def test_removal_candidates_are_the_images_due_for_removal_whatever_ec2_knows() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 10"))
    long_ago = NOW - timedelta(days=20)
    old = account.source(1, days_ago=60, deprecated=long_ago)
    old_copy = account.copy(old, deprecated=long_ago)
    retiring = account.source(2, days_ago=30, deprecated=NOW - timedelta(days=2))
    account.copy(account.source(3, days_ago=1))
    account.plan(checked=False)

    candidates = removal_candidates(Fleet(HOME, account.regions, {}), account.policy, NOW)

    assert candidates == {  # the policy shares nothing: their launch permissions are read
        HOME: Candidates(due=frozenset({old.image_id}), sharing_unknown=frozenset({old.image_id})),
        DR: Candidates(due=frozenset({old_copy.image_id}), sharing_unknown=frozenset({old_copy.image_id})),
    }
    assert retiring.image_id not in candidates[HOME].referenced


def test_a_reference_ec2_found_keeps_the_image_and_its_copy_and_says_who_found_it() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 10"))
    long_ago = NOW - timedelta(days=20)
    old = account.source(1, days_ago=60, deprecated=long_ago)
    old_copy = account.copy(old, deprecated=long_ago)
    account.copy(account.source(2, days_ago=1))
    parameter = "arn:aws:ssm:us-east-1:123456789012:parameter/golden/web"
    account.regions[HOME].references[old.image_id] = [Reference("ssm-parameter", parameter, "DescribeImageReferences")]

    plan = account.plan()

    assert actions(plan, DeregisterImage) == []
    assert status(plan, old)[1].endswith(f"but used by ssm-parameter {parameter} (found by DescribeImageReferences)")
    assert "kept with its source" in status(plan, old_copy)[1]


def test_a_copy_whose_source_is_gone_still_retires_with_its_version() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 10"))
    long_ago = NOW - timedelta(days=20)
    gone = account.source(1, days_ago=60, deprecated=long_ago)
    orphan = account.copy(gone, deprecated=long_ago)
    del account.regions[HOME].images[gone.image_id]  # deregistered by hand
    account.copy(account.source(2, days_ago=1))

    plan = account.plan()

    assert [a.image_id for a in actions(plan, DeregisterImage)] == [orphan.image_id]


def test_the_optional_disable_stage_comes_between_deprecation_and_deregistration() -> None:
    account = Account(policy("keep_latest: 1, disable_after_days: 5, deregister_after_days: 30", dr=False))
    old = account.source(1, days_ago=60, deprecated=NOW - timedelta(days=6))
    account.source(2, days_ago=1)

    assert [a.image_id for a in actions(account.plan(), DisableImage)] == [old.image_id]
    assert actions(account.plan(NOW - timedelta(days=2)), DisableImage) == []
    assert actions(account.plan(NOW + timedelta(days=25)), DeregisterImage)


def test_a_pending_build_does_not_push_the_newest_available_version_out() -> None:
    account = Account(policy("keep_latest: 1", dr=False))
    available = account.source(1, days_ago=3)
    building = account.source(2, days_ago=0, state="pending", finished=False)

    plan = account.plan()

    assert status(plan, available)[0] == "keep" and status(plan, building)[0] == "keep"
    assert plan.actions == []


def test_an_image_the_events_missed_gets_its_lineage_tags_before_it_retires_in_the_same_run() -> None:
    account = Account(policy("keep_latest: 1", dr=False))
    missed = account.source(1, days_ago=60, finished=False, deprecated=NOW - timedelta(days=90))
    account.source(2, days_ago=1)

    plan = account.plan()

    tagging = actions(plan, AddLineageTags)
    assert FAMILY_TAG not in missed.tags and [a.image_ids for a in tagging] == [(missed.image_id,)]
    assert tagging[0].tags == {FAMILY_TAG: "web"}  # the version comes from its name, whatever happens later
    assert [a.image_id for a in actions(plan, DeregisterImage)] == [missed.image_id]
    # tagged first, and the retirement writes are not attempted if the tagging failed
    order = [type(a) for a in plan.regions[HOME].actions]
    assert order.index(AddLineageTags) < order.index(DeregisterImage)
    assert AddLineageTags in DeregisterImage.requires and AddLineageTags in DeprecateImage.requires
    assert actions(plan, FinishImage) == [] and plan.regions[HOME].adopted == [missed.image_id]


def test_images_the_product_does_not_manage_get_no_decision() -> None:
    account = Account(policy())
    account.add(Image("ami-0000000000000000a", HOME, "123456789012", "web-1", "available", ec2_time(NOW), {}))
    not_a_copy = {FAMILY_TAG: "web", VERSION_TAG: "1", "managed": "true"}
    account.add(Image("ami-0000000000000000b", DR, "123456789012", "web-1", "available", ec2_time(NOW), not_a_copy))
    foreign_copy = not_a_copy | {SOURCE_IMAGE_TAG: "ami-0000000000000000c", SOURCE_REGION_TAG: "eu-west-1"}
    account.add(Image("ami-0000000000000000d", DR, "123456789012", "web-1", "available", ec2_time(NOW), foreign_copy))

    plan = account.plan()

    assert plan.actions == [] and all(not p.decisions for p in plan.regions.values())
    assert (plan.regions[HOME].unmanaged, plan.regions[DR].unmanaged) == (1, 2)


def test_finishing_is_planned_only_for_images_without_the_current_protected_mark() -> None:
    account = Account(policy("keep_latest: 2"))
    unfinished = account.source(1, days_ago=2, finished=False)
    account.copy(account.source(2, days_ago=1))

    finish = actions(account.plan(), FinishImage)

    assert [a.image.image_id for a in finish] == [unfinished.image_id]


def test_missing_copies_are_started_only_for_versions_within_retention() -> None:
    account = Account(policy("keep_latest: 1"))
    account.source(1, days_ago=30)  # beyond retention: deprecated now, never copied
    newest = account.source(2, days_ago=1)

    plan = account.plan()

    assert [(a.source_image_id, a.region) for a in actions(plan, CopyImage)] == [(newest.image_id, DR)]


def test_an_image_deprecated_by_hand_before_it_was_ever_finished_gets_only_its_lineage_tags() -> None:
    """Beyond retention it is not shared or marked protected any more: it needs what retires it and what
    recognises it later: its family (its version comes from its name)."""
    account = Account(policy("keep_latest: 1", dr=False))
    never_finished = account.source(1, days_ago=60, finished=False, deprecated=NOW - timedelta(days=1))
    account.source(2, days_ago=1)

    plan = account.plan()

    assert actions(plan, FinishImage) == []
    assert [(a.image_ids, a.tags) for a in actions(plan, AddLineageTags)] == [
        ((never_finished.image_id,), {FAMILY_TAG: "web"})
    ]


def test_a_snapshot_shared_only_by_images_deregistered_together_is_marked_once_and_goes_with_them() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 10", dr=False))
    long_ago = NOW - timedelta(days=20)
    first = account.source(1, days_ago=60, deprecated=long_ago)
    second = account.add(
        Image(**{**account.source(2, days_ago=50, deprecated=long_ago).__dict__, "snapshot_ids": first.snapshot_ids})
    )
    account.source(3, days_ago=1)

    plan = account.plan()

    deregistrations = actions(plan, DeregisterImage)
    assert {a.image_id for a in deregistrations} == {first.image_id, second.image_id}
    assert all(a.snapshot_ids == first.snapshot_ids for a in deregistrations)
    (mark,) = actions(plan, MarkRetired)
    assert mark.snapshot_ids == first.snapshot_ids


def test_of_the_deferred_backlog_only_the_next_in_line_are_candidates() -> None:
    account = Account(policy("keep_latest: 1, deregister_after_days: 10", dr=False))
    account.policy = account.policy.model_copy(
        update={"sweep": account.policy.sweep.model_copy(update={"max_deregistrations_per_region": 2})}
    )
    long_ago = NOW - timedelta(days=20)
    old = [account.source(v, days_ago=90 - v, deprecated=long_ago) for v in range(1, 7)]
    account.source(9, days_ago=1)
    account.plan(checked=False)

    candidates = removal_candidates(Fleet(HOME, account.regions, {}), account.policy, NOW)[HOME]

    assert candidates.due == {old[0].image_id, old[1].image_id}
    assert candidates.deferred == {old[2].image_id, old[3].image_id}  # the next two in line; the rest wait


def _packer_copy(account: Account, source: Image, source_region: str = HOME, region: str = DR,
                 deprecated: datetime | None = None) -> Image:  # fmt: skip
    """A copy another tool made: the build's own tags, EC2's ancestry, no lineage tags."""
    account.count += 1
    return account.add(Image(
        f"ami-{account.count:017x}", region, source.owner_id, source.name, "available", source.creation_date,
        {"managed": "true"}, (f"snap-{account.count:017x}",), source.image_id, source_region,
        deprecation_time=ec2_time(deprecated) if deprecated else None,
    ))  # fmt: skip


def test_a_copy_made_by_another_tool_is_adopted_by_its_ancestry_and_never_copied_again() -> None:
    account = Account(policy("keep_latest: 1"))
    old = account.source(1, days_ago=60, finished=False, deprecated=NOW - timedelta(days=90))
    newest = account.source(2, days_ago=1, finished=False)
    old_copy = _packer_copy(account, old, deprecated=NOW - timedelta(days=90))
    newest_copy = _packer_copy(account, newest)

    plan = account.plan()

    assert actions(plan, CopyImage) == []
    finished = {a.image.image_id: a for a in actions(plan, FinishImage)}
    assert set(finished) == {newest.image_id, newest_copy.image_id}
    adopt = f"adopt (a copy of {newest.image_id} by EC2's ancestry)"
    assert finished[newest_copy.image_id].describe().startswith(adopt)
    assert finished[newest_copy.image_id].snapshot_tags == {}  # its snapshots were not listed: tagged, not read
    tagged = {i for a in actions(plan, AddLineageTags) for i in a.image_ids}
    assert tagged == {old.image_id, old_copy.image_id}
    # the adopted version retires in this run, in both regions, as a product-built one would
    assert {a.image_id for a in actions(plan, DeregisterImage)} == {old.image_id, old_copy.image_id}
    assert sorted(plan.regions[DR].adopted) == sorted([old_copy.image_id, newest_copy.image_id])


def test_an_adopted_copy_is_kept_while_its_source_is_in_use() -> None:
    account = Account(policy("keep_latest: 1"))
    old = account.source(1, days_ago=60, finished=False, deprecated=NOW - timedelta(days=90))
    account.source(2, days_ago=1)
    old_copy = _packer_copy(account, old, deprecated=NOW - timedelta(days=90))
    account.regions[HOME].references[old.image_id] = [Reference("instance", "i-0123 (running)")]

    plan = account.plan()

    assert actions(plan, DeregisterImage) == []
    assert status(plan, old_copy)[0] == "keep" and "kept with its source" in status(plan, old_copy)[1]


def test_copies_of_copies_and_images_registered_by_hand_are_not_adopted_and_the_product_copies_anyway() -> None:
    account = Account(policy("keep_latest: 1"))
    newest = account.source(2, days_ago=1)
    # a copy of a DR copy into the same DR region (its SourceImageRegion is a DR region), and an image
    # registered in the DR region from snapshots: no ancestry at all
    dr_copy = _packer_copy(account, newest)
    copy_of_copy = _packer_copy(account, dr_copy, source_region=DR)
    account.count += 1
    by_hand = account.add(Image(f"ami-{account.count:017x}", DR, "123456789012", "web-2", "available",
                                ec2_time(NOW), {"managed": "true"}, (f"snap-{account.count:017x}",)))  # fmt: skip
    del account.regions[DR].images[dr_copy.image_id]  # only the copy of the copy and the registered image remain

    plan = account.plan()

    assert [(a.source_image_id, a.region) for a in actions(plan, CopyImage)] == [(newest.image_id, DR)]
    assert plan.regions[DR].unmanaged == 2 and plan.regions[DR].adopted == []
    assert not any(d.image_id in (copy_of_copy.image_id, by_hand.image_id) for d in plan.regions[DR].decisions)


def test_a_copy_whose_source_is_gone_is_adopted_only_if_the_policy_names_its_version_without_dates() -> None:
    by_name = Account(policy("keep_latest: 1"))
    gone = by_name.source(1, days_ago=60, deprecated=NOW - timedelta(days=90))
    by_name.source(2, days_ago=1)
    orphan = _packer_copy(by_name, gone, deprecated=NOW - timedelta(days=90))
    del by_name.regions[HOME].images[gone.image_id]
    by_date = Account(parse_policy("""
home_region: us-east-1
dr_regions: [{region: us-west-2}]
defaults: {retention: {keep_latest: 1}}
managed_images:
  - name: golden
    select: {tags: {managed: "true"}, name_pattern: '(?P<family>[a-z]+)-\\d+'}
    family: {name_group: family}
"""))
    by_date.regions[DR].images[orphan.image_id] = orphan

    named, dated = by_name.plan(), by_date.plan()

    assert by_date.policy.managed_images[0].version is None
    assert [a.image_id for a in actions(named, DeregisterImage)] == [orphan.image_id]
    # its creation date would be the copy's, not the version's: left alone, counted as unmanaged
    assert dated.actions == [] and dated.regions[DR].unmanaged == 1
