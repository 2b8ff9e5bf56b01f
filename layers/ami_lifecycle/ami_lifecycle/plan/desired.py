"""What an image and its snapshots should carry: tags (lineage and propagated) and sharing, by the policy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..model.image import PROTECTED_TAG, Image, lineage_tags, propagated
from ..policy import Match, Policy, Sharing
from .families import Member, is_source


@dataclass(frozen=True)
class DesiredImage:
    """The tags and permissions an image and its snapshots should carry."""

    image_tags: dict[str, str]
    snapshot_tags: dict[str, str]
    sharing: Sharing


def desired_source(source: Image, match: Match, policy: Policy) -> DesiredImage:
    image_tags = lineage_tags(match.family, match.version)
    snapshot_tags = policy.tags_for(match.rule).to_snapshots.apply(propagated(source.tags)) | image_tags
    return DesiredImage(image_tags, snapshot_tags, policy.sharing_for(match.rule))


def desired_copy(source: Image, match: Match, policy: Policy) -> DesiredImage:
    propagation = policy.tags_for(match.rule)
    lineage = lineage_tags(match.family, match.version, source)
    image_tags = propagation.to_copies.apply(propagated(source.tags)) | lineage
    snapshot_tags = propagation.to_snapshots.apply(image_tags) | lineage
    return DesiredImage(image_tags, snapshot_tags, policy.sharing_for(match.rule))


def protection_digest(desired: DesiredImage) -> str:
    """A short digest of what protecting an image applies; it changes when the policy asks for more."""
    document = json.dumps(
        [desired.image_tags, desired.snapshot_tags, desired.sharing.model_dump(mode="json")], sort_keys=True
    )
    return hashlib.sha256(document.encode()).hexdigest()[:16]


def desired_for_member(member: Member, policy: Policy) -> DesiredImage:
    """What a grouped image should carry: a source by its own tags, a copy by its source's."""
    if is_source(member):
        return desired_source(member.image, member.match, policy)
    return desired_copy(member.source or _lost_source(member), member.match, policy)


def _lost_source(member: Member) -> Image:
    """A copy whose source is gone keeps the lineage it has; an Image that stands in for the source."""
    source_id, source_region = member.image.copied_from or ("", "")
    return Image(
        source_id,
        source_region,
        member.image.owner_id,
        member.image.name,
        "deregistered",
        "",
        {k: v for k, v in member.image.tags.items() if k != PROTECTED_TAG},
    )
