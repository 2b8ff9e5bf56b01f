"""The pure planner: only what is missing, as few calls as possible, copies decided from lineage."""

from ami_lifecycle.act.protect import AddLaunchPermissions, AddSnapshotVolumePermissions, CopyImage, TagResources
from ami_lifecycle.model.image import FAMILY_TAG, PROTECTED_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, Image
from ami_lifecycle.model.inventory import ImageState
from ami_lifecycle.plan.desired import desired_copy, desired_source, protection_digest
from ami_lifecycle.plan.protect import MAX_COPY_ATTEMPTS, plan_copy, plan_finish
from ami_lifecycle.policy import parse_policy

POLICY = parse_policy(
    """
home_region: us-east-1
dr_regions: [{region: us-west-2, kms_key_id: alias/dr}, {region: eu-west-1}]
defaults:
  sharing:
    accounts: ["111111111111"]
    organization_arns: ["arn:aws:organizations::222222222222:organization/o-abcdefghij"]
    snapshot_permissions: true
  tags:
    to_copies: {exclude: [Secret*]}
    to_snapshots: {exclude: [Name]}
managed_images:
  - name: tagged
    select: {tags: {Managed: "true"}}
    family: {tag: Family}
"""
)
SOURCE = Image(
    image_id="ami-0aaaaaaaaaaaaaaaa",
    region="us-east-1",
    owner_id="123456789012",
    name="web-1",
    state="available",
    creation_date="2026-11-01T00:00:00.000Z",
    tags={"Managed": "true", "Family": "web", "Name": "web", "SecretLevel": "x"},
    snapshot_ids=("snap-1", "snap-2"),
)
MATCH = POLICY.match(SOURCE.name, SOURCE.tags, SOURCE.creation_date)


def test_new_source_gets_one_tag_call_two_permission_kinds() -> None:
    desired = desired_source(SOURCE, MATCH, POLICY)

    actions = plan_finish(SOURCE, ImageState(), desired)

    tags = [a for a in actions if isinstance(a, TagResources)]
    assert len(tags) == 2 and tags[0].resource_ids == (SOURCE.image_id, "snap-1", "snap-2")
    assert actions[-1] == TagResources("us-east-1", (SOURCE.image_id,), {PROTECTED_TAG: protection_digest(desired)})
    assert "Name" not in tags[0].tags and tags[0].tags[FAMILY_TAG] == "web"
    assert tags[0].tags[VERSION_TAG] == "2026-11-01T00:00:00.000Z"
    launch = [a for a in actions if isinstance(a, AddLaunchPermissions)]
    assert launch[0].launch_permissions == (
        ("OrganizationArn", "arn:aws:organizations::222222222222:organization/o-abcdefghij"),
        ("UserId", "111111111111"),
    )
    snaps = [a for a in actions if isinstance(a, AddSnapshotVolumePermissions)]
    assert [(a.snapshot_id, a.account_ids) for a in snaps] == [
        ("snap-1", ("111111111111",)),
        ("snap-2", ("111111111111",)),
    ]


def test_finished_source_plans_nothing() -> None:
    desired = desired_source(SOURCE, MATCH, POLICY)
    done = Image(
        **{**SOURCE.__dict__, "tags": SOURCE.tags | desired.image_tags | {PROTECTED_TAG: protection_digest(desired)}}
    )
    state = ImageState(
        snapshot_tags={"snap-1": dict(desired.snapshot_tags), "snap-2": dict(desired.snapshot_tags)},
        launch_permissions=frozenset(
            {
                ("UserId", "111111111111"),
                ("OrganizationArn", "arn:aws:organizations::222222222222:organization/o-abcdefghij"),
            }
        ),
        snapshot_accounts={"snap-1": frozenset({"111111111111"}), "snap-2": frozenset({"111111111111"})},
    )

    assert plan_finish(done, state, desired) == []


def test_protected_mark_changes_when_the_policy_asks_for_more() -> None:
    desired = desired_source(SOURCE, MATCH, POLICY)
    more = POLICY.model_copy(
        update={
            "defaults": POLICY.defaults.model_copy(
                update={
                    "sharing": POLICY.defaults.sharing.model_copy(update={"accounts": ["111111111111", "333333333333"]})
                }
            )
        }
    )

    assert protection_digest(desired_source(SOURCE, MATCH, more)) != protection_digest(desired)
    # The mark itself is never carried onto snapshots or copies.
    marked = Image(**{**SOURCE.__dict__, "tags": SOURCE.tags | {PROTECTED_TAG: "old"}})
    assert PROTECTED_TAG not in desired_source(marked, MATCH, POLICY).snapshot_tags
    assert PROTECTED_TAG not in desired_copy(marked, MATCH, POLICY).image_tags


def test_image_tag_the_snapshots_must_not_get_is_set_on_its_own() -> None:
    desired = desired_copy(SOURCE, MATCH, POLICY)
    copy = Image(**{**SOURCE.__dict__, "image_id": "ami-0bbbbbbbbbbbbbbbb", "region": "eu-west-1", "tags": {}})

    tags = [a for a in plan_finish(copy, ImageState(), desired) if isinstance(a, TagResources)]

    image_call, snapshot_call, protected_mark = tags
    assert protected_mark.tags == {PROTECTED_TAG: protection_digest(desired)}
    assert image_call.resource_ids == (copy.image_id,) and image_call.tags["Name"] == "web"
    assert snapshot_call.resource_ids == ("snap-1", "snap-2") and "Name" not in snapshot_call.tags


def test_copy_carries_filtered_tags_lineage_and_region_key() -> None:
    decision = plan_copy(SOURCE, MATCH, POLICY.dr_region("us-west-2"), [], POLICY)

    action = decision.action
    assert isinstance(action, CopyImage) and action.kms_key_id == "alias/dr"
    assert "SecretLevel" not in action.image_tags and action.image_tags["Name"] == "web"
    assert action.image_tags[SOURCE_IMAGE_TAG] == SOURCE.image_id
    assert action.image_tags[SOURCE_REGION_TAG] == "us-east-1"
    assert "Name" not in action.snapshot_tags and action.snapshot_tags[SOURCE_IMAGE_TAG] == SOURCE.image_id


def test_client_token_is_stable_per_region_and_attempt() -> None:
    west = POLICY.dr_region("us-west-2")
    first = plan_copy(SOURCE, MATCH, west, [], POLICY).action
    again = plan_copy(SOURCE, MATCH, west, [], POLICY).action
    other = plan_copy(SOURCE, MATCH, POLICY.dr_region("eu-west-1"), [], POLICY).action

    assert first.client_token == again.client_token != other.client_token
    assert len(first.client_token) <= 64


def _copy(state: str, image_id: str = "ami-0cccccccccccccccc") -> Image:
    return Image(image_id, "us-west-2", SOURCE.owner_id, SOURCE.name, state, "2026-11-02T00:00:00.000Z")


def test_existing_copy_is_never_copied_again() -> None:
    west = POLICY.dr_region("us-west-2")
    for state in ("pending", "available", "disabled"):
        decision = plan_copy(SOURCE, MATCH, west, [_copy(state)], POLICY)
        assert decision.action is None and decision.existing is not None


def test_failed_copy_is_retried_with_a_new_token_then_given_up() -> None:
    west = POLICY.dr_region("us-west-2")
    first = plan_copy(SOURCE, MATCH, west, [], POLICY).action
    retry = plan_copy(SOURCE, MATCH, west, [_copy("failed")], POLICY).action
    failed = [_copy("failed", f"ami-0{i:016x}") for i in range(MAX_COPY_ATTEMPTS)]
    given_up = plan_copy(SOURCE, MATCH, west, failed, POLICY)

    assert retry is not None and retry.client_token != first.client_token
    assert given_up.action is None and given_up.existing is None and "not retrying" in given_up.note


def test_the_sweeps_finishing_adds_permissions_first_then_tags_and_mark_in_one_call() -> None:
    desired = desired_source(SOURCE, MATCH, POLICY)

    actions = plan_finish(SOURCE, ImageState(), desired, one_write=True)

    tags = [a for a in actions if isinstance(a, TagResources)]
    assert len(tags) == 1 and actions[-1] is tags[0]  # nothing is written after the mark
    assert tags[0].resource_ids == (SOURCE.image_id, "snap-1", "snap-2")
    assert tags[0].tags == desired.snapshot_tags | {PROTECTED_TAG: protection_digest(desired)}
    assert all(isinstance(a, AddLaunchPermissions | AddSnapshotVolumePermissions) for a in actions[:-1])
    assert len(actions) == 1 + 2 + 1  # launch permissions, one volume permission per snapshot, the tag write


def test_the_sweeps_finishing_marks_only_what_is_left_when_the_tags_are_there() -> None:
    desired = desired_source(SOURCE, MATCH, POLICY)
    tagged = Image(**{**SOURCE.__dict__, "tags": SOURCE.tags | desired.image_tags})
    state = ImageState(snapshot_tags={s: dict(desired.snapshot_tags) for s in SOURCE.snapshot_ids})

    actions = plan_finish(tagged, state, desired, one_write=True)

    assert actions[-1] == TagResources("us-east-1", (SOURCE.image_id,), {PROTECTED_TAG: protection_digest(desired)})
    assert sum(isinstance(a, TagResources) for a in actions) == 1


def test_snapshots_without_room_for_the_mark_are_tagged_apart_and_the_image_is_marked_last() -> None:
    """The mark rides on snapshots only beside the room kept for the marks that retire them (EC2 allows 50)."""
    desired = desired_source(SOURCE, MATCH, POLICY)
    crowded = {f"builder-{i:02d}": "x" for i in range(50 - 2 - len(desired.snapshot_tags))}
    state = ImageState(snapshot_tags={"snap-1": crowded, "snap-2": crowded})

    actions = plan_finish(SOURCE, state, desired, one_write=True)

    tags = [a for a in actions if isinstance(a, TagResources)]
    mark = protection_digest(desired)
    assert [a.resource_ids for a in tags] == [("snap-1", "snap-2"), (SOURCE.image_id,)]
    assert PROTECTED_TAG not in tags[0].tags and tags[1].tags[PROTECTED_TAG] == mark
    assert len(crowded | tags[0].tags) == 50 - 2  # the retired and recycle marks still fit
    assert actions[-1] is tags[1]


def test_the_event_path_still_writes_the_mark_on_its_own() -> None:
    desired = desired_source(SOURCE, MATCH, POLICY)

    actions = plan_finish(SOURCE, ImageState(), desired)

    assert actions[-1] == TagResources("us-east-1", (SOURCE.image_id,), {PROTECTED_TAG: protection_digest(desired)})
    assert sum(isinstance(a, TagResources) for a in actions) == 2
