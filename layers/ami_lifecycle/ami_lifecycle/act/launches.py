"""Writes of the launch flow besides instance tags: the usage record and the alert."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..aws.alert_topic import AlertTopic
from ..aws.clients import ClientFactory
from ..aws.usage_table import LaunchRecord, UsageStore
from ..model.launch import LaunchAlert
from .base import Action, Applied


@dataclass(frozen=True)
class RecordLaunch(Action):
    """Store when an AMI last launched an instance, unless a newer launch is stored already."""

    record: LaunchRecord
    store: UsageStore = field(compare=False)

    permissions = ("dynamodb:UpdateItem",)

    def apply(self, clients: ClientFactory) -> Applied:
        return Applied(changed=self.store.record_launch(self.record))

    def describe(self) -> str:
        return f"record launch of {self.record.image_id} at {self.record.launched_at:%Y-%m-%dT%H:%M:%S}"


@dataclass(frozen=True)
class PublishAlert(Action):
    """Tell the operator that instances launched from a deprecated or disabled AMI."""

    alert: LaunchAlert
    topic: AlertTopic = field(compare=False)

    permissions = ("sns:Publish",)

    def apply(self, clients: ClientFactory) -> Applied:
        self.topic.publish(self.alert)
        return Applied()

    def describe(self) -> str:
        return f"alert: launch from {self.alert.reason} {self.alert.image.image_id}"
