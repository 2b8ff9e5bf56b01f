"""Pure decisions for a batch of launched instances: usage records, lineage tags on instances, alerts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from ..act.protect import TagResources
from ..aws.usage_table import LaunchRecord
from ..model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, Image
from ..model.inventory import Instance
from ..model.launch import LaunchAlert
from ..policy import Policy
from .tag_fit import fit_tags

GONE_STATES = frozenset({"shutting-down", "terminated"})
TAG_CALL_LIMIT = 500  # instances per CreateTags call


@dataclass
class LaunchPlan:
    """What a batch of launches in one region asks for; `status` says what each instance is."""

    records: list[LaunchRecord] = field(default_factory=list)
    tags: list[TagResources] = field(default_factory=list)
    alerts: list[LaunchAlert] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)  # instance id -> tracked|terminated|unmanaged|...
    notes: list[str] = field(default_factory=list)  # tags left out within EC2's limits, by instance


def instance_lineage(image: Image, policy: Policy, account_id: str) -> dict[str, str] | None:
    """Lineage tags for instances of a managed AMI (a source or a DR copy of this account), else None."""
    if image.owner_id != account_id:
        return None
    family, version = image.tags.get(FAMILY_TAG), image.tags.get(VERSION_TAG)
    if not (family and version):
        # A source whose own event was missed has no lineage tags yet: the policy still says what it is.
        home = image.region == policy.home_region
        match = policy.match(image.name, image.tags, image.creation_date) if home else None
        if match is None:
            return None
        family, version = match.family, match.version
    source_id, source_region = image.copied_from or (image.image_id, image.region)
    return {FAMILY_TAG: family, VERSION_TAG: version, SOURCE_IMAGE_TAG: source_id, SOURCE_REGION_TAG: source_region}


def retired_reason(image: Image, now: datetime) -> str | None:
    if image.state == "disabled":
        return "disabled"
    deprecated = image.deprecated_at(now)
    return f"deprecated since {deprecated.isoformat()}" if deprecated else None


def plan_launches(
    instances: dict[str, Instance], images: dict[str, Image], policy: Policy, account_id: str, now: datetime
) -> LaunchPlan:
    """Pure: which usage records, instance tags and alerts a batch of launched instances calls for."""
    plan = LaunchPlan()
    by_image: dict[str, list[Instance]] = defaultdict(list)
    for instance in instances.values():
        by_image[instance.image_id].append(instance)

    for image_id, launched in sorted(by_image.items()):
        image = images.get(image_id)
        if image is None:
            plan.status |= {i.instance_id: "image-gone" for i in launched}
            continue
        lineage = instance_lineage(image, policy, account_id)
        reason = retired_reason(image, now)
        if reason:
            ids = tuple(sorted(i.instance_id for i in launched))
            plan.alerts.append(LaunchAlert(image, reason, ids, managed=lineage is not None))
        if lineage is None:
            plan.status |= {i.instance_id: "unmanaged" for i in launched}
            continue

        latest = max(launched, key=lambda i: (i.launch_time, i.instance_id))
        plan.records.append(LaunchRecord(image_id, image.region, latest.launch_time, latest.instance_id))
        rule = policy.match(image.name, image.tags, image.creation_date)
        propagation = policy.tags_for(rule.rule) if rule else policy.defaults.tags
        extra = propagation.to_instances.apply(image.tags)
        # Each instance gets what fits beside the tags it was launched with (EC2 allows 50); one call per tag set.
        by_tags: dict[tuple[tuple[str, str], ...], list[str]] = defaultdict(list)
        for instance in sorted(launched, key=lambda i: i.instance_id):
            if instance.state in GONE_STATES:
                continue
            fit = fit_tags(lineage, extra, existing=instance.tags, priority=propagation.priority)
            if fit.left_out:
                plan.notes.append(f"{instance.instance_id} ({image_id}): {fit.describe()}")
            if any(instance.tags.get(k) != v for k, v in fit.tags.items()):
                by_tags[tuple(fit.tags.items())].append(instance.instance_id)
        for tags, to_tag in by_tags.items():
            for start in range(0, len(to_tag), TAG_CALL_LIMIT):
                chunk = tuple(to_tag[start : start + TAG_CALL_LIMIT])
                plan.tags.append(TagResources(image.region, chunk, dict(tags)))
        plan.status |= {i.instance_id: "terminated" if i.state in GONE_STATES else "tracked" for i in launched}
    return plan
