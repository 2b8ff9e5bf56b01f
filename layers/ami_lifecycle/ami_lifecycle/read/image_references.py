"""EC2's own index of what uses an AMI (DescribeImageReferences), asked only about removal candidates.

It finds what the product's listings do not: SSM parameters of data type aws:ec2:image and Image Builder
recipes, besides instances and launch templates. Its defaults are wrong for a deletion check, so the request
asks for non-terminated instances only and for every launch template version (version-depth 10000, not 10).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..model.inventory import Reference
from .references import LIVE_INSTANCE_STATES

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import ResourceTypeRequestTypeDef

IMAGE_IDS_PER_CALL = 10
FOUND_BY = "DescribeImageReferences"
# What EC2 calls on the caller's behalf to answer; granted beside ec2:DescribeImageReferences.
ON_BEHALF_PERMISSIONS = (
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeLaunchTemplateVersions",
    "ssm:DescribeParameters",
    "ssm:GetParameters",
    "imagebuilder:ListImageRecipes",
    "imagebuilder:ListContainerRecipes",
    "imagebuilder:GetContainerRecipe",
)
RESOURCE_TYPES: list[ResourceTypeRequestTypeDef] = [
    {
        "ResourceType": "ec2:Instance",
        "ResourceTypeOptions": [{"OptionName": "state-name", "OptionValues": list(LIVE_INSTANCE_STATES)}],
    },
    {
        "ResourceType": "ec2:LaunchTemplate",
        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["10000"]}],
    },
    {"ResourceType": "ssm:Parameter"},
    {"ResourceType": "imagebuilder:ImageRecipe"},
    {"ResourceType": "imagebuilder:ContainerRecipe"},
]
_KINDS = {
    "ec2:Instance": "instance",
    "ec2:LaunchTemplate": "launch-template",
    "ssm:Parameter": "ssm-parameter",
    "imagebuilder:ImageRecipe": "image-recipe",
    "imagebuilder:ContainerRecipe": "container-recipe",
}


def read_image_references(ec2: EC2Client, image_ids: Iterable[str]) -> dict[str, list[Reference]]:
    """References by image id, ten ids per request, every page."""
    ids = sorted(set(image_ids))
    found: dict[str, list[Reference]] = {}
    paginator = ec2.get_paginator("describe_image_references")
    for start in range(0, len(ids), IMAGE_IDS_PER_CALL):
        pages = paginator.paginate(
            ImageIds=ids[start : start + IMAGE_IDS_PER_CALL],
            ResourceTypes=RESOURCE_TYPES,
            PaginationConfig={"PageSize": 1000},
        )
        for page in pages:
            for reference in page.get("ImageReferences", []):
                kind = _KINDS.get(reference.get("ResourceType", ""), reference.get("ResourceType", "unknown"))
                found.setdefault(reference["ImageId"], []).append(Reference(kind, reference["Arn"], FOUND_BY))
    return found
