"""Makes the local AWS answer chosen requests with errors, as a throttled or refusing AWS would.

Errors are raised inside moto's request handling, so botocore sees a real error response and retries
throttling exactly as it would against AWS. For in-process moto (tests), not for the moto server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import EndpointConnectionError
from moto.core.exceptions import ServiceException
from moto.core.responses import BaseResponse
from moto.core.utils import camelcase_to_underscores
from moto.ec2.exceptions import EC2ClientError

UNREACHABLE = "unreachable"


@dataclass
class _Rule:
    action: str  # API action name, or "*"
    code: str
    region: str | None
    left: int | None  # None: every matching request


class FaultInjector:
    """`fail("CopyImage", "RequestLimitExceeded", region="us-west-2", times=2)`; active inside `active()`.

    EC2 only: moto serializes an error with the model of the service that raises it.
    """

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.injected = 0

    def fail(self, action: str, code: str, region: str | None = None, times: int | None = None) -> FaultInjector:
        with self._lock:
            self._rules.append(_Rule(action, code, region, times))
        return self

    def unreachable(self, region: str) -> FaultInjector:
        """Every request to `region` fails to connect, as when a region does not answer."""
        return self.fail("*", UNREACHABLE, region=region)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def _fault(self, action: str, region: str) -> Exception | None:
        with self._lock:
            rule = next(
                (r for r in self._rules if r.action in ("*", action) and r.region in (None, region) and r.left != 0),
                None,
            )
            if rule is None:
                return None
            if rule.left is not None:
                rule.left -= 1
            self.injected += 1
        if rule.code == UNREACHABLE:
            return EndpointConnectionError(endpoint_url=f"https://ec2.{region}.amazonaws.com")
        return EC2ClientError(rule.code, f"{rule.code} (injected for {action} in {region})")

    @contextmanager
    def active(self) -> Iterator[FaultInjector]:
        original = BaseResponse.call_action
        injector = self

        def call_action(response: BaseResponse) -> Any:
            action = response._get_action()
            error = injector._fault(action, response.region)
            if isinstance(error, ServiceException):
                # Shadow the action's method on this request only: moto turns the error into an AWS response.
                def fail() -> None:
                    raise error

                setattr(response, camelcase_to_underscores(action), fail)
            elif error is not None:
                raise error  # a connection error never reaches the service
            return original(response)

        BaseResponse.call_action = call_action  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            BaseResponse.call_action = original  # type: ignore[method-assign]
