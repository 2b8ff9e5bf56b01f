"""The launch templates the policy names for updates, in one region: each with its default and latest version.

Read in bulk: DescribeLaunchTemplates by id (LaunchTemplateIds), by name (the launch-template-name filter, which,
unlike LaunchTemplateNames, does not fail the call for a name that does not exist) and by tag (tag filters), then
the default and latest version of every template in the region in one paginated DescribeLaunchTemplateVersions
(`$Default`, `$Latest`, without a template: calls grow with pages, not with templates). Versions are read as
given (not ResolveAlias): a template that names its image through a resolve:ssm: parameter follows that
parameter and is left alone. This is a narrower read than the sweep's reader of every version
(read/launch_templates.py), which keeps resolved AMIs and no tags: updates need the default version as given and
the template's tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ..aws.clients import ClientFactory, error_code
from ..aws.regions import per_region
from ..model.image import tags_of
from ..policy import LaunchTemplateUpdates, Policy

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import FilterTypeDef, LaunchTemplateTypeDef

PAGE_SIZE = 200  # the most DescribeLaunchTemplates and DescribeLaunchTemplateVersions return per call
FILTER_VALUES_LIMIT = 200
_NOT_FOUND = ("InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateId.Malformed")


@dataclass(frozen=True)
class TemplateVersion:
    number: int
    image_id: str | None  # as given: an AMI id, resolve:ssm:<parameter>, or None (set at launch)


@dataclass(frozen=True)
class NamedTemplate:
    region: str
    template_id: str
    name: str
    tags: dict[str, str]
    default: TemplateVersion
    latest: TemplateVersion


@dataclass
class NamedTemplates:
    """One region's templates named by the policy's entries; `selected` lists each entry's templates by id."""

    region: str
    templates: dict[str, NamedTemplate] = field(default_factory=dict)
    selected: dict[int, list[str]] = field(default_factory=dict)  # entry position in the policy -> template ids
    error: str | None = None  # the read failed: nothing is updated in this region


def entries_in(policy: Policy, region: str) -> list[tuple[int, LaunchTemplateUpdates]]:
    """The policy's launch template entries (with their position) that look in this region."""
    return [(i, e) for i, e in enumerate(policy.launch_templates) if region in policy.launch_template_regions(e)]


def read_named_templates_in(
    clients: ClientFactory, policy: Policy, regions: Iterable[str]
) -> dict[str, NamedTemplates]:
    """The named templates of each region that the policy's entries look in, regions concurrently."""
    wanted = {region: entries for region in regions if (entries := entries_in(policy, region))}
    return per_region(wanted, lambda region, entries: read_named_templates(clients.ec2(region), region, entries))


def read_named_templates(
    ec2: EC2Client, region: str, entries: Sequence[tuple[int, LaunchTemplateUpdates]]
) -> NamedTemplates:
    """The templates the entries (position, entry) name in this region. A failed read is recorded, not raised."""
    found = NamedTemplates(region)
    if not entries:
        return found
    try:
        listed = _list(ec2, [e for _, e in entries])
        for position, entry in entries:
            found.selected[position] = sorted(
                t["LaunchTemplateId"]
                for t in listed.values()
                if entry.selects(t["LaunchTemplateId"], t["LaunchTemplateName"], tags_of(t))
            )
        wanted = {template_id for ids in found.selected.values() for template_id in ids}
        versions = _default_and_latest(ec2, wanted) if wanted else {}
        for template_id in wanted:
            data = listed[template_id]
            default, latest = int(data["DefaultVersionNumber"]), int(data["LatestVersionNumber"])
            images = versions.get(template_id, {})
            found.templates[template_id] = NamedTemplate(
                region,
                template_id,
                data["LaunchTemplateName"],
                tags_of(data),
                TemplateVersion(default, images.get(default)),
                TemplateVersion(latest, images.get(latest)),
            )
    except Exception as e:  # the region's updates wait for the next trigger; the error is reported
        found.templates, found.selected, found.error = {}, {}, f"{error_code(e)}: {e}"
    return found


def _list(ec2: EC2Client, entries: Iterable[LaunchTemplateUpdates]) -> dict[str, LaunchTemplateTypeDef]:
    entries = list(entries)
    listed: dict[str, LaunchTemplateTypeDef] = {}
    ids = sorted({e.id for e in entries if e.id is not None})
    names = sorted({e.name for e in entries if e.name is not None})
    for start in range(0, len(ids), FILTER_VALUES_LIMIT):
        listed |= _by_ids(ec2, ids[start : start + FILTER_VALUES_LIMIT])
    for start in range(0, len(names), FILTER_VALUES_LIMIT):
        listed |= _pages(ec2, [{"Name": "launch-template-name", "Values": names[start : start + FILTER_VALUES_LIMIT]}])
    for entry in entries:
        if entry.tags:
            # One tag narrows the listing; every tag is checked by the entry itself (a "*" value means any).
            key, value = next(iter(sorted(entry.tags.items())))
            narrow: FilterTypeDef = {"Name": "tag-key", "Values": [key]} if value == "*" else {
                "Name": f"tag:{key}",
                "Values": [value],
            }
            listed |= _pages(ec2, [narrow])
    return listed


def _by_ids(ec2: EC2Client, ids: list[str]) -> dict[str, LaunchTemplateTypeDef]:
    """By id; an id that does not exist fails the whole call, so then each id is asked on its own."""
    try:
        answer = ec2.describe_launch_templates(LaunchTemplateIds=ids)
        return {t["LaunchTemplateId"]: t for t in answer["LaunchTemplates"]}
    except ClientError as e:
        if error_code(e) not in _NOT_FOUND:
            raise
        if len(ids) == 1:
            return {}
    found: dict[str, LaunchTemplateTypeDef] = {}
    for template_id in ids:
        found |= _by_ids(ec2, [template_id])
    return found


def _pages(ec2: EC2Client, filters: list[FilterTypeDef]) -> dict[str, LaunchTemplateTypeDef]:
    pages = ec2.get_paginator("describe_launch_templates").paginate(
        Filters=filters, PaginationConfig={"PageSize": PAGE_SIZE}
    )
    return {t["LaunchTemplateId"]: t for page in pages for t in page["LaunchTemplates"]}


def _default_and_latest(ec2: EC2Client, wanted: set[str]) -> dict[str, dict[int, str | None]]:
    """Template id -> version number -> ImageId as given, for the default and latest version of each wanted one."""
    images: dict[str, dict[int, str | None]] = {}
    pages = ec2.get_paginator("describe_launch_template_versions").paginate(
        Versions=["$Default", "$Latest"], PaginationConfig={"PageSize": PAGE_SIZE}
    )
    for page in pages:
        for version in page["LaunchTemplateVersions"]:
            if version["LaunchTemplateId"] in wanted:
                image_id = version.get("LaunchTemplateData", {}).get("ImageId")
                images.setdefault(version["LaunchTemplateId"], {})[version["VersionNumber"]] = image_id
    return images
