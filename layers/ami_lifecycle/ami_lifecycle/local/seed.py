"""Builds realistic AMIs in the local AWS, the way Packer or Image Builder leave them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends

from ami_lifecycle.model.image import tag_list


def register_ami(
    ec2: Any,
    name: str,
    tags: dict[str, str] | None = None,
    volume_sizes: tuple[int, ...] = (8,),
    encrypted: bool = False,
) -> str:
    """Snapshot one volume per size, then RegisterImage with those block device mappings."""
    region = ec2.meta.region_name
    mappings = []
    for i, size in enumerate(volume_sizes):
        volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=size, Encrypted=encrypted)
        snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"], Description=f"{name} volume {i}")
        ec2.delete_volume(VolumeId=volume["VolumeId"])
        device = "/dev/xvda" if i == 0 else f"/dev/xvd{chr(ord('b') + i - 1)}"
        mappings.append(
            {
                "DeviceName": device,
                "Ebs": {
                    "SnapshotId": snapshot["SnapshotId"],
                    "VolumeSize": size,
                    "VolumeType": "gp3",
                    "DeleteOnTermination": True,
                },
            }
        )
    params: dict[str, Any] = {
        "Name": name,
        "Architecture": "x86_64",
        "RootDeviceName": "/dev/xvda",
        "VirtualizationType": "hvm",
        "BlockDeviceMappings": mappings,
    }
    if tags:
        params["TagSpecifications"] = [{"ResourceType": "image", "Tags": tag_list(tags)}]
    return str(ec2.register_image(**params)["ImageId"])


def create_kms_key(kms: Any, alias: str) -> str:
    """A customer managed key with an alias; returns the key ARN."""
    key = kms.create_key(Description=f"AMI copies ({alias})")["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return str(key["Arn"])


def create_usage_table(dynamodb: Any, name: str) -> None:
    """The usage table as template.yaml defines it (key image_id)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "image_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "image_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_launch_template_table(dynamodb: Any, name: str) -> None:
    """The launch template table as template.yaml defines it (keys region and template_id)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "region", "KeyType": "HASH"},
            {"AttributeName": "template_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "region", "AttributeType": "S"},
            {"AttributeName": "template_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def backdate_image(region: str, image_id: str, created: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> None:
    """Time passes: the AMI was registered at `created` (EC2 never lets a caller set CreationDate)."""
    ec2_backends[account_id][region].amis[image_id].creation_date = created.astimezone(UTC).replace(tzinfo=None)
