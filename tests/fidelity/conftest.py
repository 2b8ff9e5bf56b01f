"""Fixtures for the fidelity tests: moto with the fidelity layer, boto3 clients made inside the mock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from ami_lifecycle.local import fidelity

HOME, DR, EU = "us-east-1", "us-west-2", "eu-west-1"
ACCOUNT = DEFAULT_ACCOUNT_ID


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials, no real endpoint, no 1,300 public AMIs in moto."""
    for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture(scope="session", autouse=True)
def fidelity_installed() -> None:
    fidelity.install()


@dataclass(frozen=True)
class SourceImage:
    image_id: str
    snapshot_ids: list[str]


class LocalAws:
    """boto3 access to the mocked account, plus the Given steps the fidelity tests share."""

    def __init__(self, session: boto3.Session) -> None:
        # Clients are made inside mock_aws, once per service and region; the shared session caches models.
        self._session = session
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[service, region] = self._session.client(service, region_name=region)
        return self._clients[service, region]

    def ec2(self, region: str) -> Any:
        return self.client("ec2", region)

    def kms(self, region: str) -> Any:
        return self.client("kms", region)

    def image(self, region: str, image_id: str) -> dict[str, Any]:
        images: list[dict[str, Any]] = self.ec2(region).describe_images(ImageIds=[image_id])["Images"]
        assert len(images) == 1
        return images[0]

    def snapshots(self, region: str) -> dict[str, dict[str, Any]]:
        found = self.ec2(region).describe_snapshots(OwnerIds=[ACCOUNT])["Snapshots"]
        return {s["SnapshotId"]: s for s in found}

    def tags(self, resource: dict[str, Any]) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}

    def snapshot(self, region: str, size: int, encrypted: bool = False, volume_type: str = "gp3") -> str:
        ec2 = self.ec2(region)
        volume = ec2.create_volume(
            AvailabilityZone=f"{region}a", Size=size, Encrypted=encrypted, VolumeType=volume_type
        )
        snapshot_id: str = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
        ec2.delete_volume(VolumeId=volume["VolumeId"])
        return snapshot_id

    def source_image(
        self,
        region: str = HOME,
        sizes: tuple[int, ...] = (8, 20),
        encrypted: bool = False,
        tags: dict[str, str] | None = None,
    ) -> SourceImage:
        """An AMI registered from one fresh snapshot per size, the way Packer leaves one."""
        snapshot_ids = [self.snapshot(region, size, encrypted) for size in sizes]
        mappings = [
            {
                "DeviceName": "/dev/xvda" if i == 0 else f"/dev/xvd{chr(ord('a') + i)}",
                "Ebs": {"SnapshotId": snapshot_id, "VolumeType": "gp3", "DeleteOnTermination": True},
            }
            for i, snapshot_id in enumerate(snapshot_ids)
        ]
        params: dict[str, Any] = {
            "Name": "web-1.0.0",
            "Architecture": "x86_64",
            "RootDeviceName": "/dev/xvda",
            "VirtualizationType": "hvm",
            "BootMode": "uefi",
            "BlockDeviceMappings": mappings,
        }
        if tags:
            params["TagSpecifications"] = [
                {"ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        image_id: str = self.ec2(region).register_image(**params)["ImageId"]
        return SourceImage(image_id, snapshot_ids)

    def kms_key(self, region: str, alias: str = "alias/ami-copies") -> dict[str, Any]:
        kms = self.kms(region)
        key: dict[str, Any] = kms.create_key(Description="AMI copies")["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        return key


@pytest.fixture(scope="session")
def boto_session() -> boto3.Session:
    """One botocore loader for all tests: loading the EC2 model per client costs a tenth of a second."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def aws(fake_aws_environment: None, boto_session: boto3.Session) -> Iterator[LocalAws]:
    with mock_aws():
        yield LocalAws(boto_session)
