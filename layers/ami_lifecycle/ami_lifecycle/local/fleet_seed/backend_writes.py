"""AMIs and snapshots written straight into moto's EC2 backends, in the state the product would have left them:
lineage tags and the protected mark, snapshot tags, sharing, deprecation dates, some disabled; plus unmanaged
AMIs and orphaned snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami as _Ami
from moto.ec2.models.elastic_block_store import Snapshot
from moto.ec2.models.elastic_block_store import Volume as _Volume
from moto.ec2.utils import random_ami_id, random_snapshot_id, random_volume_id

from ami_lifecycle.local import fidelity
from ami_lifecycle.model.image import PROTECTED_TAG, RETIRED_TAG, Image, lineage_tags
from ami_lifecycle.plan.desired import desired_copy, desired_source, protection_digest

from .ground_truth import SeededFleet, SeededImage
from .layout import Layout, Uses, Version, member, references

# moto's models, written directly: the fidelity layer's extra attributes and moto's abstract Volume are untyped.
Ami: Any = _Ami
Volume: Any = _Volume

MANAGED_TAG = "ami-lifecycle:managed"
ROOT_SIZES = (8, 16, 30, 50)  # GiB
DATA_SIZES = (20, 100, 200)
_COPY_DELAY = timedelta(minutes=20)  # a copy's CreationDate is when CopyImage started, after the source's


def write_images(layout: Layout, fleet: SeededFleet, uses: Uses, account_id: str) -> None:
    """AMIs and snapshots straight into moto's backends, as RegisterImage / CopyImage plus the product left them."""
    backends = {region: ec2_backends[account_id][region] for region in fleet.regions}
    sharing = layout.policy.sharing_for(layout.rule)
    rng = layout.rng
    for family, versions in layout.families.items():
        team = f"team-{int(family[3:]) % 7}"
        for version in versions:
            base = {MANAGED_TAG: "true", "Family": family, "Version": version.label, "Team": team, "BuiltBy": "packer"}
            if (family, version.rank) in uses.keep_tagged:
                base[layout.retention.keep_tag] = "audit hold"
            name = f"{family}-{version.label}"
            sizes = [rng.choice(ROOT_SIZES)] + ([rng.choice(DATA_SIZES)] if rng.random() < 0.25 else [])
            match = layout.policy.match(name, base, "")
            if match is None:
                raise ValueError("the policy's first rule must select ami-lifecycle:managed=true, Family and Version")
            untagged = version.missed_event or layout.foreign
            tags = dict(base) if untagged else base | lineage_tags(family, version.label)
            desired = desired_source(
                Image("", layout.home, account_id, name, "available", "", tags), match, layout.policy
            )
            finished = not untagged
            image = _add_image(
                backends[layout.home],
                fleet,
                version,
                name,
                tags | ({PROTECTED_TAG: protection_digest(desired)} if finished else {}),
                desired.snapshot_tags if finished else {},
                sizes,
                None,
                sharing.accounts if finished else [],
            )
            source = Image(image.image_id, layout.home, account_id, name, "available", "", tags)
            for region in layout.dr:
                if version.missed_event:
                    fleet.missing_copies += 1
                    continue
                if layout.foreign:  # a Packer `ami_regions` copy: the build's tags, EC2's ancestry, nothing else
                    _add_image(backends[region], fleet, version, name, dict(base), {}, sizes, image.image_id, [])
                    continue
                desired = desired_copy(source, match, layout.policy)
                finished = (region, family, version.rank) not in uses.unfinished_copies
                _add_image(
                    backends[region],
                    fleet,
                    version,
                    name,
                    desired.image_tags | ({PROTECTED_TAG: protection_digest(desired)} if finished else {}),
                    desired.snapshot_tags,
                    sizes,
                    image.image_id,
                    sharing.accounts if finished else [],
                )
    _write_ec2_usage(layout, fleet, uses, backends)
    for image_id, reasons in references(layout, uses).items():
        fleet.images[image_id].in_use = reasons
    for image in fleet.images.values():
        _retire_state(layout, fleet, image, backends[image.region].amis[image.image_id])
    _write_noise(layout, fleet, backends)


def _write_ec2_usage(layout: Layout, fleet: SeededFleet, uses: Uses, backends: dict[str, Any]) -> None:
    """What EC2 itself reports: LastLaunchedTime (what fidelity.set_last_launched_time sets) and deregistration
    protection (what EnableImageDeregistrationProtection sets)."""
    window = layout.retention.launched_within_days
    for region, family, rank, recent in uses.last_launched:
        image_id = member(layout, region, family, rank)
        if image_id is None:
            continue
        days = layout.rng.uniform(1, window - 2) if recent else layout.rng.uniform(window + 5, 200)
        when = (fleet.now - timedelta(days=days)).astimezone(UTC).replace(microsecond=0)
        backends[region].amis[image_id].fidelity_last_launched_time = when
        kind = "recent" if recent else "old"
        fleet.last_launched[kind] = fleet.last_launched.get(kind, 0) + 1
    for family, rank in uses.protected:
        image_id = member(layout, layout.home, family, rank)
        if image_id is not None:
            backends[layout.home].amis[image_id].fidelity_protection = "enabled-without-cooldown"
            fleet.deregistration_protected += 1


def _add_image(
    backend: Any,
    fleet: SeededFleet,
    version: Version,
    name: str,
    tags: dict[str, str],
    snapshot_tags: dict[str, str],
    sizes: list[int],
    source_id: str | None,
    shared_with: list[str],
) -> SeededImage:
    region = backend.region_name
    created = version.created + (_COPY_DELAY if source_id else timedelta())
    image = Ami(
        backend,
        random_ami_id(),
        name=name,
        description=f"DR copy of {source_id}" if source_id else f"{version.family} {version.label}",
        architecture="x86_64",
        virtualization_type="hvm",
        root_device_type="ebs",
        root_device_name="/dev/xvda",
        creation_date=created.astimezone(UTC).replace(tzinfo=None),
        boot_mode=None,
    )
    backend.snapshots.pop(image.ebs_snapshot.id, None)  # moto's Ami() snapshots a volume EC2 never made
    image.ebs_snapshot = None
    mappings, snapshot_sizes = [], {}
    for i, size in enumerate(sizes):
        volume_id = "vol-ffffffff" if source_id else random_volume_id()  # as EC2 reports copies
        description = f"Copied for DestinationAmi {image.id}" if source_id else f"{name} volume {i}"
        snapshot = Snapshot(backend, random_snapshot_id(), Volume(backend, volume_id, size, zone=None), description)
        snapshot.from_ami = image.id if source_id else None
        snapshot.start_time = image.creation_date
        snapshot.create_volume_permission_userids.update(shared_with)
        backend.snapshots[snapshot.id] = snapshot
        if snapshot_tags:
            backend.create_tags([snapshot.id], snapshot_tags)
        device = "/dev/xvda" if i == 0 else f"/dev/xvd{chr(ord('b') + i - 1)}"
        ebs = {"SnapshotId": snapshot.id, "VolumeSize": size, "VolumeType": "gp3", "DeleteOnTermination": True}
        mappings.append({"DeviceName": device, "Ebs": ebs | {"Encrypted": False}})
        snapshot_sizes[snapshot.id] = size
    image.fidelity_mappings = mappings
    if source_id:
        image.source_image_id = source_id
        image.source_image_region = fleet.regions[0]
    image.launch_permissions = [{"UserId": account} for account in shared_with]
    backend.amis[image.id] = image
    backend.create_tags([image.id], tags)
    finished = PROTECTED_TAG in tags
    seeded = SeededImage(
        region, image.id, version.family, version.rank, source_id, "available", None, finished, snapshot_sizes
    )
    version.members[region] = image.id
    fleet.images[image.id] = seeded
    return seeded


def _retire_state(layout: Layout, fleet: SeededFleet, image: SeededImage, moto_image: Any) -> None:
    """The deprecation date the sweep set; disabled, as the sweep leaves it, when deprecated long enough and
    nothing protects it (one in ten is still available: the sweep disables it this run)."""
    version = layout.families[image.family][image.rank]
    if version.deprecated_at is None:
        return
    image.deprecated_at = version.deprecated_at
    moto_image.fidelity_deprecation_time = version.deprecated_at  # what fidelity.set_deprecation_time sets
    _usage_report(layout, fleet, image, version.deprecated_at)
    days = fleet.deprecated_days(image)
    disable = layout.retention.disable_after_days
    due = days is not None and disable is not None and days >= disable and not fleet.protected(image)
    if due and layout.rng.random() >= 0.1:
        image.state = moto_image.state = "disabled"
        moto_image.launch_permissions = []  # DisableImage removes every launch permission


def _usage_report(layout: Layout, fleet: SeededFleet, image: SeededImage, deprecated_at: datetime) -> None:
    """A shared AMI deprecated long enough has the usage report earlier runs asked for (EC2 keeps them 30 days)."""
    if not layout.policy.sharing_for(layout.rule).launch_permissions:
        return
    settings = layout.policy.sweep.usage_reports
    made = max(deprecated_at + timedelta(days=settings.lag_days), fleet.now - timedelta(days=settings.max_age_days - 1))
    if made <= fleet.now:
        fidelity.add_usage_report(image.image_id, image.region, made)


def _write_noise(layout: Layout, fleet: SeededFleet, backends: dict[str, Any]) -> None:
    """Unmanaged AMIs, and snapshots a previous run marked retired whose AMI is gone (to delete as orphans)."""
    home = backends[layout.home]
    for i in range(max(2, len(fleet.images) // 100)):
        image = Ami(home, random_ami_id(), name=f"scratch-{i}", root_device_type="ebs")
        image.fidelity_mappings = image.block_device_mappings
        home.amis[image.id] = image
        home.create_tags([image.id], {"Owner": "someone"})
        fleet.unmanaged += 1
    marked = (fleet.now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for region, backend in backends.items():
        share = max(1, len(fleet.images) // 300) if region == layout.home else max(1, len(fleet.images) // 3000)
        for _ in range(share):
            size = layout.rng.choice(ROOT_SIZES)
            volume = Volume(backend, random_volume_id(), size, zone=None)
            snapshot = Snapshot(backend, random_snapshot_id(), volume, "deregistered by a previous run")
            backend.snapshots[snapshot.id] = snapshot
            backend.create_tags([snapshot.id], {RETIRED_TAG: marked})
            fleet.orphaned_snapshots[snapshot.id] = size
