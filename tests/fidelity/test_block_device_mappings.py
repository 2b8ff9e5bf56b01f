"""Block device mappings: DescribeImages reports every kind of AMI's mappings, DeleteSnapshot refuses a mapped one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from ami_lifecycle.local.fidelity import complete_pending_copies

from .conftest import DR, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def test_images_created_from_an_instance_still_describe_with_their_snapshot(aws: LocalAws) -> None:
    """CreateImage: the new AMI's block device mappings point at the snapshots EC2 created for it."""
    # Given an AMI created by moto from an instance, next to one registered from snapshots
    ec2 = aws.ec2(HOME)
    registered = aws.source_image()
    instance = ec2.run_instances(ImageId=registered.image_id, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    created = ec2.create_image(InstanceId=instance, Name="from-instance")["ImageId"]
    # When the account's images are described
    images = {i["ImageId"]: i for i in ec2.describe_images(Owners=["self"])["Images"]}
    # Then both are listed, and the created one maps its root to an existing snapshot
    assert images.keys() == {registered.image_id, created}
    root = images[created]["BlockDeviceMappings"][0]
    assert root["Ebs"]["SnapshotId"] in aws.snapshots(HOME)


def test_images_registered_without_mappings_still_describe(aws: LocalAws) -> None:
    """RegisterImage without block device mappings keeps moto's own behaviour (one generated snapshot)."""
    # Given an image registered without block device mappings
    image_id = aws.ec2(HOME).register_image(Name="bare-image")["ImageId"]
    # When it is described
    image = aws.image(HOME, image_id)
    # Then it is available and maps one existing snapshot
    assert image["State"] == "available"
    assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] in aws.snapshots(HOME)


def test_mapped_snapshot_is_in_use_until_its_image_is_deregistered(aws: LocalAws) -> None:
    """EC2: a snapshot used by a registered AMI cannot be deleted (InvalidSnapshot.InUse) until deregistered."""
    # Given an AMI registered from a snapshot
    source = aws.source_image(sizes=(8,))
    ec2 = aws.ec2(HOME)
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_snapshot(SnapshotId=source.snapshot_ids[0])
    assert excinfo.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"
    # When the AMI is deregistered
    ec2.deregister_image(ImageId=source.image_id)
    # Then it is gone and its snapshot can be deleted
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    ec2.delete_snapshot(SnapshotId=source.snapshot_ids[0])
    assert aws.snapshots(HOME) == {}


def test_snapshot_shared_by_two_images_stays_in_use_while_either_is_registered(aws: LocalAws) -> None:
    """EC2: InvalidSnapshot.InUse whenever any registered AMI still maps the snapshot."""
    # Given two AMIs registered from the same snapshot
    snapshot_id = aws.snapshot(HOME, 8)
    ec2 = aws.ec2(HOME)
    mapping = [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}]
    first = ec2.register_image(Name="first", RootDeviceName="/dev/xvda", BlockDeviceMappings=mapping)["ImageId"]
    ec2.register_image(Name="second", RootDeviceName="/dev/xvda", BlockDeviceMappings=mapping)
    # When one of them is deregistered
    ec2.deregister_image(ImageId=first)
    # Then the snapshot is still in use by the other
    with pytest.raises(ClientError) as excinfo:
        ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert excinfo.value.response["Error"]["Code"] == "InvalidSnapshot.InUse"


def test_copied_image_deregisters_and_frees_its_snapshots(aws: LocalAws) -> None:
    """EC2: after DeregisterImage the copy's snapshots remain and can be deleted."""
    # Given a completed copy in the DR region
    source = aws.source_image()
    dr = aws.ec2(DR)
    copy_id = dr.copy_image(SourceImageId=source.image_id, SourceRegion=HOME, Name="web-1.0.0")["ImageId"]
    complete_pending_copies()
    snapshot_ids = [m["Ebs"]["SnapshotId"] for m in aws.image(DR, copy_id)["BlockDeviceMappings"]]
    # When it is deregistered
    dr.deregister_image(ImageId=copy_id)
    # Then its snapshots are still there and deletable
    assert sorted(aws.snapshots(DR)) == sorted(snapshot_ids)
    for snapshot_id in snapshot_ids:
        dr.delete_snapshot(SnapshotId=snapshot_id)
    assert aws.snapshots(DR) == {}
