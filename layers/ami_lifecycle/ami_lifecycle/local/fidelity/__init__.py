"""moto fidelity extension: AMIs, their snapshots and launch templates behave like EC2 where the product depends on it.

moto 5.2.5 copies an AMI as a bare record, registers every AMI with one auto-created snapshot, and lacks what a
lifecycle sweep needs. ``install()`` patches moto's classes in-process, so the same behaviour applies under
``moto.mock_aws()`` and behind a ``ThreadedMotoServer`` running in the same process (both use the one set of
backends). One module per AWS area, each with its tests in ``tests/fidelity/test_<module>.py`` naming the AWS
documentation it follows:

- ``copy_image``: CopyImage with lineage, tags, encryption, ClientToken and pending copies;
- ``register_image``: RegisterImage with exactly the given block device mappings;
- ``deregister_image``: DeregisterImage DeleteAssociatedSnapshots;
- ``describe_images``: DescribeImages IncludeDisabled and paging, DisableImage;
- ``image_attributes``: LastLaunchedTime and DescribeImageAttribute;
- ``deprecation``: Enable/DisableImageDeprecation and DeprecationTime;
- ``deregistration_protection``: Enable/DisableImageDeregistrationProtection and its cooldown;
- ``describe_snapshots``: DescribeSnapshots OwnerIds and paging;
- ``launch_templates``: DescribeLaunchTemplates and DescribeLaunchTemplateVersions, all of them, paged, with
  ResolveAlias; DeleteLaunchTemplateVersions;
- ``block_device_mappings``: an AMI's own mappings, and DeleteSnapshot refusing a mapped snapshot;
- ``resource_tags``: a resource's tags read directly, TagSpecifications, EC2's tag limits (50 per resource, key and
  value lengths, `aws:` keys);
- ``ssm_parameters``: SSM parameters of data type aws:ec2:image, validated after PutParameter returns, and
  DescribeParameters paged by MaxResults;
- ``image_references``: DescribeImageReferences (instances, launch templates, SSM parameters using an AMI);
- ``image_usage_reports``: Create/Describe/Delete AMI usage reports and their entries;
- ``resource_shares``: AWS RAM shares of advanced-tier SSM parameters, AssociateResourceShare;
- ``recycle_bin``: retention rules for AMIs and snapshots, ListImages/SnapshotsInRecycleBin, Restore...;
- ``fleet_reads``: DescribeFleets, DescribeSpotFleetRequests, DescribeSpotInstanceRequests and AWS Batch
  DescribeComputeEnvironments, paged, with what a reader of them needs;
- ``pagination``: MaxResults/NextToken in linear time, shared by the describe actions.

Time does not pass in moto, so tests make it pass with these hooks:

- ``complete_pending_copies()`` / ``fail_pending_copy()``: a CopyImage result stays ``pending`` until then;
- ``set_deprecation_time()``: an AMI deprecated in the past (EnableImageDeprecation refuses past dates, as EC2
  does);
- ``expire_deregistration_cooldown()``: the 24-hour cooldown of a disabled deregistration protection ends;
- ``set_last_launched_time()``: the LastLaunchedTime EC2 reports (about a day after a launch; RunInstances
  does not update it);
- ``fail_snapshot_deletion()``: one snapshot's deletion by DeregisterImage DeleteAssociatedSnapshots comes
  back with a non-success return code, once;
- ``set_consumer_usage()``: what another account uses an AMI in (moto models no other accounts), counted by the
  usage reports completed later;
- ``complete_usage_reports()`` / ``fail_usage_report()``: a usage report stays ``pending`` until then;
- ``age_usage_report()``: a usage report was created days ago (it expires 30 days after creation);
- ``add_usage_report()``: an available report made at a given time (seeding an account with history);
- ``add_recycle_bin_rule()``: a Recycle Bin retention rule is in force, standing in for the stack's
  ``AWS::Rbin::Rule``;
- ``expire_recycle_bin()``: what is in the Recycle Bin reaches its exit time and is deleted for good.

And one to look: ``parameter_validation_failures()`` lists the aws:ec2:image values EC2 refused after
PutParameter had returned (what the "Parameter Store Change" event would report).
"""

from __future__ import annotations

from moto.ec2.responses.amis import AmisResponse

from . import (
    block_device_mappings,
    copy_image,
    deprecation,
    deregister_image,
    deregistration_protection,
    describe_images,
    describe_snapshots,
    fleet_reads,
    image_attributes,
    image_references,
    image_usage_reports,
    launch_templates,
    recycle_bin,
    register_image,
    resource_shares,
    resource_tags,
    ssm_parameters,
)
from ._common import LOCK, MOTO
from .copy_image import complete_pending_copies, fail_pending_copy
from .deprecation import set_deprecation_time
from .deregister_image import fail_snapshot_deletion
from .deregistration_protection import expire_deregistration_cooldown
from .image_attributes import set_last_launched_time
from .image_usage_reports import (
    add_usage_report,
    age_usage_report,
    complete_usage_reports,
    fail_usage_report,
    set_consumer_usage,
)
from .recycle_bin import add_recycle_bin_rule, expire_recycle_bin
from .ssm_parameters import parameter_validation_failures

__all__ = [
    "add_recycle_bin_rule",
    "add_usage_report",
    "age_usage_report",
    "complete_pending_copies",
    "complete_usage_reports",
    "expire_deregistration_cooldown",
    "expire_recycle_bin",
    "fail_pending_copy",
    "fail_snapshot_deletion",
    "fail_usage_report",
    "install",
    "parameter_validation_failures",
    "set_consumer_usage",
    "set_deprecation_time",
    "set_last_launched_time",
]

_MOTO = MOTO  # moto's original members: tests compare the patched ones against them
_INSTALLED_MARKER = "_ami_lifecycle_fidelity_installed"


def install() -> None:
    """Patch moto in-process. Idempotent: a second call (from any importer) changes nothing."""
    with LOCK:
        if getattr(AmisResponse, _INSTALLED_MARKER, False):
            return
        # Each area captures moto's members it still needs before replacing them; no two areas patch one member.
        copy_image.install()
        register_image.install()
        deregister_image.install()
        describe_images.install()
        image_attributes.install()
        deprecation.install()
        deregistration_protection.install()
        describe_snapshots.install()
        launch_templates.install()
        block_device_mappings.install()
        resource_tags.install()
        image_references.install()
        ssm_parameters.install()
        image_usage_reports.install()
        recycle_bin.install()
        resource_shares.install()
        fleet_reads.install()
        setattr(AmisResponse, _INSTALLED_MARKER, True)
