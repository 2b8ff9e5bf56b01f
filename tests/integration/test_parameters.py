"""The family parameters on moto across three regions: events move them as images are finished, the sweep
reconciles them, pins move them back and forth, and a parameter the product did not create is left alone."""

from __future__ import annotations

from typing import Any

import pytest

from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.policy import parse_policy

from .conftest import EU, HOME, ORG_ARN, OU_ARN, WEST, Account
from .sweep_world import World, decision, sweep_policy

NAME = "/ami-lifecycle/web/latest"
REGIONS = (HOME, WEST, EU)


def named(world: World, region: str) -> str | None:
    ssm = world.clients.ssm(region)
    try:
        return str(ssm.get_parameter(Name=NAME)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def everywhere(world: World) -> dict[str, str | None]:
    return {region: named(world, region) for region in REGIONS}


def images_of(world: World, source_id: str) -> dict[str, str]:
    return {HOME: source_id} | world.copies(source_id)


def tags(world: World, region: str) -> dict[str, str]:
    listed = world.clients.ssm(region).list_tags_for_resource(ResourceType="Parameter", ResourceId=NAME)
    return {t["Key"]: t["Value"] for t in listed["TagList"]}


def test_home_moves_in_the_same_invocation_and_each_dr_region_when_its_copy_is_finished(account: Account) -> None:
    world = World(account)
    first = world.version("web-1.0.0", days_ago=10)
    world.finish_copies()
    second = world.version("web-1.1.0", days_ago=1)  # its copies are still pending

    assert everywhere(world) == {HOME: second, WEST: world.copies(first)[WEST], EU: world.copies(first)[EU]}
    (region, copy_id), *_ = fidelity.complete_pending_copies(WEST)
    world.event(copy_id, region)
    assert named(world, WEST) == copy_id and named(world, EU) == world.copies(first)[EU]
    world.finish_copies()
    assert everywhere(world) == images_of(world, second)
    parameter = world.clients.ssm(WEST).get_parameter(Name=NAME)["Parameter"]
    assert parameter["DataType"] == "aws:ec2:image"
    assert tags(world, WEST) == {
        "ami-lifecycle:family": "web",
        "ami-lifecycle:version": "1.1.0",
        "ami-lifecycle:version-created": world.image(second)["CreationDate"],
        "ami-lifecycle:image-id": copy_id,
    }


def test_redelivered_and_out_of_order_events_never_move_a_parameter_backwards(account: Account) -> None:
    world = World(account)
    older = world.version("web-1.0.0", days_ago=10, protect=False)
    newer = world.version("web-1.1.0", days_ago=1, protect=False)

    world.event(newer, HOME)
    world.event(older, HOME)  # arrives late
    world.event(newer, HOME)  # redelivered
    world.finish_copies()
    with record_calls() as calls:
        world.event(older, HOME)

    assert everywhere(world) == images_of(world, newer)
    assert calls.count("PutParameter") == calls.count("AddTagsToResource") == 0


def test_a_parameter_the_product_did_not_create_is_left_alone_and_reported(account: Account) -> None:
    world = World(account)
    mine = world.version("web-1.0.0", days_ago=10, protect=False)
    ssm = world.clients.ssm(HOME)
    ssm.put_parameter(Name=NAME, Value="someone else's", Type="String")

    world.event(mine, HOME)
    with record_calls() as calls:
        report = world.sweep()

    assert named(world, HOME) == "someone else's"
    assert [c for c in calls.calls if c.operation in ("PutParameter", "AddTagsToResource")] == []
    (found,) = [d for d in report.plan.regions[HOME].parameters if d.family == "web"]
    assert (found.status, found.reason) == (
        "not-ours",
        "a parameter the product did not create is at this path: left alone",
    )


def test_the_sweep_moves_a_parameter_off_an_image_deprecated_by_hand(account: Account) -> None:
    world = World(account)
    world.family(days_ago=(30, 20, 10))
    newest = world.built[-1]
    world.ec2(HOME).enable_image_deprecation(ImageId=newest, DeprecateAt=world.now.replace(year=world.now.year + 1))

    world.sweep()

    assert named(world, HOME) == world.built[1]
    assert world.image(world.built[1])["Public"] is False  # an ordinary kept version, nothing else changed


def test_a_pin_moves_every_region_back_survives_its_grace_period_and_its_removal_moves_forward(
    account: Account,
) -> None:
    world = World(account)
    world.family(days_ago=(100, 80, 60, 40, 20))
    old = world.built[0]  # beyond keep_latest=2: deprecated by the first sweep
    world.sweep()
    assert world.image(old).get("DeprecationTime")
    pinned = sweep_policy(account, "pins: {web: 1.0.0}\n")

    world.sweep(days=1, policy=pinned)
    later = world.sweep(days=40, policy=pinned)  # far past its 10-day grace period

    assert everywhere(world) == images_of(world, old)
    for region, image_id in images_of(world, old).items():
        image = world.image(image_id, region)
        assert image is not None and "DeprecationTime" not in image, region
    assert decision(later, old).status == "keep"
    assert [p.kind for p in decision(later, old).protections] == ["pinned"]
    cancelled = "pinned by the policy (pins: web: 1.0.0); its deprecation is cancelled"
    assert cancelled in {decision(tick, old).reason for tick in world.ticks}

    world.sweep(days=41)

    assert everywhere(world) == images_of(world, world.built[-1])
    assert world.image(old).get("DeprecationTime")  # retires normally again


def test_a_pin_to_an_unknown_version_moves_nothing(account: Account) -> None:
    world = World(account)
    world.family(days_ago=(30, 20))
    before = everywhere(world)

    report = world.sweep(policy=sweep_policy(account, "pins: {web: 9.9.9}\n"))

    assert everywhere(world) == before
    reasons = {d.region: d.reason for p in report.plan.regions.values() for d in p.parameters}
    assert reasons[EU] == "pinned to 9.9.9, which has no available image in eu-west-1; what it names now stays"


def test_unreadable_parameters_stop_removal_in_that_region(account: Account) -> None:
    world = World(account)
    world.family(days_ago=(100, 80, 60, 40, 20))
    world.sweep()
    account.faults.fail("GetParametersByPath", "AccessDeniedException", region=WEST)

    report = world.sweep(days=30)

    assert report.plan.regions[WEST].blocked is not None and "SSM parameters" in report.plan.regions[WEST].blocked
    assert world.exists(world.copies(world.built[0])[WEST], WEST)


@pytest.mark.parametrize("prefix", ["/ami-lifecycle/", "/other/"])
def test_a_policy_path_outside_the_stacks_prefix_is_refused_by_the_handlers(
    account: Account, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    from ami_lifecycle.local.invoke import LocalLambdaContext
    from functions.image_available import image_available_handler

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(account.policy_text + "parameters: {path: '/other/{family}/latest'}\n")
    monkeypatch.setenv("POLICY_FILE", str(policy_file))
    monkeypatch.setenv("PARAMETER_PATH_PREFIX", prefix)
    parse_policy(policy_file.read_text())  # a valid policy on its own

    from ami_lifecycle.model.events import InvalidEventError
    from ami_lifecycle.policy import PolicyError

    expected = InvalidEventError if prefix == "/other/" else PolicyError  # accepted: the empty event is next
    with pytest.raises(expected) as refused:
        image_available_handler.lambda_handler({}, LocalLambdaContext("image-available", HOME))
    if prefix == "/ami-lifecycle/":
        assert "'/other/{family}/latest' is not under the stack's parameter path prefix '/ami-lifecycle/'" in str(
            refused.value
        )


def test_shared_parameters_are_advanced_and_in_one_ram_share_per_region_with_the_policys_accounts(
    account: Account,
) -> None:
    text = account.policy_text.replace(f'    organization_arns: ["{ORG_ARN}"]\n', "").replace(
        f'    organizational_unit_arns: ["{OU_ARN}"]\n', ""
    )  # moto's RAM knows no organization: shared with the account only
    world = World(account, parse_policy(text + "parameters: {tier: Advanced, share: true}\n"))
    world.family(days_ago=(20, 10))

    first = world.sweep()
    with record_calls() as calls:
        world.sweep(days=1 / 24)

    for region in REGIONS:
        ssm, ram = world.clients.ssm(region), world.clients.client("ram", region)
        assert ssm.describe_parameters()["Parameters"][0]["Tier"] == "Advanced"
        (share,) = ram.get_resource_shares(resourceOwner="SELF", name="ami-lifecycle-parameters")["resourceShares"]
        arn = share["resourceShareArn"]
        resources = ram.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn])
        principals = ram.get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[arn])
        assert [a["associatedEntity"] for a in resources["resourceShareAssociations"]] == [
            f"arn:aws:ssm:{region}:123456789012:parameter{NAME}"
        ]
        assert [a["associatedEntity"] for a in principals["resourceShareAssociations"]] == ["111111111111"]
    assert first.plan.summary()["actions"]["ShareParameters"] == 3
    assert [c for c in calls.calls if c.service == "ram" and not c.operation.startswith("Get")] == []


def test_an_event_leaves_a_parameter_it_did_not_create_alone_and_says_so(account: Account) -> None:
    from ami_lifecycle.flows.image_available import handle_image_available
    from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
    from ami_lifecycle.model.events import parse_ami_state_change

    from .conftest import ami_event

    world = World(account)
    image_id = world.version("web-1.0.0", days_ago=1, protect=False)
    world.clients.ssm(HOME).put_parameter(Name=NAME, Value="ami-0123456789abcdef0", Type="String")

    with record_calls() as calls:
        outcome = handle_image_available(
            parse_ami_state_change(ami_event(image_id)), world.policy, world.clients, DEFAULT_ACCOUNT_ID
        )

    assert named(world, HOME) == "ami-0123456789abcdef0"
    assert calls.count("PutParameter") == calls.count("AddTagsToResource") == 0
    home = next(r for r in outcome.regions if r.region == HOME)
    assert outcome.status == "protected" and not home.failed
    assert home.note.endswith(f"parameter {NAME}: a parameter the product did not create is at this path: left alone")


def test_the_sweep_names_an_image_it_finishes_only_once_finishing_succeeded(account: Account) -> None:
    world = World(account)
    first = world.version("web-1.0.0", days_ago=10)
    world.finish_copies()
    lost = world.version("web-1.1.0", days_ago=1, protect=False)  # its event was lost: unfinished
    world.account.faults.fail("ModifyImageAttribute", "UnauthorizedOperation", region=HOME, times=1)

    failed = world.sweep()

    assert named(world, HOME) == first
    assert any("not attempted" in f for f in failed.results[HOME].failures)
    world.sweep()
    assert named(world, HOME) == lost
