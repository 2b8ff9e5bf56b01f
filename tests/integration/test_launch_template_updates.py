"""Launch template updates on moto: a named template gets a version naming its family's new image, with nothing
else changed, when that image is finished in the template's region (the event) or by the sweep."""

from __future__ import annotations

from typing import Any

import pytest

from ami_lifecycle.flows.image_available import ProtectionIncomplete
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.plan.launch_templates import MANAGED_TEMPLATE_TAG
from ami_lifecycle.policy import Policy, parse_policy

from .conftest import EU, HOME, WEST, Account
from .sweep_world import World, decision, sweep_policy

WEB_TEMPLATES = """launch_templates:
  - {family: web, name: web-asg}
  - {family: web, name: web-batch, set_default: true}
  - {family: web, tags: {Tier: web}, regions: [us-west-2]}
  - {family: web, name: web-missing}
"""


def template_data(image_id: str) -> dict[str, Any]:
    return {
        "ImageId": image_id,
        "InstanceType": "m7g.large",
        "KeyName": "ops",
        "UserData": "IyEvYmluL3NoCmVjaG8gaGk=",
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Team", "Value": "web"}]}],
    }


def create_template(
    world: World, name: str, image_id: str, region: str = HOME, managed: bool = True, **tags: str
) -> str:
    all_tags = tags | ({MANAGED_TEMPLATE_TAG: "true"} if managed else {})
    spec = [{"ResourceType": "launch-template", "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()]}]
    tagged: dict[str, Any] = {"TagSpecifications": spec} if all_tags else {}  # EC2 refuses an empty one
    response = world.ec2(region).create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData=template_data(image_id), **tagged
    )
    return str(response["LaunchTemplate"]["LaunchTemplateId"])


def versions(world: World, name: str, region: str = HOME) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = world.ec2(region).describe_launch_template_versions(LaunchTemplateName=name)[
        "LaunchTemplateVersions"
    ]
    return sorted(found, key=lambda v: v["VersionNumber"])


def default_image(world: World, name: str, region: str = HOME) -> str:
    (default,) = [v for v in versions(world, name, region) if v["DefaultVersion"]]
    return str(default["LaunchTemplateData"]["ImageId"])


def policy_with(account: Account, extra: str = WEB_TEMPLATES) -> Policy:
    return sweep_policy(account, extra)


@pytest.fixture
def world(account: Account) -> World:
    return World(account, policy_with(account))


def test_a_new_version_adds_a_template_version_with_only_the_image_changed(world: World) -> None:
    # Given web 1.0.0 finished, and a template naming it, tagged for the product
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-asg", old)
    # When web 1.1.0 becomes available at home
    new = world.version("web-1.1.0", days_ago=1)
    # Then the template has a version 2 from version 1 with only the image changed, and the default stays 1
    first, second = versions(world, "web-asg")
    assert second["VersionNumber"] == 2 and first["DefaultVersion"] is True
    assert second["LaunchTemplateData"] == first["LaunchTemplateData"] | {"ImageId": new}
    assert first["LaunchTemplateData"]["ImageId"] == old and first["LaunchTemplateData"]["KeyName"] == "ops"
    assert "web 1.1.0" in second["VersionDescription"]


def test_the_default_moves_only_when_the_policy_says_so(world: World) -> None:
    # Given two templates naming web 1.0.0: web-batch with set_default, web-asg without
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-asg", old)
    create_template(world, "web-batch", old)
    # When web 1.1.0 is finished
    new = world.version("web-1.1.0", days_ago=1)
    # Then web-batch's default names it, web-asg's default still names the old image
    assert default_image(world, "web-batch") == new
    assert default_image(world, "web-asg") == old


def test_a_template_the_policy_does_not_name_or_without_the_tag_is_never_touched(world: World) -> None:
    # Given a template the policy does not name, and a named one without the product's tag
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-other", old)
    create_template(world, "web-asg", old, managed=False)
    # When a new version is finished, and the sweep runs
    world.version("web-1.1.0", days_ago=1)
    report = world.sweep()
    # Then neither has a second version; the untagged one is reported
    assert len(versions(world, "web-other")) == len(versions(world, "web-asg")) == 1
    notes = report.plan.regions[HOME].launch_template_notes
    assert any("web-asg" in n and MANAGED_TEMPLATE_TAG in n for n in notes)
    assert any("web-missing" in n and "no such launch template" in n for n in notes)


def test_a_redelivered_event_and_the_sweeps_after_it_add_nothing(world: World) -> None:
    # Given a template updated for web 1.1.0
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-asg", old)
    new = world.version("web-1.1.0", days_ago=1)
    # When the event is delivered again, and two sweeps run
    world.event(new, HOME)
    world.sweep()
    world.sweep(days=1)
    # Then there are still exactly two versions
    assert [v["LaunchTemplateData"]["ImageId"] for v in versions(world, "web-asg")] == [old, new]


def test_an_older_version_arriving_late_never_moves_a_template_backwards(world: World) -> None:
    # Given web 1.2.0 finished and named by the templates
    newest = world.version("web-1.2.0", days_ago=1, protect=False)
    older = world.version("web-1.1.0", days_ago=5, protect=False)
    create_template(world, "web-batch", "ami-00000000000000001")
    world.event(newest, HOME)
    assert default_image(world, "web-batch") == newest
    # When the event of the older web 1.1.0 arrives late, and the sweep runs
    world.event(older, HOME)
    world.sweep()
    # Then the template still names web 1.2.0, and no version names 1.1.0
    assert default_image(world, "web-batch") == newest
    assert older not in {v["LaunchTemplateData"]["ImageId"] for v in versions(world, "web-batch")}


def test_a_dr_template_moves_when_its_copy_is_finished_never_while_pending_or_failed(world: World) -> None:
    # Given templates in us-west-2 (by tag) and eu-west-1 (by name) naming an old image
    old = world.version("web-1.0.0", days_ago=10)
    world.finish_copies()
    west_old, eu_old = world.copies(old)[WEST], world.copies(old)[EU]
    create_template(world, "web-west", west_old, region=WEST, Tier="web")
    create_template(world, "web-batch", eu_old, region=EU)
    # When web 1.1.0 is finished at home: its copies are pending
    new = world.version("web-1.1.0", days_ago=1)
    world.sweep()
    # Then the DR templates still name the old copies
    assert default_image(world, "web-west", WEST) == west_old and default_image(world, "web-batch", EU) == eu_old
    # When the us-west-2 copy fails, and the eu-west-1 copy finishes
    pending = {region: copy_id for region, copy_id in world.copies(new).items()}
    fidelity.fail_pending_copy(WEST, pending[WEST])
    for region, copy_id in fidelity.complete_pending_copies():
        world.event(copy_id, region)
    world.sweep()
    # Then eu-west-1's template names its copy; us-west-2's has no new version
    assert default_image(world, "web-batch", EU) == pending[EU]
    assert len(versions(world, "web-west", WEST)) == 1


def test_the_sweep_updates_a_template_an_event_missed_and_a_dry_run_only_plans(account: Account) -> None:
    # Given web 1.0.0 and 1.1.0 finished before the policy named any template
    world = World(account, sweep_policy(account))
    old = world.version("web-1.0.0", days_ago=10)
    new = world.version("web-1.1.0", days_ago=1)
    create_template(world, "web-batch", old)
    world.policy = policy_with(account)
    # When a dry run plans, and a sweep runs
    dry = world.sweep(dry_run=True)
    assert len(versions(world, "web-batch")) == 1
    assert dry.plan.summary()["actions"].get("CreateTemplateVersion") == 1
    world.sweep()
    # Then the template names web 1.1.0 (its default, as the entry asks)
    assert default_image(world, "web-batch") == new


def test_a_pin_rolls_the_templates_back_and_unpinning_moves_them_forward(world: World) -> None:
    # Given web 1.0.0 and 1.1.0, the template updated to 1.1.0
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-batch", old)
    new = world.version("web-1.1.0", days_ago=1)
    assert default_image(world, "web-batch") == new
    # When the family is pinned to 1.0.0 and the sweep runs
    pinned = world.policy.model_copy(update={"pins": {"web": "1.0.0"}})
    world.sweep(policy=pinned)
    # Then the template's default names 1.0.0 again, through a new version (none deleted)
    assert default_image(world, "web-batch") == old
    assert [v["LaunchTemplateData"]["ImageId"] for v in versions(world, "web-batch")] == [old, new, old]
    # When the pin is removed
    world.sweep(days=1)
    # Then its default names 1.1.0 again, and still no version was deleted
    assert default_image(world, "web-batch") == new
    assert [v["LaunchTemplateData"]["ImageId"] for v in versions(world, "web-batch")][:3] == [old, new, old]


def test_a_template_following_a_parameter_is_left_alone(world: World) -> None:
    # Given a template whose image is a resolve:ssm: parameter
    world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-asg", "resolve:ssm:/golden/web")
    # When a new version is finished and the sweep runs
    world.version("web-1.1.0", days_ago=1)
    report = world.sweep()
    # Then the template has one version, and the plan says why
    assert len(versions(world, "web-asg")) == 1
    assert any("follows that parameter" in n for n in report.plan.regions[HOME].launch_template_notes)


def test_the_image_an_older_template_version_names_is_still_protected(account: Account) -> None:
    # Given a family of five versions, a template updated version by version, its default on the newest
    world = World(account, policy_with(account))
    first = world.version("web-1.0.0", days_ago=100)
    create_template(world, "web-batch", first)
    newest = [world.version(f"web-1.{i}.0", days_ago=days) for i, days in enumerate((80, 60, 40, 20), start=1)][-1]
    world.finish_copies()
    assert default_image(world, "web-batch") == newest
    # When the sweeps run past every grace period
    world.sweep()
    report = world.sweep(days=11)
    # Then web 1.0.0, named by the template's version 1, is kept, and says why
    assert world.exists(first)
    assert any(p.kind == "launch-template" for p in decision(report, first).protections)


def test_event_call_budget_with_named_templates(world: World) -> None:
    """A new source with templates named in the home region: the flow's calls plus, for the templates, one
    DescribeLaunchTemplates per way of naming, one DescribeLaunchTemplateVersions, one DescribeImages and one
    CreateLaunchTemplateVersion per template updated (and its ModifyLaunchTemplate when asked)."""
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-asg", old)
    create_template(world, "web-batch", old)
    source = world.account.build_ami("web-1.1.0")
    with record_calls() as calls:
        world.event(source, HOME)
    template_calls = sorted(c.operation for c in calls.calls if "LaunchTemplate" in c.operation)
    assert template_calls == [
        "CreateLaunchTemplateVersion",
        "CreateLaunchTemplateVersion",
        "DescribeLaunchTemplateVersions",
        "DescribeLaunchTemplates",
        "ModifyLaunchTemplate",
    ]


def test_a_policy_naming_no_template_costs_the_event_nothing(account: Account) -> None:
    world = World(account, parse_policy(account.policy_text))
    with record_calls() as calls:
        world.version("web-1.0.0", days_ago=1)
    assert not [c for c in calls.calls if "LaunchTemplate" in c.operation]


def test_a_failed_template_update_fails_the_event_and_the_retry_finishes_it(world: World) -> None:
    # Given a named template, and EC2 refusing to create launch template versions for now
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-asg", old)
    world.account.faults.fail("CreateLaunchTemplateVersion", "RequestLimitExceeded", region=HOME)
    source = world.account.build_ami("web-1.1.0")
    # When the new version's event is handled
    with pytest.raises(ProtectionIncomplete) as excinfo:
        world.event(source, HOME)
    # Then the home region is reported failed (retried), the image is finished, the template unchanged
    (home,) = [r for r in excinfo.value.outcome.regions if r.region == HOME]
    assert home.failed and home.transient and "RequestLimitExceeded" in str(home.error)
    assert len(versions(world, "web-asg")) == 1
    # When EC2 recovers and the event is retried
    world.account.faults.clear()
    world.event(source, HOME)
    # Then the template names the new image, through one new version
    assert [v["LaunchTemplateData"]["ImageId"] for v in versions(world, "web-asg")] == [old, source]


def test_unreadable_templates_fail_the_event_but_not_the_image(world: World) -> None:
    # Given a named template, and its region's templates unreadable
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-asg", old)
    world.account.faults.fail("DescribeLaunchTemplates", "UnauthorizedOperation", region=HOME)
    source = world.account.build_ami("web-1.1.0")
    # When the new version's event is handled
    with pytest.raises(ProtectionIncomplete):
        world.event(source, HOME)
    # Then the image is still finished and copied, the template unchanged
    assert "ami-lifecycle:protected" in {t["Key"] for t in world.image(source)["Tags"]}  # type: ignore[index]
    assert len(versions(world, "web-asg")) == 1 and set(world.copies(source)) == {WEST, EU}


def test_no_flow_ever_deletes_a_launch_template_version(world: World) -> None:
    # Given a template updated through three versions, pinned back and unpinned
    old = world.version("web-1.0.0", days_ago=30)
    create_template(world, "web-batch", old)
    with record_calls() as calls:
        for i, days in enumerate((20, 10), start=1):
            world.version(f"web-1.{i}.0", days_ago=days)
        world.finish_copies()
        world.sweep(policy=world.policy.model_copy(update={"pins": {"web": "1.0.0"}}))
        world.sweep(days=1)
    # Then no call deleted a version or a template, and every version is still there
    assert not [c for c in calls.calls if c.operation.startswith("DeleteLaunchTemplate")]
    assert [v["VersionNumber"] for v in versions(world, "web-batch")] == list(range(1, 6))


def test_a_new_build_of_a_pinned_family_leaves_the_templates_on_the_pin(world: World) -> None:
    # Given web pinned to 1.0.0, and a template naming it
    world.policy = world.policy.model_copy(update={"pins": {"web": "1.0.0"}})
    old = world.version("web-1.0.0", days_ago=10)
    create_template(world, "web-batch", old)
    # When web 1.1.0 is finished, and the sweep runs
    world.version("web-1.1.0", days_ago=1)
    report = world.sweep()
    # Then the template still names 1.0.0 through its only version, and nothing is noted about it
    assert [v["LaunchTemplateData"]["ImageId"] for v in versions(world, "web-batch")] == [old]
    assert not [n for n in report.plan.regions[HOME].launch_template_notes if "web-batch" in n]
