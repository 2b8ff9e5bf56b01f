"""Records every AWS API call made in this process, for call budgets in tests and the benchmark."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient


@dataclass(frozen=True)
class Call:
    service: str
    region: str
    operation: str
    params: dict[str, Any] = field(compare=False, hash=False)

    @property
    def iam_action(self) -> str:
        return f"{self.service}:{self.operation}"


class CallRecorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def count(self, operation: str | None = None, region: str | None = None) -> int:
        return sum(
            1
            for c in self.calls
            if (operation is None or c.operation == operation) and (region is None or c.region == region)
        )

    def by_operation(self) -> Counter[str]:
        return Counter(c.operation for c in self.calls)

    def iam_actions(self) -> set[str]:
        return {c.iam_action for c in self.calls}

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()


@contextmanager
def record_calls() -> Iterator[CallRecorder]:
    """Every boto3 call made inside the block, from any client or thread, once per API call (not per retry)."""
    recorder = CallRecorder()
    client_class: Any = BaseClient  # _make_api_call is botocore's private hook: untyped on purpose
    original = client_class._make_api_call

    def recording(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        service = client.meta.service_model.signing_name
        recorder.add(Call(service, client.meta.region_name, operation_name, dict(api_params)))
        return original(client, operation_name, api_params)

    client_class._make_api_call = recording
    try:
        yield recorder
    finally:
        client_class._make_api_call = original
