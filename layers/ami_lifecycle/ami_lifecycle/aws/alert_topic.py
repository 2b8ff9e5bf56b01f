"""The stack's SNS topic for launches from retired AMIs."""

from __future__ import annotations

import json
import os

from ..model.launch import LaunchAlert
from .clients import ClientFactory

LAUNCH_ALERTS_TOPIC_ENV = "LAUNCH_ALERTS_TOPIC_ARN"


class AlertTopic:
    def __init__(self, clients: ClientFactory, region: str, topic_arn: str | None = None) -> None:
        self._topic_arn = topic_arn or os.environ.get(LAUNCH_ALERTS_TOPIC_ENV, "")
        self._sns = clients.sns(region) if self._topic_arn else None

    def publish(self, alert: LaunchAlert) -> None:
        subject = f"Launch from {alert.reason.split(' ')[0]} AMI {alert.image.image_id} in {alert.image.region}"
        if self._sns is not None:
            self._sns.publish(TopicArn=self._topic_arn, Subject=subject[:100], Message=json.dumps(alert.message()))
