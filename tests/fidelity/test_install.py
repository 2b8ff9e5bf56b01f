"""install() is safe to call from every test setup and entry point."""

from __future__ import annotations

from typing import TYPE_CHECKING

from moto.ec2.models.amis import Ami
from moto.ec2.responses.amis import AmisResponse

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
