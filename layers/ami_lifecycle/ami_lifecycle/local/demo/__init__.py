"""`make demo`: the real image-available, launch-tracking and sweep handlers against a local AWS (a moto server).

Opens with an account that has history (families built over months before the product, DR copies another tool
made) and the adoption plan an operator reads before deploying (`python -m ami_lifecycle plan`). Then seeds the
builds of a day the way image builders leave them, sends the events EC2 would send through the rules of
template.yaml and dr-forwarder.yaml, lets time pass for the DR copies, launches instances, then reads back
from AWS what the handlers did: copies, lineage, tags, sharing, encryption, instance tags, usage records and
alerts. Then the schedule ticks: the sweep plans in dry run (as a new deployment has it, shown with
`python -m ami_lifecycle plan`), deprecates the versions beyond retention once the dry run is off, and, when
time has passed, deregisters them with their snapshots, except those an instance, a launch record or a launch
template still uses. Exit status 0 only if every expectation holds.

`script` tells the story step by step; the other modules are what its steps stand on.
"""

from .script import main, run
from .server import local_aws, use_local_aws
from .world import MANAGED_BUILDS, Build, DemoError

__all__ = ["MANAGED_BUILDS", "Build", "DemoError", "local_aws", "main", "run", "use_local_aws"]
