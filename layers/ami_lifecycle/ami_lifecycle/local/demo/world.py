"""The demo's world: regions, the consumer account and organization, the policy, the builds; seeding them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG

from ..invoke import DEFAULT_ACCOUNT_ID
from ..seed import register_ami

LOCALHOST = "127.0.0.1"
HOME, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
DR_REGIONS = (WEST, EU)
REGIONS = (HOME, *DR_REGIONS)
CONSUMER = "111111111111"
ORG_ARN = "arn:aws:organizations::222222222222:organization/o-abcdefghij"
OU_ARN = "arn:aws:organizations::222222222222:ou/o-abcdefghij/ou-ab12-cdefghij"
EXPECTED_LAUNCH = frozenset({("UserId", CONSUMER), ("OrganizationArn", ORG_ARN), ("OrganizationalUnitArn", OU_ARN)})
KMS_ALIAS = "alias/ami-dr"
FUNCTION = "ImageAvailableFunction"  # logical ids in template.yaml: the bus names its deliveries by them
LAUNCH_FUNCTION = "LaunchTrackingFunction"
USAGE_TABLE = "ami-lifecycle-usage"
LAUNCH_TEMPLATE_TABLE = "ami-lifecycle-launch-templates"
ALERT_TOPIC = "ami-lifecycle-launch-alerts"
ALERT_INBOX = "launch-alerts-inbox"  # the demo's subscriber: where an operator's e-mail would be
LAUNCH_QUEUE_ARN = f"arn:aws:sqs:{HOME}:{DEFAULT_ACCOUNT_ID}:ami-lifecycle-LaunchEventsQueue"
BURST = 4  # instances of one Auto Scaling scale-out
LINEAGE_TAGS = (FAMILY_TAG, VERSION_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG)
# Retention (policy defaults.retention): what the scheduled sweep keeps, and how long a deprecated AMI waits.
KEEP_LATEST = 1
GRACE_DAYS = 14  # deregister_after_days
RECYCLE_BIN_DAYS = 14  # the stack's RecycleBinRetentionDays
CONSUMER_INSTANCES = 3  # what the consumer account runs of an old version
CONSUMED_BUILD = "batch-0.9.0"
LAUNCH_WINDOW_DAYS = 30  # launched_within_days: a launch this recent means "in use"
ELAPSED_DAYS = GRACE_DAYS + 1  # step 10: how long the deprecated AMIs have waited
SWEEP_FUNCTION = "ami-lifecycle-sweep"
TEMPLATE_NAME = "api-server"  # a launch template in no Auto Scaling group, its version 1 on an old api version
TEMPLATE_FAMILY = "api"

POLICY_TEMPLATE = """\
version: 1
home_region: {home}
dr_regions:
  - region: {west}
    kms_key_id: {kms_key}
  - region: {eu}
defaults:
  sharing:
    accounts: ["{consumer}"]
    organization_arns: ["{org}"]
    organizational_unit_arns: ["{ou}"]
    snapshot_permissions: true
  tags:
    to_copies: {{exclude: ["BuildId"]}}
  retention:
    keep_latest: {keep_latest}
    deregister_after_days: {grace_days}
    launched_within_days: {launch_window_days}
managed_images:
  - name: legacy                 # built before the product; not shared
    select:
      tags: {{"ami-lifecycle:managed": "true", Team: legacy}}
      name_pattern: '(?P<family>[a-z0-9-]+)-(?P<version>\\d+\\.\\d+\\.\\d+)'
    family: {{name_group: family}}
    version: {{name_group: version}}
    sharing: {{}}
  - name: golden
    select:
      tags: {{"ami-lifecycle:managed": "true"}}
      name_pattern: '(?P<family>[a-z0-9-]+)-(?P<version>\\d+\\.\\d+\\.\\d+)'
    family: {{name_group: family}}
    version: {{name_group: version}}
"""

# The handlers read these when their modules are imported, as in the deployed stack (template.yaml Globals).
HANDLER_ENV = {
    "POWERTOOLS_SERVICE_NAME": "ami-lifecycle",
    "POWERTOOLS_METRICS_NAMESPACE": "AmiLifecycle",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",  # stdout is the demo's report; warnings and errors still show
}


class DemoError(RuntimeError):
    """The demo cannot run safely (e.g. an endpoint that is not the local AWS)."""


@dataclass(frozen=True)
class Build:
    """One AMI an image pipeline produced in the home region."""

    family: str
    version: str
    volume_sizes: tuple[int, ...]
    team: str

    @property
    def name(self) -> str:
        return f"{self.family}-{self.version}"


MANAGED_BUILDS = (
    Build("web", "1.0.0", (8, 20), "frontend"),
    Build("web", "1.1.0", (8, 20), "frontend"),
    Build("web", "1.2.0", (8, 20), "frontend"),
    Build("api", "2.0.0", (8,), "platform"),
    Build("api", "2.1.0", (8,), "platform"),
    Build("batch", "0.9.0", (8, 100), "data"),
    Build("batch", "1.0.0", (8, 100), "data"),
)
UNMANAGED_NAME = "debug-box-handmade"
DR_ORIGINAL_NAME = "web-0.9.0"  # managed-looking, but built directly in a DR region: never a source


@dataclass
class Account:
    """What the demo seeded: image ids by role."""

    kms_key_arn: str
    managed: list[tuple[Build, str]] = field(default_factory=list)
    unmanaged_id: str = ""
    dr_original_id: str = ""


@dataclass(frozen=True)
class LocalAws:
    """The local AWS (a moto server) and the clients that reach it."""

    endpoint: str
    clients: ClientFactory

    def ec2(self, region: str) -> Any:
        return self.clients.ec2(region)


def write_policy(directory: Path, kms_key_arn: str) -> Path:
    path = directory / "policy.yaml"
    text = POLICY_TEMPLATE.format(
        home=HOME,
        west=WEST,
        eu=EU,
        kms_key=kms_key_arn,
        consumer=CONSUMER,
        org=ORG_ARN,
        ou=OU_ARN,
        keep_latest=KEEP_LATEST,
        grace_days=GRACE_DAYS,
        launch_window_days=LAUNCH_WINDOW_DAYS,
    )
    path.write_text(text, encoding="utf-8")
    return path


def seed_account(aws: LocalAws, kms_key_arn: str, builds: Sequence[Build]) -> Account:
    """Managed builds in the home region, a hand-made AMI there, and an AMI built directly in a DR region."""
    home = aws.ec2(HOME)
    account = Account(kms_key_arn)
    for i, build in enumerate(builds):
        tags = {"ami-lifecycle:managed": "true", "Team": build.team, "BuildId": f"build-{1000 + i}"}
        account.managed.append((build, register_ami(home, build.name, tags, volume_sizes=build.volume_sizes)))
    account.unmanaged_id = register_ami(home, UNMANAGED_NAME, {"Team": "sre", "Owner": "alice"})
    account.dr_original_id = register_ami(
        aws.ec2(WEST), DR_ORIGINAL_NAME, {"ami-lifecycle:managed": "true", "Team": "frontend"}
    )
    return account
