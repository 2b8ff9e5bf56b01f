"""install() is safe to call from every test setup and entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from moto.batch.responses import BatchResponse
from moto.ec2.models.amis import Ami
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.spot_requests import SpotFleetRequest
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.responses.fleets import Fleets
from moto.ec2.responses.launch_templates import LaunchTemplates

from ami_lifecycle.local import fidelity

from .conftest import DR

if TYPE_CHECKING:
    from .conftest import LocalAws


def test_install_twice_changes_nothing(aws: LocalAws) -> None:
    """Idempotent install: a second call keeps the patches (and behaviour) of the first."""
    # Given the layer is installed
    fidelity.install()
    patched = (AmisResponse.copy_image, AmisResponse.register_image, Ami.block_device_mappings)
    # When it is installed again
    fidelity.install()
    # Then moto still runs the same patches, and a copy still makes exactly one snapshot per source snapshot
    assert (AmisResponse.copy_image, AmisResponse.register_image, Ami.block_device_mappings) == patched
    source = aws.source_image(sizes=(8,))
    aws.ec2(DR).copy_image(SourceImageId=source.image_id, SourceRegion="us-east-1", Name="web-1.0.0")
    assert len(aws.snapshots(DR)) == 1


def sweep_patches() -> tuple[object, ...]:
    return (
        AmisResponse.deregister_image,
        AmisResponse.describe_images,
        AmisResponse.describe_image_attribute,
        AmisResponse.disable_image,
        AmisResponse.enable_image_deregistration_protection,  # type: ignore[attr-defined]
        AmisResponse.disable_image_deregistration_protection,  # type: ignore[attr-defined]
        ElasticBlockStore.describe_snapshots,
        LaunchTemplates.describe_launch_templates,
        LaunchTemplates.describe_launch_template_versions,
        TaggedEC2Resource.get_tags,
    )


def test_install_twice_keeps_the_sweep_patches(aws: LocalAws) -> None:
    """Idempotent install: a second call keeps every patch of the first (DescribeImages and its neighbours)."""
    # Given the layer is installed
    fidelity.install()
    patched = sweep_patches()
    # When it is installed again
    fidelity.install()
    # Then moto runs the same patches, and a protected AMI is still refused deregistration
    assert sweep_patches() == patched
    source = aws.source_image(sizes=(8,))
    aws.ec2("us-east-1").enable_image_deregistration_protection(ImageId=source.image_id)
    with pytest.raises(ClientError) as excinfo:
        aws.ec2("us-east-1").deregister_image(ImageId=source.image_id)
    assert excinfo.value.response["Error"]["Code"] == "OperationNotPermitted"


def usage_patches() -> tuple[object, ...]:
    return (
        AmisResponse.describe_image_references,  # type: ignore[attr-defined]
        AmisResponse.create_image_usage_report,  # type: ignore[attr-defined]
        AmisResponse.list_images_in_recycle_bin,  # type: ignore[attr-defined]
        ElasticBlockStore.delete_snapshot,
        Fleets.describe_fleets,
        SpotFleetRequest.spot_fleet_request_config,
        BatchResponse.describecomputeenvironments,
    )


def test_install_twice_keeps_the_usage_and_recycle_bin_patches(aws: LocalAws) -> None:
    """Idempotent install: a second call keeps the patches of the usage, Recycle Bin and fleet areas."""
    # Given the layer is installed, with a Recycle Bin rule for snapshots
    fidelity.install()
    patched = usage_patches()
    fidelity.add_recycle_bin_rule("us-east-1", "EBS_SNAPSHOT", 7)
    # When it is installed again
    fidelity.install()
    # Then moto runs the same patches, and a deleted snapshot still goes to the bin once
    assert usage_patches() == patched
    snapshot_id = aws.snapshot("us-east-1", 8)
    aws.ec2("us-east-1").delete_snapshot(SnapshotId=snapshot_id)
    listed = aws.ec2("us-east-1").list_snapshots_in_recycle_bin()["Snapshots"]
    assert [s["SnapshotId"] for s in listed] == [snapshot_id]
