"""Building a fleet: the layout, then the writes, each step timed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID

from ...policy import Policy
from .api_writes import launch_instances, write_launch_records, write_launch_setup
from .backend_writes import write_images
from .ground_truth import FleetShape, SeededFleet
from .layout import plan_layout, plan_usage


def build_fleet(policy: Policy, shape: FleetShape, now: datetime, account_id: str = DEFAULT_ACCOUNT_ID) -> SeededFleet:
    """Build the fleet inside an active `mock_aws()` (with `fidelity.install()` done) and return its ground
    truth. Uses the policy's first rule, which must select `ami-lifecycle:managed=true` and take family and
    version from the `Family` and `Version` tags."""
    layout = plan_layout(policy, shape, now)
    fleet = SeededFleet(now, layout.retention, [layout.home, *layout.dr], shape.families)
    clock = _Clock(fleet)
    # Usage is decided first: what the product would never have disabled must not be seeded disabled.
    uses = clock.run("usage layout", lambda: plan_usage(layout, shape))
    clock.run("AMIs, snapshots (backend)", lambda: write_images(layout, fleet, uses, account_id))
    clock.run("instances (API)", lambda: launch_instances(layout, fleet, uses.instances))
    clock.run("templates, LCs, ASGs (API)", lambda: write_launch_setup(layout, fleet, uses, shape))
    clock.run("usage table (API)", lambda: write_launch_records(layout, fleet, uses, now))
    return fleet


class _Clock:
    """Runs the steps of a build, recording each one's wall time in the fleet."""

    def __init__(self, fleet: SeededFleet) -> None:
        self._fleet = fleet

    def run(self, step: str, work: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = work()
        self._fleet.build_seconds[step] = time.perf_counter() - start
        return result
