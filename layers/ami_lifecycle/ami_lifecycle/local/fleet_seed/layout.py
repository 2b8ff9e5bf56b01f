"""The fleet decided up front from a seeded random layout: versions per family with their dates, and which of
them are referenced from where (instances, launch templates and configurations, launch records, tags)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ...policy import Policy, Retention, Rule
from .ground_truth import FleetShape


@dataclass
class Version:
    """One version of a family: when it was built and deprecated, and its image in each region once written."""

    family: str
    rank: int
    label: str
    created: datetime
    deprecated_at: datetime | None
    missed_event: bool = False  # the image-available event never arrived: unfinished, not copied
    members: dict[str, str] = field(default_factory=dict)  # region -> image id


@dataclass
class Layout:
    """The policy's first rule with its retention and regions, the random source, and every family's versions."""

    policy: Policy
    rule: Rule
    retention: Retention
    home: str
    dr: list[str]
    rng: random.Random
    families: dict[str, list[Version]] = field(default_factory=dict)  # newest first
    foreign: bool = False  # made by other tools: no product tags, copies known by EC2's ancestry only


def plan_layout(policy: Policy, shape: FleetShape, now: datetime) -> Layout:
    """Families with many versions each: the newest built half a day ago, older ones spaced evenly over the
    family's history (30 to 90 days). Versions beyond the newest `keep_latest` carry the deprecation date the
    sweep gives them (deprecate_after_days after the version that pushed them out), except a few never
    deprecated yet."""
    rule = policy.managed_images[0]
    retention = policy.retention_for(rule)
    dr = [d.region for d in policy.dr_regions_for(rule)]
    rng = random.Random(shape.seed)
    if shape.history not in ("product", "foreign"):
        raise ValueError(f"history must be 'product' or 'foreign', not {shape.history!r}")
    layout = Layout(policy, rule, retention, policy.home_region, dr, rng, foreign=shape.history == "foreign")
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
            versions.append(Version(family, rank, label, created[rank], deprecated, rank == 0 and family in missed))
        layout.families[family] = versions
    return layout


def _minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


@dataclass
class Uses:
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


def plan_usage(layout: Layout, shape: FleetShape) -> Uses:
    rng, keep, uses = layout.rng, layout.retention.keep_latest, Uses()
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


def references(layout: Layout, uses: Uses) -> dict[str, list[str]]:
    """Image id -> why it is in use: what the sweep must find. Resolved as the API writes resolve them."""
    window = layout.retention.launched_within_days
    found: dict[str, list[str]] = {}

    def add(region: str, family: str, rank: int, reason: str, nearest: bool = False) -> None:
        image_id = nearest_image_id(layout, region, family, rank) if nearest else member(layout, region, family, rank)
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


def member(layout: Layout, region: str, family: str, rank: int) -> str | None:
    return layout.families[family][rank].members.get(region)


def nearest_image_id(layout: Layout, region: str, family: str, rank: int) -> str | None:
    """The version's image in that region, or the nearest older one that has one (a missed event has no copy)."""
    for version in layout.families[family][rank:]:
        if region in version.members:
            return version.members[region]
    return None
