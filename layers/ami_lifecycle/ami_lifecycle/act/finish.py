"""Finishing an image: the one write that reads first, because permissions are read per image and only
for the images that need them (the sweep knows from the protected mark which ones do)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from ..aws.clients import ClientFactory
from ..model.image import Image
from ..plan.desired import DesiredImage
from ..plan.protect import plan_finish, tags_left_out
from ..read.images import read_image_state
from .base import Action, Applied
from .protect import AddLaunchPermissions, AddSnapshotVolumePermissions, TagResources

logger = Logger(child=True)


@dataclass(frozen=True)
class FinishImage(Action):
    """Tags, launch and snapshot permissions an image should carry: read what is set, add only what is missing.

    The protected mark is written last, so an image without it (or with an old digest) is known to be
    unfinished without reading its permissions.
    """

    image: Image
    desired: DesiredImage = field(compare=False)

    permissions = (
        "ec2:DescribeSnapshots",
        "ec2:DescribeImageAttribute",
        "ec2:DescribeSnapshotAttribute",
        *TagResources.permissions,
        *AddLaunchPermissions.permissions,
        *AddSnapshotVolumePermissions.permissions,
    )

    def apply(self, clients: ClientFactory) -> Applied:
        state = read_image_state(clients.ec2(self.region), self.image, self.desired.sharing)
        actions = plan_finish(self.image, state, self.desired)
        left_out = tags_left_out(self.image, state, self.desired)
        if left_out:
            logger.warning("tags left out", extra={"image_id": self.image.image_id, "region": self.region,
                                                   "left_out": left_out})  # fmt: skip
        for action in actions:
            action.apply(clients)
        done = "; ".join(a.describe() for a in actions)
        note = (f" -> {done}" if done else "") + (f" ({left_out})" if left_out else "")
        return Applied(note=note, changed=bool(actions))

    def describe(self) -> str:
        return f"finish protecting {self.image.image_id}"
