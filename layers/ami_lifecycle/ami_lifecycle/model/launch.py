"""Launches: an instance that a launch event named, and an alert for a launch from a retired AMI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .image import FAMILY_TAG, VERSION_TAG, Image


@dataclass(frozen=True)
class Launch:
    message_id: str
    instance_id: str
    region: str


@dataclass(frozen=True)
class LaunchAlert:
    image: Image
    reason: str
    instance_ids: tuple[str, ...]
    managed: bool

    def message(self) -> dict[str, Any]:
        return {
            "alert": "launch from a retired AMI",
            "image_id": self.image.image_id,
            "image_name": self.image.name,
            "region": self.image.region,
            "reason": self.reason,
            "managed": self.managed,
            "family": self.image.tags.get(FAMILY_TAG),
            "version": self.image.tags.get(VERSION_TAG),
            "instance_ids": list(self.instance_ids),
        }
