"""A three-region account in moto: home us-east-1, DR us-west-2 (KMS-encrypted copies) and eu-west-1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.faults import FaultInjector
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID
from ami_lifecycle.local.seed import create_kms_key, register_ami
from ami_lifecycle.policy import Policy, parse_policy

HOME, WEST, EU = "us-east-1", "us-west-2", "eu-west-1"
CONSUMER = "111111111111"
ORG_ARN = "arn:aws:organizations::222222222222:organization/o-abcdefghij"
OU_ARN = "arn:aws:organizations::222222222222:ou/o-abcdefghij/ou-ab12-cdefghij"

POLICY_TEMPLATE = """
home_region: us-east-1
dr_regions:
  - region: us-west-2
    kms_key_id: {kms_key}
  - region: eu-west-1
defaults:
  sharing:
    accounts: ["111111111111"]
    organization_arns: ["{org}"]
    organizational_unit_arns: ["{ou}"]
    snapshot_permissions: true
  tags:
    to_copies: {{exclude: ["Build*"]}}
managed_images:
  - name: golden
    select:
      tags: {{"ami-lifecycle:managed": "true"}}
      name_pattern: '(?P<family>[a-z0-9-]+)-(?P<version>\\d+\\.\\d+\\.\\d+)'
    family: {{name_group: family}}
    version: {{name_group: version}}
"""


@dataclass
class Account:
    """The local AWS account the tests act on."""

    policy: Policy
    policy_text: str
    kms_key_arn: str
    faults: FaultInjector

    def ec2(self, region: str) -> Any:
        return boto3.client("ec2", region_name=region)

    def clients(self) -> ClientFactory:
        # Few, instant retries: the tests exercise retry exhaustion without waiting for backoff.
        return ClientFactory(config=Config(retries={"mode": "standard", "max_attempts": 3}))

    def build_ami(self, name: str = "web-1.0.0", **tags: str) -> str:
        all_tags = {"ami-lifecycle:managed": "true", "Team": "platform", "BuildId": "b-42"} | tags
        return register_ami(self.ec2(HOME), name, all_tags, volume_sizes=(8, 20))

    def images(self, region: str) -> list[dict[str, Any]]:
        return self.ec2(region).describe_images(Owners=["self"])["Images"]

    def copies_of(self, image_id: str, region: str) -> list[dict[str, Any]]:
        return [i for i in self.images(region) if i.get("SourceImageId") == image_id]


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def account(no_backoff: None) -> Iterator[Account]:
    with mock_aws():
        fidelity.install()
        kms_key = create_kms_key(boto3.client("kms", region_name=WEST), "alias/ami-dr")
        text = POLICY_TEMPLATE.format(kms_key=kms_key, org=ORG_ARN, ou=OU_ARN)
        with FaultInjector().active() as faults:
            yield Account(parse_policy(text), text, kms_key, faults)


def ami_event(
    image_id: str, region: str = HOME, state: str = "available", account: str = DEFAULT_ACCOUNT_ID
) -> dict[str, Any]:
    """An "EC2 AMI State Change" event exactly as EventBridge delivers it."""
    return {
        "version": "0",
        "id": "7f6c0b0e-3c61-4b3e-9f9e-0c2b1e0d9a11",
        "detail-type": "EC2 AMI State Change",
        "source": "aws.ec2",
        "account": account,
        "time": "2026-11-22T10:00:00Z",
        "region": region,
        "resources": [f"arn:aws:ec2:{region}::image/{image_id}"],
        "detail": {
            "RequestId": "3f1b6c1e-1111-4a8e-9a51-2d8f9d2c7e10",
            "ImageId": image_id,
            "State": state,
            "ErrorMessage": "",
        },
    }
