"""The adoption plan and what retiring reclaims, on hand-built inventories: pure, no AWS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ami_lifecycle.act.adopt import AddLineageTags
from ami_lifecycle.act.finish import FinishImage
from ami_lifecycle.model.image import SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, Image
from ami_lifecycle.model.inventory import Fleet, Reference, RegionInventory, Snapshot
from ami_lifecycle.plan.adoption import adoption_report
from ami_lifecycle.plan.reclaim import monthly_cost, reclaimable_snapshots
from ami_lifecycle.plan.retire import deprecate_at
from ami_lifecycle.plan.sweep import plan_sweep

from .test_sweep_planner import DR, HOME, NOW, ec2_time, policy


def image(image_id: str, snapshots: dict[str, int], region: str = HOME, **fields: object) -> Image:
    defaults: dict[str, object] = {"owner_id": "123456789012", "name": "web-1", "state": "available"}
    return Image(image_id, region, **(defaults | {"creation_date": ec2_time(NOW)} | fields),  # type: ignore[arg-type]
                 snapshot_ids=tuple(snapshots), volume_sizes=snapshots)  # fmt: skip


def inventory(*images: Image, snapshot_sizes: dict[str, int] | None = None) -> RegionInventory:
    found = RegionInventory(HOME, images={i.image_id: i for i in images})
    found.snapshots = {s: Snapshot(s, n, "completed", {}) for s, n in (snapshot_sizes or {}).items()}
    return found


def test_a_snapshot_goes_with_the_images_leaving_only_if_no_image_staying_maps_it() -> None:
    leaving = image("ami-1", {"snap-own": 8, "snap-shared-with-staying": 20, "snap-shared-leaving": 30})
    also_leaving = image("ami-2", {"snap-shared-leaving": 30, "snap-own-2": 5})
    staying = image("ami-3", {"snap-shared-with-staying": 20})

    found = reclaimable_snapshots(inventory(leaving, also_leaving, staying), ["ami-1", "ami-2"])

    # counted once, with the first leaving image; never while an image that stays maps it
    assert found == {"ami-1": {"snap-own": 8, "snap-shared-leaving": 30}, "ami-2": {"snap-own-2": 5}}


def test_the_size_is_the_snapshots_provisioned_size_else_the_images_mapping() -> None:
    leaving = image("ami-1", {"snap-described": 8, "snap-not-described": 20})

    found = reclaimable_snapshots(inventory(leaving, snapshot_sizes={"snap-described": 50}), ["ami-1"])

    assert found == {"ami-1": {"snap-described": 50, "snap-not-described": 20}}


@pytest.mark.parametrize(("gib", "price", "cost"), [(84, 0.05, 4.2), (7, 0.023, 0.16), (0, 0.05, 0.0), (1000, 0, 0)])
def test_monthly_cost_is_gib_times_the_price_to_the_cent(gib: int, price: float, cost: float) -> None:
    assert monthly_cost(gib, price) == cost


def account_never_run_in() -> Fleet:
    """Three versions of web built before the product: no product tags; version 1 copied to the DR region by
    another tool that kept the source's lineage tags only, version 2 deprecated by hand 40 days ago."""
    old = image("ami-1", {"snap-1": 8, "snap-1b": 20}, name="web-1",
                creation_date=ec2_time(NOW - timedelta(days=90)))  # fmt: skip
    hand = image("ami-2", {"snap-2": 8}, name="web-2", creation_date=ec2_time(NOW - timedelta(days=60)),
                 deprecation_time=ec2_time(NOW - timedelta(days=40)))  # fmt: skip
    new = image("ami-3", {"snap-3": 8}, name="web-3", creation_date=ec2_time(NOW - timedelta(days=5)))
    old, hand, new = (Image(**{**i.__dict__, "tags": {"managed": "true"}}) for i in (old, hand, new))
    copy = image("ami-c1", {"snap-c1": 28}, region=DR, name="web-1", creation_date=old.creation_date,
                 tags={SOURCE_IMAGE_TAG: old.image_id, SOURCE_REGION_TAG: HOME, "managed": "true"},
                 source_image_id=old.image_id, source_region=HOME)  # fmt: skip
    regions = {HOME: inventory(old, hand, new), DR: RegionInventory(DR, images={copy.image_id: copy})}
    for found in regions.values():
        found.references_checked = frozenset(found.images)
        found.launch_permissions = dict.fromkeys(found.images, frozenset())
    return Fleet(HOME, regions, None, "no usage table given")


def test_the_adoption_plan_of_an_account_the_product_never_ran_in() -> None:
    fleet = account_never_run_in()
    rules = policy("keep_latest: 1, deregister_after_days: 14")

    plan = plan_sweep(fleet, rules, NOW)
    report = adoption_report(fleet, plan, rules)

    assert [(f.family, f.versions, f.images) for f in report.families] == [("web", ("1", "2", "3"), {HOME: 3, DR: 1})]
    # every image is adopted: the kept version finished, those beyond retention (the copy with its source) only
    # tagged with their family, in bulk, and retiring
    assert {(a.region, a.image_id, a.version, a.copy_of, a.retiring) for a in report.adopted} == {
        (HOME, "ami-1", "1", None, True),
        (HOME, "ami-2", "2", None, True),
        (HOME, "ami-3", "3", None, False),
        (DR, "ami-c1", "1", "ami-1", True),
    }
    finished = {a.image.image_id for a in plan.actions if isinstance(a, FinishImage)}
    tagged = {i for a in plan.actions if isinstance(a, AddLineageTags) for i in a.image_ids}
    assert (finished, tagged) == ({"ami-3"}, {"ami-1", "ami-2", "ami-c1"})
    assert [(c.region, c.source_image_id, c.version) for c in report.copies] == [(DR, "ami-3", "3")]
    # version 2 was deprecated 40 days ago: removable at once; version 1 is deprecated once it is adopted
    hand, old = report.retirements
    assert (hand.version, hand.deprecated_from, hand.gib) == ("2", NOW - timedelta(days=40), {HOME: 8})
    assert hand.removable_from == NOW - timedelta(days=26)
    assert (old.version, old.gib) == ("1", {HOME: 28, DR: 28})
    assert old.deprecated_from == deprecate_at(NOW, NOW) and old.removable_from == old.deprecated_from + timedelta(14)
    # nothing is removed today without the launch records; once retired, 36 GiB at home and 28 in the DR region
    assert [(r.region, r.gib_today, r.gib_retiring, bool(r.blocked)) for r in report.regions] == [
        (HOME, 0, 36, True), (DR, 0, 28, True),
    ]  # fmt: skip
    assert report.cost(report.gib_retiring) == 3.2
    assert not any(type(a).__name__ in ("DeregisterImage", "DisableImage") for a in plan.actions)


def test_an_image_in_use_is_named_and_not_counted_as_reclaimed() -> None:
    fleet = account_never_run_in()
    fleet.regions[HOME].refer("ami-2", Reference("instance", "i-0abc (running)"))
    rules = policy("keep_latest: 1, deregister_after_days: 14")

    report = adoption_report(fleet, plan_sweep(fleet, rules, NOW), rules)

    hand = next(r for r in report.retirements if r.version == "2")
    assert hand.gib == {} and hand.kept_by == (f"{HOME} ami-2: used by instance i-0abc (running)",)
    assert [r.gib_retiring for r in report.regions] == [28, 28]


def test_what_this_run_removes_is_reclaimed_today() -> None:
    fleet = account_never_run_in()
    fleet = Fleet(HOME, fleet.regions, {})  # the launch records were read: nothing launched
    rules = policy("keep_latest: 1, deregister_after_days: 14")
    # the hand-deprecated version carries the product's lineage already: it is due today
    hand = fleet.regions[HOME].images["ami-2"]
    adopted = hand.tags | {"ami-lifecycle:family": "web"}
    fleet.regions[HOME].images["ami-2"] = Image(**{**hand.__dict__, "tags": adopted})

    report = adoption_report(fleet, plan_sweep(fleet, rules, NOW), rules)

    assert [(r.region, r.gib_today, r.gib_retiring, r.blocked) for r in report.regions] == [
        (HOME, 8, 36, None), (DR, 0, 28, None),
    ]  # fmt: skip


def test_the_summary_counts_what_was_applied_not_what_was_planned() -> None:
    from ami_lifecycle.act.base import Applied
    from ami_lifecycle.act.executor import RegionResult
    from ami_lifecycle.act.retire import DeleteSnapshot, DeregisterImage
    from ami_lifecycle.plan.summary import sweep_summary

    fleet = account_never_run_in()
    rules = policy("keep_latest: 1, deregister_after_days: 14")
    plan = plan_sweep(fleet, rules, NOW)
    home = plan.regions[HOME]
    home.actions += [
        DeregisterImage(HOME, "ami-2", ("snap-2",), {"snap-2": 8}),
        DeregisterImage(HOME, "ami-1", ("snap-1",), {"snap-1": 8}),
        DeleteSnapshot(HOME, "snap-orphan", 30),
    ]
    first = len(home.actions) - 3
    result = RegionResult(HOME, failures=["deregister ami-1: boom"])
    result.done = {
        first: Applied(snapshots_deleted=1, gib_reclaimed=8),
        first + 2: Applied(snapshots_deleted=1, gib_reclaimed=30),
    }

    summary = sweep_summary(plan, {HOME: result}, 0.05)

    assert {k: (v.deregistered, v.gib) for k, v in summary.retired.items()} == {("web", HOME): (1, 8)}
    assert (summary.orphans[HOME].gib, summary.gib, summary.failures, summary.changed) == (30, 38, 1, True)
    assert summary.message()["monthly_cost_reclaimed"] == 1.9
    assert sweep_summary(plan, {HOME: RegionResult(HOME)}, 0.05).changed is False
