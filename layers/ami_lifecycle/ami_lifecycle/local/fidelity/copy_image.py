"""CopyImage: a copy with lineage, tags, encryption and new snapshots, ``pending`` until time passes.

moto 5.2.5 copies an AMI as a bare record (no lineage, tags, snapshots, encryption or pending state). Here the
copy is registered in the destination region with SourceImageId/SourceImageRegion, CopyImageTags and
TagSpecifications, one new snapshot per source snapshot (Encrypted/KmsKeyId applied), and ClientToken
idempotency. It stays ``pending`` until ``complete_pending_copies()`` or ``fail_pending_copy()``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import InvalidParameterDependency
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.models.elastic_block_store import Snapshot, Volume
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.utils import random_snapshot_id
from moto.kms.models import kms_backends

from ._common import LOCK, IdempotentParameterMismatch, existing_ec2_backends, find_image
from .block_device_mappings import new_image_without_auto_snapshot, snapshot_ids
from .resource_tags import check_tag_count, tag, tags_by_resource_type

# EC2 reports this volume id for snapshots made by a copy ("arbitrary volume ID that should not be used").
_COPIED_SNAPSHOT_VOLUME_ID = "vol-ffffffff"
_COPY_RESOURCE_TYPES = frozenset({"image", "snapshot"})
# Undocumented: a copy whose KMS key is unusable ends `failed`; users report this opaque reason.
_KMS_FAILURE_CODE = "Client.InternalError"
_INJECTED_FAILURE_CODE = "Server.InternalError"


def install() -> None:
    """Patch the CopyImage action and the progress a snapshot being copied reports."""
    AmisResponse.copy_image = _copy_image_action  # type: ignore[method-assign]
    Snapshot.progress = property(_snapshot_progress)  # type: ignore[method-assign,assignment]


def complete_pending_copies(region: str | None = None, account_id: str | None = None) -> list[tuple[str, str]]:
    """Advance time: every pending CopyImage result (in that region/account, or all) finishes.

    Returns the (region, image_id) pairs that became ``available``. A copy whose KMS key could not be
    used turns ``failed`` instead (EC2 checks the key asynchronously) and is not in the result.
    """
    completed: list[tuple[str, str]] = []
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
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
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None and _is_pending_copy(image):
                reason = {
                    "Code": _INJECTED_FAILURE_CODE,
                    "Message": "Copy image failed with an internal error.",
                }
                _end_copy(image, "failed", "error", reason)
                return
    raise ValueError(f"{image_id} is not a pending CopyImage result in {region}")


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
    tags = tags_by_resource_type(self._get_param("TagSpecifications") or [], _COPY_RESOURCE_TYPES)
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
    with LOCK:
        # Kept on the backend so that moto's reset (mock_aws exit, /moto-api/reset) forgets the tokens too.
        tokens: dict[str, tuple[_CopyRequest, str]] = backend.__dict__.setdefault("fidelity_copy_tokens", {})
        if client_token and client_token in tokens:
            first_request, image_id = tokens[client_token]
            if first_request != request:
                raise IdempotentParameterMismatch(client_token)
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
    source = find_image(source_backend, request.source_image_id)
    # EC2 refuses the whole copy when the copied and the given tags together are more than a copy can carry.
    check_tag_count({}, _tags_for_copy(source, request))
    key_arn = _resolve_kms_key_arn(backend, request.kms_key_id) if request.kms_key_id else None

    # Any: moto's Ami declares no lineage, ENA or pending-copy attributes
    image: Any = new_image_without_auto_snapshot(
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
    image.root_device_type = "ebs" if snapshot_ids(image) else source.root_device_type
    failure = None
    if request.kms_key_id and key_arn is None:
        message = f"Copy image failed: KMS key {request.kms_key_id} is not usable in {backend.region_name}."
        failure = {"Code": _KMS_FAILURE_CODE, "Message": message}
    image.fidelity_pending_copy = _PendingCopy(failure)
    backend.amis[image.id] = image

    tag(backend, [image.id], _tags_for_copy(source, request))
    tag(backend, snapshot_ids(image), dict(request.snapshot_tags))
    copied: Ami = image
    return copied


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
    # Not a real volume: not registered. moto's Volume leaves CloudFormation members abstract but is concrete.
    volume = Volume(backend, _COPIED_SNAPSHOT_VOLUME_ID, size, zone=None)  # type: ignore[abstract]
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


def _is_pending_copy(image: Ami) -> bool:
    return getattr(image, "fidelity_pending_copy", None) is not None and image.state == "pending"


def _end_copy(image: Any, image_state: str, snapshot_state: str, reason: dict[str, str] | None) -> None:
    """A copy ends available (snapshots completed) or failed (snapshots error, StateReason set)."""
    image.state = image_state
    image.state_reason = reason
    image.fidelity_pending_copy = None
    for snapshot_id in snapshot_ids(image):
        snapshot = image.ec2_backend.snapshots.get(snapshot_id)
        if snapshot is not None:
            snapshot.status = snapshot_state


def _snapshot_progress(self: Snapshot) -> str:
    """A snapshot still being copied is not at 100%."""
    return "100%" if self.status == "completed" else "0%"
