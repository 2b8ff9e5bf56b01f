"""template.yaml grants each function exactly the actions its code calls, writes scoped to resources."""

from __future__ import annotations

from typing import Any

import pytest

from ami_lifecycle.act.parameters import ShareParameters
from ami_lifecycle.act.protect import CopyImage
from ami_lifecycle.act.registry import IMAGE_AVAILABLE_ACTIONS as ACTIONS
from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.eventbus import load_template
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.plan.launch_templates import MANAGED_TEMPLATE_TAG
from ami_lifecycle.policy import LaunchTemplateUpdates, Parameters, Sharing
from ami_lifecycle.read.image_references import ON_BEHALF_PERMISSIONS

from .conftest import Account, ami_event

READ_PREFIXES = ("Describe", "Get", "List")


def statements(function: str) -> list[dict[str, Any]]:
    """The function's policy statements, with both branches of any Fn::If."""
    policies = load_template("template.yaml")["Resources"][function]["Properties"]["Policies"]
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Effect" in node and "Action" in node:
                found.append(node)
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(policies)
    return found


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def granted(function: str) -> set[str]:
    return {a for s in statements(function) if s["Effect"] == "Allow" for a in actions_of(s)}


@pytest.fixture
def called(account: Account) -> set[str]:
    """Every action the image-available flow calls: new AMI (one encrypted copy), copies finished, redelivery;
    a launch template the policy names, tagged for the product, gets a version and its default."""
    policy = account.policy.model_copy(
        update={"launch_templates": [LaunchTemplateUpdates(family="web", name="web-asg", set_default=True)]}
    )
    account.ec2("us-east-1").create_launch_template(
        LaunchTemplateName="web-asg",
        LaunchTemplateData={"ImageId": "ami-00000000000000001"},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": MANAGED_TEMPLATE_TAG, "Value": "true"}]}
        ],
    )
    source = parse_ami_state_change(ami_event(account.build_ami()))
    with record_calls() as calls:
        handle_image_available(source, policy, account.clients(), DEFAULT_ACCOUNT_ID)
        for region, copy_id in fidelity.complete_pending_copies():
            event = parse_ami_state_change(ami_event(copy_id, region))
            handle_image_available(event, policy, account.clients(), DEFAULT_ACCOUNT_ID)
        handle_image_available(source, policy, account.clients(), DEFAULT_ACCOUNT_ID)
    newer = parse_ami_state_change(ami_event(account.build_ami("web-1.1.0")))
    with record_calls() as moved:  # a newer version moves the parameter: retagged and overwritten
        handle_image_available(newer, policy, account.clients(), DEFAULT_ACCOUNT_ID)
    assert "ec2:CreateLaunchTemplateVersion" in calls.iam_actions()
    return calls.iam_actions() | moved.iam_actions()


def test_every_called_action_is_granted(called: set[str]) -> None:
    assert called - granted("ImageAvailableFunction") == set()


def test_nothing_is_granted_that_the_code_does_not_call(called: set[str]) -> None:
    # EC2 uses the caller's KMS permissions when CopyImage re-encrypts with a customer managed key.
    needed = called | set(CopyImage.kms_permissions)

    assert granted("ImageAvailableFunction") - needed == set()


def test_every_action_class_is_granted_what_it_declares() -> None:
    declared = {p for action in ACTIONS for p in action.permissions}

    assert declared - granted("ImageAvailableFunction") == set()


def test_writes_are_scoped_to_resources_and_kms_to_ec2() -> None:
    for statement in statements("ImageAvailableFunction"):
        writes = {a for a in actions_of(statement) if not a.split(":")[1].startswith(READ_PREFIXES)}
        if writes:
            assert statement["Resource"] != "*", f"{statement['Sid']} grants {writes} on every resource"
        if any(a.startswith("kms:") for a in actions_of(statement)):
            assert "kms:ViaService" in str(statement["Condition"]), statement["Sid"]


def test_no_destructive_action_is_granted_to_the_image_available_function() -> None:
    destructive = {"ec2:DeregisterImage", "ec2:DeleteSnapshot", "ec2:DisableImage", "ec2:DeleteTags"}

    assert granted("ImageAvailableFunction") & destructive == set()


@pytest.fixture
def called_by_launch_tracking(account: Account) -> set[str]:
    """Every action the launch-tracking flow calls: tracked, tagged and alerted launches."""
    from .test_launch_tracking import Launches, launch_event

    launches = Launches(account)
    image_id = launches.managed_ami()
    instance_ids = launches.run(image_id, count=2)
    account.ec2("us-east-1").disable_image(ImageId=image_id)
    with record_calls() as calls:
        launches.process([launch_event(i) for i in instance_ids])
    return calls.iam_actions()


def test_launch_tracking_is_granted_exactly_what_it_calls(called_by_launch_tracking: set[str]) -> None:
    from ami_lifecycle.act.registry import LAUNCH_ACTIONS

    assert granted("LaunchTrackingFunction") == called_by_launch_tracking
    assert {p for action in LAUNCH_ACTIONS for p in action.permissions} <= called_by_launch_tracking


def test_launch_tracking_tags_only_instances() -> None:
    (tagging,) = [s for s in statements("LaunchTrackingFunction") if "ec2:CreateTags" in actions_of(s)]

    assert ":instance/" in str(tagging["Resource"]) and "image/" not in str(tagging["Resource"])


@pytest.fixture
def called_by_sweep(account: Account, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every action a sweep calls: finishing a lost build, deprecating, disabling, asking who uses shared AMIs,
    reporting a version still used in another account, deregistering, cleaning up, and its summary."""
    import boto3

    from .sweep_world import World, sweep_policy

    topic = boto3.client("sns", region_name="us-east-1").create_topic(Name="alerts")["TopicArn"]
    monkeypatch.setenv("LAUNCH_ALERTS_TOPIC_ARN", topic)

    world = World(account, sweep_policy(account).model_copy())
    retention = world.policy.defaults.retention.model_copy(update={"disable_after_days": 5})
    # shared with an account (moto knows no organization) and so are the parameters, through AWS RAM
    sharing = Sharing(accounts=["111111111111"], snapshot_permissions=True)
    defaults = world.policy.defaults.model_copy(update={"retention": retention, "sharing": sharing})
    parameters = Parameters(tier="Advanced", share=True)
    sweep = world.policy.sweep.model_copy(update={"summary": True})
    world.policy = world.policy.model_copy(update={"defaults": defaults, "parameters": parameters, "sweep": sweep})
    images = world.family()
    world.version("api-2.0.0", days_ago=1, protect=False)
    world.ec2().create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": images[-1]})
    # A template named after the family's versions were finished: the sweep updates it, and moves its default.
    world.ec2().create_launch_template(
        LaunchTemplateName="web-asg",
        LaunchTemplateData={"ImageId": images[2]},
        TagSpecifications=[
            {"ResourceType": "launch-template", "Tags": [{"Key": MANAGED_TEMPLATE_TAG, "Value": "true"}]}
        ],
    )
    entry = LaunchTemplateUpdates(family="web", name="web-asg", set_default=True)
    world.policy = world.policy.model_copy(update={"launch_templates": [entry]})
    fidelity.set_consumer_usage(images[1], "us-east-1", "222222222222", "ec2:Instance", 2)
    with record_calls() as calls:
        under_the_lease(world, 0)
    world.version("db-1.0.0", days_ago=0)  # its event creates its parameter; the next sweep adds it to the share
    with record_calls() as later:
        world.policy = world.policy.model_copy(update={"pins": {"web": "1.2.0"}})  # deprecated: cancelled
        world.sweep(days=6)
        world.account.faults.fail("DeregisterImage", "InvalidParameter", times=1)  # the fallback path
        # The oldest version has all 50 tags EC2 allows: the sweep removes its own marks to make room for others.
        room = 50 - len((world.image(images[0]) or {}).get("Tags", []))
        world.ec2().create_tags(Resources=[images[0]], Tags=[{"Key": f"cost-{i}", "Value": "x"} for i in range(room)])
        world.sweep(days=11)
        # a policy that does not say how its AMIs are shared: the launch permissions of what is due are read
        world.sweep(days=12, policy=sweep_policy(account, shared=False))
    assert not world.exists(images[0])
    assert all(t.summary_error is None for t in world.ticks) and world.ticks[-1].summary
    assert "ec2:ModifyLaunchTemplate" in calls.iam_actions()
    return calls.iam_actions() | later.iam_actions()


def test_sweep_is_granted_exactly_what_it_calls(called_by_sweep: set[str]) -> None:
    from ami_lifecycle.act.registry import SWEEP_ACTIONS

    declared = {p for action in SWEEP_ACTIONS for p in action.permissions}
    assert called_by_sweep - granted("SweepFunction") == set()
    assert declared - granted("SweepFunction") == set()
    # EC2 uses the caller's permissions to answer DescribeImageReferences, and to re-encrypt copies; RAM to set
    # the shared parameters' resource policies.
    on_behalf = set(CopyImage.kms_permissions) | set(ON_BEHALF_PERMISSIONS) | set(ShareParameters.on_behalf_permissions)
    assert granted("SweepFunction") - called_by_sweep - on_behalf == set()


def under_the_lease(world: Any, days: float, dry_run: bool = False) -> None:
    """A sweep as the function runs it: while holding the lease in the usage table."""
    from datetime import timedelta

    from ami_lifecycle.aws.sweep_lease import LEASE_MARGIN, SweepLease
    from ami_lifecycle.flows.sweep import run_sweep_alone

    from .sweep_world import TABLE

    lease = SweepLease(world.clients, "us-east-1", "tick", TABLE)
    at = world.now + timedelta(days=days)
    run_sweep_alone(lease, at, timedelta(minutes=15) + LEASE_MARGIN, lambda: world.sweep(days, dry_run))


@pytest.fixture
def tables_called_by_sweep(account: Account) -> set[tuple[str, str]]:
    """(action, table) of every DynamoDB call of sweeps that read, keep, refresh and drop launch templates."""
    from .sweep_world import World

    world = World(account)
    images = world.family()
    for name in ("web", "api"):
        world.ec2().create_launch_template(LaunchTemplateName=name, LaunchTemplateData={"ImageId": images[-1]})
    with record_calls() as calls:
        under_the_lease(world, 0, dry_run=True)
        world.ec2().delete_launch_template(LaunchTemplateName="api")
        under_the_lease(world, 2, dry_run=True)

    def tables(call: Any) -> list[str]:
        return list(call.params["RequestItems"]) if call.operation == "BatchWriteItem" else [call.params["TableName"]]

    return {(c.iam_action, table) for c in calls.calls if c.service == "dynamodb" for table in tables(c)}


def test_sweep_is_granted_each_table_action_it_calls_on_that_table_only(
    tables_called_by_sweep: set[tuple[str, str]],
) -> None:
    """The usage table is scanned and its lease item taken and given back; the launch template table queried and
    written; nothing else on either."""
    from .sweep_world import TABLE, TEMPLATE_TABLE

    resources = {TABLE: "UsageTable", TEMPLATE_TABLE: "LaunchTemplateTable"}
    called = {(action, resources[table]) for action, table in tables_called_by_sweep}
    granted_on_tables = {
        (action, statement["Resource"]["Fn::GetAtt"].split(".")[0])
        for statement in statements("SweepFunction")
        for action in actions_of(statement)
        if action.startswith("dynamodb:")
    }
    assert granted_on_tables == called
    assert called == {
        ("dynamodb:Scan", "UsageTable"),
        ("dynamodb:PutItem", "UsageTable"),
        ("dynamodb:DeleteItem", "UsageTable"),
        ("dynamodb:Query", "LaunchTemplateTable"),
        ("dynamodb:BatchWriteItem", "LaunchTemplateTable"),
    }


def test_the_sweep_writes_only_the_lease_item_of_the_usage_table(
    tables_called_by_sweep: set[tuple[str, str]],
) -> None:
    """The lease's writes are granted on its own key only: a sweep can never overwrite a launch record."""
    from ami_lifecycle.aws.sweep_lease import LEASE_KEY

    (lease,) = [s for s in statements("SweepFunction") if "dynamodb:PutItem" in actions_of(s)]

    assert actions_of(lease) == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert lease["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [LEASE_KEY]}}


@pytest.mark.parametrize("function", ["ImageAvailableFunction", "SweepFunction"])
def test_no_function_may_share_a_snapshot_publicly(function: str) -> None:
    """The code shares snapshots with accounts only; a Deny on adding the group "all" (the public) holds whatever
    any Allow says. Service Authorization Reference, Amazon EC2: ModifySnapshotAttribute supports ec2:Add/group,
    "Filters access by the group being added to a snapshot"."""
    denies = [s for s in statements(function) if s["Effect"] == "Deny"]
    sharing = [s for s in statements(function) if "ec2:ModifySnapshotAttribute" in actions_of(s)]

    assert [actions_of(s) for s in denies] == [{"ec2:ModifySnapshotAttribute"}]
    assert denies[0]["Condition"] == {"StringEquals": {"ec2:Add/group": "all"}}
    # the Deny covers every snapshot the Allow does
    assert {str(s["Resource"]) for s in sharing} == {str(denies[0]["Resource"])}


@pytest.mark.parametrize("function", ["ImageAvailableFunction", "SweepFunction"])
def test_attribute_reads_are_scoped_to_images_and_snapshots(function: str) -> None:
    """Service Authorization Reference, Amazon EC2: DescribeImageAttribute requires an image*, and
    DescribeSnapshotAttribute a snapshot* resource, so neither needs "*"."""
    kinds = {"ec2:DescribeImageAttribute": "image", "ec2:DescribeSnapshotAttribute": "snapshot"}
    scoped = 0
    for statement in statements(function):
        attribute_reads = actions_of(statement) & set(kinds)
        if attribute_reads:
            listed = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            resources = {r["Fn::Sub"] for r in listed}
            wanted = {f"arn:${{AWS::Partition}}:ec2:*::{kinds[a]}/*" for a in attribute_reads}
            assert resources == wanted, statement["Sid"]
            scoped += 1
    assert scoped == 1 and "ec2:DescribeImageAttribute" in granted(function)


def test_sweep_removes_only_what_carries_the_products_tags() -> None:
    """Destructive actions are scoped by tag: lineage on AMIs, the sweep's own mark on snapshots."""
    scoped = {
        "ec2:DeregisterImage": "aws:ResourceTag/ami-lifecycle:family",
        "ec2:DisableImage": "aws:ResourceTag/ami-lifecycle:family",
        "ec2:EnableImageDeprecation": "aws:ResourceTag/ami-lifecycle:family",
        "ec2:DeleteSnapshot": "aws:ResourceTag/ami-lifecycle:retired",
    }
    for action, tag in scoped.items():
        statement, *others = [s for s in statements("SweepFunction") if action in actions_of(s)]
        assert statement["Condition"]["Null"] == {tag: "false"}, action
        assert statement["Condition"]["StringEquals"]["ec2:Owner"] == {"Ref": "AWS::AccountId"}
        assert statement["Resource"] != "*"
        # An AMI whose 50 tags left room for one mark carries the sweep's recycle mark instead of its family tag.
        for other in others:
            assert action == "ec2:DeregisterImage"
            owner, marked = {"ec2:Owner": {"Ref": "AWS::AccountId"}}, {"aws:ResourceTag/ami-lifecycle:recycle": "true"}
            assert other["Condition"] == {"StringEquals": owner | marked}


def test_sweep_removes_only_its_own_tags() -> None:
    """Making room for its marks within EC2's 50 tags, the sweep may remove its own tags and no others."""
    (statement,) = [s for s in statements("SweepFunction") if "ec2:DeleteTags" in actions_of(s)]

    assert statement["Condition"]["ForAllValues:StringLike"] == {"aws:TagKeys": "ami-lifecycle:*"}
    # A DeleteTags naming no key removes every tag: a key must be named.
    assert statement["Condition"]["Null"] == {"aws:TagKeys": "false"}
    assert "DeleteTags" not in str(statements("ImageAvailableFunction"))


@pytest.mark.parametrize("function", ["ImageAvailableFunction", "SweepFunction"])
def test_parameter_writes_are_scoped_to_the_stacks_parameter_path(function: str) -> None:
    ssm = [s for s in statements(function) if any(a.startswith("ssm:") for a in actions_of(s))]
    writes = [s for s in ssm if actions_of(s) & {"ssm:PutParameter", "ssm:AddTagsToResource", "ssm:PutResourcePolicy"}]

    assert writes
    for statement in writes:
        assert statement["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter${ParameterPathPrefix}/*"
        }
    for other in ssm:
        if other not in writes and other["Resource"] == "*":
            reads = {a for a in actions_of(other) if a.startswith("ssm:")}
            assert reads <= {"ssm:DescribeParameters", "ssm:GetParameters"}, other["Sid"]


def test_the_functions_know_the_parameter_path_iam_allows() -> None:
    template = load_template("template.yaml")["Resources"]
    for function in ("ImageAvailableFunction", "SweepFunction"):
        variables = template[function]["Properties"]["Environment"]["Variables"]
        assert variables["PARAMETER_PATH_PREFIX"] == {"Fn::Sub": "${ParameterPathPrefix}/"}


@pytest.mark.parametrize("function", ["ImageAvailableFunction", "SweepFunction"])
def test_launch_template_writes_need_the_operators_tag(function: str) -> None:
    """Only templates tagged ami-lifecycle:managed-template=true may get a version or a new default; the planner asks
    for the same tag, so IAM is a second, independent guard."""
    writes = {"ec2:CreateLaunchTemplateVersion", "ec2:ModifyLaunchTemplate"}
    (statement,) = [s for s in statements(function) if actions_of(s) & writes]
    assert actions_of(statement) == writes
    assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{MANAGED_TEMPLATE_TAG}": "true"}}
    assert ":launch-template/" in str(statement["Resource"])
