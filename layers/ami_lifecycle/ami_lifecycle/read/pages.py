"""Every page of a paginated AWS listing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def pages(client: Any, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
    yield from client.get_paginator(operation).paginate(**params)
