"""A resource's tags are read by direct lookup instead of moto's scan of every tag of the region."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
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


# EC2's tag limits. Documentation: EC2 User Guide, "Tag your Amazon EC2 resources" (tag restrictions: at most 50
# user tags per resource, key at most 128 and value at most 256 characters, `aws:` keys reserved and not
# counted); EC2 API Reference, CreateTags ("Each resource can have a maximum of 50 tags") and the TagSpecifications
# of CopyImage and RunInstances; EC2 error codes TagLimitExceeded and InvalidParameterValue.


def _tags(count: int, prefix: str = "user") -> list[dict[str, str]]:
    return [{"Key": f"{prefix}-{i:02d}", "Value": str(i)} for i in range(count)]


def _error(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    code: str = raised.value.response["Error"]["Code"]
    return code


def test_create_tags_allows_exactly_50_user_tags_and_refuses_the_51st(aws: LocalAws) -> None:
    # Given an AMI with 50 user tags
    source = aws.source_image(sizes=(8,))
    ec2 = aws.ec2("us-east-1")
    ec2.create_tags(Resources=[source.image_id], Tags=_tags(50))
    # When a 51st key is added, and an existing key is overwritten
    code = _error(lambda: ec2.create_tags(Resources=[source.image_id], Tags=[{"Key": "one-more", "Value": "x"}]))
    ec2.create_tags(Resources=[source.image_id], Tags=[{"Key": "user-00", "Value": "new"}])
    # Then the new key is refused with TagLimitExceeded, the overwrite succeeds, and the AMI still has 50 tags
    tags = aws.tags(aws.image("us-east-1", source.image_id))
    assert code == "TagLimitExceeded"
    assert len(tags) == 50 and tags["user-00"] == "new" and "one-more" not in tags


def test_create_tags_on_several_resources_is_refused_as_a_whole(aws: LocalAws) -> None:
    # Given an AMI with 49 tags and its snapshot with none
    source = aws.source_image(sizes=(8,))
    ec2 = aws.ec2("us-east-1")
    ec2.create_tags(Resources=[source.image_id], Tags=_tags(49))
    # When two new keys are set on both in one call
    new = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    code = _error(lambda: ec2.create_tags(Resources=[source.snapshot_ids[0], source.image_id], Tags=new))
    # Then nothing is tagged: not even the snapshot, which had room
    snapshot = aws.snapshots("us-east-1")[source.snapshot_ids[0]]
    assert code == "TagLimitExceeded"
    assert "a" not in aws.tags(snapshot)


def test_aws_tags_do_not_count_towards_the_limit(aws: LocalAws) -> None:
    # Given an instance launched from a launch template (moto adds aws:ec2launchtemplate:* tags to it)
    source = aws.source_image(sizes=(8,))
    ec2 = aws.ec2("us-east-1")
    template = ec2.create_launch_template(LaunchTemplateName="lt", LaunchTemplateData={"ImageId": source.image_id})
    instance = ec2.run_instances(
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"]}, MinCount=1, MaxCount=1
    )["Instances"][0]["InstanceId"]
    # When 50 user tags are set on it
    ec2.create_tags(Resources=[instance], Tags=_tags(50))
    # Then it carries them beside EC2's own
    tags = aws.tags(ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0])
    assert len([k for k in tags if not k.startswith("aws:")]) == 50
    assert any(k.startswith("aws:") for k in tags)


@pytest.mark.parametrize(
    ("key", "value", "accepted"),
    [
        ("k" * 128, "v" * 256, True),
        ("k" * 129, "v", False),
        ("k", "v" * 257, False),
        ("aws:mine", "v", False),
        ("AWS:Mine", "v", False),
    ],
)
def test_create_tags_refuses_keys_and_values_ec2_refuses(aws: LocalAws, key: str, value: str, accepted: bool) -> None:
    # Given an AMI
    source = aws.source_image(sizes=(8,))
    ec2 = aws.ec2("us-east-1")
    # When a tag is set with a key or value at or beyond EC2's limits, or with the reserved prefix
    tag = [{"Key": key, "Value": value}]
    if accepted:
        ec2.create_tags(Resources=[source.image_id], Tags=tag)
    else:
        assert _error(lambda: ec2.create_tags(Resources=[source.image_id], Tags=tag)) == "InvalidParameterValue"
    # Then it is on the AMI exactly when EC2 accepts it
    assert (key in aws.tags(aws.image("us-east-1", source.image_id))) is accepted


def test_copy_image_with_too_many_tags_is_refused_and_makes_no_copy(aws: LocalAws) -> None:
    # Given a source AMI with 30 tags
    source = aws.source_image(sizes=(8,))
    aws.ec2("us-east-1").create_tags(Resources=[source.image_id], Tags=_tags(30))
    dr = aws.ec2("us-west-2")
    # When it is copied with 51 tags in TagSpecifications, or with its 30 tags and 21 more
    too_many = _error(
        lambda: dr.copy_image(
            SourceImageId=source.image_id, SourceRegion="us-east-1", Name="copy",
            TagSpecifications=[{"ResourceType": "image", "Tags": _tags(51, "spec")}],
        )
    )  # fmt: skip
    with_copied = _error(
        lambda: dr.copy_image(
            SourceImageId=source.image_id, SourceRegion="us-east-1", Name="copy", CopyImageTags=True,
            TagSpecifications=[{"ResourceType": "image", "Tags": _tags(21, "spec")}],
        )
    )  # fmt: skip
    too_long = _error(
        lambda: dr.copy_image(
            SourceImageId=source.image_id, SourceRegion="us-east-1", Name="copy",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "k" * 129, "Value": "v"}]}],
        )
    )  # fmt: skip
    # Then each request fails as a whole and no copy exists
    assert (too_many, with_copied, too_long) == ("TagLimitExceeded", "TagLimitExceeded", "InvalidParameterValue")
    assert dr.describe_images(Owners=["self"])["Images"] == []
    # And 50 tags in all is a copy
    image_id = dr.copy_image(
        SourceImageId=source.image_id, SourceRegion="us-east-1", Name="copy", CopyImageTags=True,
        TagSpecifications=[{"ResourceType": "image", "Tags": _tags(20, "spec")}],
    )["ImageId"]  # fmt: skip
    assert len(aws.tags(aws.image("us-west-2", image_id))) == 50


def test_run_instances_with_too_many_tags_launches_nothing(aws: LocalAws) -> None:
    # Given an AMI
    source = aws.source_image(sizes=(8,))
    ec2 = aws.ec2("us-east-1")
    # When an instance is launched with 51 tags, or with a value of 257 characters
    too_many = _error(
        lambda: ec2.run_instances(
            ImageId=source.image_id, MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(51)}],
        )
    )  # fmt: skip
    too_long = _error(
        lambda: ec2.run_instances(
            ImageId=source.image_id, MinCount=1, MaxCount=1,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "k", "Value": "v" * 257}]}],
        )
    )  # fmt: skip
    # Then both are refused and no instance exists; 50 tags launch one
    assert (too_many, too_long) == ("TagLimitExceeded", "InvalidParameterValue")
    assert ec2.describe_instances()["Reservations"] == []
    ec2.run_instances(
        ImageId=source.image_id, MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(50)}],
    )  # fmt: skip
    assert len(ec2.describe_instances()["Reservations"]) == 1
