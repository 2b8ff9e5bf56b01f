"""RegisterImage via boto3 in moto with the fidelity layer; each test names the EC2 behaviour it follows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from .conftest import HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def register(aws: LocalAws, mappings: list[dict[str, Any]], **params: Any) -> str:
    image_id: str = aws.ec2(HOME).register_image(
        Name="web-1.0.0", RootDeviceName="/dev/xvda", BlockDeviceMappings=mappings, **params
    )["ImageId"]
    return image_id


def test_image_reports_exactly_the_given_mappings_and_no_extra_snapshot(aws: LocalAws) -> None:
    """RegisterImage from snapshots: the AMI is EBS-backed and made of the block device mappings given."""
    # Given two snapshots
    root, data = aws.snapshot(HOME, 8), aws.snapshot(HOME, 20)
    snapshots_before = aws.snapshots(HOME).keys()
    # When an AMI is registered from them (plus an instance store entry)
    image_id = register(
        aws,
        [
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {
                    "SnapshotId": root,
                    "VolumeSize": 10,
                    "VolumeType": "gp3",
                    "DeleteOnTermination": True,
                },
            },
            {
                "DeviceName": "/dev/xvdb",
                "Ebs": {
                    "SnapshotId": data,
                    "VolumeSize": 20,
                    "VolumeType": "st1",
                    "DeleteOnTermination": False,
                },
            },
            {"DeviceName": "/dev/xvdc", "VirtualName": "ephemeral0"},
        ],
    )
    # Then DescribeImages reports those mappings, the root is EBS, and no snapshot was added
    image = aws.image(HOME, image_id)
    assert image["RootDeviceType"] == "ebs"
    assert image["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {
                "SnapshotId": root,
                "VolumeSize": 10,
                "VolumeType": "gp3",
                "DeleteOnTermination": True,
                "Encrypted": False,
            },
        },
        {
            "DeviceName": "/dev/xvdb",
            "Ebs": {
                "SnapshotId": data,
                "VolumeSize": 20,
                "VolumeType": "st1",
                "DeleteOnTermination": False,
                "Encrypted": False,
            },
        },
        {"DeviceName": "/dev/xvdc", "VirtualName": "ephemeral0"},
    ]
    assert aws.snapshots(HOME).keys() == snapshots_before


def test_unknown_snapshot_is_not_found(aws: LocalAws) -> None:
    """EC2 error codes: InvalidSnapshot.NotFound when a snapshot named in the request does not exist."""
    # Given no such snapshot in the region
    # When an AMI is registered from it
    with pytest.raises(ClientError) as excinfo:
        register(aws, [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}])
    # Then the request fails and no AMI exists
    assert excinfo.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"
    assert aws.ec2(HOME).describe_images(Owners=["self"])["Images"] == []


def test_snapshot_of_another_region_is_not_found(aws: LocalAws) -> None:
    """RegisterImage: snapshots are regional; the mapped snapshot must be in the Region of the AMI."""
    # Given a snapshot in another region
    snapshot_id = aws.snapshot("eu-west-1", 8)
    # When an AMI is registered from it in the home region
    with pytest.raises(ClientError) as excinfo:
        register(aws, [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}])
    # Then the snapshot is not found
    assert excinfo.value.response["Error"]["Code"] == "InvalidSnapshot.NotFound"


def test_unset_volume_size_and_type_come_from_the_snapshot(aws: LocalAws) -> None:
    """EbsBlockDevice VolumeSize: when a snapshot is given, the default size is the snapshot size."""
    # Given a 12 GiB snapshot of a gp2 volume
    snapshot_id = aws.snapshot(HOME, 12, volume_type="gp2")
    # When an AMI maps it without size, type or termination behaviour
    image_id = register(aws, [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}])
    # Then the mapping has the snapshot's size and type, and the volume is deleted on termination
    ebs = aws.image(HOME, image_id)["BlockDeviceMappings"][0]["Ebs"]
    assert (ebs["VolumeSize"], ebs["VolumeType"], ebs["DeleteOnTermination"]) == (12, "gp2", True)


def test_encryption_follows_the_snapshot(aws: LocalAws) -> None:
    """RegisterImage: a mapping cannot set encryption; the volume is encrypted exactly when the snapshot is."""
    # Given an encrypted and an unencrypted snapshot
    encrypted, plain = aws.snapshot(HOME, 8, encrypted=True), aws.snapshot(HOME, 8)
    # When an AMI maps both
    image_id = register(
        aws,
        [
            {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": encrypted}},
            {"DeviceName": "/dev/xvdb", "Ebs": {"SnapshotId": plain}},
        ],
    )
    # Then each mapping reports its snapshot's encryption
    mappings = aws.image(HOME, image_id)["BlockDeviceMappings"]
    assert [m["Ebs"]["Encrypted"] for m in mappings] == [True, False]


def test_machine_attributes_are_reported(aws: LocalAws) -> None:
    """RegisterImage: RootDeviceName, Architecture, VirtualizationType, BootMode and EnaSupport are kept."""
    # Given a snapshot
    snapshot_id = aws.snapshot(HOME, 8)
    # When an AMI is registered with its machine attributes
    image_id = aws.ec2(HOME).register_image(
        Name="arm-1.0.0",
        RootDeviceName="/dev/sda1",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snapshot_id}}],
        Architecture="arm64",
        VirtualizationType="hvm",
        BootMode="uefi-preferred",
        EnaSupport=True,
    )["ImageId"]
    # Then DescribeImages reports them
    image = aws.image(HOME, image_id)
    assert (image["RootDeviceName"], image["Architecture"], image["VirtualizationType"]) == (
        "/dev/sda1",
        "arm64",
        "hvm",
    )
    assert (image["BootMode"], image["EnaSupport"]) == ("uefi-preferred", True)


def test_documented_defaults_apply_when_attributes_are_omitted(aws: LocalAws) -> None:
    """RegisterImage defaults: Architecture i386 for EBS-backed AMIs, VirtualizationType paravirtual."""
    # Given a snapshot
    snapshot_id = aws.snapshot(HOME, 8)
    # When an AMI is registered without architecture or virtualization type
    image_id = register(aws, [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}])
    # Then the documented defaults are reported, and no boot mode is set
    image = aws.image(HOME, image_id)
    assert (image["Architecture"], image["VirtualizationType"]) == ("i386", "paravirtual")
    assert "BootMode" not in image


def test_tag_specifications_tag_the_image(aws: LocalAws) -> None:
    """RegisterImage TagSpecifications: ResourceType image tags the new AMI."""
    # Given a snapshot
    snapshot_id = aws.snapshot(HOME, 8)
    # When an AMI is registered with image tags
    image_id = register(
        aws,
        [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Team", "Value": "platform"}]}],
    )
    # Then the AMI carries them
    assert aws.tags(aws.image(HOME, image_id)) == {"Team": "platform"}


def test_tag_specification_for_another_resource_type_fails_the_request(aws: LocalAws) -> None:
    """RegisterImage TagSpecifications: any ResourceType other than image makes the request fail."""
    # Given a snapshot
    snapshot_id = aws.snapshot(HOME, 8)
    # When an AMI is registered with snapshot tags
    with pytest.raises(ClientError) as excinfo:
        register(
            aws,
            [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "a", "Value": "b"}]}],
        )
    # Then the request fails and no AMI exists
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert aws.ec2(HOME).describe_images(Owners=["self"])["Images"] == []
