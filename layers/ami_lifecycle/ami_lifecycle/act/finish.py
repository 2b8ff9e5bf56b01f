"""Finishing an image: the one write that may read first. An AMI event reads what is set on its image (snapshot
tags, permissions) and adds only what is missing; the sweep already listed every snapshot with its tags, and
adds the permissions the policy asks for without reading them (adding a permission that is there changes
nothing, and costs what reading it would)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..aws.clients import ClientFactory
from ..model.image import Image
from ..model.inventory import ImageState
from ..plan.desired import DesiredImage
from ..plan.protect import plan_finish
from ..read.images import read_image_state
from .base import Action, Applied
from .protect import AddLaunchPermissions, AddSnapshotVolumePermissions, TagResources


@dataclass(frozen=True)
class FinishImage(Action):
    """Tags, launch and snapshot permissions an image should carry: add only what is missing.

    The protected mark is written last, so an image without it (or with an old digest) is known to be
    unfinished without reading its permissions.
    """

    image: Image
    desired: DesiredImage = field(compare=False)
    # The image's snapshots' tags from a bulk read; None: read them (and the permissions) from EC2 first.
    snapshot_tags: dict[str, dict[str, str]] | None = field(default=None, compare=False)
    reason: str = field(default="", compare=False)  # why it is finished, when it says more than "unfinished"

    permissions = (
        "ec2:DescribeSnapshots",
        "ec2:DescribeImageAttribute",
        "ec2:DescribeSnapshotAttribute",
        *TagResources.permissions,
        *AddLaunchPermissions.permissions,
        *AddSnapshotVolumePermissions.permissions,
    )

    def apply(self, clients: ClientFactory) -> Applied:
        if self.snapshot_tags is None:
            state = read_image_state(clients.ec2(self.region), self.image, self.desired.sharing)
        else:
            state = ImageState(self.snapshot_tags)  # permissions unknown: every one the policy asks for is added
        actions = plan_finish(self.image, state, self.desired)
        for action in actions:
            action.apply(clients)
        done = "; ".join(a.describe() for a in actions)
        return Applied(note=f" -> {done}" if done else "", changed=bool(actions))

    def describe(self) -> str:
        if self.reason:
            return f"{self.reason}: finish protecting {self.image.image_id}"
        return f"finish protecting {self.image.image_id}"
