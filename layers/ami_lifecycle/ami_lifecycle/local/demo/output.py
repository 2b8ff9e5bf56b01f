"""What the demo prints: its report on stdout, as it happens, in plain columns; the handlers' logs on stderr."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

WIDTH = 110  # stdout columns


def say(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)  # as it happens: a crash still shows how far the story got


def columns(header: list[str], cells: list[list[str]], indent: str = "") -> list[str]:
    """Plain left-aligned columns, two spaces apart."""
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    lines = [header, *cells]
    return [indent + "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip() for values in lines]


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


@contextlib.contextmanager
def handler_logs_to_stderr(logger: Any) -> Iterator[None]:
    """Only the handler's warnings and errors, on stderr: stdout is the report.

    POWERTOOLS_LOG_LEVEL is read when the handler is imported; a test may have imported it already.
    """
    handler = logger.registered_handler
    level = handler.level
    stream = handler.stream if isinstance(handler, logging.StreamHandler) else None
    handler.setLevel(logging.WARNING)
    # Assigned, not setStream(): that flushes the old stream, which a test's output capture may have closed.
    if stream is not None:
        handler.stream = sys.stderr
    try:
        yield
    finally:
        handler.setLevel(level)
        if stream is not None:
            handler.stream = stream
