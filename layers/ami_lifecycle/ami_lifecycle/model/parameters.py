"""The family parameters: an SSM parameter per family and region naming the family's current image."""

from __future__ import annotations

from dataclasses import dataclass, field

from .image import TAG_PREFIX

# Tags on a product-owned parameter: what it names, and where that stands in the version order, so that an
# event compares without reading the image the parameter names. The family tag is also the ownership mark.
PARAMETER_FAMILY_TAG = f"{TAG_PREFIX}family"
PARAMETER_VERSION_TAG = f"{TAG_PREFIX}version"
PARAMETER_CREATED_TAG = f"{TAG_PREFIX}version-created"
PARAMETER_IMAGE_TAG = f"{TAG_PREFIX}image-id"


@dataclass(frozen=True)
class ImageParameter:
    """A parameter under the policy's path, as the sweep read it."""

    name: str
    value: str
    owned: bool  # carries the product's family tag: the product made it and may move it
    tier: str = "Standard"
    data_type: str = "text"


@dataclass(frozen=True)
class TaggedParameter:
    """One parameter as an event reads it: whether it exists, and its tags (what it names, and its order)."""

    name: str
    exists: bool
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def owned(self) -> bool:
        return PARAMETER_FAMILY_TAG in self.tags


@dataclass(frozen=True)
class ParameterDecision:
    """What happens to one family's parameter in one region this run, and why."""

    region: str
    family: str
    name: str
    status: str  # create | move | up-to-date | held | not-ours | unnamed
    named: str | None  # the image it names now
    image_id: str | None  # the image it should name
    version: str | None
    pinned: str | None
    reason: str


@dataclass(frozen=True)
class ParameterShare:
    """The region's AWS RAM resource share of the family parameters, as read (arn None: there is none)."""

    arn: str | None
    resources: frozenset[str] = frozenset()
    principals: frozenset[str] = frozenset()


SHARE_NAME = "ami-lifecycle-parameters"


def parameter_arn(region: str, account_id: str, name: str) -> str:
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:ssm:{region}:{account_id}:parameter/{name.lstrip('/')}"
