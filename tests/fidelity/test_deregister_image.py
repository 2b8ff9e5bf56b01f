"""DeregisterImage DeleteAssociatedSnapshots: the AMI's snapshots go with it, unless another AMI uses them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from ami_lifecycle.local.fidelity import complete_pending_copies, fail_snapshot_deletion

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def results(response: dict[str, Any]) -> dict[str, str]:
    return {r["SnapshotId"]: r["ReturnCode"] for r in response["DeleteSnapshotResults"]}


def register(aws: LocalAws, name: str, snapshot_ids: list[str]) -> str:
    """An AMI whose devices xvda, xvdb, ... map the given snapshots in order."""
    devices = [f"/dev/xvd{chr(ord('a') + i)}" for i in range(len(snapshot_ids))]
    mappings = [{"DeviceName": d, "Ebs": {"SnapshotId": s}} for d, s in zip(devices, snapshot_ids, strict=True)]
    response = aws.ec2(HOME).register_image(Name=name, RootDeviceName="/dev/xvda", BlockDeviceMappings=mappings)
    return str(response["ImageId"])


def test_deregister_with_delete_associated_snapshots_deletes_them(aws: LocalAws) -> None:
    """EC2: DeleteAssociatedSnapshots deletes the AMI's snapshots; each one is reported with ReturnCode success."""
    # Given an AMI registered from two snapshots
    source = aws.source_image(sizes=(8, 20))
    # When it is deregistered with DeleteAssociatedSnapshots
    response = aws.ec2(HOME).deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    # Then the call returns true, reports both snapshots in mapping order as success, and they are gone
    assert response["Return"] is True
    assert response["DeleteSnapshotResults"] == [
        {"SnapshotId": source.snapshot_ids[0], "ReturnCode": "success"},
        {"SnapshotId": source.snapshot_ids[1], "ReturnCode": "success"},
    ]
    assert aws.snapshots(HOME) == {}
    assert aws.ec2(HOME).describe_images(Owners=["self"])["Images"] == []


def test_deregister_without_the_flag_keeps_the_snapshots(aws: LocalAws) -> None:
    """EC2: DeleteAssociatedSnapshots defaults to false: the snapshots are not deleted and no results are returned."""
    # Given an AMI registered from two snapshots
    source = aws.source_image(sizes=(8, 20))
    # When it is deregistered without DeleteAssociatedSnapshots
    response = aws.ec2(HOME).deregister_image(ImageId=source.image_id)
    # Then the snapshots remain and the response has no DeleteSnapshotResults
    assert response["Return"] is True
    assert "DeleteSnapshotResults" not in response
    assert sorted(aws.snapshots(HOME)) == sorted(source.snapshot_ids)


def test_snapshot_used_by_another_image_is_skipped_and_kept(aws: LocalAws) -> None:
    """EC2: a snapshot associated with multiple AMIs is not deleted (skipped), but the AMI is still deregistered."""
    # Given two AMIs sharing one snapshot, the first also with a snapshot of its own
    own, shared = aws.snapshot(HOME, 8), aws.snapshot(HOME, 20)
    first = register(aws, "first", [own, shared])
    second = register(aws, "second", [shared])
    # When the first is deregistered with DeleteAssociatedSnapshots
    response = aws.ec2(HOME).deregister_image(ImageId=first, DeleteAssociatedSnapshots=True)
    # Then its own snapshot is deleted, the shared one is skipped and kept, and only the second AMI remains
    assert results(response) == {own: "success", shared: "skipped"}
    assert list(aws.snapshots(HOME)) == [shared]
    assert [i["ImageId"] for i in aws.ec2(HOME).describe_images(Owners=["self"])["Images"]] == [second]
    # and deregistering the second with the flag deletes it
    again = aws.ec2(HOME).deregister_image(ImageId=second, DeleteAssociatedSnapshots=True)
    assert results(again) == {shared: "success"}
    assert aws.snapshots(HOME) == {}


def test_snapshot_of_a_disabled_image_is_skipped(aws: LocalAws) -> None:
    """EC2: a disabled AMI is still registered; a snapshot it shares is associated with it and not deleted."""
    # Given two AMIs sharing a snapshot, the second one disabled
    shared = aws.snapshot(HOME, 8)
    first = register(aws, "first", [shared])
    second = register(aws, "second", [shared])
    aws.ec2(HOME).disable_image(ImageId=second)
    # When the first is deregistered with DeleteAssociatedSnapshots
    response = aws.ec2(HOME).deregister_image(ImageId=first, DeleteAssociatedSnapshots=True)
    # Then the shared snapshot is skipped and kept
    assert results(response) == {shared: "skipped"}
    assert list(aws.snapshots(HOME)) == [shared]


@pytest.mark.parametrize("code", ["skipped", "missing-permissions", "internal-error", "client-error"])
def test_snapshot_that_fails_to_delete_is_reported_with_its_code_and_kept(aws: LocalAws, code: str) -> None:
    """EC2: DeleteSnapshotResults ReturnCode is success | skipped | missing-permissions | internal-error | client-error.

    A snapshot reported with any code but success is not deleted; the AMI is deregistered anyway.
    """
    # Given an AMI with two snapshots, the second of which will fail to delete once
    source = aws.source_image(sizes=(8, 20))
    failing = source.snapshot_ids[1]
    fail_snapshot_deletion(failing, code=code)
    # When the AMI is deregistered with DeleteAssociatedSnapshots
    response = aws.ec2(HOME).deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    # Then the failing snapshot is reported with that code and kept, the other one is deleted
    assert results(response) == {source.snapshot_ids[0]: "success", failing: code}
    assert list(aws.snapshots(HOME)) == [failing]
    assert aws.ec2(HOME).describe_images(Owners=["self"])["Images"] == []
    # and the failure was one-shot: the orphaned snapshot can now be deleted
    aws.ec2(HOME).delete_snapshot(SnapshotId=failing)
    assert aws.snapshots(HOME) == {}


def test_copy_deregistered_with_its_snapshots_leaves_the_source_intact(aws: LocalAws) -> None:
    """EC2: DeleteAssociatedSnapshots deletes the snapshots of the AMI deregistered, in its own Region only."""
    # Given an AMI and its completed copy in the DR region
    source = aws.source_image(sizes=(8,))
    copy_id = aws.ec2(DR).copy_image(SourceImageId=source.image_id, SourceRegion=HOME, Name="web-1.0.0")["ImageId"]
    complete_pending_copies()
    copy_snapshot = aws.image(DR, copy_id)["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    # When the copy is deregistered with DeleteAssociatedSnapshots
    response = aws.ec2(DR).deregister_image(ImageId=copy_id, DeleteAssociatedSnapshots=True)
    # Then the copy's snapshot is deleted and the source keeps its own
    assert results(response) == {copy_snapshot: "success"}
    assert aws.snapshots(DR) == {}
    assert list(aws.snapshots(HOME)) == source.snapshot_ids


def test_dry_run_deregisters_and_deletes_nothing(aws: LocalAws) -> None:
    """EC2 DeregisterImage DryRun: the error response is DryRunOperation and the request is not made."""
    # Given an AMI
    source = aws.source_image(sizes=(8,))
    # When it is deregistered with DeleteAssociatedSnapshots as a dry run
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True, DryRun=True)
    # Then EC2 answers DryRunOperation, and the AMI and its snapshot are still there
    assert excinfo.value.response["Error"]["Code"] == "DryRunOperation"
    assert aws.image(HOME, source.image_id)["State"] == "available"
    assert list(aws.snapshots(HOME)) == source.snapshot_ids


@pytest.mark.parametrize(
    ("image_id", "code"),
    [("ami-0123456789abcdef0", "InvalidAMIID.NotFound"), ("snap-0123456789abcdef0", "InvalidAMIID.Malformed")],
)
def test_deregistering_an_unknown_image_deletes_nothing(aws: LocalAws, image_id: str, code: str) -> None:
    """EC2 image actions: an id that names no AMI in the Region is InvalidAMIID.NotFound (or .Malformed)."""
    # Given a region with one AMI
    source = aws.source_image(sizes=(8,))
    # When an unknown AMI is deregistered with DeleteAssociatedSnapshots
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).deregister_image(ImageId=image_id, DeleteAssociatedSnapshots=True)
    # Then the request fails and nothing is deleted
    assert excinfo.value.response["Error"]["Code"] == code
    assert list(aws.snapshots(HOME)) == source.snapshot_ids


def test_fail_snapshot_deletion_refuses_unknown_snapshots_and_codes(aws: LocalAws) -> None:
    """Test helper contract: only an existing snapshot, and only EC2's non-success return codes."""
    # Given a snapshot
    snapshot_id = aws.snapshot(HOME, 8)
    # When a failure is injected for an unknown snapshot, or with the code success or an unknown code
    # Then the helper refuses each
    with pytest.raises(ValueError, match="snap-0123456789abcdef0"):
        fail_snapshot_deletion("snap-0123456789abcdef0")
    for code in ("success", "throttled"):
        with pytest.raises(ValueError, match=code):
            fail_snapshot_deletion(snapshot_id, code=code)
    with pytest.raises(ValueError, match=DR):
        fail_snapshot_deletion(snapshot_id, region=DR)
