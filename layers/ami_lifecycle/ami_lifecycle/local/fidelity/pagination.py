"""Pagination shared by the describe actions: MaxResults, NextToken and the cursors behind them.

EC2 describe actions return every match unless MaxResults is given; then a page of at most MaxResults items
and a NextToken while more remain. moto ignores MaxResults for images and snapshots and silently stops at 15
launch templates. Here the first request selects all matches once, in moto's order, and keeps their keys
behind an opaque token; each following page only slices them, so listing N items costs O(N) whatever the
page size. An item removed between pages is left out; one added after the first page is not listed (EC2
makes no promise either). Cursors live on the backend, so moto's reset forgets them.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.ec2.exceptions import EC2ClientError

from ._common import LOCK

# DescribeImages MaxResults; DescribeSnapshots takes the same lower bound and returns at most 1,000.
MAX_RESULTS_RANGE = (5, 1000)
# Pagination cursors kept per backend (the oldest is forgotten first: its token then is InvalidPaginationToken).
_MAX_CURSORS = 1000


class _InvalidPaginationToken(EC2ClientError):
    """EC2's common InvalidPaginationToken: the token is not valid or has expired (the message is ours)."""

    def __init__(self, token: str) -> None:
        super().__init__("InvalidPaginationToken", f"The pagination token '{token}' is not valid or has expired.")


class _InvalidMaxResults(EC2ClientError):
    """EC2's common InvalidParameterValue for a MaxResults outside the action's range (the message is ours)."""

    def __init__(self, value: int, low: int, high: int) -> None:
        super().__init__(
            "InvalidParameterValue",
            f"Value ({value}) for parameter MaxResults is invalid. Expecting a value between {low} and {high}.",
        )


@dataclass(frozen=True)
class _Cursor:
    operation: str
    keys: list[Any]
    position: int


def page(
    backend: Any,
    operation: str,
    next_token: str | None,
    max_results: int | None,
    select: Callable[[], list[Any]],
    invalid_token: Callable[[str], Exception] | None = None,
) -> tuple[list[Any], str | None]:
    """The keys of one page, and the token of the next (None on the last page).

    ``select`` returns the keys of every match; it runs on the first request only. A token may be used again
    (a retried request gets the same page); a token of another action, or one forgotten, is refused with
    EC2's InvalidPaginationToken, or the error ``invalid_token`` makes (a service other than EC2).
    """
    with LOCK:
        cursors: OrderedDict[str, _Cursor] = backend.__dict__.setdefault("fidelity_page_cursors", OrderedDict())
        if next_token:
            cursor = cursors.get(next_token)
            if cursor is None or cursor.operation != operation:
                raise (invalid_token or _InvalidPaginationToken)(next_token)
            cursors.move_to_end(next_token)
            keys, start = cursor.keys, cursor.position
        else:
            keys, start = select(), 0
        end = len(keys) if max_results is None else min(len(keys), start + max_results)
        if end >= len(keys):
            return keys[start:], None
        token = secrets.token_urlsafe(48)
        cursors[token] = _Cursor(operation, keys, end)
        while len(cursors) > _MAX_CURSORS:
            cursors.popitem(last=False)
        return keys[start:end], token


def max_results_in_range(value: int | None, low: int, high: int, clamp: bool = False) -> int | None:
    """MaxResults within the action's range: InvalidParameterValue outside it, or (``clamp``) at most ``high``."""
    if value is None:
        return None
    if clamp and value > high:
        return high
    if not low <= value <= high:
        raise _InvalidMaxResults(value, low, high)
    return value
