"""Work on several regions at once: one thread per region, so a slow or failing region holds up no other."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Work = TypeVar("Work")
Result = TypeVar("Result")


def per_region(work: Mapping[str, Work], do: Callable[[str, Work], Result]) -> dict[str, Result]:
    """`do(region, work[region])` for every region concurrently; results by region, in the order given."""
    if not work:
        return {}
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        futures = {region: pool.submit(do, region, item) for region, item in work.items()}
        return {region: future.result() for region, future in futures.items()}
