"""Launch template updates: which named templates get a version naming their family's current image. Pure, no I/O.

A template the policy names for a family gets a new version, its default version with only the ImageId changed,
when the family's current image in the template's region (plan/current.py: available, finished, not deprecated,
or the pinned version's image) is not what its default version names; the new version becomes the default only
when the policy's entry says `set_default`. Nothing moves backwards in version order (except to a pin, or away
from an image that is no longer usable), nothing points at a pending or failed image (it is never current),
and a template is left alone, with a note saying why, when:

- it does not carry the tag `ami-lifecycle:managed-template=true` (the stack's role may update only those);
- its default version names its image through a resolve:ssm: parameter (it follows that parameter) or names
  none (the image is given at launch);
- it is named for two families.

Each trigger builds what this module compares: the sweep from the whole fleet, the image-available flow from
the image it has just finished and the images the templates name now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..act.base import Action
from ..act.launch_templates import CreateTemplateVersion, SetDefaultTemplateVersion
from ..model.image import FAMILY_TAG, VERSION_TAG, Image
from ..model.inventory import Fleet
from ..model.plan import RegionPlan, SweepPlan
from ..policy import Policy
from ..read.named_templates import NamedTemplate, NamedTemplates, entries_in
from .current import Current, Named, candidate, choose_current, should_move, version_key
from .families import group_versions

# The operator's mark on the templates the product may update; the stack's IAM policy asks for the same tag.
MANAGED_TEMPLATE_TAG, MANAGED_TEMPLATE_VALUE = "ami-lifecycle:managed-template", "true"
SSM_ALIAS = "resolve:ssm:"


@dataclass(frozen=True)
class TemplateImage:
    """What a template's default version names now: the image's family (None: not a managed image known here) and
    where it stands (plan/current.Named)."""

    family: str | None
    named: Named


@dataclass
class TemplateUpdates:
    """The updates of one or more regions: actions to apply and notes (templates not found or left alone, and why)."""

    actions: dict[str, list[Action]] = field(default_factory=lambda: defaultdict(list))
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def all_actions(self) -> list[Action]:
        return [a for actions in self.actions.values() for a in actions]


def plan_region_updates(
    policy: Policy,
    named: NamedTemplates,
    currents: Mapping[str, Current],
    images: Mapping[str, TemplateImage],
) -> TemplateUpdates:
    """Updates of one region's named templates for the families in `currents` (each family's current image in
    this region); `images` says what each template's default image is, by image id."""
    updates = TemplateUpdates()
    region = named.region
    notes = updates.notes[region]
    if named.error is not None:
        if any(entry.family in currents for _, entry in entries_in(policy, region)):
            notes.append(f"launch templates not read, none updated: {named.error}")
        return updates
    families: dict[str, set[str]] = defaultdict(set)  # template id -> the families it is named for
    set_default: set[tuple[str, str]] = set()
    for position, template_ids in named.selected.items():
        entry = policy.launch_templates[position]
        if not template_ids and entry.family in currents:
            notes.append(f"launch_templates.{position} ({entry.describe()}): no such launch template in {region}")
        for template_id in template_ids:
            families[template_id].add(entry.family)
            if entry.set_default:
                set_default.add((template_id, entry.family))
    for template_id, named_for in sorted(families.items()):
        template = named.templates[template_id]
        if len(named_for) > 1:
            if named_for & set(currents):
                notes.append(f"{_label(template)}: named for families {', '.join(sorted(named_for))}; left alone")
            continue
        (family,) = named_for
        if family not in currents:
            continue
        decision = _decide(template, currents[family], (template_id, family) in set_default, images)
        if isinstance(decision, str):
            notes.append(decision)
        elif decision is not None:
            updates.actions[region].append(decision)
    return updates


def _decide(
    template: NamedTemplate, current: Current, set_default: bool, images: Mapping[str, TemplateImage]
) -> Action | str | None:
    """An action, a note saying why the template is left alone, or None when it already names the image."""
    label = _label(template)
    if template.tags.get(MANAGED_TEMPLATE_TAG) != MANAGED_TEMPLATE_VALUE:
        tag = f"{MANAGED_TEMPLATE_TAG}={MANAGED_TEMPLATE_VALUE}"
        return f"{label}: not tagged {tag}, which the stack may update; left alone"
    chosen = current.candidate
    if chosen is None:
        return f"{label}: left as it is, {current.family} has no image to name: {current.note}"
    default = template.default.image_id
    if not default:
        return f"{label}: its default version {template.default.number} names no image (given at launch); left alone"
    if default.startswith(SSM_ALIAS):
        return f"{label}: its default version names {default} and follows that parameter; left alone"
    if default == chosen.image_id:
        return None
    known = images.get(default)
    if known is not None and known.family == current.family and not should_move(current, known.named):
        return (
            f"{label}: its default version names {default}, not older than {current.family} {chosen.version}; "
            "never moved backwards"
        )
    if template.latest.number != template.default.number and template.latest.image_id == chosen.image_id:
        if not set_default:
            return None  # the version is there; the default stays where the operator keeps it
        return SetDefaultTemplateVersion(
            template.region, template.template_id, template.name, template.latest.number, chosen.image_id
        )
    return CreateTemplateVersion(
        template.region,
        template.template_id,
        template.name,
        template.default.number,
        chosen.image_id,
        current.family,
        chosen.version,
        set_default,
    )


def _label(template: NamedTemplate) -> str:
    return f"launch template {template.name} ({template.template_id})"


# --- the sweep -----------------------------------------------------------------------------------------------


def plan_sweep_updates(fleet: Fleet, policy: Policy, named: Mapping[str, NamedTemplates]) -> TemplateUpdates:
    """Every region's updates, from the whole fleet: each family's current image per region, and what the image
    each named template names now is (any image of the region's inventory; one outside it counts as foreign)."""
    updates = TemplateUpdates()
    home = fleet.regions.get(fleet.home_region)
    if not policy.launch_templates or home is None or not home.readable:
        return updates
    scratch = {region: RegionPlan(region) for region in fleet.regions}  # group_versions counts into plans
    candidates = defaultdict(list)
    images: dict[str, dict[str, TemplateImage]] = defaultdict(dict)
    for (_, family), by_version in group_versions(fleet, policy, scratch).items():
        for version in by_version.values():
            key = version_key(version.created, version.version)
            for member in version.members:
                image = member.image
                candidates[family].append(candidate(member, version, policy))
                images[image.region][image.image_id] = TemplateImage(family, Named(image.image_id, key, _usable(image)))
    wanted = {entry.family for entry in policy.launch_templates}
    for region, region_named in named.items():
        inventory = fleet.regions.get(region)
        if inventory is None or not inventory.readable:
            continue
        currents = {
            family: choose_current(family, region, candidates[family], policy.pins.get(family)) for family in wanted
        }
        # An image of the region that is no managed family's: known, usable or not, but of no family.
        foreign = {
            image_id: TemplateImage(None, Named(image_id, None, _usable(image)))
            for image_id, image in inventory.images.items()
        }
        region_updates = plan_region_updates(policy, region_named, currents, foreign | images[region])
        updates.actions[region] += region_updates.actions[region]
        updates.notes[region] += region_updates.notes[region]
    return updates


def add_sweep_updates(plan: SweepPlan, fleet: Fleet, policy: Policy, named: Mapping[str, NamedTemplates]) -> SweepPlan:
    """The sweep's plan with the template updates after its other actions, and the notes about templates."""
    updates = plan_sweep_updates(fleet, policy, named)
    for region, region_plan in plan.regions.items():
        region_plan.actions += updates.actions.get(region, [])
        region_plan.launch_template_notes += updates.notes.get(region, [])
    return plan


def _usable(image: Image) -> bool:
    return image.state == "available" and image.deprecation_time is None


# --- the image-available flow --------------------------------------------------------------------------------


def template_images(images: Iterable[Image], created: Mapping[str, str]) -> dict[str, TemplateImage]:
    """What the templates' default images are, from those images (read by id, any owner) and the creation date
    of each managed source among them or their sources (`created`: source image id -> its creation date)."""
    found = {}
    for image in images:
        family, version = image.tags.get(FAMILY_TAG), image.tags.get(VERSION_TAG)
        source_id = image.copied_from[0] if image.copied_from else image.image_id
        when = created.get(source_id)
        key = version_key(when, version) if family and version and when else None
        found[image.image_id] = TemplateImage(family, Named(image.image_id, key, _usable(image)))
    return found

