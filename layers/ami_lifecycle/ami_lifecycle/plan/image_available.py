"""Pure decisions for one available image: a new source is verified at home and copied to every DR region,
a finished copy is verified in its region. An event is the moment to verify, so the image is always
finished (FinishImage reads its permissions and adds only what is missing), whatever its protected mark says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..act.base import Action
from ..act.finish import FinishImage
from ..model.image import FAMILY_TAG, Image
from ..policy import DrRegion, Match, Policy
from .desired import DesiredImage, desired_copy, desired_source
from .protect import plan_copy


@dataclass
class RegionStep:
    """What one region of the scope needs, and what to report about it before anything is applied."""

    region: str
    image_id: str | None = None
    status: str = "up-to-date"  # copy-started | copy-pending | copy-failed | up-to-date (updated once applied)
    note: str = ""
    actions: list[Action] = field(default_factory=list)
    error: str | None = None
    tags_left_out: str = ""  # tags that do not fit within EC2's limits, named


def plan_source(source: Image, match: Match, policy: Policy, copies: dict[str, list[Image]]) -> list[RegionStep]:
    """Finish the source; in each DR region whose copies were read, start, wait for or finish its copy."""
    desired = desired_source(source, match, policy)
    home = RegionStep(source.region, source.image_id, tags_left_out=desired.left_out)
    home.actions.append(FinishImage(source.region, source, desired))
    steps = [home]
    for dr in policy.dr_regions_for(match.rule):
        if dr.region in copies:
            steps.append(_copy_step(source, match, dr, copies[dr.region], policy))
    return steps


def plan_copy_finish(copy: Image, source: Image, match: Match, policy: Policy) -> RegionStep:
    desired = desired_copy(source, match, policy)
    step = RegionStep(copy.region, copy.image_id, tags_left_out=desired.left_out)
    step.actions.append(_finish_copy(copy, source, desired))
    return step


def _finish_copy(copy: Image, source: Image, desired: DesiredImage) -> FinishImage:
    """A copy another tool made (EC2's ancestry, no lineage tags) is adopted: finished like the product's own."""
    adopt = f"adopt (a copy of {source.image_id} by EC2's ancestry)" if FAMILY_TAG not in copy.tags else ""
    return FinishImage(copy.region, copy, desired, reason=adopt)


def _copy_step(source: Image, match: Match, dr: DrRegion, copies: list[Image], policy: Policy) -> RegionStep:
    decision = plan_copy(source, match, dr, copies, policy)
    step = RegionStep(dr.region, note=decision.note)
    if decision.action is not None:
        step.status, step.tags_left_out = "copy-started", decision.action.left_out
        step.actions.append(decision.action)
    elif decision.existing is None:
        step.status, step.error = "copy-failed", decision.note
    elif decision.existing.state != "available":
        step.status, step.image_id = "copy-pending", decision.existing.image_id
    else:
        step.image_id = decision.existing.image_id
        desired = desired_copy(source, match, policy)
        step.tags_left_out = desired.left_out
        step.actions.append(_finish_copy(decision.existing, source, desired))
    return step
