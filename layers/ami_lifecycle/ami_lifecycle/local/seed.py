"""Builds realistic AMIs in the local AWS, the way Packer or Image Builder leave them."""

from __future__ import annotations

from typing import Any

from ..images import tag_list


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
