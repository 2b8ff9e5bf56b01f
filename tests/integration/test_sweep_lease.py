"""One sweep at a time, through the lease item in the usage table (no reserved concurrency): overlapping
sweeps, a lease nobody gave back, a sweep that fails, dry runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.aws.sweep_lease import LEASE_KEY, LEASE_MARGIN, SweepLease
from ami_lifecycle.flows.sweep import SweepReport, run_sweep_alone
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import LocalLambdaContext
from functions.sweep import sweep_handler

from .conftest import HOME, Account
from .sweep_world import TABLE, World
from .test_sweep_handler import handler_world, lease_calls

FUNCTION_TIMEOUT = timedelta(minutes=15)  # template.yaml: SweepFunction Timeout 900


def invoke(event: Any, request_id: str = "tick") -> dict[str, Any]:
    context = LocalLambdaContext("sweep", HOME, aws_request_id=request_id)
    return sweep_handler.lambda_handler(event, context)


def lease_item() -> dict[str, Any] | None:
    found = boto3.client("dynamodb", region_name=HOME).get_item(TableName=TABLE, Key={"image_id": {"S": LEASE_KEY}})
    return found.get("Item")


def taken_by(holder: str, at: datetime, lasts: timedelta = FUNCTION_TIMEOUT + LEASE_MARGIN) -> SweepLease:
    lease = SweepLease(ClientFactory(), HOME, holder, TABLE)
    assert lease.acquire(at, lasts) is None
    return lease


def emitted_metrics(output: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            for directive in record["_aws"]["CloudWatchMetrics"]:
                found |= {m["Name"]: record[m["Name"]] for m in directive["Metrics"]}
    return found


@pytest.fixture
def world(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    """The sweep handler's world: deployed in dry run."""
    return handler_world(account, tmp_path, monkeypatch)


@pytest.fixture
def acting(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """The handler's world with dry run off: a sweep that runs deregisters the three oldest versions."""
    monkeypatch.setenv("SWEEP_DRY_RUN", "false")
    return world


def test_a_sweep_while_another_runs_is_skipped_without_any_write(
    acting: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a sweep that started a minute ago and still runs
    taken_by("first-tick", datetime.now(UTC) - timedelta(minutes=1))
    capsys.readouterr()

    # When the next tick comes
    with record_calls() as calls:
        result = invoke({}, request_id="second-tick")

    # Then it tried to take the lease, and did nothing else at all
    assert [c.operation for c in calls.calls] == ["PutItem"]
    assert result["skipped"] is True and result["lease_holder"] == "first-tick"
    assert all(acting.exists(image_id) for image_id in acting.built)
    # the lease is still the first sweep's
    assert (lease_item() or {})["holder"]["S"] == "first-tick"
    # and the skip is counted and logged
    assert emitted_metrics(capsys.readouterr().out)["SweepsSkipped"] == [1.0]
    assert "sweep skipped: another sweep holds the lease" in caplog.messages


def test_overlapping_sweeps_one_acts_the_other_is_skipped(acting: World) -> None:
    # Given a sweep during which the schedule fires again (a run longer than the schedule's rate)
    overlapping: list[dict[str, Any]] = []

    def first_sweep() -> SweepReport:
        with record_calls() as second_calls:
            overlapping.append(invoke({}, request_id="second-tick"))
        assert [c.operation for c in second_calls.calls] == ["PutItem"]
        return acting.sweep()

    # When the first runs under the lease
    lease = SweepLease(ClientFactory(), HOME, "first-tick", TABLE)
    outcome = run_sweep_alone(lease, datetime.now(UTC), FUNCTION_TIMEOUT + LEASE_MARGIN, first_sweep)

    # Then the second was skipped, the first applied its plan and gave the lease back
    assert overlapping[0]["skipped"] is True and overlapping[0]["lease_holder"] == "first-tick"
    assert isinstance(outcome, SweepReport) and outcome.results[HOME].applied["DeregisterImage"] == 3
    assert lease_item() is None


def test_a_lease_nobody_gave_back_is_taken_over_once_it_expired(acting: World) -> None:
    # Given a sweep that timed out 20 minutes ago (15-minute timeout) without giving the lease back
    taken_by("timed-out-tick", datetime.now(UTC) - timedelta(minutes=20) - FUNCTION_TIMEOUT)

    # When the next tick comes
    with record_calls() as calls:
        result = invoke({}, request_id="next-tick")

    # Then it takes the lease over, sweeps, and gives the lease back
    assert result["regions"][HOME]["applied"]["DeregisterImage"] == 3
    assert lease_calls(calls) == ["PutItem", "DeleteItem"]
    assert lease_item() is None


def test_a_lease_is_not_taken_over_before_it_expired(acting: World) -> None:
    # Given a sweep that started 14 minutes ago: it may run a minute longer, and the lease has a margin
    taken_by("slow-tick", datetime.now(UTC) - timedelta(minutes=14))

    result = invoke({}, request_id="next-tick")

    assert result["skipped"] is True and all(acting.exists(image_id) for image_id in acting.built)


def test_the_lease_lasts_beyond_the_invocation_timeout(acting: World) -> None:
    # LocalLambdaContext has 120 s left, as a function with Timeout 120 at its start
    before = datetime.now(UTC)
    context = LocalLambdaContext("sweep", HOME, aws_request_id="tick")
    held: list[dict[str, Any]] = []

    def sweep_and_look() -> SweepReport:
        held.append(lease_item() or {})
        return acting.sweep(dry_run=True)

    lasts = timedelta(milliseconds=context.get_remaining_time_in_millis()) + LEASE_MARGIN
    lease = SweepLease(ClientFactory(), HOME, "tick", TABLE)
    run_sweep_alone(lease, before, lasts, sweep_and_look)

    expires = datetime.fromtimestamp(int(held[0]["expires_at"]["N"]), UTC)
    assert expires >= before + timedelta(seconds=120) + LEASE_MARGIN - timedelta(seconds=1)


def test_a_sweep_that_fails_gives_the_lease_back(acting: World) -> None:
    # Given a sweep that crashes halfway
    def crashing_sweep() -> SweepReport:
        assert lease_item() is not None  # it holds the lease while it runs
        raise RuntimeError("the sweep crashed")

    lease = SweepLease(ClientFactory(), HOME, "crashing-tick", TABLE)
    with pytest.raises(RuntimeError, match="crashed"):
        run_sweep_alone(lease, datetime.now(UTC), FUNCTION_TIMEOUT + LEASE_MARGIN, crashing_sweep)

    # Then the lease is free at once: the next tick sweeps
    assert lease_item() is None
    assert invoke({}, request_id="next-tick")["regions"][HOME]["applied"]["DeregisterImage"] == 3


def test_a_sweep_whose_lease_was_taken_over_leaves_the_new_holder_alone(acting: World) -> None:
    # Given a sweep whose lease expired while it ran, and a sweep that took it over
    now = datetime.now(UTC)
    old = taken_by("old-tick", now - timedelta(minutes=20), lasts=timedelta(minutes=16))
    taken_by("new-tick", now)

    # When the old one finishes, it does not release the new one's lease
    assert old.release() is False
    assert (lease_item() or {})["holder"]["S"] == "new-tick"


def test_a_dry_run_while_a_sweep_runs_is_skipped_too(world: World) -> None:
    # Given a sweep in progress, and an operator's dry run (the request asks for a plan only)
    taken_by("first-tick", datetime.now(UTC))

    with record_calls() as calls:
        result = invoke({"dry_run": True}, request_id="operator")

    # Then the dry run too waits its turn: it would write the launch template table
    assert result["skipped"] is True and [c.operation for c in calls.calls] == ["PutItem"]


def test_a_dry_run_takes_and_gives_back_the_lease(world: World) -> None:
    with record_calls() as calls:
        result = invoke({}, request_id="tick")

    assert result["dry_run"] is True and lease_calls(calls) == ["PutItem", "DeleteItem"]
    assert lease_item() is None


def test_the_launch_records_do_not_include_the_lease(acting: World) -> None:
    # Given a lease in the usage table
    taken_by("tick", datetime.now(UTC))

    # Then the sweep's read of the launch records (a scan of the same table) does not see it
    assert LEASE_KEY not in acting.usage.launched_since(datetime(2000, 1, 1, tzinfo=UTC))


def test_a_retried_write_of_the_same_invocation_still_holds_the_lease(acting: World) -> None:
    # botocore retries a PutItem whose answer was lost: the first attempt took the lease, the retry finds it held
    now = datetime.now(UTC)
    lease = taken_by("tick", now)

    assert lease.acquire(now, FUNCTION_TIMEOUT + LEASE_MARGIN) is None
    assert lease.release() is True and lease_item() is None
