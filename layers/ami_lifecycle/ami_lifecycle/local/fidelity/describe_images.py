"""DescribeImages (IncludeDisabled, MaxResults/NextToken, the ancestry filters) and DisableImage."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.amis import Ami
from moto.ec2.responses.amis import AmisResponse

from ._common import LOCK, MOTO
from .pagination import MAX_RESULTS_RANGE, max_results_in_range, page

# EC2's filters on an image's ancestry; an image that is not a copy has neither value, and matches neither.
_ANCESTRY_FILTERS = {"source-image-id": "source_image_id", "source-image-region": "source_image_region"}


def install() -> None:
    MOTO.update(
        describe_images=AmisResponse.describe_images,
        disable_image=AmisResponse.disable_image,
        ami_filter_value=Ami.get_filter_value,
    )
    AmisResponse.describe_images = _describe_images_action  # type: ignore[method-assign]
    AmisResponse.disable_image = _disable_image_action  # type: ignore[method-assign]
    Ami.get_filter_value = _ami_filter_value  # type: ignore[method-assign]


def _ami_filter_value(self: Ami, filter_name: str, method_name: str | None = None) -> Any:
    """DescribeImages filters `source-image-id` and `source-image-region`: moto 5.2.5 raises
    FilterNotImplementedError for them on any image that is not a copy (CopyImage sets both here)."""
    if filter_name in _ANCESTRY_FILTERS:
        return getattr(self, _ANCESTRY_FILTERS[filter_name], None)
    return MOTO["ami_filter_value"](self, filter_name, method_name)


def _describe_images_action(self: AmisResponse) -> ActionResult:
    """moto's selection (ImageIds, Owners, ExecutableUsers, Filters), then IncludeDisabled and pagination.

    EC2 leaves disabled AMIs out unless IncludeDisabled is true: a disabled AMI does not appear in DescribeImages
    by default, and the reference states no exception for ImageIds (unlike IncludeDeprecated), so an id asked
    for is left out too. MaxResults (5 to 1,000) may be combined with ImageIds.
    """
    ami_ids = self._get_param("ImageIds", [])
    filters = self._filters_from_querystring()
    owners = self._get_param("Owners", [])
    exec_users = self._get_param("ExecutableUsers", [])
    include_disabled = bool(self._get_param("IncludeDisabled"))
    max_results = max_results_in_range(self._get_param("MaxResults"), *MAX_RESULTS_RANGE)
    next_token = self._get_param("NextToken")
    self.error_on_dryrun()
    backend = self.ec2_backend

    def select() -> list[str]:
        images = backend.describe_images(ami_ids=ami_ids, filters=filters, exec_users=exec_users, owners=owners)
        return [image.id for image in images if include_disabled or image.state != "disabled"]

    image_ids, token = page(backend, "DescribeImages", next_token, max_results, select)
    images = [image for image in map(backend.amis.get, image_ids) if image is not None]
    return ActionResult({"Images": images, "NextToken": token})


def _disable_image_action(self: AmisResponse) -> ActionResult:
    """DisableImage sets the state to ``disabled`` and removes all launch permissions: the AMI becomes private.

    EnableImage (moto's) makes it available again; the permissions are not restored, as in EC2.
    """
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    with LOCK:
        self.ec2_backend.disable_image(image_id)  # moto: InvalidAMIID.NotFound / .Unavailable
        self.ec2_backend.amis[image_id].launch_permissions.clear()
    return ActionResult({"Return": True})
