"""Adopting images the product did not make: their lineage tags, added in bulk."""

from __future__ import annotations

from dataclasses import dataclass

from ..aws.clients import ClientFactory
from ..model.image import tag_list
from .base import Action, Applied

CREATE_TAGS_BATCH = 500  # resources per CreateTags request, well within its limit


@dataclass(frozen=True)
class AddLineageTags(Action):
    """Tag images of one region with the same lineage tags (their family, or their version), in one CreateTags
    per 500 images. Images the product finds already built, copied or retired by another tool need these before
    they retire: the sweep's retirement writes are granted only on images that carry the family tag."""

    image_ids: tuple[str, ...]
    tags: dict[str, str]

    permissions = ("ec2:CreateTags",)

    def apply(self, clients: ClientFactory) -> Applied:
        ec2 = clients.ec2(self.region)
        for start in range(0, len(self.image_ids), CREATE_TAGS_BATCH):
            ec2.create_tags(Resources=list(self.image_ids[start : start + CREATE_TAGS_BATCH]), Tags=tag_list(self.tags))
        return Applied()

    def describe(self) -> str:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        return f"adopt {len(self.image_ids)} images: tag {tags}"
