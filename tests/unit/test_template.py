"""template.yaml deploys twice in one account and region, and runs one sweep at a time without reserved concurrency."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ami_lifecycle.aws.sweep_lease import LEASE_KEY
from ami_lifecycle.flows.sweep import SweepRequest
from ami_lifecycle.local.eventbus import load_template

TEMPLATE = load_template("template.yaml")
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]

# Properties that name a resource in its account and region: a fixed value collides with a second stack.
NAME_PROPERTIES = {
    "Name", "TableName", "RoleName", "QueueName", "TopicName", "LogGroupName", "LayerName", "FunctionName",
    "AlarmName", "RuleName", "ScheduleName", "GroupName", "PolicyName", "ManagedPolicyName", "DashboardName",
}  # fmt: skip
# SAM events that make a resource named after the event's logical id (ScheduleV2 unless OmitName is set).
SAM_NAMED_EVENTS = {"ScheduleV2"}


def resources_of(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


def names_in(resource: dict[str, Any]) -> list[Any]:
    properties = resource.get("Properties", {})
    return [value for key, value in properties.items() if key in NAME_PROPERTIES]


FORWARDER = load_template("dr-forwarder.yaml")["Resources"]
EVERY_RESOURCE = [("template.yaml", i, r) for i, r in RESOURCES.items()] + [
    ("dr-forwarder.yaml", i, r) for i, r in FORWARDER.items()
]


@pytest.mark.parametrize(
    ("path", "logical_id", "resource"), EVERY_RESOURCE, ids=[f"{p}:{i}" for p, i, _ in EVERY_RESOURCE]
)
def test_no_resource_has_a_name_a_second_stack_would_collide_with(
    path: str, logical_id: str, resource: dict[str, Any]
) -> None:
    if resource["Type"] == "AWS::IAM::Role":  # an inline policy's name is the role's own, not the account's
        names = [v for k, v in resource.get("Properties", {}).items() if k == "RoleName"]
    else:
        names = names_in(resource)

    for name in names:
        assert "${AWS::StackName}" in json.dumps(name), f"{path}: {logical_id} is named {name!r} in every stack"
    for event_id, event in resource.get("Properties", {}).get("Events", {}).items():
        if event["Type"] in SAM_NAMED_EVENTS:
            assert event["Properties"].get("OmitName") is True, f"{logical_id}.{event_id} names its schedule"


def test_the_sweep_schedule_has_no_fixed_name_and_invokes_only_the_sweep() -> None:
    ((schedule_id, schedule),) = resources_of("AWS::Scheduler::Schedule").items()
    properties = schedule["Properties"]
    target = properties["Target"]

    assert "Name" not in properties and "GroupName" not in properties
    assert properties["ScheduleExpression"] == {"Ref": "SweepSchedule"}
    assert target["Arn"] == {"Fn::GetAtt": "SweepFunction.Arn"}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0}  # the next tick reads everything again
    SweepRequest.model_validate_json(target["Input"])  # what the schedule sends, the handler accepts

    role = RESOURCES[target["RoleArn"]["Fn::GetAtt"].split(".")[0]]["Properties"]
    ((trust,),) = [role["AssumeRolePolicyDocument"]["Statement"]]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    ((policy,),) = [role["Policies"]]
    ((statement,),) = [policy["PolicyDocument"]["Statement"]]
    assert statement == {
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": {"Fn::GetAtt": "SweepFunction.Arn"},
    }, f"{schedule_id}'s role may do more than invoke the sweep"


def test_no_function_reserves_concurrency() -> None:
    """Lambda refuses reserved concurrency in accounts whose quota is below 101 (new accounts often have 10)."""
    functions = resources_of("AWS::Serverless::Function")

    assert [name for name, f in functions.items() if "ReservedConcurrentExecutions" in f["Properties"]] == []
    assert "ReservedConcurrentExecutions" not in TEMPLATE.get("Globals", {}).get("Function", {})


def test_the_sweep_holds_its_lease_in_the_usage_table() -> None:
    sweep = RESOURCES["SweepFunction"]["Properties"]
    statements = [s for p in sweep["Policies"] for s in p["Statement"] if isinstance(s, dict)]
    (lease,) = [s for s in statements if s.get("Sid") == "HoldTheSweepLease"]

    assert sweep["Environment"]["Variables"]["USAGE_TABLE"] == {"Ref": "UsageTable"}
    assert lease["Resource"] == {"Fn::GetAtt": "UsageTable.Arn"}
    assert lease["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [LEASE_KEY]
    # the lease is taken for the invocation's remaining time plus a margin, so Lambda's maximum timeout is fine
    assert sweep["Timeout"] <= 900
