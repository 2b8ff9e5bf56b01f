"""The stack's SNS topic for launches from retired AMIs."""

from __future__ import annotations

import json
import os
from typing import Any

from ..model.launch import LaunchAlert
from .clients import ClientFactory

LAUNCH_ALERTS_TOPIC_ENV = "LAUNCH_ALERTS_TOPIC_ARN"


class AlertTopic:
    """The topic named by LAUNCH_ALERTS_TOPIC_ARN (or given); without one, messages go nowhere."""

    def __init__(self, clients: ClientFactory, topic_arn: str | None = None) -> None:
        self._topic_arn = topic_arn or os.environ.get(LAUNCH_ALERTS_TOPIC_ENV, "")
        # Published to in the topic's own region, whichever region the message is about.
        self._sns = clients.sns(self._topic_arn.split(":")[3]) if self._topic_arn else None

    def publish(self, alert: LaunchAlert) -> None:
        subject = f"Launch from {alert.reason.split(' ')[0]} AMI {alert.image.image_id} in {alert.image.region}"
        self.send(subject, alert.message())

    def send(self, subject: str, message: dict[str, Any]) -> None:
        if self._sns is not None:
            self._sns.publish(TopicArn=self._topic_arn, Subject=subject[:100], Message=json.dumps(message))
