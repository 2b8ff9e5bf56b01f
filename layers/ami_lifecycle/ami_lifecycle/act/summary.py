"""Telling the operator what a sweep changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..aws.alert_topic import AlertTopic
from ..aws.clients import ClientFactory
from .base import Action, Applied


@dataclass(frozen=True)
class PublishSweepSummary(Action):
    """One message on the stack's alerts topic after a run that changed something (policy sweep.summary)."""

    subject: str
    message: dict[str, Any] = field(compare=False)

    permissions = ("sns:Publish",)

    def apply(self, clients: ClientFactory) -> Applied:
        AlertTopic(clients).send(self.subject, self.message)
        return Applied()

    def describe(self) -> str:
        return f"publish the sweep's summary: {self.subject}"
