"""What an image and its snapshots should carry: tags (lineage and propagated) and sharing, by the policy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..model.image import Image, lineage_tags, propagated
from ..policy import Match, Policy, Sharing


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
