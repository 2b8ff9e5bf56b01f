"""Launch template updates when an event has finished an image: the source at home, or a copy in a DR region.

Runs after the image's own actions succeeded in its region (then it is finished), in the regions where the
policy names templates for its family: reads the named templates and the images their default versions name
(with the creation dates of those images' sources, the version order), plans (plan/launch_templates.py) and
applies. The sweep reconciles the same templates every tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from ..act.executor import RegionResult, apply_plan
from ..aws.clients import ClientFactory
from ..model.image import Image
from ..model.inventory import IMAGES
from ..plan.current import choose_current, event_candidate
from ..plan.launch_templates import (
    SSM_ALIAS,
    TemplateImage,
    TemplateUpdates,
    plan_region_updates,
    template_images,
)
from ..policy import Match, Policy
from ..read.named_templates import NamedTemplates, read_named_templates_in
from ..read.region import Scope, read_region, read_regions

logger = Logger(child=True)


@dataclass
class TemplateOutcome:
    """What the updates did per region, and the notes about templates left alone or not found."""

    results: dict[str, RegionResult] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # regions whose templates or their images were not read


def update_after_finish(
    clients: ClientFactory, policy: Policy, match: Match, created: str, finished: Sequence[Image]
) -> TemplateOutcome:
    """Update the named templates of `finished` images' regions (images of one version of `match.family`, just
    finished); `created` is the creation date of the version's source (its place in the version order)."""
    outcome = TemplateOutcome()
    family, pin = match.family, policy.pins.get(match.family)
    if pin is not None and pin != match.version:
        return outcome  # the templates name the pinned version; the sweep keeps them there
    entries = [e for e in policy.launch_templates if e.family == family]
    by_region = {i.region: i for i in finished if any(i.region in policy.launch_template_regions(e) for e in entries)}
    if not by_region:
        return outcome
    named = read_named_templates_in(clients, policy, by_region)
    known = _known_images(clients, policy, named)
    updates = TemplateUpdates()
    for region, image in by_region.items():
        region_named = named[region]
        if region_named.error is None and region not in known:
            region_named.error = "the images its templates name could not be read"
        if region_named.error is not None:
            outcome.errors[region] = f"launch templates: {region_named.error}"
        current = choose_current(
            family, region, [event_candidate(image, family, match.version, created)], pin
        )
        planned = plan_region_updates(policy, region_named, {family: current}, known.get(region, {}))
        updates.actions[region] += planned.actions[region]
        outcome.notes[region] = planned.notes[region]
        for note in planned.notes[region]:
            logger.warning(note, extra={"region": region, "family": family})
    outcome.results = apply_plan(clients, updates.actions)
    return outcome


def _known_images(
    clients: ClientFactory, policy: Policy, named: dict[str, NamedTemplates]
) -> dict[str, dict[str, TemplateImage]]:
    """Per readable region, what each template's default image is. One DescribeImages per region, and one in the
    home region for the sources of the copies among them (their creation dates order the versions)."""
    wanted = {
        region: Scope(image_ids=tuple(sorted(ids)))
        for region, found in named.items()
        if found.error is None
        and (ids := {i for t in found.templates.values() if (i := t.default.image_id) and not i.startswith(SSM_ALIAS)})
    }
    inventories = read_regions(clients, wanted)
    images = {region: list(i.images.values()) for region, i in inventories.items() if IMAGES not in i.unread}
    sources = {i.copied_from[0] for found in images.values() for i in found if i.copied_from}
    created = {i.image_id: i.creation_date for found in images.values() for i in found if not i.copied_from}
    if sources - set(created):
        home = read_region(clients, policy.home_region, Scope(image_ids=tuple(sorted(sources - set(created)))))
        created |= {i.image_id: i.creation_date for i in home.images.values()}
    known = {region: template_images(found, created) for region, found in images.items()}
    return known | {r: {} for r, found in named.items() if found.error is None and r not in wanted}

