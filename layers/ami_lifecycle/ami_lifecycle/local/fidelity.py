"""moto fidelity extension: AMIs, their snapshots and launch templates behave like EC2 where the product depends on it.

moto 5.2.5 copies an AMI as a bare record (no lineage, tags, snapshots, encryption or pending state),
registers every AMI with one auto-created 15 GiB snapshot, and lacks what a lifecycle sweep needs: AMI
deprecation, deregistration protection, LastLaunchedTime, DeregisterImage DeleteAssociatedSnapshots,
IncludeDisabled, DescribeSnapshots OwnerIds, and pagination (it ignores MaxResults/NextToken for images and
snapshots and stops at 15 launch templates or versions). ``install()`` patches moto's classes in-process, so
the same behaviour applies under ``moto.mock_aws()`` and behind a ``ThreadedMotoServer`` running in the same
process (both use the one set of backends). Each EC2 behaviour is one small function below; the tests in
``tests/fidelity`` name the AWS documentation each one follows.

Describe actions page through any number of items in linear time (a first request selects all matches, the
following pages slice them), and a resource's tags are read directly rather than by moto's scan of every tag
of the region: listing 10,000 tagged AMIs in pages of 1,000 takes seconds, not minutes.

Time does not pass in moto, so tests make it pass with these hooks:

- ``complete_pending_copies()`` / ``fail_pending_copy()``: a CopyImage result stays ``pending`` until then;
- ``set_deprecation_time()``: an AMI deprecated in the past (EnableImageDeprecation refuses past dates, as EC2
  does);
- ``expire_deregistration_cooldown()``: the 24-hour cooldown of a disabled deregistration protection ends;
- ``set_last_launched_time()``: the LastLaunchedTime EC2 reports (about a day after a launch; RunInstances
  does not update it);
- ``fail_snapshot_deletion()``: one snapshot's deletion by DeregisterImage DeleteAssociatedSnapshots comes
  back with a non-success return code, once.
"""

from __future__ import annotations

import copy
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import (
    EC2ClientError,
    FilterNotImplementedError,
    InvalidAMIIdError,
    InvalidLaunchTemplateIdNotFound,
    InvalidParameterCombination,
    InvalidParameterDependency,
    InvalidParameterValue,
    InvalidSnapshotIdError,
    InvalidSnapshotInUse,
    InvalidTaggableResourceType,
    MalformedAMIIdError,
    MissingParameter,
    MissingParameterError,
)
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.elastic_block_store import EBSBackend, Snapshot, Volume
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateVersion
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import (
    EC2_PREFIX_TO_RESOURCE,
    format_timestamp,
    generic_filter,
    get_prefix,
    is_filter_matching,
    random_ami_id,
    random_snapshot_id,
)
from moto.kms.models import kms_backends

__all__ = [
    "complete_pending_copies",
    "expire_deregistration_cooldown",
    "fail_pending_copy",
    "fail_snapshot_deletion",
    "install",
    "set_deprecation_time",
    "set_last_launched_time",
]

# One lock for every patched write path: moto's server handles requests on several threads, and a
# ClientToken must map to exactly one image even when the same request arrives concurrently.
_LOCK = threading.RLock()
_MOTO: dict[str, Any] = {}  # moto's original members, captured by install()
_INSTALLED_MARKER = "_ami_lifecycle_fidelity_installed"

# EC2 reports this volume id for snapshots made by a copy ("arbitrary volume ID that should not be used").
_COPIED_SNAPSHOT_VOLUME_ID = "vol-ffffffff"
_COPY_RESOURCE_TYPES = frozenset({"image", "snapshot"})
_REGISTER_RESOURCE_TYPES = frozenset({"image"})
# Undocumented: a copy whose KMS key is unusable ends `failed`; users report this opaque reason.
_KMS_FAILURE_CODE = "Client.InternalError"
_INJECTED_FAILURE_CODE = "Server.InternalError"
# EnableImageDeprecation DeprecateAt: at most 10 years from now; for a public AMI, 2 years from its creation.
_DEPRECATION_LIMIT_YEARS = 10
_PUBLIC_DEPRECATION_LIMIT_YEARS = 2
# DeregisterImage DeleteSnapshotResults ReturnCode: every value but success leaves the snapshot in place.
_SNAPSHOT_FAILURE_CODES = frozenset({"skipped", "missing-permissions", "internal-error", "client-error"})
# DescribeImages DeregistrationProtection, and the Return of the Enable/Disable actions (see the section below).
_PROTECTION_DISABLED = "disabled"
_PROTECTION_WITH_COOLDOWN = "enabled-with-cooldown"
_PROTECTION_WITHOUT_COOLDOWN = "enabled-without-cooldown"
_PROTECTION_COOLDOWN_PREFIX = "disabled after "
_PROTECTION_COOLDOWN = timedelta(hours=24)
# DescribeImages MaxResults; DescribeSnapshots takes the same lower bound and returns at most 1,000.
_MAX_RESULTS_RANGE = (5, 1000)
# DescribeLaunchTemplates and DescribeLaunchTemplateVersions MaxResults.
_LAUNCH_TEMPLATE_MAX_RESULTS_RANGE = (1, 200)
_ALL_TEMPLATES_VERSIONS_MESSAGE = (
    "To describe the launch template versions of all your launch templates, specify $Latest, $Default or both for "
    "Versions and omit the launch template ID and name. To describe versions of one launch template, specify its "
    "ID or name."
)
# Pagination cursors kept per backend (the oldest is forgotten first: its token then is InvalidPaginationToken).
_MAX_CURSORS = 1000


class _IdempotentParameterMismatch(EC2ClientError):
    """EC2's common error for a reused ClientToken whose request differs from the first one."""

    def __init__(self, client_token: str) -> None:
        super().__init__(
            "IdempotentParameterMismatch",
            f"The client token '{client_token}' was already used with different request parameters.",
        )


class _DeregistrationProtected(EC2ClientError):
    """DeregisterImage of an AMI under deregistration protection (or in its cooldown): OperationNotPermitted.

    The DeregisterImage reference names no error for this; EC2's common OperationNotPermitted ("the specified
    operation is not allowed", its example: terminating an instance with termination protection) is the code
    EC2 documents for a protected resource. The message is ours, not EC2's.
    """

    def __init__(self, image_id: str, state: str) -> None:
        super().__init__(
            "OperationNotPermitted",
            f"The image '{image_id}' cannot be deregistered because deregistration protection is {state}. "
            "Disable deregistration protection (and wait for its cooldown, if any) and try again.",
        )


class _InvalidPaginationToken(EC2ClientError):
    """EC2's common InvalidPaginationToken: the token is not valid or has expired (the message is ours)."""

    def __init__(self, token: str) -> None:
        super().__init__("InvalidPaginationToken", f"The pagination token '{token}' is not valid or has expired.")


class _InvalidMaxResults(EC2ClientError):
    """EC2's common InvalidParameterValue for a MaxResults outside the action's range (the message is ours)."""

    def __init__(self, value: int, low: int, high: int) -> None:
        super().__init__(
            "InvalidParameterValue",
            f"Value ({value}) for parameter MaxResults is invalid. Expecting a value between {low} and {high}.",
        )


class _InvalidDeprecateAt(EC2ClientError):
    """EC2's common InvalidParameterValue for a DeprecateAt outside the documented window.

    The EnableImageDeprecation reference lists no action-specific error; the message is ours, not EC2's.
    """

    def __init__(self, deprecate_at: datetime, reason: str) -> None:
        super().__init__(
            "InvalidParameterValue",
            f"Value ({_iso(deprecate_at)}) for parameter DeprecateAt is invalid. {reason}",
        )


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def install() -> None:
    """Patch moto in-process. Idempotent: a second call (from any importer) changes nothing."""
    with _LOCK:
        if getattr(AmisResponse, _INSTALLED_MARKER, False):
            return
        _MOTO.update(
            block_device_mappings=Ami.block_device_mappings,
            delete_snapshot=EBSBackend.delete_snapshot,
            get_tags=TaggedEC2Resource.get_tags,
            deregister_image=AmisResponse.deregister_image,
            describe_image_attribute=AmisResponse.describe_image_attribute,
            describe_images=AmisResponse.describe_images,
            disable_image=AmisResponse.disable_image,
            describe_snapshots=ElasticBlockStore.describe_snapshots,
            describe_launch_templates=LaunchTemplates.describe_launch_templates,
            describe_launch_template_versions=LaunchTemplates.describe_launch_template_versions,
        )
        # Actions (moto's dispatcher looks them up by name on its EC2Response, which inherits these classes)
        AmisResponse.copy_image = _copy_image_action  # type: ignore[method-assign]
        AmisResponse.register_image = _register_image_action  # type: ignore[method-assign]
        AmisResponse.deregister_image = _deregister_image_action  # type: ignore[method-assign]
        AmisResponse.describe_images = _describe_images_action  # type: ignore[method-assign]
        AmisResponse.describe_image_attribute = _describe_image_attribute_action  # type: ignore[method-assign]
        AmisResponse.disable_image = _disable_image_action  # type: ignore[method-assign]
        AmisResponse.enable_image_deprecation = _enable_image_deprecation_action  # type: ignore[attr-defined]
        AmisResponse.disable_image_deprecation = _disable_image_deprecation_action  # type: ignore[attr-defined]
        AmisResponse.enable_image_deregistration_protection = _enable_protection_action  # type: ignore[attr-defined]
        AmisResponse.disable_image_deregistration_protection = _disable_protection_action  # type: ignore[attr-defined]
        ElasticBlockStore.describe_snapshots = _describe_snapshots_action  # type: ignore[method-assign]
        LaunchTemplates.describe_launch_templates = _describe_launch_templates_action  # type: ignore[method-assign]
        LaunchTemplates.describe_launch_template_versions = _describe_versions_action  # type: ignore[method-assign]
        # Models: what DescribeImages and DescribeSnapshots report, and what deleting a snapshot checks
        Ami.block_device_mappings = property(_image_block_device_mappings)  # type: ignore[method-assign,assignment]
        Ami.deprecation_time = property(_image_deprecation_time)  # type: ignore[attr-defined]
        Ami.deregistration_protection = property(_image_deregistration_protection)  # type: ignore[attr-defined]
        Ami.last_launched_time = property(_image_last_launched_time)  # type: ignore[attr-defined]
        Snapshot.progress = property(_snapshot_progress)  # type: ignore[method-assign,assignment]
        TaggedEC2Resource.get_tags = _resource_tags  # type: ignore[method-assign]
        EBSBackend.delete_snapshot = _delete_snapshot_unless_mapped  # type: ignore[method-assign]
        setattr(AmisResponse, _INSTALLED_MARKER, True)


def complete_pending_copies(region: str | None = None, account_id: str | None = None) -> list[tuple[str, str]]:
    """Advance time: every pending CopyImage result (in that region/account, or all) finishes.

    Returns the (region, image_id) pairs that became ``available``. A copy whose KMS key could not be
    used turns ``failed`` instead (EC2 checks the key asynchronously) and is not in the result.
    """
    completed: list[tuple[str, str]] = []
    with _LOCK:
        for backend in _ec2_backends(region, account_id):
            for image in list(backend.amis.values()):
                if not _is_pending_copy(image):
                    continue
                pending: _PendingCopy = image.fidelity_pending_copy
                if pending.failure is not None:
                    _end_copy(image, "failed", "error", pending.failure)
                else:
                    _end_copy(image, "available", "completed", None)
                    completed.append((backend.region_name, image.id))
    return completed


def fail_pending_copy(region: str, image_id: str, account_id: str | None = None) -> None:
    """Make a pending CopyImage result fail, as EC2 does when a copy cannot finish."""
    with _LOCK:
        for backend in _ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None and _is_pending_copy(image):
                reason = {
                    "Code": _INJECTED_FAILURE_CODE,
                    "Message": "Copy image failed with an internal error.",
                }
                _end_copy(image, "failed", "error", reason)
                return
    raise ValueError(f"{image_id} is not a pending CopyImage result in {region}")


def set_deprecation_time(image_id: str, when: datetime, region: str, account_id: str | None = None) -> None:
    """Time passes: the AMI's DeprecationTime becomes ``when``, which may lie in the past.

    EnableImageDeprecation refuses a date in the past (as EC2 does), so an AMI that was deprecated last month
    can only be set up by writing the date directly, as if the deprecation had been enabled back then. No
    window is checked here. ``when`` is rounded to the minute like DeprecateAt; a naive datetime is UTC.
    """
    with _LOCK:
        for backend in _ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None:
                image.fidelity_deprecation_time = _round_to_minute(_as_utc(when))
                return
    raise ValueError(f"{image_id} is not a registered image in {region}")


def fail_snapshot_deletion(
    snapshot_id: str, code: str = "internal-error", region: str | None = None, account_id: str | None = None
) -> None:
    """The next DeregisterImage with DeleteAssociatedSnapshots reports ``code`` for this snapshot and keeps it.

    One-shot: the failure is used up by the deregistration that reports it, so a retry (DeleteSnapshot, or
    deregistering another AMI that maps it) succeeds. ``code`` is one of EC2's non-success return codes:
    ``skipped``, ``missing-permissions``, ``internal-error`` or ``client-error``.
    """
    if code not in _SNAPSHOT_FAILURE_CODES:
        raise ValueError(f"{code!r} is not one of {sorted(_SNAPSHOT_FAILURE_CODES)}")
    with _LOCK:
        for backend in _ec2_backends(region, account_id):
            if snapshot_id in backend.snapshots:
                backend.__dict__.setdefault("fidelity_snapshot_failures", {})[snapshot_id] = code
                return
    raise ValueError(f"{snapshot_id} is not a snapshot" + (f" in {region}" if region else ""))


def expire_deregistration_cooldown(image_id: str, region: str, account_id: str | None = None) -> None:
    """Time passes: the 24-hour cooldown of a disabled deregistration protection ends now.

    DescribeImages then reports ``disabled`` and DeregisterImage succeeds. An AMI without a running cooldown
    is left as it is; enabled protection is not affected (only DisableImageDeregistrationProtection ends it).
    """
    with _LOCK:
        for backend in _ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None:
                image.fidelity_cooldown_until = None
                return
    raise ValueError(f"{image_id} is not a registered image in {region}")


def set_last_launched_time(image_id: str, when: datetime, region: str, account_id: str | None = None) -> None:
    """Time passes: EC2 reports ``when`` as the AMI's LastLaunchedTime (DescribeImages, DescribeImageAttribute).

    EC2 reports a launch about 24 hours after it happens, so RunInstances does not update it here either: a
    test states the time it needs. ``when`` is kept to the second; a naive datetime is UTC.
    """
    with _LOCK:
        for backend in _ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None:
                image.fidelity_last_launched_time = _as_utc(when).replace(microsecond=0)
                return
    raise ValueError(f"{image_id} is not a registered image in {region}")


# --------------------------------------------------------------------------------------------------
# CopyImage
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CopyRequest:
    """The CopyImage parameters that define a copy; equality is what ClientToken idempotency compares."""

    source_image_id: str
    source_region: str
    name: str | None
    description: str | None
    encrypted: bool
    kms_key_id: str | None
    copy_image_tags: bool
    image_tags: tuple[tuple[str, str], ...]
    snapshot_tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _PendingCopy:
    """Marks an image as an unfinished copy; ``failure`` is the StateReason it will end with, if any."""

    failure: dict[str, str] | None


def _copy_image_action(self: AmisResponse) -> ActionResult:
    tags = _tags_by_resource_type(self._get_param("TagSpecifications") or [], _COPY_RESOURCE_TYPES)
    request = _CopyRequest(
        source_image_id=self._get_param("SourceImageId"),
        source_region=self._get_param("SourceRegion"),
        name=self._get_param("Name"),
        description=self._get_param("Description"),
        encrypted=bool(self._get_param("Encrypted")),
        kms_key_id=self._get_param("KmsKeyId"),
        copy_image_tags=bool(self._get_param("CopyImageTags")),
        image_tags=tuple(tags.get("image", {}).items()),
        snapshot_tags=tuple(tags.get("snapshot", {}).items()),
    )
    self.error_on_dryrun()
    image_id = _copy_image_idempotently(self.ec2_backend, request, self._get_param("ClientToken"))
    return ActionResult({"ImageId": image_id})


def _copy_image_idempotently(backend: Any, request: _CopyRequest, client_token: str | None) -> str:
    """ClientToken: the same token and request in this region/account returns the first ImageId."""
    with _LOCK:
        # Kept on the backend so that moto's reset (mock_aws exit, /moto-api/reset) forgets the tokens too.
        tokens: dict[str, tuple[_CopyRequest, str]] = backend.__dict__.setdefault("fidelity_copy_tokens", {})
        if client_token and client_token in tokens:
            first_request, image_id = tokens[client_token]
            if first_request != request:
                raise _IdempotentParameterMismatch(client_token)
            return image_id
        image = _start_copy(backend, request)
        if client_token:
            tokens[client_token] = (request, image.id)
        return image.id


def _start_copy(backend: Any, request: _CopyRequest) -> Ami:
    """Register the pending copy in the destination region, with lineage, tags and copied snapshots."""
    if request.kms_key_id and not request.encrypted:
        raise InvalidParameterDependency("KmsKeyId", "Encrypted")  # the key only applies to encrypted copies
    source_backend = ec2_backends[backend.account_id][request.source_region]
    source = _find_image(source_backend, request.source_image_id)
    key_arn = _resolve_kms_key_arn(backend, request.kms_key_id) if request.kms_key_id else None

    image = _new_image_without_auto_snapshot(
        backend, source_ami=source, name=request.name, description=request.description, state="pending"
    )
    image.source_image_id = source.id
    image.source_image_region = request.source_region
    image.root_device_name = source.root_device_name
    image.boot_mode = source.boot_mode
    image.ena_support = getattr(source, "ena_support", None)
    image.fidelity_mappings = [
        _copy_mapping(backend, source_backend, mapping, image.id, source.id, request, key_arn)
        for mapping in source.block_device_mappings
    ]
    image.root_device_type = "ebs" if _snapshot_ids(image) else source.root_device_type
    failure = None
    if request.kms_key_id and key_arn is None:
        message = f"Copy image failed: KMS key {request.kms_key_id} is not usable in {backend.region_name}."
        failure = {"Code": _KMS_FAILURE_CODE, "Message": message}
    image.fidelity_pending_copy = _PendingCopy(failure)
    backend.amis[image.id] = image

    _tag(backend, [image.id], _tags_for_copy(source, request))
    _tag(backend, _snapshot_ids(image), dict(request.snapshot_tags))
    return image


def _find_image(backend: Any, image_id: str) -> Ami:
    """The AMI must exist in that region: EC2 answers InvalidAMIID.Malformed / InvalidAMIID.NotFound.

    CopyImage looks the source up in SourceRegion; the deprecation actions look in their own region.
    """
    if not image_id or not image_id.startswith("ami-"):
        raise MalformedAMIIdError([image_id])
    image: Ami | None = backend.amis.get(image_id)
    if image is None:
        raise InvalidAMIIdError(image_id)
    return image


def _tags_for_copy(source: Ami, request: _CopyRequest) -> dict[str, str]:
    """CopyImageTags copies the source's user tags, never ``aws:`` ones; TagSpecifications win a shared key.

    EC2 tag keys are unique per resource and a value given for an existing key overwrites it, so the tags
    the caller states explicitly override the copied value.
    """
    copied = {}
    if request.copy_image_tags:
        copied = {t["key"]: t["value"] for t in source.get_tags() if not t["key"].startswith("aws:")}
    return copied | dict(request.image_tags)


def _copy_mapping(
    backend: Any,
    source_backend: Any,
    mapping: dict[str, Any],
    image_id: str,
    source_image_id: str,
    request: _CopyRequest,
    key_arn: str | None,
) -> dict[str, Any]:
    """Each EBS snapshot of the source becomes a new pending snapshot here; the mapping points at it."""
    ebs = mapping.get("Ebs")
    if not ebs or not ebs.get("SnapshotId"):
        return copy.deepcopy(mapping)  # instance-store, NoDevice and empty-volume entries stay as they are
    source_snapshot: Snapshot | None = source_backend.snapshots.get(ebs["SnapshotId"])
    size = source_snapshot.volume_size if source_snapshot else ebs.get("VolumeSize")
    encrypted, kms_key = _copy_encryption(backend, request, key_arn, source_snapshot)
    snapshot = _new_pending_snapshot(
        backend,
        size=size,
        description=f"Copied for DestinationAmi {image_id} from SourceAmi {source_image_id} "
        f"for SourceSnapshot {ebs['SnapshotId']}",
        encrypted=encrypted,
        kms_key_id=kms_key,
        from_ami=image_id,
    )
    new_ebs = {k: v for k, v in ebs.items() if k != "KmsKeyId"}
    new_ebs |= {"SnapshotId": snapshot.id, "Encrypted": encrypted}
    return {**copy.deepcopy(mapping), "Ebs": new_ebs}


def _copy_encryption(
    backend: Any, request: _CopyRequest, key_arn: str | None, source_snapshot: Snapshot | None
) -> tuple[bool, str | None]:
    """Encrypted and KmsKeyId of a snapshot copy.

    An encrypted source stays encrypted, Encrypted=True encrypts an unencrypted one, and so does EBS
    encryption by default in the destination region. The key is KmsKeyId, else the default EBS key there.
    """
    encrypted = (
        request.encrypted
        or bool(source_snapshot and source_snapshot.encrypted)
        or bool(backend.ebs_encryption_by_default)
    )
    if request.kms_key_id:
        return (
            encrypted,
            key_arn or request.kms_key_id,
        )  # an unusable key is kept as given: the copy will fail
    return encrypted, _default_ebs_key_arn(backend) if encrypted else None


def _resolve_kms_key_arn(backend: Any, key_id: str) -> str | None:
    """The key (id, ARN, alias or alias ARN) must be a usable symmetric key in the DESTINATION region.

    EC2 validates the key asynchronously: the call succeeds and the copy fails later, so None here means
    "this copy will fail", not an error for the caller.
    """
    if key_id.startswith("arn:") and key_id.split(":")[3] != backend.region_name:
        return None  # a key of another region: KMS keys are regional
    kms = kms_backends[backend.account_id][backend.region_name]
    try:
        key = kms.describe_key(key_id)
    except (KeyError, AttributeError):  # how moto's KMS says "no such key id / alias"
        return None
    if key.key_state != "Enabled" or key.key_spec != "SYMMETRIC_DEFAULT":
        return None  # EBS needs an enabled symmetric key
    return str(key.arn)


def _default_ebs_key_arn(backend: Any) -> str:
    """Encrypted without KmsKeyId: the account's default EBS key in the destination region.

    moto keeps it as the ``alias/aws/ebs`` key (created on first use, as AWS does) or the key chosen
    with ModifyEbsDefaultKmsKeyId, so KMS DescribeKey on the snapshot's KmsKeyId works.
    """
    return str(backend.default_kms_key_id or backend._create_default_encryption_key())


def _new_pending_snapshot(
    backend: Any, size: int, description: str, encrypted: bool, kms_key_id: str | None, from_ami: str
) -> Snapshot:
    """A snapshot being copied: ``pending`` until the copy completes, sized like its source."""
    volume = Volume(backend, _COPIED_SNAPSHOT_VOLUME_ID, size, zone=None)  # not a real volume: not registered
    snapshot = Snapshot(
        backend,
        random_snapshot_id(),
        volume,
        description,
        encrypted=encrypted,
        kms_key_id=kms_key_id,
        from_ami=from_ami,
    )
    snapshot.status = "pending"
    backend.snapshots[snapshot.id] = snapshot
    return snapshot


def _end_copy(image: Ami, image_state: str, snapshot_state: str, reason: dict[str, str] | None) -> None:
    """A copy ends available (snapshots completed) or failed (snapshots error, StateReason set)."""
    image.state = image_state
    image.state_reason = reason
    image.fidelity_pending_copy = None
    for snapshot_id in _snapshot_ids(image):
        snapshot = image.ec2_backend.snapshots.get(snapshot_id)
        if snapshot is not None:
            snapshot.status = snapshot_state


# --------------------------------------------------------------------------------------------------
# RegisterImage
# --------------------------------------------------------------------------------------------------


def _register_image_action(self: AmisResponse) -> ActionResult:
    tags = _tags_by_resource_type(self._get_param("TagSpecifications") or [], _REGISTER_RESOURCE_TYPES)
    mappings = self._get_param("BlockDeviceMappings") or []
    self.error_on_dryrun()
    image = _register_image(
        self.ec2_backend,
        name=self._get_param("Name"),
        description=self._get_param("Description"),
        mappings=mappings,
        root_device_name=self._get_param("RootDeviceName"),
        architecture=self._get_param("Architecture"),
        virtualization_type=self._get_param("VirtualizationType"),
        boot_mode=self._get_param("BootMode"),
        ena_support=self._get_param("EnaSupport"),
        tags=tags.get("image", {}),
    )
    return ActionResult({"ImageId": image.id})


def _register_image(
    backend: Any,
    name: str | None,
    description: str | None,
    mappings: list[dict[str, Any]],
    root_device_name: str | None,
    architecture: str | None,
    virtualization_type: str | None,
    boot_mode: str | None,
    ena_support: bool | None,
    tags: dict[str, str],
) -> Ami:
    """An EBS-backed AMI made of exactly the given mappings; without mappings, moto's old behaviour."""
    with _LOCK:
        resolved = [_register_mapping(backend, mapping) for mapping in mappings]  # validate before creating
        if resolved:
            image = _new_image_without_auto_snapshot(backend, name=name, description=description)
            image.fidelity_mappings = resolved
            image.root_device_type = "ebs"
        else:
            image = backend.register_image(name, description)
        # Documented defaults of RegisterImage: i386 and paravirtual; no boot mode unless one is given.
        image.architecture = architecture or "i386"
        image.virtualization_type = virtualization_type or "paravirtual"
        image.boot_mode = boot_mode
        image.ena_support = ena_support
        if root_device_name:
            image.root_device_name = root_device_name
        backend.amis[image.id] = image
        _tag(backend, [image.id], tags)
        return image


def _register_mapping(backend: Any, mapping: dict[str, Any]) -> dict[str, Any]:
    """An EBS mapping must name a snapshot of this region; unset size/type come from the snapshot.

    RegisterImage cannot set the encryption state: the volume is encrypted exactly when the snapshot is.
    """
    ebs = mapping.get("Ebs")
    if not ebs or not ebs.get("SnapshotId"):
        return copy.deepcopy(mapping)
    snapshot: Snapshot | None = backend.snapshots.get(ebs["SnapshotId"])
    if snapshot is None:
        raise InvalidSnapshotIdError()
    resolved = {
        "SnapshotId": snapshot.id,
        "VolumeSize": ebs.get("VolumeSize") or snapshot.volume_size,
        "VolumeType": ebs.get("VolumeType") or snapshot.volume.volume_type,
        "DeleteOnTermination": ebs.get("DeleteOnTermination", True),
        "Encrypted": bool(snapshot.encrypted),
    }
    resolved |= {k: ebs[k] for k in ("Iops", "Throughput") if ebs.get(k) is not None}
    return {**copy.deepcopy(mapping), "Ebs": resolved}


# --------------------------------------------------------------------------------------------------
# EnableImageDeprecation, DisableImageDeprecation
# --------------------------------------------------------------------------------------------------
#
# DescribeImages IncludeDeprecated needs no patch for the owner's own calls: EC2 lists all of the caller's
# deprecated AMIs whatever IncludeDeprecated says, and returns a deprecated AMI whose id is asked for, which
# is what DescribeImages (moto's selection hides no deprecated image) already does. Left out: hiding deprecated AMIs of
# OTHER owners from listings without ImageIds unless IncludeDeprecated=True (moto models no cross-account
# sharing), the default deprecation date EC2 gives public AMIs (two years after creation), and refusing to
# deprecate an AMI the caller does not own.


def _enable_image_deprecation_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    deprecate_at = self._get_param("DeprecateAt")
    if not isinstance(deprecate_at, datetime):  # boto3 requires it; a raw query string might omit it
        raise MissingParameterError("DeprecateAt")
    self.error_on_dryrun()
    _enable_image_deprecation(self.ec2_backend, image_id, _as_utc(deprecate_at))
    return ActionResult({"Return": True})


def _disable_image_deprecation_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    with _LOCK:
        _find_image(self.ec2_backend, image_id).fidelity_deprecation_time = None
    return ActionResult({"Return": True})


def _enable_image_deprecation(backend: Any, image_id: str, deprecate_at: datetime) -> None:
    """DeprecateAt must be in the future and within the limit; EC2 keeps it rounded to the nearest minute.

    The window is checked on the value as given (the reference states it for the value you specify), so a
    DeprecateAt a few seconds ahead may be stored rounded down to a minute that has just passed.
    """
    with _LOCK:
        image = _find_image(backend, image_id)
        now = _as_utc(utcnow())
        if deprecate_at <= now:
            raise _InvalidDeprecateAt(deprecate_at, "You can't specify a date in the past.")
        limit, rule = _deprecation_limit(image, now)
        if deprecate_at > limit:
            raise _InvalidDeprecateAt(deprecate_at, f"The upper limit is {rule} ({_iso(limit)}).")
        image.fidelity_deprecation_time = _round_to_minute(deprecate_at)


def _deprecation_limit(image: Ami, now: datetime) -> tuple[datetime, str]:
    """At most 10 years from now, except for public AMIs: 2 years from the AMI's creation date."""
    if image.is_public:
        limit = _add_years(_as_utc(image.creation_date), _PUBLIC_DEPRECATION_LIMIT_YEARS)
        return limit, f"{_PUBLIC_DEPRECATION_LIMIT_YEARS} years from the creation date of a public AMI"
    return _add_years(now, _DEPRECATION_LIMIT_YEARS), f"{_DEPRECATION_LIMIT_YEARS} years from now"


def _round_to_minute(when: datetime) -> datetime:
    """EC2 rounds the seconds to the nearest minute; half a minute (exactly :30) is taken to round up."""
    floor = when.replace(second=0, microsecond=0)
    return floor + timedelta(minutes=1) if when - floor >= timedelta(seconds=30) else floor


def _image_deprecation_time(self: Ami) -> str | None:
    """DescribeImages DeprecationTime: a string in EC2's timestamp format, like CreationDate; absent when unset."""
    when: datetime | None = getattr(self, "fidelity_deprecation_time", None)
    return None if when is None else format_timestamp(when)


# --------------------------------------------------------------------------------------------------
# DeregisterImage
# --------------------------------------------------------------------------------------------------


def _deregister_image_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    delete_snapshots = bool(self._get_param("DeleteAssociatedSnapshots"))
    self.error_on_dryrun()
    results = _deregister_image(self.ec2_backend, image_id, delete_snapshots)
    response: dict[str, Any] = {"Return": True}
    if delete_snapshots:  # EC2 returns the element only when the snapshots were asked to be deleted
        response["DeleteSnapshotResults"] = results
    return ActionResult(response)


def _deregister_image(backend: Any, image_id: str, delete_snapshots: bool) -> list[dict[str, str]]:
    """Deregister; with DeleteAssociatedSnapshots, also delete each EBS snapshot the AMI mapped.

    A snapshot that another registered AMI (disabled ones included) still maps is ``skipped`` and kept, and
    the AMI is deregistered anyway. Each snapshot gets one result, in the order of the mappings.
    """
    with _LOCK:
        if not image_id or not image_id.startswith("ami-"):
            raise MalformedAMIIdError([image_id])
        image: Ami | None = backend.amis.get(image_id)
        if image is not None and _deregistration_refused(image):
            raise _DeregistrationProtected(image_id, image.deregistration_protection)
        snapshot_ids = list(dict.fromkeys(_snapshot_ids(image))) if image is not None else []
        backend.deregister_image(image_id)  # moto: InvalidAMIID.NotFound, or .Unavailable once deregistered
        if not delete_snapshots:
            return []
        return [{"SnapshotId": s, "ReturnCode": _delete_associated_snapshot(backend, s)} for s in snapshot_ids]


def _delete_associated_snapshot(backend: Any, snapshot_id: str) -> str:
    """The DeleteSnapshotResults ReturnCode for one snapshot of a deregistered AMI; only ``success`` deletes it."""
    if _images_mapping(backend, snapshot_id):
        return "skipped"  # EC2 never deletes a snapshot that is associated with another AMI
    injected: str | None = backend.__dict__.get("fidelity_snapshot_failures", {}).pop(snapshot_id, None)
    if injected is not None:
        return injected
    if backend.snapshots.pop(snapshot_id, None) is None:
        return "client-error"  # not reachable through the API: a mapped snapshot cannot be deleted first
    return "success"


# --------------------------------------------------------------------------------------------------
# EnableImageDeregistrationProtection, DisableImageDeregistrationProtection
# --------------------------------------------------------------------------------------------------
#
# DescribeImages DeregistrationProtection reports ``disabled`` (every AMI starts so), ``enabled-without-cooldown``
# or ``enabled-with-cooldown``; the AWS CLI reference examples show the Enable/Disable actions returning these
# strings. During the 24-hour cooldown that follows disabling a protection enabled WithCooldown, EC2 reports
# ``disabled after <time>``; that prefix is what tools written against EC2 (aws-nuke) parse. The format of the
# time after it is not documented: it is given here like CreationDate (``2024-05-17T12:00:00.000Z``).


def _enable_protection_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    with_cooldown = bool(self._get_param("WithCooldown"))
    self.error_on_dryrun()
    with _LOCK:
        image = _find_image(self.ec2_backend, image_id)
        image.fidelity_protection = _PROTECTION_WITH_COOLDOWN if with_cooldown else _PROTECTION_WITHOUT_COOLDOWN
        return ActionResult({"Return": image.deregistration_protection})


def _disable_protection_action(self: AmisResponse) -> ActionResult:
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    with _LOCK:
        image = _find_image(self.ec2_backend, image_id)
        _disable_deregistration_protection(image)
        return ActionResult({"Return": image.deregistration_protection})


def _disable_deregistration_protection(image: Ami) -> None:
    """Protection enabled WithCooldown stays in force for 24 hours after it is disabled; without, it ends now.

    A cooldown already running (protection re-enabled during it, then disabled without cooldown) keeps running.
    """
    if getattr(image, "fidelity_protection", None) == _PROTECTION_WITH_COOLDOWN:
        image.fidelity_cooldown_until = _as_utc(utcnow()) + _PROTECTION_COOLDOWN
    image.fidelity_protection = None


def _cooldown_until(image: Ami) -> datetime | None:
    until: datetime | None = getattr(image, "fidelity_cooldown_until", None)
    return until if until is not None and until > _as_utc(utcnow()) else None


def _deregistration_refused(image: Ami) -> bool:
    """While protection is enabled, and during its cooldown, the AMI can't be deregistered."""
    return getattr(image, "fidelity_protection", None) is not None or _cooldown_until(image) is not None


def _image_deregistration_protection(self: Ami) -> str:
    """DescribeImages DeregistrationProtection: reported on every AMI, ``disabled`` unless protection was enabled."""
    protection: str | None = getattr(self, "fidelity_protection", None)
    if protection is not None:
        return protection
    until = _cooldown_until(self)
    return _PROTECTION_DISABLED if until is None else _PROTECTION_COOLDOWN_PREFIX + format_timestamp(until)


# --------------------------------------------------------------------------------------------------
# LastLaunchedTime, DescribeImageAttribute
# --------------------------------------------------------------------------------------------------


def _image_last_launched_time(self: Ami) -> str | None:
    """DescribeImages LastLaunchedTime: ISO 8601 to the second (the User Guide shows ``2022-02-10T02:03:18Z``).

    Absent until the AMI has launched an instance (as far as EC2 has reported: see set_last_launched_time).
    """
    when: datetime | None = getattr(self, "fidelity_last_launched_time", None)
    return None if when is None else _iso(when)


def _describe_image_attribute_action(self: AmisResponse) -> ActionResult:
    """lastLaunchedTime and deregistrationProtection, which moto lacks; every other attribute is moto's."""
    attribute = self._get_param("Attribute")
    if attribute not in ("lastLaunchedTime", "deregistrationProtection"):
        result: ActionResult = _MOTO["describe_image_attribute"](self)
        return result
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    image = _find_image(self.ec2_backend, image_id)
    if attribute == "deregistrationProtection":
        return ActionResult(
            {"ImageId": image.id, "DeregistrationProtection": {"Value": image.deregistration_protection}}
        )
    last_launched = image.last_launched_time
    return ActionResult({"ImageId": image.id, "LastLaunchedTime": {"Value": last_launched} if last_launched else {}})


# --------------------------------------------------------------------------------------------------
# Pagination
# --------------------------------------------------------------------------------------------------
#
# EC2 describe actions return every match unless MaxResults is given; then a page of at most MaxResults items
# and a NextToken while more remain. moto ignores MaxResults for images and snapshots and silently stops at 15
# launch templates. Here the first request selects all matches once, in moto's order, and keeps their keys
# behind an opaque token; each following page only slices them, so listing N items costs O(N) whatever the
# page size. An item removed between pages is left out; one added after the first page is not listed (EC2
# makes no promise either). Cursors live on the backend, so moto's reset forgets them.


@dataclass(frozen=True)
class _Cursor:
    operation: str
    keys: list[Any]
    position: int


def _page(
    backend: Any, operation: str, next_token: str | None, max_results: int | None, select: Callable[[], list[Any]]
) -> tuple[list[Any], str | None]:
    """The keys of one page, and the token of the next (None on the last page).

    ``select`` returns the keys of every match; it runs on the first request only. A token may be used again
    (a retried request gets the same page); a token of another action, or one forgotten, is refused.
    """
    with _LOCK:
        cursors: OrderedDict[str, _Cursor] = backend.__dict__.setdefault("fidelity_page_cursors", OrderedDict())
        if next_token:
            cursor = cursors.get(next_token)
            if cursor is None or cursor.operation != operation:
                raise _InvalidPaginationToken(next_token)
            cursors.move_to_end(next_token)
            keys, start = cursor.keys, cursor.position
        else:
            keys, start = select(), 0
        end = len(keys) if max_results is None else min(len(keys), start + max_results)
        if end >= len(keys):
            return keys[start:], None
        token = secrets.token_urlsafe(48)
        cursors[token] = _Cursor(operation, keys, end)
        while len(cursors) > _MAX_CURSORS:
            cursors.popitem(last=False)
        return keys[start:end], token


def _max_results(value: int | None, low: int, high: int, clamp: bool = False) -> int | None:
    """MaxResults within the action's range: InvalidParameterValue outside it, or (``clamp``) at most ``high``."""
    if value is None:
        return None
    if clamp and value > high:
        return high
    if not low <= value <= high:
        raise _InvalidMaxResults(value, low, high)
    return value


# --------------------------------------------------------------------------------------------------
# DescribeImages, DisableImage
# --------------------------------------------------------------------------------------------------


def _describe_images_action(self: AmisResponse) -> ActionResult:
    """moto's selection (ImageIds, Owners, ExecutableUsers, Filters), then IncludeDisabled and pagination.

    EC2 leaves disabled AMIs out unless IncludeDisabled is true: a disabled AMI does not appear in DescribeImages
    by default, and the reference states no exception for ImageIds (unlike IncludeDeprecated), so an id asked
    for is left out too. MaxResults (5 to 1,000) may be combined with ImageIds.
    """
    ami_ids = self._get_param("ImageIds", [])
    filters = self._filters_from_querystring()
    owners = self._get_param("Owners", [])
    exec_users = self._get_param("ExecutableUsers", [])
    include_disabled = bool(self._get_param("IncludeDisabled"))
    max_results = _max_results(self._get_param("MaxResults"), *_MAX_RESULTS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        images = backend.describe_images(ami_ids=ami_ids, filters=filters, exec_users=exec_users, owners=owners)
        return [image.id for image in images if include_disabled or image.state != "disabled"]

    image_ids, token = _page(backend, "DescribeImages", next_token, max_results, select)
    images = [image for image in map(backend.amis.get, image_ids) if image is not None]
    return ActionResult({"Images": images, "NextToken": token})


def _resource_tags(self: TaggedEC2Resource) -> list[dict[str, str]]:
    """The resource's tags, as moto's DescribeTags filtered by resource-id returns them, by direct lookup.

    moto reads them by scanning every tag of the region for each resource, so describing N tagged AMIs (or
    filtering them by tag) costs O(N²); reading the resource's own entry makes it O(N).
    """
    resource_id: str | None = getattr(self, "id", None)
    if not resource_id:
        return []
    tags: dict[str, str] = self.ec2_backend.tags.get(resource_id) or {}  # type: ignore[attr-defined]
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [{"resource_id": resource_id, "key": k, "value": v, "resource_type": resource_type} for k, v in tags.items()]


def _disable_image_action(self: AmisResponse) -> ActionResult:
    """DisableImage sets the state to ``disabled`` and removes all launch permissions: the AMI becomes private.

    EnableImage (moto's) makes it available again; the permissions are not restored, as in EC2.
    """
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    with _LOCK:
        self.ec2_backend.disable_image(image_id)  # moto: InvalidAMIID.NotFound / .Unavailable
        self.ec2_backend.amis[image_id].launch_permissions.clear()
    return ActionResult({"Return": True})


# --------------------------------------------------------------------------------------------------
# DescribeSnapshots
# --------------------------------------------------------------------------------------------------


def _describe_snapshots_action(self: ElasticBlockStore) -> ActionResult:
    """moto's selection (SnapshotIds, Filters), then OwnerIds, which moto ignores, and pagination.

    MaxResults is 5 to 1,000 (a larger value returns 1,000) and can't be combined with SnapshotIds.
    """
    snapshot_ids = self._get_param("SnapshotIds", [])
    owner_ids = self._get_param("OwnerIds", [])
    filters = self._filters_from_querystring()
    max_results = self._get_param("MaxResults")
    next_token = self._get_param("NextToken")
    if max_results is not None and snapshot_ids:
        raise InvalidParameterCombination("The parameter snapshotIdSet cannot be used with the parameter maxResults")
    max_results = _max_results(max_results, *_MAX_RESULTS_RANGE, clamp=True)
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        snapshots = backend.describe_snapshots(snapshot_ids=snapshot_ids, filters=filters)
        return [s.id for s in snapshots if not owner_ids or _snapshot_owned_by(backend, s, owner_ids)]

    keys, token = _page(backend, "DescribeSnapshots", next_token, max_results, select)
    snapshots = [snapshot for snapshot in map(backend.snapshots.get, keys) if snapshot is not None]
    return ActionResult({"Snapshots": snapshots, "NextToken": token})


def _snapshot_owned_by(backend: Any, snapshot: Snapshot, owner_ids: list[str]) -> bool:
    """OwnerIds: account ids, ``self`` (the caller's account) and ``amazon`` (snapshots owned by Amazon).

    moto gives the snapshots of its default AMIs their owner's account id; ``amazon`` matches a snapshot whose
    owner is the owner of an AMI aliased ``amazon`` that it belongs to.
    """
    owners = {backend.account_id if o == "self" else o for o in owner_ids}
    if snapshot.owner_id in owners:
        return True
    if "amazon" in owners and snapshot.from_ami:
        image: Ami | None = backend.amis.get(snapshot.from_ami)
        return image is not None and image.owner_alias == "amazon" and image.owner_id == snapshot.owner_id
    return False


# --------------------------------------------------------------------------------------------------
# DescribeLaunchTemplates, DescribeLaunchTemplateVersions
# --------------------------------------------------------------------------------------------------


def _describe_launch_templates_action(self: LaunchTemplates) -> ActionResult:
    """Every match, paged by MaxResults (1 to 200) and NextToken; moto stops at 15 and ignores NextToken."""
    names = self._get_param("LaunchTemplateNames", [])
    template_ids = self._get_param("LaunchTemplateIds", [])
    filters = self._filters_from_querystring()
    max_results = _max_results(self._get_param("MaxResults"), *_LAUNCH_TEMPLATE_MAX_RESULTS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        return [template.id for template in _select_launch_templates(backend, template_ids, names, filters)]

    keys, token = _page(backend, "DescribeLaunchTemplates", next_token, max_results, select)
    created_by = f"arn:{self.partition}:iam::{self.current_account}:root"
    templates = [_template_view(t, created_by) for t in map(backend.launch_templates.get, keys) if t is not None]
    return ActionResult({"LaunchTemplates": templates, "NextToken": token})


def _select_launch_templates(
    backend: Any, template_ids: list[str], names: list[str], filters: dict[str, Any]
) -> list[LaunchTemplate]:
    """LaunchTemplateIds and LaunchTemplateNames (together, if both are given), then Filters.

    Every id and name must exist: InvalidLaunchTemplateId.NotFound, InvalidLaunchTemplateName.NotFoundException.
    """
    if not template_ids and not names:
        templates = list(backend.launch_templates.values())
    else:
        wanted: list[str] = []
        for template_id in template_ids:
            if template_id not in backend.launch_templates:
                raise InvalidLaunchTemplateIdNotFound(template_id)
            wanted.append(template_id)
        for name in names:
            wanted.append(backend.get_launch_template_by_name(name).id)
        templates = [backend.launch_templates[template_id] for template_id in dict.fromkeys(wanted)]
    selected: list[LaunchTemplate] = generic_filter(filters, templates)
    return selected


def _template_view(template: LaunchTemplate, created_by: str) -> dict[str, Any]:
    """A LaunchTemplate element; Tags are the template's current tags (moto's copy dates from its creation)."""
    return {
        "CreateTime": template.create_time,
        "CreatedBy": created_by,
        "DefaultVersionNumber": template.default_version_number,
        "LatestVersionNumber": template.latest_version_number,
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "Tags": template.get_tags(),
    }


def _describe_versions_action(self: LaunchTemplates) -> ActionResult:
    """DescribeLaunchTemplateVersions: every match, paged by MaxResults (1 to 200) and NextToken, with Filters.

    moto stops at 15, ignores Filters and returns a version twice when it is both ``$Latest`` and ``$Default``.
    """
    name = self._get_param("LaunchTemplateName")
    template_id = self._get_param("LaunchTemplateId")
    versions = [str(v) for v in self._get_param("Versions", [])]
    min_version = self._get_int_param("MinVersion")
    max_version = self._get_int_param("MaxVersion")
    filters = self._filters_from_querystring()
    max_results = _max_results(self._get_param("MaxResults"), *_LAUNCH_TEMPLATE_MAX_RESULTS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[tuple[str, int]]:
        chosen = _select_versions(backend, name, template_id, versions, min_version, max_version)
        return [(t.id, v.number) for t, v in chosen if all(_version_matches(t, v, f, vs) for f, vs in filters.items())]

    keys, token = _page(backend, "DescribeLaunchTemplateVersions", next_token, max_results, select)
    created_by = f"arn:{self.partition}:iam::{self.current_account}:root"
    views = []
    for key_template_id, number in keys:
        template = backend.launch_templates.get(key_template_id)
        if template is not None and number <= len(template.versions):
            views.append(_version_view(template, template.versions[number - 1], created_by))
    return ActionResult({"LaunchTemplateVersions": views, "NextToken": token})


def _select_versions(
    backend: Any,
    name: str | None,
    template_id: str | None,
    versions: list[str],
    min_version: int | None,
    max_version: int | None,
) -> list[tuple[LaunchTemplate, LaunchTemplateVersion]]:
    """The versions asked for, each once, templates in creation order and versions in the order asked.

    One template (by id or name, not both): the listed Versions (``$Latest``, ``$Default``, numbers), else every
    version from MinVersion to MaxVersion (both inclusive, as moto reads them). No template: Versions must be
    ``$Latest`` and/or ``$Default``, and those versions of every launch template in the account are described.
    """
    if name and template_id:
        raise InvalidParameterCombination(
            "Specify either the launch template ID or the launch template name, not both."
        )
    if name or template_id:
        template = backend.get_launch_template_by_name(name) if name else backend.get_launch_template(template_id)
        if versions:
            chosen = [template.get_version(v) for v in versions]
        else:
            low, high = min_version or 1, max_version or len(template.versions)
            chosen = [v for v in template.versions if low <= v.number <= high]
        return [(template, v) for v in _distinct_versions(chosen)]
    if not versions:
        raise MissingParameter(_ALL_TEMPLATES_VERSIONS_MESSAGE)
    wanted = {v.lower() for v in versions}
    if not wanted <= {"$latest", "$default"}:
        raise InvalidParameterValue(_ALL_TEMPLATES_VERSIONS_MESSAGE)
    pairs = []
    for template in backend.launch_templates.values():
        chosen = [template.latest_version()] if "$latest" in wanted else []
        chosen += [template.default_version()] if "$default" in wanted else []
        pairs += [(template, v) for v in _distinct_versions(chosen)]
    return pairs


def _distinct_versions(versions: list[LaunchTemplateVersion]) -> list[LaunchTemplateVersion]:
    """A version is described once, even when it is both ``$Latest`` and ``$Default``."""
    return list({v.number: v for v in versions}.values())


def _version_matches(template: LaunchTemplate, version: LaunchTemplateVersion, name: str, values: list[str]) -> bool:
    """One DescribeLaunchTemplateVersions filter (moto's matching: wildcards, booleans as true/false)."""
    data: dict[str, Any] = version.data
    metadata: dict[str, Any] = data.get("MetadataOptions") or {}
    readers: dict[str, Callable[[], Any]] = {
        "create-time": lambda: version.create_time,
        "ebs-optimized": lambda: bool(data.get("EbsOptimized", False)),
        "http-endpoint": lambda: metadata.get("HttpEndpoint"),
        "http-protocol-ipv4": lambda: metadata.get("HttpProtocolIpv4"),
        "http-tokens": lambda: metadata.get("HttpTokens"),
        "iam-instance-profile": lambda: (data.get("IamInstanceProfile") or {}).get("Arn"),
        "image-id": lambda: data.get("ImageId"),
        "instance-type": lambda: data.get("InstanceType"),
        "is-default-version": lambda: template.is_default(version),
        "kernel-id": lambda: data.get("KernelId"),
        "ram-disk-id": lambda: data.get("RamDiskId"),
    }
    if name not in readers:
        raise FilterNotImplementedError(name, "DescribeLaunchTemplateVersions")
    return bool(is_filter_matching(_FilterValue(readers[name]()), name, values))


@dataclass(frozen=True)
class _FilterValue:
    """Adapts one value to moto's filter matching, which asks the object for it."""

    value: Any

    def get_filter_value(self, filter_name: str) -> Any:
        return self.value


def _version_view(template: LaunchTemplate, version: LaunchTemplateVersion, created_by: str) -> dict[str, Any]:
    return {
        "CreateTime": version.create_time,
        "CreatedBy": created_by,
        "DefaultVersion": template.is_default(version),
        "LaunchTemplateData": version.data,
        "LaunchTemplateId": template.id,
        "LaunchTemplateName": template.name,
        "VersionDescription": version.description,
        "VersionNumber": version.number,
    }


# --------------------------------------------------------------------------------------------------
# Block device mappings, snapshot progress and DeleteSnapshot
# --------------------------------------------------------------------------------------------------


def _image_block_device_mappings(self: Ami) -> list[dict[str, Any]]:
    """Images made here report their own mappings; images moto made the old way keep moto's."""
    mappings: list[dict[str, Any]] | None = getattr(self, "fidelity_mappings", None)
    if mappings is None:
        return list(_MOTO["block_device_mappings"].fget(self))
    return mappings


def _snapshot_progress(self: Snapshot) -> str:
    """A snapshot still being copied is not at 100%."""
    return "100%" if self.status == "completed" else "0%"


def _delete_snapshot_unless_mapped(self: EBSBackend, snapshot_id: str) -> Snapshot:
    """A snapshot used by any registered AMI cannot be deleted: InvalidSnapshot.InUse (moto knew one AMI)."""
    with _LOCK:
        users = _images_mapping(self, snapshot_id)
        if users:
            raise InvalidSnapshotInUse(snapshot_id, users[0].id)
        result: Snapshot = _MOTO["delete_snapshot"](self, snapshot_id)
        return result


@dataclass
class _SnapshotUsers:
    """Which registered AMIs map each snapshot; ``seen`` are the image ids already read into ``users``."""

    seen: set[str] = field(default_factory=set)
    users: dict[str, list[str]] = field(default_factory=dict)


def _images_mapping(backend: Any, snapshot_id: str) -> list[Ami]:
    """The registered AMIs (any state, disabled included) whose block device mappings name the snapshot.

    An AMI's snapshots never change once it is registered, so an index on the backend only reads the images
    registered since the last call: deleting the snapshots of thousands of AMIs stays linear.
    """
    index: _SnapshotUsers = backend.__dict__.setdefault("fidelity_snapshot_users", _SnapshotUsers())
    amis: dict[str, Ami] = backend.amis
    for image_id in amis.keys() - index.seen:
        index.seen.add(image_id)
        for mapped in _snapshot_ids(amis[image_id]):
            index.users.setdefault(mapped, []).append(image_id)
    return [amis[i] for i in index.users.get(snapshot_id, []) if i in amis]


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _new_image_without_auto_snapshot(backend: Any, **kwargs: Any) -> Ami:
    """moto's Ami() always snapshots a fake 15 GiB volume; EC2 makes no snapshot beyond the mapped ones."""
    image = Ami(backend, random_ami_id(), **kwargs)
    backend.snapshots.pop(image.ebs_snapshot.id, None)
    image.ebs_snapshot = None
    return image


def _is_pending_copy(image: Ami) -> bool:
    return getattr(image, "fidelity_pending_copy", None) is not None and image.state == "pending"


def _snapshot_ids(image: Ami) -> list[str]:
    return [m["Ebs"]["SnapshotId"] for m in image.block_device_mappings if m.get("Ebs", {}).get("SnapshotId")]


def _tags_by_resource_type(specifications: list[dict[str, Any]], allowed: frozenset[str]) -> dict[str, dict[str, str]]:
    """TagSpecifications grouped by ResourceType; any other resource type fails the request."""
    tags: dict[str, dict[str, str]] = {}
    for specification in specifications:
        resource_type = specification.get("ResourceType", "")
        if resource_type not in allowed:
            raise InvalidTaggableResourceType(resource_type)
        for tag in specification.get("Tags", []):
            tags.setdefault(resource_type, {})[tag["Key"]] = tag.get("Value", "")
    return tags


def _tag(backend: Any, resource_ids: list[str], tags: dict[str, str]) -> None:
    if resource_ids and tags:
        backend.create_tags(resource_ids, tags)


def _as_utc(when: datetime) -> datetime:
    """An aware UTC datetime; a naive one (moto's clock, parsed request timestamps) already means UTC."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _add_years(when: datetime, years: int) -> datetime:
    """The same calendar date ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:
        return when.replace(year=when.year + years, day=28)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ec2_backends(region: str | None, account_id: str | None) -> Iterator[Any]:
    """The EC2 backends that exist (never creates one), optionally narrowed to a region and account."""
    for account, regional in list(ec2_backends.items()):
        if account_id is not None and account != account_id:
            continue
        for region_name, backend in list(regional.items()):
            if region is None or region_name == region:
                yield backend
