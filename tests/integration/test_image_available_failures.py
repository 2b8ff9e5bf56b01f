"""Bad input and failing regions: a clear outcome per case, the other regions done, nothing duplicated."""

from __future__ import annotations

from typing import Any

import pytest
from moto.ec2.models import ec2_backends

from ami_lifecycle.flows.image_available import ProtectionIncomplete, handle_image_available
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.local.seed import register_ami
from ami_lifecycle.model.events import InvalidEventError, parse_ami_state_change
from ami_lifecycle.policy import PolicyError, parse_policy

from .conftest import EU, HOME, WEST, Account, ami_event


def protect(account: Account, event: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_ami_state_change(event)
    return handle_image_available(parsed, account.policy, account.clients(), DEFAULT_ACCOUNT_ID).as_dict()


def without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    if len(path) == 1:
        return {k: v for k, v in event.items() if k != path[0]}
    return event | {path[0]: without(event[path[0]], *path[1:])}


@pytest.mark.parametrize(
    ("mangle", "field"),
    [
        (lambda e: without(e, "detail", "ImageId"), "detail.ImageId"),
        (lambda e: without(e, "detail"), "detail"),
        (lambda e: e | {"detail": e["detail"] | {"ImageId": 12}}, "detail.ImageId"),
        (lambda e: e | {"detail": e["detail"] | {"ImageId": "snap-0123456789abcdef0"}}, "detail.ImageId"),
        (lambda e: e | {"region": 7}, "region"),
        (lambda e: e | {"detail-type": "EC2 Instance State-change Notification"}, "detail-type"),
        (lambda e: "not an event", "event"),
    ],
)
def test_malformed_event_is_refused_before_any_aws_call(account: Account, mangle: Any, field: str) -> None:
    event = mangle(ami_event("ami-0123456789abcdef0"))

    with record_calls() as calls, pytest.raises(InvalidEventError) as error:
        protect(account, event)

    assert field in str(error.value)
    assert calls.calls == []


def test_invalid_policy_stops_before_any_aws_call(account: Account) -> None:
    with record_calls() as calls, pytest.raises(PolicyError, match=r"dr_regions\.0\.region"):
        parse_policy(account.policy_text.replace("us-west-2", "us-wst-two"))

    assert calls.calls == []


@pytest.mark.parametrize(
    ("event_kwargs", "reason"),
    [
        ({"state": "failed"}, "state is failed"),
        ({"account": "999999999999"}, "not this account"),
        ({"region": "ap-south-1"}, "neither the home region nor a DR region"),
    ],
)
def test_events_outside_scope_are_skipped_without_reading(
    account: Account, event_kwargs: dict[str, str], reason: str
) -> None:
    source_id = account.build_ami()

    with record_calls() as calls:
        result = protect(account, ami_event(source_id, **event_kwargs))

    assert result["status"] == "skipped" and reason in result["reason"]
    assert calls.calls == []


def test_unknown_image_is_skipped(account: Account) -> None:
    result = protect(account, ami_event("ami-0123456789abcdef0"))

    assert result["status"] == "skipped" and "not found" in result["reason"]


def test_image_of_another_account_is_skipped(account: Account) -> None:
    # moto does not model cross-account sharing: make a visible image foreign by changing its owner.
    from moto.ec2.models import ec2_backends

    image_id = account.build_ami()
    ec2_backends[DEFAULT_ACCOUNT_ID][HOME].amis[image_id].owner_id = "999999999999"

    result = protect(account, ami_event(image_id))

    assert result["status"] == "skipped" and "owned by 999999999999" in result["reason"]
    assert account.images(WEST) == []


def test_image_that_is_no_longer_available_is_skipped(account: Account) -> None:
    image_id = account.build_ami()
    account.ec2(HOME).disable_image(ImageId=image_id)

    result = protect(account, ami_event(image_id))

    assert result["status"] == "skipped" and "disabled" in result["reason"]
    assert account.images(WEST) == []


def test_aws_backup_image_is_skipped(account: Account) -> None:
    image_id = account.build_ami(name="web-1.0.0")
    # AWS Backup tags its AMIs itself; EC2 refuses `aws:` keys from anyone else, so the tag is set as a service would.
    ec2_backends[DEFAULT_ACCOUNT_ID][HOME].create_tags([image_id], {"aws:backup:source-resource": "i-0123"})

    result = protect(account, ami_event(image_id))

    assert result["status"] == "skipped" and "AWS Backup" in result["reason"]


def test_image_in_a_dr_region_that_is_not_a_copy_is_never_copied(account: Account) -> None:
    image_id = register_ami(account.ec2(WEST), "web-9.9.9", {"ami-lifecycle:managed": "true"})

    result = protect(account, ami_event(image_id, region=WEST))

    assert result["status"] == "skipped" and "never a source" in result["reason"]
    assert account.images(HOME) == [] and account.images(EU) == []


def test_a_copy_is_never_copied_again(account: Account) -> None:
    source_id = account.build_ami()
    protect(account, ami_event(source_id))
    (copy,) = account.copies_of(source_id, WEST)
    # Even a copy brought back into the home region carries its lineage.
    back = account.ec2(HOME).copy_image(
        SourceImageId=copy["ImageId"], SourceRegion=WEST, Name="back", CopyImageTags=True
    )["ImageId"]
    fidelity.complete_pending_copies(HOME)

    result = protect(account, ami_event(back))

    assert result["status"] == "skipped" and "copies are never copied" in result["reason"]
    assert len(account.images(WEST)) == 1 and len(account.images(EU)) == 1


@pytest.mark.parametrize("code", ["UnauthorizedOperation", "RequestLimitExceeded"])
def test_copy_failing_in_one_region_leaves_the_others_done(account: Account, code: str) -> None:
    source_id = account.build_ami()
    account.faults.fail("CopyImage", code, region=WEST)

    with pytest.raises(ProtectionIncomplete, match=f"us-west-2: {code}") as error:
        protect(account, ami_event(source_id))

    regions = {r.region: r for r in error.value.outcome.regions}
    assert regions[WEST].failed and regions[WEST].transient == (code == "RequestLimitExceeded")
    assert regions[EU].status == "copy-started" and regions[HOME].status == "updated"
    assert account.images(WEST) == [] and len(account.images(EU)) == 1


def test_redelivery_after_a_failure_finishes_only_what_is_missing(account: Account) -> None:
    source_id = account.build_ami()
    account.faults.fail("CopyImage", "UnauthorizedOperation", region=WEST, times=1)
    with pytest.raises(ProtectionIncomplete):
        protect(account, ami_event(source_id))

    result = protect(account, ami_event(source_id))

    statuses = {r["region"]: r["status"] for r in result["regions"]}
    assert statuses == {HOME: "up-to-date", WEST: "copy-started", EU: "copy-pending"}
    assert len(account.images(WEST)) == 1 and len(account.images(EU)) == 1


def test_throttling_that_passes_is_retried_transparently(account: Account) -> None:
    source_id = account.build_ami()
    account.faults.fail("CopyImage", "RequestLimitExceeded", region=WEST, times=2)

    result = protect(account, ami_event(source_id))

    assert {r["region"]: r["status"] for r in result["regions"]}[WEST] == "copy-started"
    assert account.faults.injected == 2 and len(account.images(WEST)) == 1


def test_a_region_that_does_not_answer_fails_alone(account: Account) -> None:
    source_id = account.build_ami()
    account.faults.unreachable(EU)

    with pytest.raises(ProtectionIncomplete, match="eu-west-1: EndpointConnectionError") as error:
        protect(account, ami_event(source_id))

    regions = {r.region: r for r in error.value.outcome.regions}
    assert regions[EU].transient and regions[WEST].status == "copy-started"
    assert len(account.images(WEST)) == 1
