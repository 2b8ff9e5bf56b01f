"""What the image-available function left: each build's source and copies as AWS describes them, one row each;
and the AMIs the product must leave alone, checked to be untouched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ami_lifecycle.model.image import FAMILY_TAG, SOURCE_IMAGE_TAG, SOURCE_REGION_TAG, VERSION_TAG, propagated, tags_of

from .aws_state import all_images, copies_of, key_name, launch_permissions, own_images, snapshots_of, volume_permissions
from .output import columns
from .world import (
    CONSUMER,
    DR_ORIGINAL_NAME,
    DR_REGIONS,
    EXPECTED_LAUNCH,
    HOME,
    KMS_ALIAS,
    REGIONS,
    UNMANAGED_NAME,
    WEST,
    Account,
    LocalAws,
)


@dataclass
class Row:
    """One image of one family/version in one region, as AWS now describes it."""

    family: str
    version: str
    region: str
    image_id: str = "-"
    state: str = "missing"
    lineage: bool = False
    snapshots_tagged: int = 0
    snapshots: int = 0
    launch: int = 0
    snapshot_permissions: bool = False
    key: str = "-"
    problems: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        if self.image_id == "-":
            return [self.family, self.version, self.region, "-", self.state, "-", "-", "-", "-", "-"]
        return [
            self.family,
            self.version,
            self.region,
            self.image_id,
            self.state,
            "yes" if self.lineage else "NO",
            f"{self.snapshots_tagged}/{self.snapshots}",
            f"{self.launch}/{len(EXPECTED_LAUNCH)}",
            "ok" if self.snapshot_permissions else "NO",
            self.key,
        ]


HEADER = ["FAMILY", "VERSION", "REGION", "IMAGE", "STATE", "LINEAGE", "SNAP TAGS", "LAUNCH", "SNAP PERMS", "KMS KEY"]


def inspect(
    aws: LocalAws, region: str, image: dict[str, Any], row: Row, lineage: dict[str, str], key_arn: str | None
) -> Row:
    """Fill `row` from AWS and note every way the image differs from what the policy asks for."""
    tags = tags_of(image)
    snapshots = snapshots_of(aws, region, image)
    launch = launch_permissions(aws, region, image["ImageId"])
    where = f"{row.family} {row.version} in {region} ({image['ImageId']})"
    row.image_id, row.state = image["ImageId"], image["State"]
    row.lineage = lineage.items() <= tags.items()
    # The policy carries every tag of the AMI (none are excluded for snapshots) onto each of its snapshots.
    wanted = {k: v for k, v in propagated(tags).items() if not k.startswith("aws:")}
    row.snapshots = len(snapshots)
    row.snapshots_tagged = sum(wanted.items() <= tags_of(s).items() for s in snapshots)
    row.launch = len(launch)
    row.snapshot_permissions = bool(snapshots) and all(
        volume_permissions(aws, region, s["SnapshotId"]) == [{"UserId": CONSUMER}] for s in snapshots
    )
    row.key = key_name(aws, region, snapshots)
    checks = [
        (row.state == "available", f"state is {row.state}"),
        (row.lineage, "lineage tags missing or wrong"),
        (row.snapshots > 0 and row.snapshots_tagged == row.snapshots, "a snapshot lacks the AMI's tags"),
        (launch == EXPECTED_LAUNCH, f"launch permissions {len(launch)}/{len(EXPECTED_LAUNCH)}, not the policy's"),
        (row.snapshot_permissions, f"snapshots not shared with {CONSUMER} only"),
        (key_arn is None or all(s.get("KmsKeyId") == key_arn for s in snapshots), f"not encrypted with {KMS_ALIAS}"),
    ]
    row.problems += [f"{where}: {message}" for ok, message in checks if not ok]
    return row


def protection_rows(aws: LocalAws, account: Account) -> list[Row]:
    """Per managed build: the source in the home region and its one copy in each DR region."""
    images = {region: own_images(aws, region) for region in REGIONS}
    rows = []
    for build, source_id in account.managed:
        source = next((i for i in images[HOME] if i["ImageId"] == source_id), None)
        home_row = Row(build.family, build.version, HOME)
        if source is None:
            home_row.problems.append(f"{build.name}: source {source_id} is gone")
            rows.append(home_row)
            continue
        lineage = {FAMILY_TAG: build.family, VERSION_TAG: build.version}
        rows.append(inspect(aws, HOME, source, home_row, lineage, None))
        copy_lineage = lineage | {SOURCE_IMAGE_TAG: source_id, SOURCE_REGION_TAG: HOME}
        for region in DR_REGIONS:
            row = Row(build.family, build.version, region)
            copies = copies_of(images[region], source_id)
            if len(copies) != 1:
                row.problems.append(f"{build.name} in {region}: {len(copies)} copies, expected 1")
            if copies:
                inspect(aws, region, copies[0], row, copy_lineage, account.kms_key_arn if region == WEST else None)
            rows.append(row)
    return rows


def table(rows: list[Row]) -> list[str]:
    """Plain columns; family and version only where they change, so each build reads as one block."""
    cells: list[list[str]] = []
    previous = ("", "")
    for row in rows:
        values = row.cells()
        if (row.family, row.version) == previous:
            values[0] = values[1] = ""
        previous = (row.family, row.version)
        cells.append(values)
    return columns(HEADER, cells)


def skipped_checks(aws: LocalAws, account: Account) -> list[str]:
    """The AMIs the product must leave alone, handlers and sweep: no copy, no sharing, no lineage tags, not retired."""
    problems = []
    for region, image_id, what in (
        (HOME, account.unmanaged_id, UNMANAGED_NAME),
        (WEST, account.dr_original_id, DR_ORIGINAL_NAME),
    ):
        for other in REGIONS:
            if copies_of(own_images(aws, other), image_id):
                problems.append(f"{what} ({image_id}) was copied to {other}")
        image = next((i for i in all_images(aws, region) if i["ImageId"] == image_id), None)
        if image is None:
            problems.append(f"{what} ({image_id}) is gone")
            continue
        if any(k.startswith("ami-lifecycle:") and k != "ami-lifecycle:managed" for k in tags_of(image)):
            problems.append(f"{what} ({image_id}) got lineage tags")
        if launch_permissions(aws, region, image_id):
            problems.append(f"{what} ({image_id}) was shared")
        if image["State"] != "available" or image.get("DeprecationTime"):
            problems.append(
                f"{what} ({image_id}) was retired: {image['State']}, deprecation {image.get('DeprecationTime')}"
            )
    return problems
