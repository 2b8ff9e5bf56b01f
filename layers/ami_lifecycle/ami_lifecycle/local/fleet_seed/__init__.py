"""Builds large managed AMI fleets in the local AWS quickly, for the sweep's benchmark.

Registering 10,000 AMIs through the EC2 API takes moto minutes, so the AMIs and their snapshots are written
into moto's EC2 backends directly, in the state the product would have left them: lineage tags and the
protected mark, snapshot tags, sharing, deprecation dates in the past, some versions disabled. What refers to
an AMI (instances, launch templates and their versions, launch configurations, Auto Scaling groups) goes
through the API, as does the usage table, because there are few of them and their API is quick.

Everything is decided up front from a seeded random layout, so the result is reproducible, and the ground
truth is kept: which images are in use and why, and what a correct sweep must plan for them.

Reading such a fleet back needs ``fidelity.install()``: it pages DescribeImages/DescribeSnapshots and reads each
resource's tags directly (moto's own tag lookup makes DescribeImages of 3,000 AMIs take ~40 s).
"""

from .api_writes import USAGE_TABLE
from .build import build_fleet
from .ground_truth import FleetShape, SeededFleet, SeededImage

__all__ = ["USAGE_TABLE", "FleetShape", "SeededFleet", "SeededImage", "build_fleet"]
