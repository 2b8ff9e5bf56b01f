"""Builds large managed AMI fleets in the local AWS quickly, for the sweep's benchmark.

Registering 10,000 AMIs through the EC2 API takes moto minutes, so the AMIs and their snapshots are written
into moto's EC2 backends directly, in the state the product would have left them: lineage tags and the
protected mark, snapshot tags, sharing, deprecation dates in the past, some versions disabled. What refers to
an AMI (instances, launch templates and their versions, launch configurations, Auto Scaling groups) goes
through the API, as does the usage table, because there are few of them and their API is quick.

Everything is decided up front from a seeded random layout, so the result is reproducible, and the ground
truth is kept: which images are in use and why, and what a correct sweep must plan for them.

Reading such a fleet back needs ``fidelity.install()``: it pages DescribeImages/DescribeSnapshots and reads each
resource's tags directly (moto's own tag lookup makes DescribeImages of 3,000 AMIs take ~40 s).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.models.elastic_block_store import Snapshot, Volume
from moto.ec2.utils import random_ami_id, random_snapshot_id, random_volume_id

from ami_lifecycle.aws.usage_table import RECORD_LIFETIME
from ami_lifecycle.model.image import PROTECTED_TAG, RETIRED_TAG, Image, lineage_tags
from ami_lifecycle.plan.desired import desired_copy, desired_source, protection_digest

from ..policy import Policy, Retention, Rule
from .seed import create_usage_table

MANAGED_TAG = "ami-lifecycle:managed"
USAGE_TABLE = "usage"
ROOT_SIZES = (8, 16, 30, 50)  # GiB
DATA_SIZES = (20, 100, 200)
_COPY_DELAY = timedelta(minutes=20)  # a copy's CreationDate is when CopyImage started, after the source's


@dataclass(frozen=True)
class FleetShape:
    """How big a fleet to build: `amis` managed AMIs (home sources and one copy per DR region) in `families`."""

    amis: int
    families: int
    seed: int = 20261122


@dataclass
class SeededImage:
    """One managed AMI as built, with what a correct sweep must know about it."""

    region: str
    image_id: str
    family: str
    rank: int  # 0 = newest version of its family
    source_id: str | None  # the home source, for a copy
    state: str
    deprecated_at: datetime | None
    finished: bool  # carries the protected mark
    snapshot_sizes: dict[str, int]
    in_use: list[str] = field(default_factory=list)  # why it must not be disabled or deregistered


@dataclass
class SeededFleet:
    """The ground truth of a built fleet: every managed image and every reference to one, by region."""

    now: datetime
    retention: Retention
    regions: list[str]
    families: int
    images: dict[str, SeededImage] = field(default_factory=dict)
    unmanaged: int = 0
    orphaned_snapshots: dict[str, int] = field(default_factory=dict)  # snapshot id -> GiB (retired, unmapped)
    missing_copies: int = 0  # DR copies the sweep must start (events were missed)
    instances: dict[str, int] = field(default_factory=dict)  # "running"/"stopped" -> count
    launch_templates: dict[str, int] = field(default_factory=dict)  # region -> templates
    template_versions: int = 0
    launch_configurations: int = 0
    auto_scaling_groups: int = 0
    mixed_instances_groups: int = 0
    launch_records: dict[str, int] = field(default_factory=dict)  # "recent"/"old" -> count
    last_launched: dict[str, int] = field(default_factory=dict)  # LastLaunchedTime "recent"/"old" -> count
    deregistration_protected: int = 0
    build_seconds: dict[str, float] = field(default_factory=dict)

    def managed(self, region: str | None = None) -> int:
        return sum(1 for i in self.images.values() if region is None or i.region == region)

    def snapshots(self) -> int:
        return sum(len(i.snapshot_sizes) for i in self.images.values())

    def protected(self, image: SeededImage) -> list[str]:
        """The image's own uses, and for a copy its source's (a DR copy of an AMI in use is kept too)."""
        source = self.images.get(image.source_id or "")
        inherited = [f"source: {reason}" for reason in source.in_use] if source else []
        return image.in_use + inherited

    def deprecated_days(self, image: SeededImage, now: datetime | None = None) -> float | None:
        now = now or self.now
        if image.deprecated_at is None or image.deprecated_at > now:
            return None
        return (now - image.deprecated_at) / timedelta(days=1)

    def expected(self, now: datetime) -> dict[str, int]:
        """What a correct plan made at `now` holds: copies to start, images to finish, deprecate and disable,
        and images due for deregistration (before the per-region cap)."""
        r = self.retention
        counts = {"deprecate": 0, "disable": 0, "deregister due": 0, "finish": 0, "copy": self.missing_copies}
        for image in self.images.values():
            if not image.finished and image.deprecated_at is None and image.state == "available":
                counts["finish"] += 1
            if image.rank >= r.keep_latest and image.deprecated_at is None:
                counts["deprecate"] += 1
            days = self.deprecated_days(image, now)
            if days is None or self.protected(image):
                continue
            if days >= r.deregister_after_days:
                counts["deregister due"] += 1
            elif r.disable_after_days is not None and days >= r.disable_after_days and image.state == "available":
                counts["disable"] += 1
        return counts


# ------------------------------------------------------------------------------------------------------------
# Layout
# ------------------------------------------------------------------------------------------------------------


@dataclass
class _Version:
    family: str
    rank: int
    label: str
    created: datetime
    deprecated_at: datetime | None
    missed_event: bool = False  # the image-available event never arrived: unfinished, not copied
    members: dict[str, str] = field(default_factory=dict)  # region -> image id


@dataclass
class _Layout:
    policy: Policy
    rule: Rule
    retention: Retention
    home: str
    dr: list[str]
    rng: random.Random
    families: dict[str, list[_Version]] = field(default_factory=dict)  # newest first


def _layout(policy: Policy, shape: FleetShape, now: datetime) -> _Layout:
    """Families with many versions each: the newest built half a day ago, older ones spaced evenly over the
    family's history (30 to 90 days). Versions beyond the newest `keep_latest` carry the deprecation date the
    sweep gives them (deprecate_after_days after the version that pushed them out), except a few never
    deprecated yet."""
    rule = policy.managed_images[0]
    retention = policy.retention_for(rule)
    dr = [d.region for d in policy.dr_regions_for(rule)]
    rng = random.Random(shape.seed)
    layout = _Layout(policy, rule, retention, policy.home_region, dr, rng)
    sources = -(-shape.amis // (1 + len(dr)))
    missed = {f"svc{f:02d}" for f in range(0, shape.families, 20)}  # one family in 20: newest event missed
    for f in range(shape.families):
        family = f"svc{f:02d}"
        count = sources // shape.families + (1 if f < sources % shape.families else 0)
        history_days = rng.uniform(30, 90)
        created = [_minute(now - timedelta(days=0.5 + history_days * r / max(count - 1, 1))) for r in range(count)]
        versions = []
        for rank in range(count):
            deprecated = None
            if rank >= retention.keep_latest and rng.random() >= 0.03:  # 3% not deprecated yet
                deprecated = created[rank - retention.keep_latest] + timedelta(days=retention.deprecate_after_days)
            label = f"1.{count - 1 - rank}.0"
            versions.append(_Version(family, rank, label, created[rank], deprecated, rank == 0 and family in missed))
        layout.families[family] = versions
    return layout


def _minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


# ------------------------------------------------------------------------------------------------------------
# Build
# ------------------------------------------------------------------------------------------------------------


def build_fleet(policy: Policy, shape: FleetShape, now: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> SeededFleet:
    """Build the fleet inside an active `mock_aws()` (with `fidelity.install()` done) and return its ground
    truth. Uses the policy's first rule, which must select `ami-lifecycle:managed=true` and take family and
    version from the `Family` and `Version` tags."""
    layout = _layout(policy, shape, now)
    fleet = SeededFleet(now, layout.retention, [layout.home, *layout.dr], shape.families)
    clock = _Clock(fleet)
    # Usage is decided first: what the product would never have disabled must not be seeded disabled.
    uses = clock.run("usage layout", lambda: _plan_usage(layout, shape))
    clock.run("AMIs, snapshots (backend)", lambda: _write_images(layout, fleet, uses, account_id))
    clock.run("instances (API)", lambda: _launch_instances(layout, fleet, uses.instances))
    clock.run("templates, LCs, ASGs (API)", lambda: _write_launch_setup(layout, fleet, uses, shape))
    clock.run("usage table (API)", lambda: _write_launch_records(layout, fleet, uses, now))
    return fleet


class _Clock:
    def __init__(self, fleet: SeededFleet) -> None:
        self._fleet = fleet

    def run(self, step: str, work: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = work()
        self._fleet.build_seconds[step] = time.perf_counter() - start
        return result


@dataclass
class _Uses:
    """Which versions (family, rank) are referenced, and from where; regions by name."""

    instances: list[tuple[str, str, int, bool]] = field(default_factory=list)  # region, family, rank, stopped
    templates: list[tuple[str, str, list[int], int]] = field(default_factory=list)  # region, family, ranks, default
    configurations: list[tuple[str, int]] = field(default_factory=list)  # family, rank (home)
    recent_launches: list[tuple[str, str, int]] = field(default_factory=list)  # region, family, rank
    old_launches: list[tuple[str, str, int]] = field(default_factory=list)
    keep_tagged: set[tuple[str, int]] = field(default_factory=set)
    protected: set[tuple[str, int]] = field(default_factory=set)  # deregistration protection on the source
    # LastLaunchedTime: launches by the accounts the AMIs are shared with, which only EC2 reports
    last_launched: list[tuple[str, str, int, bool]] = field(default_factory=list)  # region, family, rank, recent
    unfinished_copies: set[tuple[str, str, int]] = field(default_factory=set)  # region, family, rank


def _plan_usage(layout: _Layout, shape: FleetShape) -> _Uses:
    rng, keep, uses = layout.rng, layout.retention.keep_latest, _Uses()
    families = list(layout.families)
    depth = {f: len(v) for f, v in layout.families.items()}

    def old_rank(family: str) -> int:
        return rng.randint(min(keep, depth[family] - 1), depth[family] - 1)

    def any_rank(family: str) -> int:
        return rng.randint(0, depth[family] - 1)

    # Instances: two on each family's newest version (every third family's second one stopped), pets on old ones.
    for i, family in enumerate(families):
        uses.instances += [(layout.home, family, 0, False), (layout.home, family, 0, i % 3 == 0)]
    for i in range(max(2, shape.amis // 200)):
        family = rng.choice(families)
        uses.instances.append((layout.home, family, old_rank(family), i % 2 == 1))
    if layout.dr:
        for family in families[1::5]:  # DR drills: the copy of the second-newest version
            uses.instances.append((layout.dr[0], family, min(1, depth[family] - 1), False))

    # Launch templates: several versions each, version n pointing at the build after version n-1's; most
    # templates are current, some lag a few builds, a few are stale (their versions protect old AMIs).
    home_templates = max(10, shape.amis // 40)
    for t in range(home_templates + len(layout.dr) * max(1, home_templates // 10)):
        region = layout.home if t < home_templates else layout.dr[(t - home_templates) % len(layout.dr)]
        family = families[t % len(families)]
        versions = rng.randint(3, 5)
        roll = rng.random()
        lag = 0 if roll < 0.7 else rng.randint(1, 5) if roll < 0.9 else rng.randint(keep + 5, keep + 40)
        newest = min(lag + (1 if region != layout.home else 0), depth[family] - 1)
        ranks = [min(newest + versions - 1 - n, depth[family] - 1) for n in range(versions)]  # version 1 first
        default = versions if rng.random() < 0.8 else versions - 1
        uses.templates.append((region, family, ranks, default))

    # Launch configurations (legacy): mostly old versions.
    for _ in range(max(3, shape.amis // 200)):
        family = rng.choice(families)
        uses.configurations.append((family, old_rank(family) if rng.random() < 0.7 else rng.randint(0, keep - 1)))

    # Launch records: recent launches of any version (a fifth of them from DR copies), and older ones.
    regions = [layout.home, *layout.dr]
    for _ in range(max(5, shape.amis // 50)):
        family = rng.choice(families)
        region = layout.home if rng.random() < 0.8 or not layout.dr else rng.choice(layout.dr)
        uses.recent_launches.append((region, family, any_rank(family)))
    for _ in range(max(3, shape.amis // 100)):
        family = rng.choice(families)
        uses.old_launches.append((rng.choice(regions), family, any_rank(family)))

    for _ in range(max(1, shape.amis // 500)):
        family = rng.choice(families)
        uses.keep_tagged.add((family, old_rank(family)))
        family = rng.choice(families)
        uses.protected.add((family, old_rank(family)))
    for i in range(max(3, shape.amis // 150)):
        family = rng.choice(families)
        uses.last_launched.append((rng.choice(regions), family, any_rank(family), i % 3 != 0))
    for _ in range(max(1, shape.amis // 500)):
        if layout.dr:
            family = rng.choice(families)
            uses.unfinished_copies.add((rng.choice(layout.dr), family, rng.randint(1, min(keep, depth[family]) - 1)))
    return uses


def _write_images(layout: _Layout, fleet: SeededFleet, uses: _Uses, account_id: str) -> None:
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
            tags = dict(base) if version.missed_event else base | lineage_tags(family, version.label)
            desired = desired_source(
                Image("", layout.home, account_id, name, "available", "", tags), match, layout.policy
            )
            finished = not version.missed_event
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
    for image_id, reasons in _references(layout, uses).items():
        fleet.images[image_id].in_use = reasons
    for image in fleet.images.values():
        _retire_state(layout, fleet, image, backends[image.region].amis[image.image_id])
    _write_noise(layout, fleet, backends)


def _write_ec2_usage(layout: _Layout, fleet: SeededFleet, uses: _Uses, backends: dict[str, Any]) -> None:
    """What EC2 itself reports: LastLaunchedTime (what fidelity.set_last_launched_time sets) and deregistration
    protection (what EnableImageDeregistrationProtection sets)."""
    window = layout.retention.launched_within_days
    for region, family, rank, recent in uses.last_launched:
        image_id = _member(layout, region, family, rank)
        if image_id is None:
            continue
        days = layout.rng.uniform(1, window - 2) if recent else layout.rng.uniform(window + 5, 200)
        when = (fleet.now - timedelta(days=days)).astimezone(UTC).replace(microsecond=0)
        backends[region].amis[image_id].fidelity_last_launched_time = when
        kind = "recent" if recent else "old"
        fleet.last_launched[kind] = fleet.last_launched.get(kind, 0) + 1
    for family, rank in uses.protected:
        image_id = _member(layout, layout.home, family, rank)
        if image_id is not None:
            backends[layout.home].amis[image_id].fidelity_protection = "enabled-without-cooldown"
            fleet.deregistration_protected += 1


def _add_image(
    backend: Any,
    fleet: SeededFleet,
    version: _Version,
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
        boot_mode=None,  # type: ignore[arg-type]
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


def _retire_state(layout: _Layout, fleet: SeededFleet, image: SeededImage, moto_image: Ami) -> None:
    """The deprecation date the sweep set; disabled, as the sweep leaves it, when deprecated long enough and
    nothing protects it (one in ten is still available: the sweep disables it this run)."""
    version = layout.families[image.family][image.rank]
    if version.deprecated_at is None:
        return
    image.deprecated_at = version.deprecated_at
    moto_image.fidelity_deprecation_time = version.deprecated_at  # what fidelity.set_deprecation_time sets
    days = fleet.deprecated_days(image)
    disable = layout.retention.disable_after_days
    due = days is not None and disable is not None and days >= disable and not fleet.protected(image)
    if due and layout.rng.random() >= 0.1:
        image.state = moto_image.state = "disabled"
        moto_image.launch_permissions = []  # DisableImage removes every launch permission


def _write_noise(layout: _Layout, fleet: SeededFleet, backends: dict[str, Any]) -> None:
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


def _references(layout: _Layout, uses: _Uses) -> dict[str, list[str]]:
    """Image id -> why it is in use: what the sweep must find. Resolved as the API writes below resolve them."""
    window = layout.retention.launched_within_days
    found: dict[str, list[str]] = {}

    def add(region: str, family: str, rank: int, reason: str, nearest: bool = False) -> None:
        image_id = _image_id(layout, region, family, rank) if nearest else _member(layout, region, family, rank)
        if image_id:
            found.setdefault(image_id, []).append(reason)

    for region, family, rank, stopped in uses.instances:
        add(region, family, rank, "instance (stopped)" if stopped else "instance")
    for region, family, ranks, _ in uses.templates:
        for rank in ranks:
            add(region, family, rank, "launch template version", nearest=True)
    for family, rank in uses.configurations:
        add(layout.home, family, rank, "launch configuration", nearest=True)
    for region, family, rank in uses.recent_launches:
        add(region, family, rank, f"launched within {window} days")
    for family, rank in uses.keep_tagged:
        add(layout.home, family, rank, "keep tag")
    for family, rank in uses.protected:
        add(layout.home, family, rank, "deregistration protection")
    for region, family, rank, recent in uses.last_launched:
        if recent:
            add(region, family, rank, f"LastLaunchedTime within {window} days")
    return found


def _member(layout: _Layout, region: str, family: str, rank: int) -> str | None:
    return layout.families[family][rank].members.get(region)


def _image_id(layout: _Layout, region: str, family: str, rank: int) -> str | None:
    """The version's image in that region, or the nearest older one that has one (a missed event has no copy)."""
    for version in layout.families[family][rank:]:
        if region in version.members:
            return version.members[region]
    return None


def _launch_instances(layout: _Layout, fleet: SeededFleet, instances: list[tuple[str, str, int, bool]]) -> None:
    stopped: dict[str, list[str]] = {}
    clients = {region: boto3.client("ec2", region) for region in fleet.regions}
    for region, family, rank, stop in instances:
        image_id = _member(layout, region, family, rank)
        if image_id is None:
            continue
        (instance,) = clients[region].run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
            "Instances"
        ]
        if stop:
            stopped.setdefault(region, []).append(instance["InstanceId"])
        fleet.instances["stopped" if stop else "running"] = fleet.instances.get("stopped" if stop else "running", 0) + 1
    for region, ids in stopped.items():
        clients[region].stop_instances(InstanceIds=ids)


def _write_launch_setup(layout: _Layout, fleet: SeededFleet, uses: _Uses, shape: FleetShape) -> None:
    """Launch templates with all their versions, launch configurations, and Auto Scaling groups using them:
    by launch template ($Latest, $Default or a number), by launch configuration, or by a mixed-instances
    policy whose overrides name a second template."""
    templates: dict[str, list[tuple[str, int]]] = {}  # region -> (template id, versions)
    clients = {region: boto3.client("ec2", region) for region in fleet.regions}
    for t, (region, family, ranks, default) in enumerate(uses.templates):
        ec2 = clients[region]
        template_id = ""
        for number, rank in enumerate(ranks, start=1):
            data = {"ImageId": _image_id(layout, region, family, rank) or "", "InstanceType": "t3.micro"}
            if number == 1:
                template_id = ec2.create_launch_template(LaunchTemplateName=f"{family}-lt{t}", LaunchTemplateData=data)[
                    "LaunchTemplate"
                ]["LaunchTemplateId"]
            else:
                ec2.create_launch_template_version(LaunchTemplateId=template_id, LaunchTemplateData=data)
            fleet.template_versions += 1
        if default != len(ranks):
            ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(default))
        templates.setdefault(region, []).append((template_id, len(ranks)))
        fleet.launch_templates[region] = fleet.launch_templates.get(region, 0) + 1

    autoscaling = boto3.client("autoscaling", layout.home)
    configurations = []
    for c, (family, rank) in enumerate(uses.configurations):
        name = f"{family}-lc{c}"
        image_id = _image_id(layout, layout.home, family, rank) or ""
        autoscaling.create_launch_configuration(LaunchConfigurationName=name, ImageId=image_id, InstanceType="t3.micro")
        configurations.append(name)
        fleet.launch_configurations += 1

    home_templates = templates.get(layout.home, [])
    groups = max(5, shape.amis // 80)
    for g in range(groups):
        params: dict[str, Any] = {
            "AutoScalingGroupName": f"asg{g}",
            "MinSize": 0,
            "MaxSize": 4,
            "DesiredCapacity": 0,
            "AvailabilityZones": [f"{layout.home}a"],
        }
        template_id, versions = home_templates[g % len(home_templates)]
        kind = g % 5
        if kind < 3:
            version = ("$Latest", "$Default", str(max(1, versions - 1)))[kind]
            params["LaunchTemplate"] = {"LaunchTemplateId": template_id, "Version": version}
        elif kind == 3:
            params["LaunchConfigurationName"] = configurations[g % len(configurations)]
        else:
            other, _ = home_templates[(g * 7 + 3) % len(home_templates)]
            params["MixedInstancesPolicy"] = {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {"LaunchTemplateId": template_id, "Version": "$Latest"},
                    "Overrides": [
                        {"InstanceType": "t3.large"},
                        {
                            "InstanceType": "m6g.large",
                            "LaunchTemplateSpecification": {"LaunchTemplateId": other, "Version": "$Default"},
                        },
                    ],
                },
                "InstancesDistribution": {"OnDemandBaseCapacity": 0},
            }
            fleet.mixed_instances_groups += 1
        autoscaling.create_auto_scaling_group(**params)
        fleet.auto_scaling_groups += 1


def _write_launch_records(layout: _Layout, fleet: SeededFleet, uses: _Uses, now: datetime) -> None:
    """The usage table with one record per launched AMI, as launch-tracking writes it, in batches of 25."""
    dynamodb = boto3.client("dynamodb", layout.home)
    create_usage_table(dynamodb, USAGE_TABLE)
    window = layout.retention.launched_within_days
    items: dict[str, dict[str, Any]] = {}
    for kind, picks, age in (("old", uses.old_launches, (window + 5, 300)), ("recent", uses.recent_launches, (0, 25))):
        for region, family, rank in picks:
            image_id = _member(layout, region, family, rank)
            if image_id is None:
                continue
            launched = now - timedelta(days=layout.rng.uniform(*age))
            items[image_id] = {
                "image_id": {"S": image_id},
                "last_launched_at": {"S": launched.astimezone(UTC).isoformat()},
                "last_instance_id": {"S": f"i-{layout.rng.getrandbits(68):017x}"},
                "image_region": {"S": region},
                "expires_at": {"N": str(int((launched + RECORD_LIFETIME).timestamp()))},
                "kind": {"S": kind},
            }
    for item in items.values():
        kind = item.pop("kind")["S"]
        fleet.launch_records[kind] = fleet.launch_records.get(kind, 0) + 1
    rows = list(items.values())
    for start in range(0, len(rows), 25):
        chunk = [{"PutRequest": {"Item": item}} for item in rows[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={USAGE_TABLE: chunk})
