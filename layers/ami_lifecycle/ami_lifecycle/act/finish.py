"""Finishing an image. An AMI event reads what is set on its image (snapshot tags, permissions) and adds only
what is missing: the event is the moment to verify. The sweep reads nothing per image: it already listed every
snapshot with its tags, and it adds the permissions the policy asks for without reading them (adding a
permission that is there changes nothing, and costs no more than reading it would)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from aws_lambda_powertools import Logger

from ..aws.clients import ClientFactory
from ..model.image import Image
from ..model.inventory import ImageState
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
    reason: str = field(default="", compare=False)  # why it is finished, when it says more than "unfinished"

    # The event reads and verifies tags, then writes the mark on its own; the sweep's finishing writes the
    # permissions first and the mark with the image's tags, in one CreateTags (plan/protect.py plan_finish).
    one_write: ClassVar[bool] = False

    permissions: ClassVar[tuple[str, ...]] = (
        "ec2:DescribeSnapshots",
        "ec2:DescribeImageAttribute",
        "ec2:DescribeSnapshotAttribute",
        *TagResources.permissions,
        *AddLaunchPermissions.permissions,
        *AddSnapshotVolumePermissions.permissions,
    )

    def apply(self, clients: ClientFactory) -> Applied:
        state = self._state(clients)
        actions = plan_finish(self.image, state, self.desired, one_write=self.one_write)
        left_out = tags_left_out(self.image, state, self.desired)
        if left_out:
            logger.warning("tags left out", extra={"image_id": self.image.image_id, "region": self.region,
                                                   "left_out": left_out})  # fmt: skip
        for action in actions:
            action.apply(clients)
        done = "; ".join(a.describe() for a in actions)
        note = (f" -> {done}" if done else "") + (f" ({left_out})" if left_out else "")
        return Applied(note=note, changed=bool(actions))

    def _state(self, clients: ClientFactory) -> ImageState:
        return read_image_state(clients.ec2(self.region), self.image, self.desired.sharing)

    def describe(self) -> str:
        if self.reason:
            return f"{self.reason}: finish protecting {self.image.image_id}"
        return f"finish protecting {self.image.image_id}"


@dataclass(frozen=True)
class FinishListedImage(FinishImage):
    """The sweep's finishing: the snapshot tags come from its listing (a snapshot it did not list is tagged
    regardless), and every permission the policy asks for is added, without a read of this image's own. The
    permissions go first; the image's missing tags and its protected mark then go in one CreateTags, shared with
    its snapshots where their tags are the same, so a finished image costs one tag write, not two."""

    snapshot_tags: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)

    one_write: ClassVar[bool] = True

    permissions: ClassVar[tuple[str, ...]] = (
        *TagResources.permissions,
        *AddLaunchPermissions.permissions,
        *AddSnapshotVolumePermissions.permissions,
    )

    def _state(self, clients: ClientFactory) -> ImageState:
        return ImageState(self.snapshot_tags)
