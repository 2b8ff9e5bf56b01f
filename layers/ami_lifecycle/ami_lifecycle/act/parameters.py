"""Writes that keep consumers on the current version: the family's SSM parameter, and a pinned version's
deprecation cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from ..aws.clients import ClientFactory, error_code
from ..model.parameters import SHARE_NAME
from .base import Action, Applied
from .finish import FinishImage

if TYPE_CHECKING:
    from mypy_boto3_ssm.type_defs import TagTypeDef

IMAGE_DATA_TYPE = "aws:ec2:image"


@dataclass(frozen=True)
class CancelDeprecation(Action):
    """A pinned version is never deprecated: the one case where the product undoes a deprecation."""

    image_id: str
    pin: str

    permissions = ("ec2:DisableImageDeprecation",)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).disable_image_deprecation(ImageId=self.image_id)
        return Applied()

    def describe(self) -> str:
        return f"cancel the deprecation of {self.image_id} (pinned to {self.pin})"


@dataclass(frozen=True)
class PutImageParameter(Action):
    """Name `image_id` in a family's parameter (data type aws:ec2:image), tagged with what it names.

    A new parameter is created with its tags in one call. PutParameter refuses Tags with Overwrite, so an
    existing one is retagged first (AddTagsToResource) and then overwritten: tags that run ahead of the value
    only hold an event back until the sweep, never let an older version replace a newer one. EC2 validates the
    value after PutParameter returns; a value it refuses leaves the parameter as it was, for the sweep to see.
    """

    name: str
    image_id: str
    tags: tuple[tuple[str, str], ...]
    exists: bool  # overwrite a parameter the product made (never create over someone else's)
    tier: str = "Standard"
    description: str = ""

    permissions = ("ssm:PutParameter", "ssm:AddTagsToResource")
    # A pinned image whose deprecation could not be cancelled must not be named (it is still deprecated), nor an
    # image the sweep could not finish in the same run (it may lack its tags or launch permissions).
    requires = (CancelDeprecation, FinishImage)

    def apply(self, clients: ClientFactory) -> Applied:
        ssm = clients.ssm(self.region)
        tags: list[TagTypeDef] = [{"Key": k, "Value": v} for k, v in self.tags]
        if not self.exists:
            try:
                ssm.put_parameter(
                    Name=self.name,
                    Value=self.image_id,
                    Type="String",
                    DataType=IMAGE_DATA_TYPE,
                    Tier="Advanced" if self.tier == "Advanced" else "Standard",
                    Description=self.description,
                    Tags=tags,
                )
            except ClientError as e:
                if error_code(e) != "ParameterAlreadyExists":
                    raise
                # Created since it was read (a concurrent delivery, or someone else): never overwritten blind;
                # the next event or the sweep compares with what is there.
                return Applied(note=" (created meanwhile: left as it is)", changed=False)
            return Applied()
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=self.name, Tags=tags)
        # A tier is only ever raised (SSM cannot turn an advanced parameter back): a standard one is left unsaid.
        raise_tier: dict[str, Any] = {"Tier": "Advanced"} if self.tier == "Advanced" else {}
        ssm.put_parameter(
            Name=self.name,
            Value=self.image_id,
            DataType=IMAGE_DATA_TYPE,
            Description=self.description,
            Overwrite=True,
            **raise_tier,
        )
        return Applied()

    def describe(self) -> str:
        return f"{'point' if self.exists else 'create'} parameter {self.name} -> {self.image_id}"


@dataclass(frozen=True)
class ShareParameters(Action):
    """Share the region's family parameters through AWS RAM (advanced tier only): one resource share per
    region, created with its resources and principals, or given what it is missing. Only ever adds."""

    share_arn: str | None  # None: create the share
    resource_arns: tuple[str, ...]
    principals: tuple[str, ...]

    permissions = ("ram:CreateResourceShare", "ram:AssociateResourceShare")
    # RAM applies the share to each parameter through SSM's resource policy, with the caller's permissions.
    on_behalf_permissions: ClassVar[tuple[str, ...]] = ("ssm:PutResourcePolicy", "ssm:GetResourcePolicies")
    requires = (PutImageParameter,)

    def apply(self, clients: ClientFactory) -> Applied:
        ram = clients.client("ram", self.region)
        if self.share_arn is None:
            created = ram.create_resource_share(
                name=SHARE_NAME,
                resourceArns=list(self.resource_arns),
                principals=list(self.principals),
                allowExternalPrincipals=True,
                tags=[{"key": "ami-lifecycle:share", "value": "parameters"}],
            )
            return Applied(created_id=str(created["resourceShare"]["resourceShareArn"]))
        params: dict[str, Any] = {"resourceShareArn": self.share_arn}
        if self.resource_arns:
            params["resourceArns"] = list(self.resource_arns)
        if self.principals:
            params["principals"] = list(self.principals)
        ram.associate_resource_share(**params)
        return Applied()

    def describe(self) -> str:
        verb = "share" if self.share_arn is None else "add to the share of"
        return f"{verb} {len(self.resource_arns)} parameters with {len(self.principals)} principals (AWS RAM)"
