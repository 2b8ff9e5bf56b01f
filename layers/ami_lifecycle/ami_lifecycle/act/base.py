"""The vocabulary of writes: one small class per change the product makes.

An action says what it does (`describe`), which IAM actions applying it needs (`permissions`, read by the
template tests), and applies itself with the clients of its region. Planners create actions; the executor
applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..aws.clients import ClientFactory


@dataclass(frozen=True)
class Applied:
    """What applying one action did, beyond "it succeeded"."""

    note: str = ""  # shown after the action's description: a created id, what was left, ...
    created_id: str | None = None
    changed: bool = True  # False when the action found nothing left to do
    snapshots_deleted: int = 0
    gib_reclaimed: int = 0


@dataclass(frozen=True)
class Action:
    region: str
    permissions: ClassVar[tuple[str, ...]] = ()
    # Not attempted once an action of one of these types failed in the same region and run.
    requires: ClassVar[tuple[type[Action], ...]] = ()

    def apply(self, clients: ClientFactory) -> Applied:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError
