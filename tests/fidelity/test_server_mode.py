"""The fidelity layer also applies to a ThreadedMotoServer running in the same process (the demo's setup)."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from ami_lifecycle.local import fidelity

from .conftest import DR, HOME


@pytest.fixture
def server_client(fake_aws_environment: None, boto_session: boto3.Session) -> Iterator[Callable[[str], Any]]:
    """EC2 clients talking HTTP to a moto server on a free port; the server's state is reset afterwards."""
    fidelity.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield lambda region: boto_session.client("ec2", region_name=region, endpoint_url=endpoint)
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
        server.stop()


def test_copy_image_through_the_server_is_pending_with_lineage_and_tags(
    server_client: Callable[[str], Any],
) -> None:
    """CopyImage over HTTP: same EC2 behaviour as in-process (lineage, CopyImageTags, pending, completion)."""
    # Given an AMI registered through the server from a fresh snapshot
    home, dr = server_client(HOME), server_client(DR)
    volume = home.create_volume(AvailabilityZone=f"{HOME}a", Size=8)
    snapshot_id = home.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    source_id = home.register_image(
        Name="web-1.0.0",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "Team", "Value": "platform"}]}],
    )["ImageId"]
    # When it is copied to the DR region through the server
    copy_id = dr.copy_image(SourceImageId=source_id, SourceRegion=HOME, Name="web-1.0.0", CopyImageTags=True)["ImageId"]
    # Then the copy is pending with its lineage and tags, and becomes available when time advances in-process
    image = dr.describe_images(ImageIds=[copy_id])["Images"][0]
    assert (image["State"], image["SourceImageId"], image["SourceImageRegion"]) == (
        "pending",
        source_id,
        HOME,
    )
    assert image["Tags"] == [{"Key": "Team", "Value": "platform"}]
    assert image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] != snapshot_id
    assert fidelity.complete_pending_copies(region=DR) == [(DR, copy_id)]
    assert dr.describe_images(ImageIds=[copy_id])["Images"][0]["State"] == "available"


def test_sweep_calls_through_the_server(server_client: Callable[[str], Any]) -> None:
    """Over HTTP the sweep's calls behave as in-process: pages, protection and DeleteAssociatedSnapshots."""
    # Given 12 AMIs registered through the server, each from its own snapshot, the first one protected
    home = server_client(HOME)
    image_ids = []
    for i in range(12):
        volume = home.create_volume(AvailabilityZone=f"{HOME}a", Size=1)
        snapshot_id = home.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
        image_ids.append(
            home.register_image(
                Name=f"app-{i:02d}",
                RootDeviceName="/dev/xvda",
                BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot_id}}],
            )["ImageId"]
        )
    home.enable_image_deregistration_protection(ImageId=image_ids[0], WithCooldown=True)
    # When they are listed 5 per page and two are deregistered with their snapshots
    pages = list(home.get_paginator("describe_images").paginate(Owners=["self"], PaginationConfig={"PageSize": 5}))
    with pytest.raises(ClientError) as excinfo:
        home.deregister_image(ImageId=image_ids[0], DeleteAssociatedSnapshots=True)
    response = home.deregister_image(ImageId=image_ids[1], DeleteAssociatedSnapshots=True)
    # Then the pages hold every AMI once, the protected one is refused, the other's snapshot is deleted
    assert [len(p["Images"]) for p in pages] == [5, 5, 2]
    assert sorted(i["ImageId"] for p in pages for i in p["Images"]) == sorted(image_ids)
    assert {i["DeregistrationProtection"] for p in pages for i in p["Images"]} == {
        "enabled-with-cooldown",
        "disabled",
    }
    assert excinfo.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert [r["ReturnCode"] for r in response["DeleteSnapshotResults"]] == ["success"]
    assert len(home.describe_snapshots(OwnerIds=["self"])["Snapshots"]) == 11
