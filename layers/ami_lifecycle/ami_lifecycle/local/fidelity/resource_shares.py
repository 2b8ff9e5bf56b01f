"""AWS RAM resource shares of SSM parameters, as far as the product shares its family parameters.

What AWS documents (RAM API reference: CreateResourceShare, AssociateResourceShare, GetResourceShares; SSM
PutResourcePolicy: "To share a parameter, it must be in the advanced parameter tier"; RAM "Shareable AWS
resources": ``ssm:Parameter``):

- An SSM parameter (``arn:aws:ssm:REGION:ACCOUNT:parameter/NAME``) can be shared, in its own region, when it is
  an advanced-tier parameter. moto refuses the resource type outright; here a parameter ARN is accepted when
  the parameter exists in that region and account and is advanced, and refused otherwise (a standard one with
  ``InvalidParameterException``, a missing one with ``UnknownResourceException``; the messages are ours).
- AssociateResourceShare adds resources and principals to an existing share (moto lacks the action); an
  unknown share is ``UnknownResourceException``.
- GetResourceShares filters by ``name`` and ``resourceShareStatus`` (moto ignores both).

Left out: what a consumer account sees (moto models no other accounts), invitations outside an organization,
and resource-share permissions.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.ram import urls as ram_urls
from moto.ram.exceptions import InvalidParameterException, UnknownResourceException
from moto.ram.models import ResourceAccessManagerBackend, ResourceShare
from moto.ram.responses import ResourceAccessManagerResponse
from moto.ssm.models import ssm_backends

from ._common import LOCK, MOTO

_PARAMETER_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:([a-z0-9-]+):(\d{12}):parameter(/.+)$")


def install() -> None:
    MOTO["ResourceShare.add_resources"] = ResourceShare.add_resources
    ResourceShare.add_resources = _add_resources  # type: ignore[method-assign]
    MOTO["ResourceAccessManagerResponse.get_resource_shares"] = ResourceAccessManagerResponse.get_resource_shares
    ResourceAccessManagerResponse.get_resource_shares = _get_resource_shares  # type: ignore[method-assign]
    ResourceAccessManagerResponse.associate_resource_share = _associate_resource_share  # type: ignore[attr-defined]
    # RAM is a REST service: the action needs its path too (read when a mock or server starts).
    ram_urls.url_paths["{0}/associateresourceshare$"] = ResourceAccessManagerResponse.dispatch


def _add_resources(self: ResourceShare, resource_arns: list[str]) -> None:
    parameters = [arn for arn in resource_arns if _PARAMETER_ARN.match(arn)]
    for arn in parameters:
        _check_parameter(arn)
    others = [arn for arn in resource_arns if arn not in parameters]
    MOTO["ResourceShare.add_resources"](self, others)
    self.resource_arns.extend(a for a in parameters if a not in self.resource_arns)


def _check_parameter(arn: str) -> None:
    match = _PARAMETER_ARN.match(arn)
    assert match is not None
    region, account, name = match.groups()
    parameter = ssm_backends[account][region].get_parameter(name)
    if parameter is None:
        raise UnknownResourceException(f"The resource {arn} could not be found.")
    if parameter.tier != "Advanced":
        raise InvalidParameterException(f"The parameter {name} must be in the advanced tier to be shared.")


def _get_resource_shares(self: ResourceAccessManagerResponse) -> str:
    found = json.loads(MOTO["ResourceAccessManagerResponse.get_resource_shares"](self))
    name, status = self._get_param("name"), self._get_param("resourceShareStatus")
    found["resourceShares"] = [
        s
        for s in found["resourceShares"]
        if (name is None or s["name"] == name) and (status is None or s["status"] == status)
    ]
    return json.dumps(found)


def _associate_resource_share(self: ResourceAccessManagerResponse) -> str:
    params: dict[str, Any] = self.request_params
    backend: ResourceAccessManagerBackend = self.ram_backend
    arn = params.get("resourceShareArn")
    with LOCK:
        share = next((s for s in backend.resource_shares if s.arn == arn and s.status == "ACTIVE"), None)
        if share is None:
            raise UnknownResourceException(f"ResourceShare {arn} could not be found.")
        resources = [r for r in params.get("resourceArns", []) if r not in share.resource_arns]
        principals = [p for p in params.get("principals", []) if p not in share.principals]
        share.add_resources(resources)
        share.add_principals(principals)
    associations = [
        {"resourceShareArn": share.arn, "associatedEntity": entity, "associationType": kind, "status": "ASSOCIATING"}
        for kind, entities in (("RESOURCE", resources), ("PRINCIPAL", principals))
        for entity in entities
    ]
    return json.dumps({"resourceShareAssociations": associations})
