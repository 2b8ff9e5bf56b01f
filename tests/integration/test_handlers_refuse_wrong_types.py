"""A policy value of the wrong type, deployed, stops every handler before any AWS call, naming the field.

The policy document refuses such values (tests/unit/test_policy.py); these tests check that no handler works
around it: each one loads the deployed document (POLICY_FILE) first, and a refused document means no AWS call
at all, so no write, whatever the event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import LocalLambdaContext
from ami_lifecycle.policy import PolicyError
from functions.image_available import image_available_handler
from functions.launch_tracking import launch_tracking_handler
from functions.sweep import sweep_handler

from .conftest import HOME, WEST, Account, ami_event
from .test_launch_tracking import launch_event, sqs_batch

RETENTION = "defaults:\n  retention:\n"
# (how the document is changed, the field the error must name); each value would convert silently if lax.
WRONG_TYPES: list[tuple[Callable[[str], str], str]] = [
    (lambda t: t.replace("snapshot_permissions: true", "snapshot_permissions: 0"),
     "defaults.sharing.snapshot_permissions"),
    (lambda t: t.replace("defaults:\n", RETENTION + "    keep_latest: true\n", 1), "defaults.retention.keep_latest"),
    (lambda t: t.replace("defaults:\n", RETENTION + '    deregister_after_days: "30"\n', 1),
     "defaults.retention.deregister_after_days"),
    (lambda t: t.replace("defaults:\n", RETENTION + "    launched_within_days: 7.5\n", 1),
     "defaults.retention.launched_within_days"),
    (lambda t: t + "sweep:\n  dry_run: 1\n", "sweep.dry_run"),
    (lambda t: t + 'sweep:\n  dry_run: "no"\n', "sweep.dry_run"),
    (lambda t: t + "sweep:\n  max_deregistrations_per_region: false\n", "sweep.max_deregistrations_per_region"),
    (lambda t: t + 'allow_public_sharing: "false"\n', "allow_public_sharing"),
]  # fmt: skip

HANDLERS = ["image_available", "launch_tracking", "sweep"]


def invocation(handler: str, account: Account, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """The handler's invocation with a real event about real resources: a new managed AMI, instances launched
    from it, a schedule tick with dry run off (as a deployment that acts)."""
    image_id = account.build_ami()
    if handler == "image_available":
        event = ami_event(image_id)
        return lambda: image_available_handler.lambda_handler(event, LocalLambdaContext("image-available", HOME))
    if handler == "launch_tracking":
        reservation = account.ec2(HOME).run_instances(ImageId=image_id, MinCount=2, MaxCount=2)
        batch = sqs_batch([launch_event(i["InstanceId"]) for i in reservation["Instances"]])
        monkeypatch.setenv("USAGE_TABLE", "ami-usage")
        return lambda: launch_tracking_handler.lambda_handler(batch, LocalLambdaContext("launch-tracking", HOME))
    monkeypatch.setenv("USAGE_TABLE", "ami-usage")
    monkeypatch.setenv("SWEEP_DRY_RUN", "false")
    return lambda: sweep_handler.lambda_handler({}, LocalLambdaContext("sweep", HOME))


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_wrong_typed_policy_value_is_refused_by_every_handler_naming_the_field_with_no_aws_call(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: str
) -> None:
    policy_file = tmp_path / "policy.yaml"
    monkeypatch.setenv("POLICY_FILE", str(policy_file))
    invoke = invocation(handler, account, monkeypatch)

    for change, field in WRONG_TYPES:
        # Given a deployed policy with one value of the wrong type
        policy_file.write_text(change(account.policy_text))

        # When the handler is invoked
        with record_calls() as calls, pytest.raises(PolicyError, match=re.escape(field) + ": Input should be"):
            invoke()

        # Then it made no AWS call at all: no copy, no tag, no usage record, no deregistration
        assert calls.calls == [], field
    assert account.images(WEST) == [] and len(account.images(HOME)) == 1


@pytest.mark.parametrize("handler", HANDLERS)
def test_the_same_document_with_the_right_types_is_accepted(
    account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handler: str
) -> None:
    """The refusals above come from the types alone: with well-typed values each handler runs and calls AWS."""
    policy_file = tmp_path / "policy.yaml"
    well_typed = RETENTION + "    keep_latest: 3\n    deregister_after_days: 30\n    launched_within_days: 7\n"
    text = account.policy_text.replace("defaults:\n", well_typed, 1)
    policy_file.write_text(text + "allow_public_sharing: false\nsweep:\n  dry_run: true\n")
    monkeypatch.setenv("POLICY_FILE", str(policy_file))
    if handler != "image_available":
        from ami_lifecycle.local.seed import create_usage_table

        create_usage_table(account.clients().dynamodb(HOME), "ami-usage")
    invoke = invocation(handler, account, monkeypatch)

    with record_calls() as calls:
        invoke()

    assert calls.count() > 0
