"""Recycle Bin: deregistered AMIs and deleted snapshots that a retention rule retains, and restoring them.

AWS documentation followed: the User Guide "Recover deleted Amazon EBS snapshots and EBS-backed AMIs with Recycle
Bin" (tag-level rules retain resources tagged with at least one of their tag pairs, Region-level rules every
resource of their type; a restored resource is immediately available), "Considerations for Recycle Bin" (the
longest retention period wins; the system tag aws:recycle-bin:resource-in-bin=true while in the bin; a shared AMI
or snapshot is unshared in the bin and its sharing restored with it; EBS-backed AMIs only; an AMI is restored only
after all its snapshots are restored and available; snapshots deleted from the bin make the AMI unrecoverable),
"Recover AMIs from the Recycle Bin" (the name, description, id, enter and exit times listed), and the EC2 API
Reference for ListImagesInRecycleBin (ImageId.N: up to 20; MaxResults 1 to 1,000), ListSnapshotsInRecycleBin
(MaxResults 5 to 1,000), RestoreImageFromRecycleBin and RestoreSnapshotFromRecycleBin.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto import settings

from ami_lifecycle.local.fidelity import add_recycle_bin_rule, expire_recycle_bin

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws

IN_BIN = {"Key": "aws:recycle-bin:resource-in-bin", "Value": "true"}
CONSUMER = "210987654321"


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def images_in_bin(aws: LocalAws, **params: Any) -> dict[str, dict[str, Any]]:
    return {i["ImageId"]: i for i in aws.ec2(HOME).list_images_in_recycle_bin(**params)["Images"]}


def snapshots_in_bin(aws: LocalAws, **params: Any) -> dict[str, dict[str, Any]]:
    return {s["SnapshotId"]: s for s in aws.ec2(HOME).list_snapshots_in_recycle_bin(**params)["Snapshots"]}


def own_images(aws: LocalAws) -> list[str]:
    return [i["ImageId"] for i in aws.ec2(HOME).describe_images(Owners=["self"])["Images"]]


def resource_tags(aws: LocalAws, resource_id: str) -> list[dict[str, str]]:
    found = aws.ec2(HOME).describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return sorted(({"Key": t["Key"], "Value": t["Value"]} for t in found), key=lambda t: t["Key"])


def test_without_a_rule_deregistration_is_final(aws: LocalAws) -> None:
    """Recycle Bin: only resources that match a retention rule are retained; others are deleted for good."""
    # Given an AMI, and a snapshot rule only
    add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 7)
    source = aws.source_image(sizes=(8,))
    # When the AMI is deregistered
    aws.ec2(HOME).deregister_image(ImageId=source.image_id)
    # Then it is not in the bin and cannot be restored
    assert images_in_bin(aws) == {}
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).restore_image_from_recycle_bin(ImageId=source.image_id)
    assert error_code(excinfo) == "InvalidAMIID.NotFound"


def test_region_level_rule_retains_every_deregistered_image(aws: LocalAws) -> None:
    """Recycle Bin Region-level rule: every AMI deregistered is retained for the retention period."""
    # Given a Region-level rule of 7 days for AMIs, and an AMI with a description
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 7)
    ec2 = aws.ec2(HOME)
    snapshot = aws.snapshot(HOME, 8)
    image_id = ec2.register_image(
        Name="web-1.0.0",
        Description="web server",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot}}],
    )["ImageId"]
    # When it is deregistered
    ec2.deregister_image(ImageId=image_id)
    # Then DescribeImages no longer lists it, the bin does for 7 days, and it carries the system tag
    assert own_images(aws) == []
    listed = images_in_bin(aws)[image_id]
    assert (listed["Name"], listed["Description"]) == ("web-1.0.0", "web server")
    assert listed["RecycleBinExitTime"] - listed["RecycleBinEnterTime"] == timedelta(days=7)
    assert IN_BIN in resource_tags(aws, image_id)
    # and in another region there is no rule: deregistering there is final
    other = aws.source_image(region=DR, sizes=(8,))
    aws.ec2(DR).deregister_image(ImageId=other.image_id)
    assert aws.ec2(DR).list_images_in_recycle_bin()["Images"] == []


def test_tag_level_rule_retains_images_with_at_least_one_of_its_tags(aws: LocalAws) -> None:
    """Recycle Bin tag-level rule: resources tagged with at least one of the rule's tag pairs are retained."""
    # Given a rule on two tag pairs, and AMIs tagged with one pair, with another value, and untagged
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 14, {"Retain": "yes", "Team": "core"})
    matching = aws.source_image(sizes=(8,), tags={"Team": "core"}).image_id
    other_value = aws.source_image(sizes=(8,), tags={"Retain": "no"}).image_id
    untagged = aws.source_image(sizes=(8,)).image_id
    # When all three are deregistered
    for image_id in (matching, other_value, untagged):
        aws.ec2(HOME).deregister_image(ImageId=image_id)
    # Then only the AMI tagged with one of the rule's pairs is in the bin
    assert list(images_in_bin(aws)) == [matching]


def test_longest_matching_retention_wins(aws: LocalAws) -> None:
    """Recycle Bin: if a resource matches more than one retention rule, the longest retention period wins."""
    # Given a Region-level rule of 3 days and a tag-level rule of 10 days, and an AMI matching both
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 3)
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 10, {"Retain": "yes"})
    image_id = aws.source_image(sizes=(8,), tags={"Retain": "yes"}).image_id
    # When it is deregistered
    aws.ec2(HOME).deregister_image(ImageId=image_id)
    # Then it stays in the bin for 10 days
    listed = images_in_bin(aws)[image_id]
    assert listed["RecycleBinExitTime"] - listed["RecycleBinEnterTime"] == timedelta(days=10)


def test_deleted_snapshot_is_retained_and_restored_with_its_tags_and_sharing(aws: LocalAws) -> None:
    """Recycle Bin for snapshots: unshared in the bin, sharing and tags back on restore, available at once."""
    # Given a snapshot rule, and a tagged snapshot shared with another account
    add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 7)
    ec2 = aws.ec2(HOME)
    snapshot_id = aws.snapshot(HOME, 8)
    ec2.create_tags(Resources=[snapshot_id], Tags=[{"Key": "Team", "Value": "platform"}])
    ec2.modify_snapshot_attribute(
        SnapshotId=snapshot_id, Attribute="createVolumePermission", OperationType="add", UserIds=[CONSUMER]
    )
    volume_id = aws.snapshots(HOME)[snapshot_id]["VolumeId"]
    # When it is deleted
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    # Then it is listed in the bin, not by DescribeSnapshots
    assert aws.snapshots(HOME) == {}
    listed = snapshots_in_bin(aws)[snapshot_id]
    assert listed["VolumeId"] == volume_id
    assert listed["RecycleBinExitTime"] - listed["RecycleBinEnterTime"] == timedelta(days=7)
    # and once restored it is completed, tagged and shared as before, and gone from the bin
    restored = ec2.restore_snapshot_from_recycle_bin(SnapshotId=snapshot_id)
    assert (restored["SnapshotId"], restored["State"], restored["VolumeSize"]) == (snapshot_id, "completed", 8)
    assert aws.tags(aws.snapshots(HOME)[snapshot_id]) == {"Team": "platform"}
    permissions = ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    assert permissions["CreateVolumePermissions"] == [{"UserId": CONSUMER}]
    assert snapshots_in_bin(aws) == {}


def test_snapshot_of_a_registered_image_is_not_deleted_into_the_bin(aws: LocalAws) -> None:
    """EC2 DeleteSnapshot: a snapshot used by a registered AMI can't be deleted (InvalidSnapshot.InUse)."""
    # Given a snapshot rule and an AMI
    add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 7)
    source = aws.source_image(sizes=(8,))
    # When its snapshot is deleted
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).delete_snapshot(SnapshotId=source.snapshot_ids[0])
    # Then the deletion is refused and nothing enters the bin
    assert error_code(excinfo) == "InvalidSnapshot.InUse"
    assert snapshots_in_bin(aws) == {}


def test_restored_image_with_its_snapshots_is_launchable_as_before(
    aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recycle Bin for AMIs: restore every snapshot first; the AMI is then available at once, with its tags,
    mappings and launch permissions (restored with it). Its deprecation time, which the guide does not mention,
    is kept as it was."""
    # Given rules for AMIs and snapshots, and a tagged AMI of two snapshots, shared and deprecated next year
    monkeypatch.setattr(settings, "ENABLE_AMI_VALIDATION", True)
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 7)
    add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 7)
    ec2 = aws.ec2(HOME)
    source = aws.source_image(sizes=(8, 20), tags={"Team": "platform"})
    ec2.modify_image_attribute(ImageId=source.image_id, LaunchPermission={"Add": [{"UserId": CONSUMER}]})
    ec2.enable_image_deprecation(ImageId=source.image_id, DeprecateAt=datetime.now(UTC) + timedelta(days=365))
    before = aws.image(HOME, source.image_id)
    # When it is deregistered with its snapshots
    results = ec2.deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)["DeleteSnapshotResults"]
    # Then the AMI and both snapshots are in the bin, and the AMI can't be restored before its snapshots
    assert [r["ReturnCode"] for r in results] == ["success", "success"]
    assert list(images_in_bin(aws)) == [source.image_id]
    assert sorted(snapshots_in_bin(aws)) == sorted(source.snapshot_ids)
    with pytest.raises(ClientError) as excinfo:
        ec2.restore_image_from_recycle_bin(ImageId=source.image_id)
    assert error_code(excinfo) == "IncorrectState"
    ec2.restore_snapshot_from_recycle_bin(SnapshotId=source.snapshot_ids[0])
    with pytest.raises(ClientError):
        ec2.restore_image_from_recycle_bin(ImageId=source.image_id)
    # and once both snapshots are restored, the AMI is restored as it was and launches
    ec2.restore_snapshot_from_recycle_bin(SnapshotId=source.snapshot_ids[1])
    assert ec2.restore_image_from_recycle_bin(ImageId=source.image_id)["Return"] is True
    after = aws.image(HOME, source.image_id)
    assert after == before
    assert after["Tags"] == [{"Key": "Team", "Value": "platform"}]
    launch = ec2.describe_image_attribute(ImageId=source.image_id, Attribute="launchPermission")
    assert launch["LaunchPermissions"] == [{"UserId": CONSUMER}]
    assert IN_BIN not in resource_tags(aws, source.image_id)
    reservation = ec2.run_instances(ImageId=source.image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    assert reservation["Instances"][0]["ImageId"] == source.image_id
    assert images_in_bin(aws) == {} and snapshots_in_bin(aws) == {}


def test_image_retained_without_its_snapshots_cannot_be_restored(aws: LocalAws) -> None:
    """Recycle Bin for AMIs: if the AMI's snapshots are deleted for good, the AMI is no longer recoverable."""
    # Given a rule for AMIs only
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 7)
    source = aws.source_image(sizes=(8,))
    # When the AMI is deregistered with DeleteAssociatedSnapshots
    aws.ec2(HOME).deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    # Then the AMI is in the bin, its snapshot gone for good, and restoring the AMI fails
    assert list(images_in_bin(aws)) == [source.image_id]
    assert snapshots_in_bin(aws) == {} and aws.snapshots(HOME) == {}
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).restore_image_from_recycle_bin(ImageId=source.image_id)
    assert error_code(excinfo) == "IncorrectState"


def test_snapshot_rule_alone_retains_the_snapshots_of_a_deregistered_image(aws: LocalAws) -> None:
    """DeregisterImage DeleteAssociatedSnapshots honours snapshot retention rules; the AMI itself is gone."""
    # Given a rule for snapshots only, and an AMI of two snapshots
    add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 7)
    source = aws.source_image(sizes=(8, 20))
    # When it is deregistered with DeleteAssociatedSnapshots
    aws.ec2(HOME).deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    # Then both snapshots are in the bin and can be restored; the AMI is not
    assert sorted(snapshots_in_bin(aws)) == sorted(source.snapshot_ids)
    assert images_in_bin(aws) == {}
    for snapshot_id in source.snapshot_ids:
        aws.ec2(HOME).restore_snapshot_from_recycle_bin(SnapshotId=snapshot_id)
    assert sorted(aws.snapshots(HOME)) == sorted(source.snapshot_ids)


def test_the_bin_pages_and_selects_by_id(aws: LocalAws) -> None:
    """EC2 ListImagesInRecycleBin (ImageIds up to 20, MaxResults 1 to 1,000) and ListSnapshotsInRecycleBin
    (MaxResults 5 to 1,000): NextToken pages."""
    # Given 7 AMIs and their 7 snapshots in the bin
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 7)
    add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 7)
    sources = [aws.source_image(sizes=(1,)) for _ in range(7)]
    for source in sources:
        aws.ec2(HOME).deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    ec2 = aws.ec2(HOME)
    # When the AMIs are walked 3 per page, the snapshots 5 per page, and two AMIs asked by id
    image_pages = list(ec2.get_paginator("list_images_in_recycle_bin").paginate(PaginationConfig={"PageSize": 3}))
    snapshot_pages = list(ec2.get_paginator("list_snapshots_in_recycle_bin").paginate(PaginationConfig={"PageSize": 5}))
    asked = images_in_bin(aws, ImageIds=[sources[0].image_id, sources[3].image_id, "ami-0123456789abcdef0"])
    # Then every AMI and snapshot comes back once, and the ids asked select theirs
    assert [len(p["Images"]) for p in image_pages] == [3, 3, 1]
    assert sorted(i["ImageId"] for p in image_pages for i in p["Images"]) == sorted(s.image_id for s in sources)
    assert [len(p["Snapshots"]) for p in snapshot_pages] == [5, 2]
    assert sorted(asked) == sorted([sources[0].image_id, sources[3].image_id])
    with pytest.raises(ClientError) as excinfo:
        ec2.list_images_in_recycle_bin(ImageIds=[f"ami-{i:017x}" for i in range(21)])
    assert error_code(excinfo) == "InvalidParameterValue"


def test_expiry_deletes_for_good_what_reached_its_exit_time(aws: LocalAws) -> None:
    """Recycle Bin: when the retention period expires, the resource is permanently deleted and can't be restored."""
    # Given an AMI retained 10 days whose snapshot is retained 3 days
    add_recycle_bin_rule(HOME, "EC2_IMAGE", 10)
    add_recycle_bin_rule(HOME, "EBS_SNAPSHOT", 3)
    source = aws.source_image(sizes=(8,))
    aws.ec2(HOME).deregister_image(ImageId=source.image_id, DeleteAssociatedSnapshots=True)
    entered = images_in_bin(aws)[source.image_id]["RecycleBinEnterTime"]
    # When 5 days pass
    expired = expire_recycle_bin(region=HOME, now=entered + timedelta(days=5))
    # Then the snapshot is gone for good, the AMI is still listed but can't be restored
    assert expired == source.snapshot_ids
    assert snapshots_in_bin(aws) == {}
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(HOME).restore_snapshot_from_recycle_bin(SnapshotId=source.snapshot_ids[0])
    assert error_code(excinfo) == "InvalidSnapshot.NotFound"
    with pytest.raises(ClientError):
        aws.ec2(HOME).restore_image_from_recycle_bin(ImageId=source.image_id)
    # and without a time, everything left in the bin expires
    assert expire_recycle_bin() == [source.image_id]
    assert images_in_bin(aws) == {}


def test_add_recycle_bin_rule_refuses_what_a_rule_cannot_be(aws: LocalAws) -> None:
    """AWS::Rbin::Rule: ResourceType EBS_SNAPSHOT | EC2_IMAGE, RetentionPeriod 1 to 365 days, 50 tag pairs."""
    # Given nothing in particular
    # When rules are added with an unknown type, a retention out of range, or too many tags
    # Then each is refused
    with pytest.raises(ValueError, match="EC2_IMAGE"):
        add_recycle_bin_rule(HOME, "EBS_VOLUME", 7)
    for days in (0, 366):
        with pytest.raises(ValueError, match="retention"):
            add_recycle_bin_rule(HOME, "EC2_IMAGE", days)
    with pytest.raises(ValueError, match="50"):
        add_recycle_bin_rule(HOME, "EC2_IMAGE", 7, {f"k{i}": "v" for i in range(51)})
