"""Writes to the launch templates the policy names: a new version naming a family's current image, and (when the
policy says so) that version as the default. Versions are never deleted: older ones keep protecting their AMIs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..aws.clients import ClientFactory
from .base import Action, Applied

DESCRIPTION_LIMIT = 255  # characters of a VersionDescription


def version_client_token(template_id: str, source_version: int, image_id: str, description: str) -> str:
    """Deterministic ClientToken: a redelivered event or a second run adds no second version for the same change.
    Every parameter of the request is in it, so a token is never reused for another request (which EC2 refuses)."""
    seed = f"{template_id}/{source_version}/{image_id}/{description}"
    return "ami-lifecycle-lt-" + hashlib.sha256(seed.encode()).hexdigest()[:48]


@dataclass(frozen=True)
class SetDefaultTemplateVersion(Action):
    """Make a version (one that names the family's current image) the template's default version."""

    template_id: str
    template_name: str
    version: int
    image_id: str

    permissions = ("ec2:ModifyLaunchTemplate",)

    def apply(self, clients: ClientFactory) -> Applied:
        clients.ec2(self.region).modify_launch_template(
            LaunchTemplateId=self.template_id, DefaultVersion=str(self.version)
        )
        return Applied()

    def describe(self) -> str:
        return f"make version {self.version} ({self.image_id}) the default of launch template {self._template}"

    @property
    def _template(self) -> str:
        return f"{self.template_name} ({self.template_id})"


@dataclass(frozen=True)
class CreateTemplateVersion(Action):
    """A new version of a launch template: its default version with only the ImageId changed (SourceVersion),
    made the default when `set_default`."""

    template_id: str
    template_name: str
    source_version: int
    image_id: str
    family: str
    version_label: str
    set_default: bool = False

    permissions = ("ec2:CreateLaunchTemplateVersion", *SetDefaultTemplateVersion.permissions)

    def apply(self, clients: ClientFactory) -> Applied:
        created = clients.ec2(self.region).create_launch_template_version(
            LaunchTemplateId=self.template_id,
            SourceVersion=str(self.source_version),
            LaunchTemplateData={"ImageId": self.image_id},  # everything else is inherited from the source version
            VersionDescription=self.description[:DESCRIPTION_LIMIT],
            ClientToken=version_client_token(
                self.template_id, self.source_version, self.image_id, self.description[:DESCRIPTION_LIMIT]
            ),
        )["LaunchTemplateVersion"]
        number = int(created["VersionNumber"])
        note = f" -> version {number}"
        if self.set_default and not created.get("DefaultVersion"):
            SetDefaultTemplateVersion(self.region, self.template_id, self.template_name, number, self.image_id).apply(
                clients
            )
            note += ", now the default"
        return Applied(note=note)

    @property
    def description(self) -> str:
        return f"ami-lifecycle: {self.family} {self.version_label} ({self.image_id})"

    def describe(self) -> str:
        return (
            f"add a version of launch template {self.template_name} ({self.template_id}) from version "
            f"{self.source_version} naming {self.image_id} ({self.family} {self.version_label})"
        )
