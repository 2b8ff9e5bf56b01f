"""The ground truth of a seeded fleet: how big it is, every managed image as built, and what a correct sweep
must plan for them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ...policy import Retention


@dataclass(frozen=True)
class FleetShape:
    """How big a fleet to build: `amis` managed AMIs (home sources and one copy per DR region) in `families`."""

    amis: int
    families: int
    seed: int = 20261122
    # "product": built and copied through the product (lineage tags, protected marks, sharing); "foreign": the
    # same AMIs made by other tools before the product was installed: sources without the product's tags, DR
    # copies made by Packer `ami_regions`, DLM or a script (EC2's SourceImageId/SourceImageRegion, the build's
    # own tags), deprecation dates as the earlier tooling set them.
    history: str = "product"


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
