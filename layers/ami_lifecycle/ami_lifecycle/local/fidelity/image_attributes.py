"""LastLaunchedTime, and DescribeImageAttribute lastLaunchedTime and deregistrationProtection.

Time does not pass in moto: ``set_last_launched_time()`` sets the LastLaunchedTime EC2 reports (about a day
after a launch; RunInstances does not update it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.models.amis import Ami
from moto.ec2.responses.amis import AmisResponse

from ._common import LOCK, MOTO, as_utc, existing_ec2_backends, find_image, iso


def install() -> None:
    """Patch DescribeImageAttribute, and add LastLaunchedTime to what DescribeImages reports."""
    MOTO.update(describe_image_attribute=AmisResponse.describe_image_attribute)
    AmisResponse.describe_image_attribute = _describe_image_attribute_action  # type: ignore[method-assign]
    Ami.last_launched_time = property(_image_last_launched_time)  # type: ignore[attr-defined]


def set_last_launched_time(image_id: str, when: datetime, region: str, account_id: str | None = None) -> None:
    """Time passes: EC2 reports ``when`` as the AMI's LastLaunchedTime (DescribeImages, DescribeImageAttribute).

    EC2 reports a launch about 24 hours after it happens, so RunInstances does not update it here either: a
    test states the time it needs. ``when`` is kept to the second; a naive datetime is UTC.
    """
    with LOCK:
        for backend in existing_ec2_backends(region, account_id):
            image = backend.amis.get(image_id)
            if image is not None:
                image.fidelity_last_launched_time = as_utc(when).replace(microsecond=0)
                return
    raise ValueError(f"{image_id} is not a registered image in {region}")


def _image_last_launched_time(self: Ami) -> str | None:
    """DescribeImages LastLaunchedTime: ISO 8601 to the second (the User Guide shows ``2022-02-10T02:03:18Z``).

    Absent until the AMI has launched an instance (as far as EC2 has reported: see set_last_launched_time).
    """
    when: datetime | None = getattr(self, "fidelity_last_launched_time", None)
    return None if when is None else iso(when)


def _describe_image_attribute_action(self: AmisResponse) -> ActionResult:
    """lastLaunchedTime and deregistrationProtection, which moto lacks; every other attribute is moto's."""
    attribute = self._get_param("Attribute")
    if attribute not in ("lastLaunchedTime", "deregistrationProtection"):
        result: ActionResult = MOTO["describe_image_attribute"](self)
        return result
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    image: Any = find_image(self.ec2_backend, image_id)  # Any: moto's Ami declares neither attribute
    if attribute == "deregistrationProtection":
        return ActionResult(
            {"ImageId": image.id, "DeregistrationProtection": {"Value": image.deregistration_protection}}
        )
    last_launched = image.last_launched_time
    return ActionResult({"ImageId": image.id, "LastLaunchedTime": {"Value": last_launched} if last_launched else {}})
