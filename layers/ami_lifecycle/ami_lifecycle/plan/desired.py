"""What an image and its snapshots should carry: tags (lineage and propagated) and sharing, by the policy.

Tags are fitted within EC2's limits (plan/tag_fit.py): the product's own first, propagated tags in the policy's
`priority` order, room kept for the marks the product writes later; what is left out is named in `left_out`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..model.image import (
    FAMILY_TAG,
    IMAGE_MARKS,
    PROTECTED_TAG,
    SNAPSHOT_MARKS,
    VERSION_TAG,
    Image,
    lineage_tags,
    propagated,
)
from ..policy import Match, Policy, Sharing
from .families import Member, is_source
from .tag_fit import TagFit, fit_tags


@dataclass(frozen=True)
class DesiredImage:
    """The tags and permissions an image and its snapshots should carry."""

    image_tags: dict[str, str]
    snapshot_tags: dict[str, str]
    sharing: Sharing
    left_out: str = ""  # which tags do not fit and why, "" when all do


def desired_source(source: Image, match: Match, policy: Policy) -> DesiredImage:
    """A source keeps every tag it has: its lineage takes what room is left (EC2 allows 50 tags)."""
    propagation = policy.tags_for(match.rule)
    lineage = lineage_tags(match.family, match.version)
    # The family tag first (retiring the image needs it), then the protected mark, then the version.
    family = fit_tags({FAMILY_TAG: match.family}, existing=source.tags)
    version = fit_tags({VERSION_TAG: match.version}, existing=source.tags | family.tags, reserve=(PROTECTED_TAG,))
    image = TagFit(family.tags | version.tags, family.dropped + version.dropped, family.invalid + version.invalid)
    snapshots = fit_tags(
        lineage,
        propagation.to_snapshots.apply(propagated(source.tags)),
        reserve=SNAPSHOT_MARKS,
        priority=propagation.priority,
    )
    left_out = _left_out(source.image_id, image, snapshots)
    return DesiredImage(image.tags, snapshots.tags, policy.sharing_for(match.rule), left_out)


def desired_copy(source: Image, match: Match, policy: Policy) -> DesiredImage:
    propagation = policy.tags_for(match.rule)
    lineage = lineage_tags(match.family, match.version, source)
    image = fit_tags(
        lineage,
        propagation.to_copies.apply(propagated(source.tags)),
        reserve=IMAGE_MARKS,
        priority=propagation.priority,
    )
    snapshots = fit_tags(
        lineage,
        propagation.to_snapshots.apply({k: v for k, v in image.tags.items() if k not in lineage}),
        reserve=SNAPSHOT_MARKS,
        priority=propagation.priority,
    )
    left_out = _left_out(f"copies of {source.image_id}", image, snapshots)
    return DesiredImage(image.tags, snapshots.tags, policy.sharing_for(match.rule), left_out)


def protection_digest(desired: DesiredImage) -> str:
    """A short digest of what protecting an image applies; it changes when the policy asks for more."""
    document = json.dumps(
        [desired.image_tags, desired.snapshot_tags, desired.sharing.model_dump(mode="json")], sort_keys=True
    )
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def _left_out(what: str, image: TagFit, snapshots: TagFit) -> str:
    parts = [f"{what}: {image.describe()}"] if image.left_out else []
    # A copy's snapshots carry a subset of its tags: say only what the snapshots miss beyond the image.
    extra = TagFit(
        {},
        tuple(k for k in snapshots.dropped if k not in image.left_out),
        tuple(k for k in snapshots.invalid if k not in image.left_out),
    )
    if extra.left_out:
        parts.append(f"snapshots of {what}: {extra.describe()}")
    return "; ".join(parts)


def desired_for_member(member: Member, policy: Policy) -> DesiredImage:
    """What a grouped image should carry: a source by its own tags, a copy by its source's."""
    if is_source(member):
        return desired_source(member.image, member.match, policy)
    return desired_copy(member.source or _lost_source(member), member.match, policy)


def _lost_source(member: Member) -> Image:
    """A copy whose source is gone keeps the lineage it has; an Image that stands in for the source."""
    source_id, source_region = member.lineage or ("", "")
    return Image(
        source_id,
        source_region,
        member.image.owner_id,
        member.image.name,
        "deregistered",
        "",
        {k: v for k, v in member.image.tags.items() if k != PROTECTED_TAG},
    )
