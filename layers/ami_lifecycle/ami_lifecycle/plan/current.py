"""Which image is current for a family in a region: the one consumers should launch. Pure, no I/O.

A family's current image in a region is, unless the policy pins the family, the image of the newest version
(by the sweep's version order: when the version first existed as a usable image, then its label) that is
`available`, finished (its `protected` mark matches what the policy asks for now) and not deprecated (no
deprecation time at all, past or scheduled: a version with one is retiring) in that region: the source at
home, the region's copy in a DR region. A pinned family's current image is the pinned version's image in
that region, whatever its age; a deprecation on it is cancelled by the sweep, so it only needs to be available.

Both triggers use the same two steps:

    candidates = [candidate(member, version, policy) for member in version.members]   # or event_candidate(...)
    current = choose_current(family, region, candidates, pin)
    if should_move(current, named):                                                   # named: what it names now
        ...write current.candidate.image_id...

The sweep builds candidates from every version of the family (`plan/families.group_versions`) and knows
whether the image the parameter names now is still usable; the image-available flow has one image it has just
finished and only the parameter's own tags (`Named.from_tags`), and trusts them (the sweep reconciles every
tick). `should_move` never moves backwards in version order, except away from an image that is no longer
usable (deprecated, disabled, gone) or to a pinned version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..model.image import PROTECTED_TAG, Image
from ..model.parameters import (
    PARAMETER_CREATED_TAG,
    PARAMETER_FAMILY_TAG,
    PARAMETER_IMAGE_TAG,
    PARAMETER_VERSION_TAG,
)
from ..policy import Policy
from .desired import desired_for_member, protection_digest
from .families import Member, Version

__all__ = [
    "PARAMETER_CREATED_TAG",
    "PARAMETER_FAMILY_TAG",
    "PARAMETER_IMAGE_TAG",
    "PARAMETER_VERSION_TAG",
    "Candidate",
    "Current",
    "Named",
    "candidate",
    "choose_current",
    "event_candidate",
    "should_move",
    "version_key",
]

VersionKey = tuple[str, str]


def version_key(created: str, version: str) -> VersionKey:
    """The sweep's version order (plan/retire.plan_family ranks by it): creation of the version's first usable
    image, then the version label. ISO 8601 timestamps of EC2 compare correctly as strings."""
    return (created, version)


@dataclass(frozen=True)
class Candidate:
    """One image of one version of a family, in one region, as the decision sees it."""

    family: str
    version: str
    created: str  # when the version first existed as a usable image (`Version.created`)
    image_id: str
    region: str
    state: str
    deprecation_time: str | None  # any deprecation, past or scheduled
    finished: bool  # its protected mark matches what the policy asks for now

    @property
    def key(self) -> VersionKey:
        return version_key(self.created, self.version)

    @property
    def eligible(self) -> bool:
        """May be current without a pin."""
        return self.state == "available" and self.finished and self.deprecation_time is None

    def tags(self) -> dict[str, str]:
        """The tags a product-owned parameter naming this image carries."""
        return {
            PARAMETER_FAMILY_TAG: self.family,
            PARAMETER_VERSION_TAG: self.version,
            PARAMETER_CREATED_TAG: self.created,
            PARAMETER_IMAGE_TAG: self.image_id,
        }


@dataclass(frozen=True)
class Current:
    """The decision for one family in one region. `candidate` None: nothing qualifies, leave the parameter."""

    family: str
    region: str
    candidate: Candidate | None
    pinned: str | None = None  # the pinned version, when the policy pins the family
    note: str = ""  # why, for the plan and the log


@dataclass(frozen=True)
class Named:
    """What a product-owned parameter names now."""

    image_id: str
    key: VersionKey | None  # None when its tags do not say (then only an unusable image is replaced)
    usable: bool = True  # False when the image is deprecated, disabled or gone (only the sweep can tell)

    @classmethod
    def from_tags(cls, value: str, tags: Mapping[str, str]) -> Named:
        """From the parameter's value and tags, as the image-available flow reads them (one read, no image)."""
        version, created = tags.get(PARAMETER_VERSION_TAG), tags.get(PARAMETER_CREATED_TAG)
        key = version_key(created, version) if version is not None and created is not None else None
        return cls(value, key)


def candidate(member: Member, version: Version, policy: Policy, finishing: frozenset[str] = frozenset()) -> Candidate:
    """A sweep candidate: one member of a version grouped by `plan/families.group_versions`. `finishing`: images
    the same run finishes first (a write naming one must require that FinishImage), which count as finished."""
    image = member.image
    # Only an available, undeprecated image can be eligible: the digest (the costly part) is worked out for it alone.
    finished = image.image_id in finishing or (
        image.state == "available"
        and image.deprecation_time is None
        and image.tags.get(PROTECTED_TAG) == protection_digest(desired_for_member(member, policy))
    )
    return Candidate(
        version.family,
        version.version,
        version.created,
        image.image_id,
        image.region,
        image.state,
        image.deprecation_time,
        finished,
    )


def event_candidate(image: Image, family: str, version: str, created: str) -> Candidate:
    """The image an event has just finished (its actions succeeded), with its version's creation: the source's
    creation date, for a source and for each of its copies alike."""
    return Candidate(family, version, created, image.image_id, image.region, image.state, image.deprecation_time, True)


def choose_current(family: str, region: str, candidates: Iterable[Candidate], pin: str | None = None) -> Current:
    """The image a family's parameter in `region` should name (candidates of other regions are ignored)."""
    here = [c for c in candidates if c.region == region and c.family == family]
    if pin is not None:
        pinned = sorted((c for c in here if c.version == pin and c.state == "available"), key=lambda c: c.image_id)
        if not pinned:
            return Current(family, region, None, pin, f"pinned to {pin}, which has no available image in {region}")
        return Current(family, region, pinned[0], pin, f"pinned to {pin}")
    eligible = sorted((c for c in here if c.eligible), key=lambda c: (c.key, c.image_id), reverse=True)
    if not eligible:
        return Current(family, region, None, None, f"no available, finished, undeprecated version in {region}")
    return Current(family, region, eligible[0], None, f"newest available version {eligible[0].version}")


def should_move(current: Current, named: Named | None) -> bool:
    """Whether the parameter moves from what it names now to `current`: never backwards in version order, except
    away from an image that is no longer usable, or to a pinned version."""
    chosen = current.candidate
    if chosen is None:
        return False
    if named is None:
        return True
    if named.image_id == chosen.image_id:
        return False
    if current.pinned is not None or not named.usable:
        return True
    # Tags that do not say where it stands: only the sweep, which reads the image, may replace it.
    return named.key is not None and chosen.key > named.key
