"""Launched instances by id, for the launch flow."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..aws.clients import error_code
from ..model.image import tags_of
from ..model.inventory import Instance

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


def describe_instances(ec2: EC2Client, instance_ids: list[str]) -> tuple[dict[str, Instance], set[str]]:
    """Instances by id in as few calls as possible (1,000 ids each), and the ids EC2 does not know.

    EC2 refuses a whole request naming an unknown id and names it in the message: drop it and ask again.
    """
    found: dict[str, Instance] = {}
    unknown: set[str] = set()
    for start in range(0, len(instance_ids), 1000):
        remaining = instance_ids[start : start + 1000]
        while remaining:
            try:
                pages = ec2.get_paginator("describe_instances").paginate(InstanceIds=remaining)
                for page in pages:
                    for reservation in page["Reservations"]:
                        for data in reservation["Instances"]:
                            found[data["InstanceId"]] = Instance(
                                data["InstanceId"],
                                data["ImageId"],
                                data["State"]["Name"],
                                data["LaunchTime"],
                                tags_of(data),
                            )
                break
            except ClientError as e:
                named = set(re.findall(r"i-[0-9a-f]+", str(e))) & set(remaining)
                if not error_code(e).startswith("InvalidInstanceID") or not named:
                    raise
                unknown |= named
                remaining = [i for i in remaining if i not in named]
    return found, unknown
