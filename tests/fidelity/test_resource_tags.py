"""A resource's tags are read by direct lookup instead of moto's scan of every tag of the region."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moto.ec2.models import ec2_backends

from ami_lifecycle.local import fidelity

from .conftest import ACCOUNT

if TYPE_CHECKING:
    from .conftest import LocalAws


def test_tags_read_directly_equal_moto_scan(aws: LocalAws) -> None:
    """moto's tags of a resource (DescribeTags by resource-id) are unchanged by the direct lookup, for any resource."""
    # Given tagged EC2 resources of several kinds: an AMI, its snapshot, a volume and an instance
    source = aws.source_image(sizes=(8,), tags={"Team": "platform", "Family": "web"})
    ec2 = aws.ec2("us-east-1")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    instance = ec2.run_instances(ImageId=source.image_id, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.create_tags(Resources=[source.snapshot_ids[0], volume, instance], Tags=[{"Key": "Owner", "Value": "ops"}])
    backend = ec2_backends[ACCOUNT]["us-east-1"]
    resources = [
        backend.amis[source.image_id],
        backend.snapshots[source.snapshot_ids[0]],
        backend.volumes[volume],
        backend.get_instance(instance),
    ]
    # When their tags are read through the patched method and through moto's original scan
    # Then both give the same list, in the same order
    for resource in resources:
        assert resource.get_tags() == fidelity._MOTO["get_tags"](resource)
        assert resource.get_tags()
