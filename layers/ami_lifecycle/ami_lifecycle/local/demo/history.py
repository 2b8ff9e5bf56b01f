"""The account before the product: families built over months, DR copies another tool made, and the adoption plan
an operator reads before installing anything (`python -m ami_lifecycle plan`, without the stack's tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ami_lifecycle.model.image import FAMILY_TAG, tags_of

from .. import fidelity
from ..seed import backdate_image, register_ami
from .aws_state import all_images, copies_of
from .world import DR_REGIONS, HOME, WEST, LocalAws

LEGACY_TEAM = "legacy"  # the policy's `legacy` rule selects these builds (not shared with other accounts)


@dataclass(frozen=True)
class PastBuild:
    family: str
    version: str
    days_ago: int
    volume_sizes: tuple[int, ...]
    copied_to_dr: bool = False  # copied to us-west-2 by another tool (CopyImage, no tags of this product)

    @property
    def name(self) -> str:
        return f"{self.family}-{self.version}"


# Beyond retention (newest 1 per family): base-3.0.0, base-3.1.0 and tools-1.0.0; the others are kept.
PAST_BUILDS = (
    PastBuild("base", "3.0.0", 120, (8, 30), copied_to_dr=True),
    PastBuild("base", "3.1.0", 60, (8, 30), copied_to_dr=True),
    PastBuild("base", "3.2.0", 20, (8, 30)),
    PastBuild("tools", "1.0.0", 200, (16,)),
    PastBuild("tools", "1.1.0", 45, (16,)),
)


@dataclass
class History:
    """What the account held before the product: sources by build, and the other tool's DR copies."""

    sources: dict[PastBuild, str] = field(default_factory=dict)
    copies: dict[PastBuild, str] = field(default_factory=dict)  # in us-west-2

    @property
    def image_ids(self) -> set[str]:
        return {*self.sources.values(), *self.copies.values()}

    def retiring(self) -> dict[str, str]:
        """The images of the versions beyond retention, sources and copies (image id -> what it is): the first
        real tick adopts them with the family tag only and deprecates them; nothing uses them, so they go after
        the grace period."""
        kept = newest()
        found = {i: f"{b.name} ({HOME})" for b, i in self.sources.items() if b not in kept}
        return found | {i: f"{b.name} ({WEST} copy)" for b, i in self.copies.items() if b not in kept}


def seed_history(aws: LocalAws, builds: tuple[PastBuild, ...] = PAST_BUILDS) -> History:
    """Builds of months past, selected by the policy (the pipeline tags them managed) but carrying none of the
    product's tags; another tool copied some of them to the DR region with CopyImage."""
    history = History()
    now = datetime.now(UTC)
    for build in builds:
        tags = {"ami-lifecycle:managed": "true", "Team": LEGACY_TEAM}
        image_id = register_ami(aws.ec2(HOME), build.name, tags, volume_sizes=build.volume_sizes)
        backdate_image(HOME, image_id, now - timedelta(days=build.days_ago))
        history.sources[build] = image_id
        if build.copied_to_dr:
            copy = aws.ec2(WEST).copy_image(SourceImageId=image_id, SourceRegion=HOME, Name=build.name)
            history.copies[build] = copy["ImageId"]
    fidelity.complete_pending_copies()  # the other tool's copies finished long ago
    return history


def newest(builds: tuple[PastBuild, ...] = PAST_BUILDS) -> set[PastBuild]:
    """The version retention keeps in each family (keep_latest 1): the most recently built."""
    by_family: dict[str, PastBuild] = {}
    for build in builds:
        if build.family not in by_family or build.days_ago < by_family[build.family].days_ago:
            by_family[build.family] = build
    return set(by_family.values())


def adoption_problems(aws: LocalAws, history: History) -> list[str]:
    """After the first real tick: every past build carries the product's lineage, and so does every copy the other
    tool made (known by EC2's ancestry); the versions retention keeps have a copy in each DR region."""
    problems = []
    found = {i["ImageId"]: i for region in (HOME, WEST) for i in all_images(aws, region)}
    for label, images in (("", history.sources), (f" ({WEST} copy)", history.copies)):
        for build, image_id in images.items():
            if FAMILY_TAG not in tags_of(found.get(image_id, {})):
                problems.append(f"step 9: {build.name}{label} ({image_id}) was not adopted: no {FAMILY_TAG} tag")
    for build in newest():
        for region in DR_REGIONS:
            if not copies_of(all_images(aws, region), history.sources[build]):
                problems.append(f"step 9: no copy of {build.name} in {region} was started")
    return problems
