"""What a read found: a region's images, snapshots and references, and the fleet of every region."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .image import Image
from .parameters import ImageParameter, ParameterShare
from .usage import UsageReport

# In-use sources of a region; a source that could not be read blocks removal there.
IMAGES, SNAPSHOTS, INSTANCES = "images", "snapshots", "instances"
LAUNCH_TEMPLATES, AUTO_SCALING_GROUPS, LAUNCH_CONFIGURATIONS = (
    "launch templates",
    "Auto Scaling groups",
    "launch configurations",
)
EC2_FLEETS, SPOT_FLEET_REQUESTS, SPOT_INSTANCE_REQUESTS = "EC2 Fleets", "Spot Fleet requests", "spot instance requests"
BATCH_COMPUTE_ENVIRONMENTS = "Batch compute environments"
IMAGE_REFERENCES = "image references"  # DescribeImageReferences, read for removal candidates only
LAUNCH_PERMISSIONS = "launch permissions"  # DescribeImageAttribute, read for images due for removal only
USAGE_REPORTS = "AMI usage reports"
SSM_PARAMETERS = "SSM parameters"  # the product's family parameters, under the policy's path


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    size_gib: int
    state: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Reference:
    """Something that launches or may launch instances from an AMI."""

    kind: str  # instance | launch-template | auto-scaling-group | ec2-fleet | ssm-parameter | ...
    resource: str  # what it is, readable: "i-0abc (running)", "lt-0abc version 3", ...
    found_by: str = ""  # the read that found it, when not the product's own listing of that kind

    def __str__(self) -> str:
        return f"{self.kind} {self.resource}" + (f" (found by {self.found_by})" if self.found_by else "")


@dataclass
class RegionInventory:
    """One region as a read saw it. `unread` names the sources that could not be read."""

    region: str
    images: dict[str, Image] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    references: dict[str, list[Reference]] = field(default_factory=dict)
    unread: dict[str, str] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict, compare=False, repr=False)  # by source
    # Images whose references EC2 itself was asked about (DescribeImageReferences): only these may be removed.
    references_checked: frozenset[str] = frozenset()
    # Launch permissions read for images due for removal: image id -> (UserId|Group|..., value) pairs.
    launch_permissions: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    # AMI usage reports of retiring shared images, newest first, and the images they were looked up for.
    usage_reports: dict[str, list[UsageReport]] = field(default_factory=dict)
    usage_checked: frozenset[str] = frozenset()
    # Parameters under the policy's path by name (the sweep's read); None when not read.
    parameters: dict[str, ImageParameter] | None = None
    parameter_share: ParameterShare | None = None  # read when the policy shares the parameters

    @property
    def readable(self) -> bool:
        """False when the region's own images could not be listed: nothing is known about it."""
        return IMAGES not in self.unread

    def refer(self, image_id: str | None, reference: Reference) -> None:
        if image_id:
            self.references.setdefault(image_id, []).append(reference)


@dataclass(frozen=True)
class Fleet:
    """What the sweep read: each region's inventory and the product's launch records."""

    home_region: str
    regions: dict[str, RegionInventory]
    launches: dict[str, datetime] | None  # image id -> last recorded launch; None when unreadable
    launches_error: str | None = None
    recycle_bin_days: int = 0  # how long the deployment's Recycle Bin rules keep what the sweep removes


@dataclass(frozen=True)
class ImageState:
    """What is already set on an image: its snapshots' tags, launch and snapshot permissions."""

    snapshot_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    launch_permissions: frozenset[tuple[str, str]] = frozenset()
    snapshot_accounts: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    image_id: str
    state: str
    launch_time: datetime
    tags: dict[str, str]
