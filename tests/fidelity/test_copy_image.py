"""CopyImage via boto3 in moto with the fidelity layer; each test names the EC2 behaviour it follows."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto.ec2.models import ec2_backends

from ami_lifecycle.local.fidelity import complete_pending_copies, fail_pending_copy

from .conftest import ACCOUNT, DR, EU, HOME

if TYPE_CHECKING:
    from .conftest import LocalAws


def copy(aws: LocalAws, source_id: str, region: str = DR, **params: Any) -> str:
    image_id: str = aws.ec2(region).copy_image(SourceImageId=source_id, SourceRegion=HOME, Name="web-1.0.0", **params)[
        "ImageId"
    ]
    return image_id


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


# --- lineage --------------------------------------------------------------------------------------


def test_copy_reports_its_source_image_and_region(aws: LocalAws) -> None:
    """EC2 Image data type: SourceImageId / SourceImageRegion name the AMI and Region a copy was made from."""
    # Given an AMI in the home region
    source = aws.source_image()
    # When it is copied to the DR region
    copy_id = copy(aws, source.image_id)
    # Then DescribeImages in the DR region reports where the copy came from
    image = aws.image(DR, copy_id)
    assert (image["SourceImageId"], image["SourceImageRegion"]) == (source.image_id, HOME)


def test_copy_keeps_the_source_image_attributes(aws: LocalAws) -> None:
    """User Guide, how AMI copy works: the target AMI is an identical but distinct AMI with its own ID."""
    # Given an x86_64 HVM UEFI AMI with its root on /dev/xvda
    source = aws.source_image()
    # When it is copied
    copy_id = copy(aws, source.image_id)
    # Then the copy describes the same machine under a new id
    image = aws.image(DR, copy_id)
    assert copy_id != source.image_id
    assert (image["Architecture"], image["VirtualizationType"], image["BootMode"]) == (
        "x86_64",
        "hvm",
        "uefi",
    )
    assert (image["RootDeviceName"], image["RootDeviceType"]) == ("/dev/xvda", "ebs")


# --- tags -----------------------------------------------------------------------------------------


def test_copy_image_tags_copies_user_tags_but_not_aws_tags(aws: LocalAws) -> None:
    """CopyImage CopyImageTags: your user-defined AMI tags are copied; system tags (aws: prefix) are not."""
    # Given a tagged AMI that also carries a system tag (AWS sets those; users cannot, so set it as AWS would)
    source = aws.source_image(tags={"Team": "platform", "Version": "1.0.0"})
    ec2_backends[ACCOUNT][HOME].create_tags([source.image_id], {"aws:cloudformation:stack-name": "build"})
    # When it is copied with CopyImageTags
    copy_id = copy(aws, source.image_id, CopyImageTags=True)
    # Then the copy has the user tags only
    assert aws.tags(aws.image(DR, copy_id)) == {"Team": "platform", "Version": "1.0.0"}


def test_without_copy_image_tags_no_tag_is_copied(aws: LocalAws) -> None:
    """CopyImage CopyImageTags default: user-defined AMI tags are not copied."""
    # Given a tagged AMI
    source = aws.source_image(tags={"Team": "platform"})
    # When it is copied without CopyImageTags
    copy_id = copy(aws, source.image_id)
    # Then the copy has no tags
    assert aws.tags(aws.image(DR, copy_id)) == {}


def test_tag_specifications_tag_the_new_image_and_every_new_snapshot(aws: LocalAws) -> None:
    """CopyImage TagSpecifications: ResourceType image tags the new AMI, snapshot tags every new snapshot."""
    # Given an AMI with two snapshots
    source = aws.source_image(sizes=(8, 20))
    # When it is copied with image and snapshot tag specifications
    copy_id = copy(
        aws,
        source.image_id,
        TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "Role", "Value": "dr-copy"}]},
            {"ResourceType": "snapshot", "Tags": [{"Key": "Backup", "Value": "no"}]},
        ],
    )
    # Then the AMI has the image tags and each of its new snapshots has the snapshot tags
    image = aws.image(DR, copy_id)
    assert aws.tags(image) == {"Role": "dr-copy"}
    snapshots = aws.snapshots(DR)
    for mapping in image["BlockDeviceMappings"]:
        assert aws.tags(snapshots[mapping["Ebs"]["SnapshotId"]]) == {"Backup": "no"}


def test_tag_specifications_win_over_a_copied_tag_with_the_same_key(aws: LocalAws) -> None:
    """EC2 tags: a key is unique per resource and a new value overwrites it, so TagSpecifications win."""
    # (The CopyImage reference does not spell out this clash; CreateTags semantics decide it.)
    # Given an AMI tagged Stage=build
    source = aws.source_image(tags={"Stage": "build", "Team": "platform"})
    # When it is copied with CopyImageTags and a TagSpecification Stage=dr
    copy_id = copy(
        aws,
        source.image_id,
        CopyImageTags=True,
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Stage", "Value": "dr"}]}],
    )
    # Then the copy carries the requested value and the other copied tags
    assert aws.tags(aws.image(DR, copy_id)) == {"Stage": "dr", "Team": "platform"}


def test_tag_specification_for_another_resource_type_fails_the_request(aws: LocalAws) -> None:
    """CopyImage TagSpecifications: a ResourceType other than image or snapshot makes the request fail."""
    # Given an AMI
    source = aws.source_image()
    # When it is copied with a volume tag specification
    with pytest.raises(ClientError) as excinfo:
        copy(
            aws,
            source.image_id,
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "a", "Value": "b"}]}],
        )
    # Then the request fails and nothing was copied
    assert error_code(excinfo) == "InvalidParameterValue"
    assert aws.ec2(DR).describe_images(Owners=["self"])["Images"] == []


# --- snapshots and block device mappings ------------------------------------------------------------


def test_each_source_snapshot_is_copied_to_a_new_snapshot_the_mappings_point_at(aws: LocalAws) -> None:
    """User Guide, how AMI copy works: each backing snapshot is copied to an identical, distinct snapshot."""
    # Given an AMI with an 8 GiB root and a 20 GiB data volume
    source = aws.source_image(sizes=(8, 20))
    source_mappings = aws.image(HOME, source.image_id)["BlockDeviceMappings"]
    # When it is copied to the DR region
    copy_id = copy(aws, source.image_id)
    # Then the DR region holds exactly one new snapshot per source snapshot (no extra 15 GiB one),
    # and the copy's mappings keep device names, sizes and types but point at the new snapshots
    image = aws.image(DR, copy_id)
    snapshots = aws.snapshots(DR)
    new_ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]]
    assert sorted(new_ids) == sorted(snapshots)
    assert not set(new_ids) & set(source.snapshot_ids)
    assert [
        (m["DeviceName"], m["Ebs"]["VolumeSize"], m["Ebs"]["VolumeType"]) for m in image["BlockDeviceMappings"]
    ] == [(m["DeviceName"], m["Ebs"]["VolumeSize"], m["Ebs"]["VolumeType"]) for m in source_mappings]
    assert [snapshots[i]["VolumeSize"] for i in new_ids] == [8, 20]


def test_copy_and_its_snapshots_are_pending_until_the_copy_completes(aws: LocalAws) -> None:
    """Copy an AMI (User Guide): the new AMI is pending and the copy is complete when it is available."""
    # Given an AMI
    source = aws.source_image()
    # When a copy starts
    copy_id = copy(aws, source.image_id)
    # Then the copy and its new snapshots are pending
    image = aws.image(DR, copy_id)
    snapshot_ids = [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]]
    assert image["State"] == "pending"
    assert {(aws.snapshots(DR)[i]["State"], aws.snapshots(DR)[i]["Progress"]) for i in snapshot_ids} == {
        ("pending", "0%")
    }
    # When time advances
    completed = complete_pending_copies()
    # Then the AMI is available and its snapshots completed
    assert completed == [(DR, copy_id)]
    assert aws.image(DR, copy_id)["State"] == "available"
    assert {(aws.snapshots(DR)[i]["State"], aws.snapshots(DR)[i]["Progress"]) for i in snapshot_ids} == {
        ("completed", "100%")
    }


def test_completing_copies_can_be_limited_to_one_region(aws: LocalAws) -> None:
    """Copies to different destination Regions progress independently (each is its own operation)."""
    # Given copies pending in two regions
    source = aws.source_image()
    dr_copy, eu_copy = copy(aws, source.image_id, region=DR), copy(aws, source.image_id, region=EU)
    # When only the EU region's copies complete
    completed = complete_pending_copies(region=EU, account_id=ACCOUNT)
    # Then the DR copy is still pending
    assert completed == [(EU, eu_copy)]
    assert (aws.image(EU, eu_copy)["State"], aws.image(DR, dr_copy)["State"]) == ("available", "pending")


def test_a_failed_copy_is_failed_with_a_reason(aws: LocalAws) -> None:
    """EC2 AMI states: a copy that cannot complete ends in the failed state, with a StateReason."""
    # Given a pending copy
    source = aws.source_image()
    copy_id = copy(aws, source.image_id)
    # When the copy fails
    fail_pending_copy(DR, copy_id)
    # Then the AMI is failed with a reason, and completing copies no longer touches it
    image = aws.image(DR, copy_id)
    assert image["State"] == "failed"
    assert image["StateReason"]["Message"]
    assert complete_pending_copies() == []


# --- encryption -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key_form", ["KeyId", "Arn", "alias"])
def test_encrypted_copy_uses_the_given_destination_key(aws: LocalAws, key_form: str) -> None:
    """CopyImage Encrypted + KmsKeyId (key id, key ARN or alias): the new snapshots use that key."""
    # Given an unencrypted AMI and a customer managed key in the DR region
    source = aws.source_image()
    key = aws.kms_key(DR, alias="alias/ami-dr")
    key_id = "alias/ami-dr" if key_form == "alias" else key[key_form]
    # When it is copied with Encrypted and that key
    copy_id = copy(aws, source.image_id, Encrypted=True, KmsKeyId=key_id)
    complete_pending_copies()
    # Then every new snapshot is encrypted with the key (reported as its ARN) and the mappings say so
    image = aws.image(DR, copy_id)
    assert image["State"] == "available"
    snapshots = aws.snapshots(DR)
    for mapping in image["BlockDeviceMappings"]:
        snapshot = snapshots[mapping["Ebs"]["SnapshotId"]]
        assert (snapshot["Encrypted"], snapshot["KmsKeyId"], mapping["Ebs"]["Encrypted"]) == (
            True,
            key["Arn"],
            True,
        )


def test_encrypted_copy_without_key_uses_the_default_ebs_key(aws: LocalAws) -> None:
    """CopyImage Encrypted: without KmsKeyId the AWS managed key for EBS (alias/aws/ebs) is used."""
    # Given an unencrypted AMI
    source = aws.source_image()
    # When it is copied with Encrypted only
    copy_id = copy(aws, source.image_id, Encrypted=True)
    # Then its snapshots use the DR region's aws/ebs key
    default_key = aws.kms(DR).describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["Arn"]
    snapshots = aws.snapshots(DR)
    for mapping in aws.image(DR, copy_id)["BlockDeviceMappings"]:
        assert (snapshots[mapping["Ebs"]["SnapshotId"]]["KmsKeyId"], mapping["Ebs"]["Encrypted"]) == (
            default_key,
            True,
        )


def test_copy_of_an_encrypted_source_stays_encrypted(aws: LocalAws) -> None:
    """CopyImage Encrypted: an encrypted snapshot cannot be copied to an unencrypted one."""
    # Given an AMI backed by encrypted snapshots
    source = aws.source_image(encrypted=True)
    # When it is copied without asking for encryption
    copy_id = copy(aws, source.image_id)
    # Then the copy is encrypted too (with the DR region's default EBS key: KMS keys are regional)
    snapshots = aws.snapshots(DR)
    for mapping in aws.image(DR, copy_id)["BlockDeviceMappings"]:
        snapshot = snapshots[mapping["Ebs"]["SnapshotId"]]
        assert (snapshot["Encrypted"], mapping["Ebs"]["Encrypted"]) == (True, True)
        assert snapshot["KmsKeyId"].startswith(f"arn:aws:kms:{DR}:")


def test_copy_into_a_region_with_encryption_by_default_is_encrypted(aws: LocalAws) -> None:
    """EBS encryption by default: new snapshot copies in that Region are encrypted, even if not requested."""
    # Given an unencrypted AMI and EBS encryption by default in the DR region
    source = aws.source_image()
    aws.ec2(DR).enable_ebs_encryption_by_default()
    # When it is copied without asking for encryption
    copy_id = copy(aws, source.image_id)
    # Then the copy's snapshots are encrypted
    mappings = aws.image(DR, copy_id)["BlockDeviceMappings"]
    snapshots = aws.snapshots(DR)
    assert {(snapshots[m["Ebs"]["SnapshotId"]]["Encrypted"], m["Ebs"]["Encrypted"]) for m in mappings} == {(True, True)}


@pytest.mark.parametrize("use_alias", [False, True])
def test_key_missing_in_destination_region_makes_the_copy_fail(aws: LocalAws, use_alias: bool) -> None:
    """CopyImage KmsKeyId: key must exist in the destination Region; checked asynchronously, the copy fails."""
    # Given a key that exists only in the home region
    key = aws.kms_key(HOME, alias="alias/home-only")
    source = aws.source_image()
    # When the AMI is copied to the DR region with that key
    copy_id = copy(aws, source.image_id, Encrypted=True, KmsKeyId="alias/home-only" if use_alias else key["Arn"])
    assert aws.image(DR, copy_id)["State"] == "pending"
    completed = complete_pending_copies()
    # Then the copy ends failed with a reason, and its snapshots in error
    image = aws.image(DR, copy_id)
    assert completed == []
    assert image["State"] == "failed"
    assert image["StateReason"]["Code"]
    snapshots = aws.snapshots(DR)
    assert {snapshots[m["Ebs"]["SnapshotId"]]["State"] for m in image["BlockDeviceMappings"]} == {"error"}


def test_kms_key_without_encrypted_is_rejected(aws: LocalAws) -> None:
    """CopyImage KmsKeyId: a KMS key also requires Encrypted (EC2 error InvalidParameterDependency)."""
    # Given an AMI and a DR key
    source = aws.source_image()
    key = aws.kms_key(DR)
    # When it is copied with the key but not Encrypted
    with pytest.raises(ClientError) as excinfo:
        copy(aws, source.image_id, KmsKeyId=key["Arn"])
    # Then the request fails and nothing was copied
    assert error_code(excinfo) == "InvalidParameterDependency"
    assert aws.ec2(DR).describe_images(Owners=["self"])["Images"] == []


# --- idempotency ----------------------------------------------------------------------------------


def test_same_client_token_and_request_returns_the_same_image(aws: LocalAws) -> None:
    """EC2 idempotency: a retried request with the same client token returns the first result, nothing new."""
    # Given a copy made with a client token
    source = aws.source_image()
    first = copy(aws, source.image_id, ClientToken="copy-web-1.0.0")
    snapshots_before = aws.snapshots(DR)
    # When the identical request is sent again
    second = copy(aws, source.image_id, ClientToken="copy-web-1.0.0")
    # Then it answers with the same image and creates no image or snapshot
    assert second == first
    assert [i["ImageId"] for i in aws.ec2(DR).describe_images(Owners=["self"])["Images"]] == [first]
    assert aws.snapshots(DR).keys() == snapshots_before.keys()


def test_same_client_token_with_other_parameters_is_a_mismatch(aws: LocalAws) -> None:
    """EC2 error codes: IdempotentParameterMismatch when a client token is reused for a different request."""
    # Given a copy made with a client token
    source = aws.source_image()
    copy(aws, source.image_id, ClientToken="copy-web-1.0.0")
    # When the token is reused with another name
    with pytest.raises(ClientError) as excinfo:
        aws.ec2(DR).copy_image(
            SourceImageId=source.image_id, SourceRegion=HOME, Name="other", ClientToken="copy-web-1.0.0"
        )
    # Then EC2 refuses it
    assert error_code(excinfo) == "IdempotentParameterMismatch"


def test_client_token_is_scoped_to_the_destination_region(aws: LocalAws) -> None:
    """EC2 idempotency: a client token identifies a request in one Region; another Region is a new one."""
    # Given a copy to the DR region made with a client token
    source = aws.source_image()
    dr_copy = copy(aws, source.image_id, ClientToken="copy-web-1.0.0")
    # When the same token copies to another region
    eu_copy = copy(aws, source.image_id, region=EU, ClientToken="copy-web-1.0.0")
    # Then that is a separate copy
    assert aws.image(EU, eu_copy)["SourceImageId"] == aws.image(DR, dr_copy)["SourceImageId"]


def test_concurrent_requests_with_one_client_token_create_one_image(aws: LocalAws) -> None:
    """EC2 idempotency: however often an identical request arrives, the operation happens once."""
    # Given four workers ready to send the same copy request at once
    source = aws.source_image()
    ec2 = aws.ec2(DR)
    barrier = threading.Barrier(4)
    results: list[str] = []

    def send() -> None:
        barrier.wait()
        results.append(
            ec2.copy_image(SourceImageId=source.image_id, SourceRegion=HOME, Name="web-1.0.0", ClientToken="t-1")[
                "ImageId"
            ]
        )

    # When they all send it
    workers = [threading.Thread(target=send) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Then all got the same image, and only one image with one set of snapshots exists
    assert len(results) == 4 and len(set(results)) == 1
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == results[:1]
    assert len(aws.snapshots(DR)) == len(source.snapshot_ids)


# --- source lookup --------------------------------------------------------------------------------


def test_source_image_missing_in_the_source_region_is_not_found(aws: LocalAws) -> None:
    """EC2 error codes: InvalidAMIID.NotFound when the AMI does not exist (in the Region asked)."""
    # Given an AMI that exists only in the EU region
    source = aws.source_image(region=EU)
    # When a copy names the home region as its source
    with pytest.raises(ClientError) as excinfo:
        copy(aws, source.image_id)
    # Then the source is not found and nothing was copied
    assert error_code(excinfo) == "InvalidAMIID.NotFound"
    assert aws.ec2(DR).describe_images(Owners=["self"])["Images"] == []


def test_copy_of_an_image_moto_created_from_an_instance(aws: LocalAws) -> None:
    """CreateImage AMIs copy like any EBS-backed AMI: each backing snapshot gets a new copy."""
    # Given an AMI created the old moto way, from an instance
    ec2 = aws.ec2(HOME)
    base = aws.source_image()
    instance = ec2.run_instances(ImageId=base.image_id, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    source_id = ec2.create_image(InstanceId=instance, Name="from-instance")["ImageId"]
    source_mappings = aws.image(HOME, source_id)["BlockDeviceMappings"]
    # When it is copied
    copy_id = copy(aws, source_id)
    # Then the copy maps the same devices to new snapshots of the same size
    mappings = aws.image(DR, copy_id)["BlockDeviceMappings"]
    assert [(m["DeviceName"], m["Ebs"]["VolumeSize"]) for m in mappings] == [
        (m["DeviceName"], m["Ebs"]["VolumeSize"]) for m in source_mappings
    ]
    assert sorted(aws.snapshots(DR)) == sorted(m["Ebs"]["SnapshotId"] for m in mappings)
