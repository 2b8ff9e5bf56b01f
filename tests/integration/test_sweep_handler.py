"""The sweep's Lambda handler: dry run by default, switches that only ever make it safer, refused input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ami_lifecycle.aws.sweep_lease import LEASE_KEY
from ami_lifecycle.flows.sweep import SweepConfigurationError
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import LocalLambdaContext
from functions.sweep import sweep_handler

from .conftest import HOME, Account
from .sweep_world import RETENTION, TABLE, TEMPLATE_TABLE, World


@pytest.fixture
def world(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return handler_world(account, tmp_path, monkeypatch)


def handler_world(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """Five versions of a family; the three oldest were deprecated 11 days ago (grace period over)."""
    world = World(account)
    images = world.family()
    for image_id in images[:3]:
        for region, held in [(HOME, image_id), *world.copies(image_id).items()]:
            fidelity.set_deprecation_time(held, world.now - timedelta(days=11), region)
            fidelity.add_usage_report(held, region, world.now - timedelta(days=1))  # no account uses it
    monkeypatch.setenv("USAGE_TABLE", TABLE)
    monkeypatch.delenv("SWEEP_DRY_RUN", raising=False)
    use_policy(account, tmp_path, monkeypatch)
    return world


def use_policy(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "") -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(account.policy_text.replace("defaults:\n", "defaults:\n" + RETENTION, 1) + extra)
    monkeypatch.setenv("POLICY_FILE", str(policy_file))


def invoke(event: Any) -> dict[str, Any]:
    return sweep_handler.lambda_handler(event, LocalLambdaContext("sweep", HOME))


def on_the_lease(call: Any) -> bool:
    return call.service == "dynamodb" and LEASE_KEY in str(call.params.get("Item", call.params.get("Key")))


def lease_calls(calls: Any) -> list[str]:
    return [c.operation for c in calls.calls if on_the_lease(c)]


def writes(calls: Any) -> list[str]:
    """Every write but the sweep's lease, which every run takes and gives back (the lease's own tests)."""
    reads = ("Describe", "Scan", "GetParametersByPath")
    return [c.operation for c in calls.calls if not c.operation.startswith(reads) and not on_the_lease(c)]


def test_a_new_deployment_only_plans(world: World) -> None:
    with record_calls() as calls:
        result = invoke({})

    assert result["dry_run"] is True and result["plan"]["actions"]["DeregisterImage"] == 9
    assert writes(calls) == []
    assert lease_calls(calls) == ["PutItem", "DeleteItem"]  # a dry run too runs alone


def test_turning_dry_run_off_applies_the_plan(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEP_DRY_RUN", "false")

    result = invoke({})

    assert result["dry_run"] is False
    assert result["regions"][HOME]["applied"]["DeregisterImage"] == 3


def test_the_function_keeps_the_launch_template_versions_it_read(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the launch template table that template.yaml passes to the function, and a launch template
    monkeypatch.setenv("LAUNCH_TEMPLATE_TABLE", TEMPLATE_TABLE)
    world.ec2().create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": world.built[-1]})

    # When the schedule invokes the function twice (a dry run, as deployed)
    with record_calls() as first:
        invoke({})
    with record_calls() as second:
        invoke({})

    # Then the first run reads the template's versions and keeps them, the second reads them from the table
    assert first.count("DescribeLaunchTemplateVersions") == 1 and second.count("DescribeLaunchTemplateVersions") == 0
    # and the only writes of the dry run are to that table
    reads = ("Describe", "Scan", "Query", "GetParametersBy")
    kept = [c for c in first.calls if not c.operation.startswith(reads) and not on_the_lease(c)]
    assert [(c.operation, list(c.params["RequestItems"])) for c in kept] == [("BatchWriteItem", [TEMPLATE_TABLE])]
    reads = sorted(c.operation for c in second.calls if c.service == "dynamodb" and not on_the_lease(c))
    assert reads == ["Query"] * 3 + ["Scan"]


@pytest.mark.parametrize(
    ("deployment", "policy", "request_"),
    [("false", "sweep:\n  dry_run: true\n", {}), ("false", "", {"dry_run": True}), ("true", "", {"dry_run": False})],
    ids=["policy forces it", "request forces it", "request cannot lift it"],
)
def test_any_switch_can_force_a_dry_run_and_none_can_lift_another(
    world: World,
    account: Account,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    deployment: str,
    policy: str,
    request_: dict[str, Any],
) -> None:
    monkeypatch.setenv("SWEEP_DRY_RUN", deployment)
    use_policy(account, tmp_path, monkeypatch, policy)

    with record_calls() as calls:
        result = invoke(request_)

    assert result["dry_run"] is True and writes(calls) == []


@pytest.mark.parametrize("event", [{"dryrun": True}, {"dry_run": "perhaps"}, ["dry_run"]])
def test_a_malformed_request_is_refused_before_any_aws_call(world: World, event: Any) -> None:
    with record_calls() as calls, pytest.raises(ValidationError):
        invoke(event)

    assert calls.calls == []


@pytest.fixture
def deployed(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """One managed AMI, its usage table, and the function's environment as a deployment that acts (dry run off):
    what a refused setting must leave alone. Cheaper than the world: the refusals come before any read."""
    import boto3

    from ami_lifecycle.local.seed import create_usage_table

    create_usage_table(boto3.client("dynamodb", region_name=HOME), TABLE)
    monkeypatch.setenv("USAGE_TABLE", TABLE)
    monkeypatch.setenv("SWEEP_DRY_RUN", "false")
    use_policy(account, tmp_path, monkeypatch)
    return account.build_ami()


def untouched(account: Account, image_id: str) -> bool:
    (image,) = account.images(HOME)
    return image["ImageId"] == image_id and "DeprecationTime" not in image and image["State"] == "available"


@pytest.mark.parametrize("value", ["yes", "1", "", "True", " true", "no", "0"])
def test_a_dry_run_setting_that_is_not_true_or_false_is_refused(
    deployed: str, account: Account, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SWEEP_DRY_RUN", value)

    with record_calls() as calls, pytest.raises(SweepConfigurationError, match="SWEEP_DRY_RUN"):
        invoke({})

    assert calls.calls == [] and untouched(account, deployed)


@pytest.mark.parametrize("value", ["14d", "true", "", "-1", "366", "1.5", "\u00b2", " 14", "0x1"])
def test_a_recycle_bin_setting_that_is_not_whole_days_is_refused(
    deployed: str, account: Account, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RECYCLE_BIN_RETENTION_DAYS", value)

    with record_calls() as calls, pytest.raises(SweepConfigurationError, match="RECYCLE_BIN_RETENTION_DAYS"):
        invoke({})

    assert calls.calls == [] and untouched(account, deployed)


@pytest.mark.parametrize("value", ["0", "14", "365"])
def test_whole_days_are_the_recycle_bin_setting(deployed: str, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("RECYCLE_BIN_RETENTION_DAYS", value)

    result = invoke({"dry_run": True})

    assert result["dry_run"] is True and result["plan"]["images"] == {"keep": 1}


@pytest.mark.parametrize("event", [{"dry_run": "false"}, {"dry_run": "true"}, {"dry_run": 0}, {"dry_run": 1}])
def test_a_request_whose_dry_run_is_not_a_boolean_is_refused(
    deployed: str, account: Account, event: dict[str, Any]
) -> None:
    with record_calls() as calls, pytest.raises(ValidationError, match="dry_run"):
        invoke(event)

    assert calls.calls == [] and untouched(account, deployed)
