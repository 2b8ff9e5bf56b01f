"""Asking EC2 which other accounts use an AMI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..aws.alert_topic import AlertTopic
from ..aws.clients import ClientFactory
from ..model.image import USE_REPORTED_TAG, tag_list
from .base import Action, Applied

if TYPE_CHECKING:
    from mypy_boto3_ec2.type_defs import ImageUsageResourceTypeRequestTypeDef

REPORT_TAG = "ami-lifecycle:image"
# Every launch template version counts (EC2's default is the newest 20).
INSTANCES_AND_TEMPLATES: list[ImageUsageResourceTypeRequestTypeDef] = [
    {"ResourceType": "ec2:Instance"},
    {
        "ResourceType": "ec2:LaunchTemplate",
        "ResourceTypeOptions": [{"OptionName": "version-depth", "OptionValues": ["10000"]}],
    },
]
RECIPES: list[ImageUsageResourceTypeRequestTypeDef] = [
    {"ResourceType": "imagebuilder:ImageRecipe"},
    {"ResourceType": "imagebuilder:ContainerRecipe"},
]


@dataclass(frozen=True)
class CreateImageUsageReport(Action):
    """Start an AMI usage report. EC2 fills it in over minutes to hours and sends no event: a later run reads it."""

    image_id: str
    client_token: str
    recipes: bool = False  # also count Image Builder recipes (documented by the newest SDKs only)

    permissions = ("ec2:CreateImageUsageReport", "ec2:CreateTags")

    def apply(self, clients: ClientFactory) -> Applied:
        report_id = clients.ec2(self.region).create_image_usage_report(
            ImageId=self.image_id,
            ResourceTypes=INSTANCES_AND_TEMPLATES + (RECIPES if self.recipes else []),
            ClientToken=self.client_token,
            TagSpecifications=[
                {"ResourceType": "image-usage-report", "Tags": [{"Key": REPORT_TAG, "Value": self.image_id}]}
            ],
        )["ReportId"]
        return Applied(note=f" -> {report_id}", created_id=report_id)

    def describe(self) -> str:
        return f"ask EC2 which accounts use {self.image_id}"


@dataclass(frozen=True)
class ReportUseInOtherAccounts(Action):
    """Tell the operator that accounts still use an AMI past its grace period, once per usage report: the
    alerts topic gets a message, and the image a tag naming the report, so later runs do not repeat it."""

    image_id: str
    report_id: str
    usage: str  # "used in 2 accounts (...): 12 instances, ..."
    give_up: tuple[str, ...] = ()  # the product's own tags removed to make room for the mark (EC2 allows 50)
    mark: bool = True  # False when the user's tags leave no room: the alert then repeats each run

    permissions = ("sns:Publish", "ec2:CreateTags", "ec2:DeleteTags")

    def apply(self, clients: ClientFactory) -> Applied:
        message = {"alert": "AMI past its grace period still used in other accounts", "image_id": self.image_id,
                   "region": self.region, "usage": self.usage, "usage_report": self.report_id}  # fmt: skip
        subject = f"AMI {self.image_id} in {self.region} is still used in other accounts"
        AlertTopic(clients).send(subject, message)
        ec2 = clients.ec2(self.region)
        if self.give_up:
            ec2.delete_tags(Resources=[self.image_id], Tags=[{"Key": k} for k in self.give_up])
        if self.mark:
            ec2.create_tags(Resources=[self.image_id], Tags=tag_list({USE_REPORTED_TAG: self.report_id}))
        return Applied()

    def describe(self) -> str:
        return f"report that {self.image_id} is {self.usage}"
