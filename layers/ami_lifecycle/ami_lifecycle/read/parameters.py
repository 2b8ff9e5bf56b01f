"""The family parameters: every one under the policy's path at once for the sweep, one by its tags for an event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ..aws.clients import ClientFactory, error_code
from ..model.inventory import SSM_PARAMETERS, Reference, RegionInventory
from ..model.parameters import (
    PARAMETER_FAMILY_TAG,
    SHARE_NAME,
    ImageParameter,
    ParameterShare,
    TaggedParameter,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_ssm.type_defs import ParameterStringFilterTypeDef

logger = Logger(child=True)


def read_image_parameters(ssm: SSMClient, prefix: str) -> dict[str, ImageParameter]:
    """Every parameter under `prefix`, with its value, and which of them the product made: one
    GetParametersByPath page per 10 parameters and one DescribeParameters page per 50 of the product's."""
    path = prefix.rstrip("/") or "/"
    values = {
        p["Name"]: (p.get("Value", ""), p.get("DataType", "text"))
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True)
        for p in page["Parameters"]
    }
    owned_filter: list[ParameterStringFilterTypeDef] = [
        {"Key": "Path", "Option": "Recursive", "Values": [path]},
        {"Key": f"tag:{PARAMETER_FAMILY_TAG}"},
    ]
    tiers = {
        p["Name"]: p.get("Tier", "Standard")
        for page in ssm.get_paginator("describe_parameters").paginate(
            ParameterFilters=owned_filter, PaginationConfig={"PageSize": 50}
        )
        for p in page["Parameters"]
    }
    return {
        name: ImageParameter(name, value, name in tiers, tiers.get(name, "Standard"), data_type)
        for name, (value, data_type) in values.items()
    }


def read_parameter_tags(ssm: SSMClient, name: str) -> TaggedParameter:
    """One read: the parameter's tags, or that it does not exist (SSM answers InvalidResourceId)."""
    try:
        listed = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    except ClientError as e:
        if error_code(e) == "InvalidResourceId":
            return TaggedParameter(name, False)
        raise
    return TaggedParameter(name, True, {t["Key"]: t["Value"] for t in listed})


def read_parameter_share(ram: Any, name: str = SHARE_NAME) -> ParameterShare:
    """The product's resource share in a region: GetResourceShares by name, then its resources and principals
    (one GetResourceShareAssociations each), or that there is none."""
    shares = [
        s
        for page in ram.get_paginator("get_resource_shares").paginate(
            resourceOwner="SELF", name=name, resourceShareStatus="ACTIVE"
        )
        for s in page["resourceShares"]
        if s["name"] == name
    ]
    if not shares:
        return ParameterShare(None)
    arn = shares[0]["resourceShareArn"]

    def associated(kind: str) -> frozenset[str]:
        pages = ram.get_paginator("get_resource_share_associations").paginate(
            associationType=kind, resourceShareArns=[arn]
        )
        return frozenset(
            a["associatedEntity"]
            for page in pages
            for a in page["resourceShareAssociations"]
            if a.get("status") in ("ASSOCIATED", "ASSOCIATING")
        )

    return ParameterShare(arn, associated("RESOURCE"), associated("PRINCIPAL"))


RegionParameters = tuple[dict[str, ImageParameter], ParameterShare | None]


def read_region_parameters(
    clients: ClientFactory, region: str, prefix: str, shared: bool
) -> RegionParameters | Exception:
    """The sweep's read of one region's parameters (and their share), or why it failed (recorded, not raised)."""
    try:
        found = read_image_parameters(clients.ssm(region), prefix)
        return found, read_parameter_share(clients.client("ram", region)) if shared else None
    except Exception as e:  # the region fails closed: its parameters are part of what uses its images
        logger.warning("parameters unreadable", extra={"region": region, "error": str(e)})
        return e


def add_parameters(inventory: RegionInventory, read: RegionParameters | Exception) -> None:
    """The parameters into the region's inventory: a product parameter naming an image is a reference to it,
    like any other; one that could not be read blocks removal in the region, like any other source."""
    if isinstance(read, Exception):
        inventory.unread[SSM_PARAMETERS] = f"{error_code(read)}: {read}"
        inventory.errors[SSM_PARAMETERS] = read
        return
    found, inventory.parameter_share = read
    inventory.parameters = found
    for parameter in found.values():
        if parameter.owned:
            inventory.refer(parameter.value, Reference("ssm-parameter", f"{parameter.name} (the family's parameter)"))
