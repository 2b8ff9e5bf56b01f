"""DescribeImages (IncludeDisabled, MaxResults/NextToken) and DisableImage."""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.ec2.responses.amis import AmisResponse

from ._common import LOCK, MOTO
from .pagination import MAX_RESULTS_RANGE, max_results_in_range, page


def install() -> None:
    MOTO.update(describe_images=AmisResponse.describe_images, disable_image=AmisResponse.disable_image)
    AmisResponse.describe_images = _describe_images_action  # type: ignore[method-assign]
    AmisResponse.disable_image = _disable_image_action  # type: ignore[method-assign]


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
