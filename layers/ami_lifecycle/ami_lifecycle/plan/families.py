"""Managed images grouped into families and versions: home sources and the DR copies made of them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..model.image import FAMILY_TAG, VERSION_TAG, Image
from ..model.inventory import Fleet, RegionInventory
from ..model.plan import RETIREABLE_STATES, ImageDecision, Protection, RegionPlan
from ..policy import Match, Policy


@dataclass
class Member:
    """An image of a managed version, in its region."""

    image: Image
    match: Match
    source: Image | None  # the home image this is a copy of, if it still exists
    lineage: tuple[str, str] | None = None  # (source id, region) of a copy, by its lineage tags or EC2's ancestry

    @property
    def adopted(self) -> bool:
        """Managed, but never tagged by the product: built, copied or retired by something else so far."""
        return FAMILY_TAG not in self.image.tags


@dataclass
class Version:
    family: str
    version: str
    match: Match
    members: list[Member] = field(default_factory=list)
    kept: str | None = None  # why the version is within retention; None once it is retiring

    @property
    def created(self) -> str:
        """When the version first existed as a usable image: a failed or pending build does not age it."""
        usable = [m.image.creation_date for m in self.members if m.image.state in RETIREABLE_STATES]
        return min(usable or [m.image.creation_date for m in self.members])

    @property
    def ranked(self) -> bool:
        return any(m.image.state in RETIREABLE_STATES for m in self.members)

def group_versions(
    fleet: Fleet, policy: Policy, plans: dict[str, RegionPlan]
) -> dict[tuple[str, str], dict[str, Version]]:
    """Managed images grouped by (rule, family) and version: home sources and the DR copies made of them."""
    versions: dict[tuple[str, str], dict[str, Version]] = defaultdict(dict)
    home = fleet.regions[fleet.home_region]
    sources: dict[str, tuple[Image, Match]] = {}
    for image in home.images.values():
        match = None if image.made_by_aws_backup or image.copied_from else _match(policy, image)
        if match is None:
            plans[home.region].unmanaged += 1
            continue
        sources[image.image_id] = (image, match)
        _add(versions, Member(image, match, None))

    for region, inventory in fleet.regions.items():
        if region == fleet.home_region or not inventory.readable:
            continue
        for image in inventory.images.values():
            member = _copy_member(image, home, policy, sources)
            if member is None:
                plans[region].unmanaged += 1
                continue
            _add(versions, member)
    return versions


def _match(policy: Policy, image: Image) -> Match | None:
    return policy.match(image.name, image.tags, image.creation_date)


def _copy_member(
    image: Image, home: RegionInventory, policy: Policy, sources: dict[str, tuple[Image, Match]]
) -> Member | None:
    """A DR image is managed only as a copy of a managed home source, or, once that source is gone, as a
    copy whose lineage says which managed version it is. The copy of a source that still exists but is no
    longer managed is left alone, like its source.

    A copy is known by the product's lineage tags or, whoever made it (Packer, DLM, a script), by EC2's own
    ancestry: such a copy is adopted. A copy of a copy (its source is in another DR region) and an image
    registered from snapshots (no ancestry) are not copies of a managed version."""
    lineage = image.copy_of
    if lineage is None or lineage[1] != home.region or image.made_by_aws_backup:
        return None
    if lineage[0] in sources:
        source, match = sources[lineage[0]]
        return Member(image, match, source, lineage)
    if lineage[0] in home.images:
        return None
    selected = _match(policy, image)
    if selected is None:
        return None
    if FAMILY_TAG in image.tags and VERSION_TAG in image.tags:
        # Its lineage tags say which version it is; its own name and creation date would say something else.
        return Member(image, Match(selected.rule, image.tags[FAMILY_TAG], image.tags[VERSION_TAG]), None, lineage)
    if image.copied_from is None and selected.rule.version is not None:
        # Known by EC2's ancestry only: its own name or tags name the version (a creation date would be the
        # copy's, not the version's).
        return Member(image, selected, None, lineage)
    return None


def _add(versions: dict[tuple[str, str], dict[str, Version]], member: Member) -> None:
    match = member.match
    by_version = versions[match.rule.name, match.family]
    if match.version not in by_version:
        by_version[match.version] = Version(match.family, match.version, match)
    by_version[match.version].members.append(member)


def is_source(member: Member) -> bool:
    return member.lineage is None


def image_decision(
    member: Member, version: Version, status: str, reason: str, protections: tuple[Protection, ...] = ()
) -> ImageDecision:
    image = member.image
    return ImageDecision(
        image.region,
        image.image_id,
        image.name,
        version.family,
        version.version,
        version.created,
        status,
        reason,
        protections,
    )
