"""DescribeImages keeps working for every kind of image once the fidelity layer is installed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .conftest import HOME

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
