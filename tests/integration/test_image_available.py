"""The "image available" flow on moto across three regions: copies, tags, lineage, sharing, idempotency."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID, LocalLambdaContext
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, propagated, tags_of
from functions.image_available import image_available_handler

from .conftest import CONSUMER, EU, HOME, ORG_ARN, OU_ARN, WEST, Account, ami_event


@pytest.fixture
def invoke(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(account.policy_text)
    monkeypatch.setenv("POLICY_FILE", str(policy_file))

    def call(event: dict[str, Any]) -> dict[str, Any]:
        return image_available_handler.lambda_handler(event, LocalLambdaContext("image-available", HOME))

    return call


def snapshots_of(account: Account, image: dict[str, Any], region: str) -> list[dict[str, Any]]:
    ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]
    return account.ec2(region).describe_snapshots(SnapshotIds=ids)["Snapshots"]


def launch_permissions(account: Account, image_id: str, region: str) -> list[dict[str, str]]:
    attr = account.ec2(region).describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return sorted(attr["LaunchPermissions"], key=lambda p: sorted(p.items()))


def volume_permissions(account: Account, snapshot_id: str, region: str) -> list[dict[str, str]]:
    attr = account.ec2(region).describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    return attr["CreateVolumePermissions"]


EXPECTED_LAUNCH = sorted(
    [{"UserId": CONSUMER}, {"OrganizationArn": ORG_ARN}, {"OrganizationalUnitArn": OU_ARN}],
    key=lambda p: sorted(p.items()),
)


def test_new_ami_is_copied_tagged_and_shared_everywhere(account: Account, invoke: Any) -> None:
    source_id = account.build_ami("web-1.4.0")

    result = invoke(ami_event(source_id))

    # Source: lineage tags, snapshots carry the AMI's tags, shared with every target.
    assert result["status"] == "protected" and (result["family"], result["version"]) == ("web", "1.4.0")
    source = account.ec2(HOME).describe_images(ImageIds=[source_id])["Images"][0]
    assert tags_of(source)[FAMILY_TAG] == "web" and tags_of(source)[VERSION_TAG] == "1.4.0"
    for snap in snapshots_of(account, source, HOME):
        assert tags_of(snap) | propagated(tags_of(source)) == tags_of(snap), "snapshot lacks an AMI tag"
        assert volume_permissions(account, snap["SnapshotId"], HOME) == [{"UserId": CONSUMER}]
    assert launch_permissions(account, source_id, HOME) == EXPECTED_LAUNCH

    # Copies: one per DR region, pending, with tags and lineage from creation.
    for region in (WEST, EU):
        (copy,) = account.copies_of(source_id, region)
        tags = tags_of(copy)
        assert copy["State"] == "pending" and copy["Name"] == "web-1.4.0"
        assert copy["SourceImageRegion"] == HOME
        assert tags[SOURCE_IMAGE_TAG] == source_id and tags[SOURCE_REGION_TAG] == HOME
        assert (tags[FAMILY_TAG], tags[VERSION_TAG], tags["Team"]) == ("web", "1.4.0", "platform")
        assert "BuildId" not in tags  # excluded by tags.to_copies
        snaps = snapshots_of(account, copy, region)
        assert len(snaps) == 2 and all(tags_of(s)[SOURCE_IMAGE_TAG] == source_id for s in snaps)
        # Permissions wait for the copy to be available.
        assert launch_permissions(account, copy["ImageId"], region) == []

    # KMS key per region: us-west-2 re-encrypts with its key, eu-west-1 has none configured.
    (west_copy,) = account.copies_of(source_id, WEST)
    assert {s["KmsKeyId"] for s in snapshots_of(account, west_copy, WEST)} == {account.kms_key_arn}
    (eu_copy,) = account.copies_of(source_id, EU)
    assert not any(s["Encrypted"] for s in snapshots_of(account, eu_copy, EU))


def test_available_copy_is_finished_when_its_event_arrives(account: Account, invoke: Any) -> None:
    source_id = account.build_ami("web-1.4.0")
    invoke(ami_event(source_id))

    completed = fidelity.complete_pending_copies()
    results = [invoke(ami_event(image_id, region)) for region, image_id in completed]

    assert sorted(r for r, _ in completed) == [EU, WEST]
    assert {r["status"] for r in results} == {"finished"}
    for region in (WEST, EU):
        (copy,) = account.copies_of(source_id, region)
        assert copy["State"] == "available"
        assert launch_permissions(account, copy["ImageId"], region) == EXPECTED_LAUNCH
        for snap in snapshots_of(account, copy, region):
            assert volume_permissions(account, snap["SnapshotId"], region) == [{"UserId": CONSUMER}]
            assert tags_of(snap)["Team"] == "platform" and tags_of(snap)[SOURCE_IMAGE_TAG] == source_id


def test_a_repeated_source_event_finishes_available_copies(account: Account, invoke: Any) -> None:
    source_id = account.build_ami("web-1.4.0")
    invoke(ami_event(source_id))
    fidelity.complete_pending_copies()

    result = invoke(ami_event(source_id))

    statuses = {r["region"]: r["status"] for r in result["regions"]}
    assert statuses == {HOME: "up-to-date", WEST: "updated", EU: "updated"}
    for region in (WEST, EU):
        (copy,) = account.copies_of(source_id, region)
        assert launch_permissions(account, copy["ImageId"], region) == EXPECTED_LAUNCH


def test_same_event_three_times_makes_one_copy_per_region(account: Account, invoke: Any) -> None:
    source_id = account.build_ami()

    results = [invoke(ami_event(source_id)) for _ in range(3)]

    assert [r["regions"][1]["status"] for r in results] == ["copy-started", "copy-pending", "copy-pending"]
    assert len(account.copies_of(source_id, WEST)) == 1 and len(account.copies_of(source_id, EU)) == 1
    assert len(account.images(WEST)) == 1 and len(account.images(EU)) == 1


def test_four_parallel_deliveries_make_one_copy_per_region(account: Account) -> None:
    source_id = account.build_ami()
    event = parse_ami_state_change(ami_event(source_id))
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            handle_image_available(event, account.policy, account.clients(), DEFAULT_ACCOUNT_ID)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(account.images(WEST)) == 1 and len(account.images(EU)) == 1


def test_unmanaged_image_is_left_alone(account: Account, invoke: Any) -> None:
    from ami_lifecycle.local.seed import register_ami

    image_id = register_ami(account.ec2(HOME), "hand-made", {"Team": "data"})

    result = invoke(ami_event(image_id))

    assert result["status"] == "skipped" and "not selected" in result["reason"]
    assert account.images(WEST) == [] and account.images(EU) == []
    assert launch_permissions(account, image_id, HOME) == []


def test_local_invoke_runs_the_handler_on_an_event_file(
    account: Account, invoke: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from ami_lifecycle.local.invoke import main

    source_id = account.build_ami("api-2.0.0")
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(ami_event(source_id)))

    exit_code = main(["functions.image_available.image_available_handler", str(event_file)])

    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert exit_code == 0 and printed["status"] == "protected" and printed["family"] == "api"
    assert len(account.copies_of(source_id, WEST)) == 1


def test_handler_refuses_an_invalid_policy_before_any_aws_call(
    account: Account, invoke: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ami_lifecycle.local.calls import record_calls
    from ami_lifecycle.policy import PolicyError

    bad = tmp_path / "bad.yaml"
    bad.write_text(account.policy_text.replace("snapshot_permissions: true", "snapshot_permissions: maybe"))
    monkeypatch.setenv("POLICY_FILE", str(bad))
    source_id = account.build_ami()

    with record_calls() as calls, pytest.raises(PolicyError, match=r"defaults\.sharing\.snapshot_permissions"):
        invoke(ami_event(source_id))

    assert calls.calls == [] and account.images(WEST) == []


def test_handler_refuses_a_malformed_event_before_any_aws_call(account: Account, invoke: Any) -> None:
    from ami_lifecycle.local.calls import record_calls
    from ami_lifecycle.model.events import InvalidEventError

    event = ami_event("ami-0123456789abcdef0")
    del event["detail"]["ImageId"]

    with record_calls() as calls, pytest.raises(InvalidEventError, match=r"detail\.ImageId"):
        invoke(event)

    assert calls.calls == []


def emitted_metrics(output: str) -> set[str]:
    """Names of the CloudWatch EMF metrics the handler printed."""
    import json

    names: set[str] = set()
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names |= {m["Name"] for m in directive["Metrics"]}
    return names


def test_metrics_say_what_happened(account: Account, invoke: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from ami_lifecycle.local.seed import register_ami

    invoke(ami_event(account.build_ami()))
    protected = emitted_metrics(capsys.readouterr().out)
    invoke(ami_event(register_ami(account.ec2(HOME), "hand-made", {})))
    skipped = emitted_metrics(capsys.readouterr().out)

    assert protected == {"ImagesProtected", "CopiesStarted", "ParametersMoved"}
    assert skipped == {"ImagesSkipped"}
