"""A region's launch templates and the AMI of every version, reading versions only when they may have changed.

Versions are immutable, so the AMIs a template's versions launch are kept between runs and read from EC2 again
only when the template is new, its LatestVersionNumber moved, or its last read is older than the refresh period
(deleted versions then stop keeping their AMIs). DescribeLaunchTemplates is listed every run. A version whose
ImageId is a resolve:ssm: parameter launches whatever AMI the parameter names now, so a template with any such
version is read every run. The cache is an optimisation: unreadable, every template is read; unwritable, the
run goes on. Past the cache, DescribeImageReferences (every version, asked about removal candidates) is a second
check that no version still names an AMI about to be removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from ..aws.clients import error_code
from ..aws.launch_template_table import CachedTemplate, LaunchTemplateTable
from ..model.inventory import Reference, RegionInventory

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

logger = Logger(child=True)

PAGE_SIZE = 200  # the most DescribeLaunchTemplates and DescribeLaunchTemplateVersions return per call


@dataclass
class LaunchTemplate:
    template_id: str
    default_version: int
    latest_version: int
    images: dict[int, str | None] = field(default_factory=dict)  # version number -> AMI it launches


@dataclass(frozen=True)
class LaunchTemplateCache:
    """The table of versions already read, as one run uses it: entries read before `now - refresh_after` are
    read again."""

    table: LaunchTemplateTable
    now: datetime
    refresh_after: timedelta

    def serves(self, entry: CachedTemplate, template: LaunchTemplate) -> bool:
        """Whether the entry still holds every version of the template as listed now. The default version
        may have moved since: it is taken from the listing, and its version's AMI from the entry."""
        return entry.latest_version == template.latest_version and self.now - entry.read_at < self.refresh_after


def read_launch_templates(
    ec2: EC2Client, inventory: RegionInventory, cache: LaunchTemplateCache | None = None
) -> dict[str, LaunchTemplate]:
    """Every version of every template, attached to an Auto Scaling group or not; templates by id and name."""
    templates = _list_templates(ec2)
    listed = {t.template_id: t for t in templates.values()}
    cached = _cached(cache, inventory.region)
    fresh: list[CachedTemplate] = []  # entries of the templates read from EC2 in this run
    try:
        for template_id, template in listed.items():
            entry = cached.get(template_id)
            if cache is not None and entry is not None and cache.serves(entry, template):
                # A version's ImageId never changes, so an alias template needs only the resolved read.
                template.images = _versions(ec2, template_id, resolve=True) if entry.uses_alias else dict(entry.images)
            else:
                template.images, uses_alias = _read_template(ec2, template_id)
                if cache is not None:
                    fresh.append(_entry(inventory.region, template, uses_alias, cache.now))
            for number, image_id in template.images.items():
                inventory.refer(image_id, Reference("launch-template", f"{template_id} version {number}"))
    finally:  # what was read is kept even when a later template could not be read
        if cache is not None:
            _store(cache, inventory.region, fresh, set(cached) - set(listed))
    return templates


def _list_templates(ec2: EC2Client) -> dict[str, LaunchTemplate]:
    templates: dict[str, LaunchTemplate] = {}
    for page in ec2.get_paginator("describe_launch_templates").paginate(PaginationConfig={"PageSize": PAGE_SIZE}):
        for data in page["LaunchTemplates"]:
            template = LaunchTemplate(
                data["LaunchTemplateId"], int(data["DefaultVersionNumber"]), int(data["LatestVersionNumber"])
            )
            templates[template.template_id] = templates[data["LaunchTemplateName"]] = template
    return templates


def _read_template(ec2: EC2Client, template_id: str) -> tuple[dict[int, str | None], bool]:
    """The AMI of each version, and whether any version names it through an alias.

    The versions are read as given first: only that shows an alias (a resolved read shows the AMI in its place),
    and for a template without one, the common case, it is the only read, as cheap as a resolved one. Only a
    template with an alias pays a second, resolved read.
    """
    given = _versions(ec2, template_id, resolve=False)
    if all(not image_id or image_id.startswith("ami-") for image_id in given.values()):
        return given, False
    return _versions(ec2, template_id, resolve=True), True


def _versions(ec2: EC2Client, template_id: str, resolve: bool) -> dict[int, str | None]:
    images: dict[int, str | None] = {}
    for number, image_id in _version_images(ec2, template_id, resolve):
        if resolve and image_id and not image_id.startswith("ami-"):
            raise ValueError(f"{template_id} version {number}: image {image_id!r} did not resolve to an AMI")
        images[number] = image_id
    return images


def _version_images(ec2: EC2Client, template_id: str, resolve: bool) -> Iterator[tuple[int, str | None]]:
    pages = ec2.get_paginator("describe_launch_template_versions").paginate(
        LaunchTemplateId=template_id,
        ResolveAlias=resolve,  # true: an ImageId given as resolve:ssm:... comes back as the AMI it names now
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    for page in pages:
        for version in page["LaunchTemplateVersions"]:
            yield version["VersionNumber"], version.get("LaunchTemplateData", {}).get("ImageId")


def _entry(region: str, template: LaunchTemplate, uses_alias: bool, now: datetime) -> CachedTemplate:
    return CachedTemplate(
        region,
        template.template_id,
        template.latest_version,
        template.default_version,
        dict(template.images),
        now,
        uses_alias,
    )


def _cached(cache: LaunchTemplateCache | None, region: str) -> dict[str, CachedTemplate]:
    if cache is None:
        return {}
    try:
        return cache.table.templates(region)
    except Exception as e:  # only an optimisation: every template is read instead
        logger.warning(
            "launch template cache unreadable: reading every template",
            extra={"region": region, "table": cache.table.name, "error": f"{error_code(e)}: {e}"},
        )
        return {}


def _store(cache: LaunchTemplateCache, region: str, fresh: list[CachedTemplate], removed: set[str]) -> None:
    if not fresh and not removed:
        return
    try:
        cache.table.store(region, fresh, sorted(removed))
    except Exception as e:  # the next run reads these templates again
        logger.warning(
            "launch template cache not written",
            extra={"region": region, "table": cache.table.name, "error": f"{error_code(e)}: {e}"},
        )
