"""The sweep's steps as the demo prints them: what each tick did, the plan command's output fitted to the page,
what was deprecated, removed and kept."""

from __future__ import annotations

import textwrap
from typing import Any

from .aws_state import AccountState
from .output import WIDTH, columns, plural
from .sweep import ManagedImage, Tick
from .world import HOME, REGIONS


def fit(text: str, indent: str) -> list[str]:
    """The plan command's output within WIDTH columns: a long WHY wraps under its own column."""
    lines, why = [], 0
    for line in text.rstrip("\n").splitlines():
        if not line.startswith("  "):
            why = 0  # a family's name or a region's summary: a new table, or none
        elif line.lstrip().startswith("VERSION") and " WHY" in line:
            why = line.index(" WHY") + 1
        if len(indent + line) <= WIDTH:
            lines.append((indent + line).rstrip())
        elif why and len(line) > why:
            wrapped = textwrap.wrap(line[why:], WIDTH - len(indent) - why, break_on_hyphens=False)
            lines += [indent + line[:why] + wrapped[0], *(indent + " " * why + w for w in wrapped[1:])]
        else:
            lines += textwrap.wrap(
                line, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ", break_on_hyphens=False
            )
    return lines


def unchanged(before: AccountState, after: AccountState) -> str:
    changes = len(before.changes(after))
    counts = f"{len(after.images)} images, {len(after.snapshots)} snapshots"
    return f"nothing changed: {counts} as they were" if not changes else f"CHANGED: {changes} of the {counts}"


def label_of(managed: list[ManagedImage], image_id: str) -> str:
    return next((m.build.name for m in managed if m.image_id == image_id), image_id)


def tick_summary(tick: Tick) -> str:
    """What one tick did, from the function's result: dry run or not, actions planned and applied."""
    if tick.result is None:
        return f"FAILED: {tick.error}"
    planned = sum(tick.planned.values())
    kinds = ", ".join(f"{n} {a}" for a, n in tick.planned.items())
    failures = f", {len(tick.failures)} FAILED" if tick.failures else ""
    return (
        f"dry_run={str(tick.result.get('dry_run')).lower()}: {plural(planned, 'action')} planned"
        + (f" ({kinds})" if kinds else "")
        + f", {sum(tick.applied().values())} applied{failures}"
    )


def deprecation_lines(managed: list[ManagedImage], before: AccountState, after: AccountState) -> list[str]:
    """Per region, the images the tick deprecated; and how the copies of a hand-deprecated source fared."""
    lines = []
    for region in REGIONS:
        changed = [
            m
            for m in managed
            if m.region == region
            and (b := before.images.get(m.image_id))
            and (a := after.images.get(m.image_id))
            and a.deprecation != b.deprecation
        ]
        if changed:
            when = min(str(after.images[m.image_id].deprecation) for m in changed)
            names = ", ".join(m.build.name for m in changed)
            lines.append(f"   {region}: {names} deprecated from {when[:16].replace('T', ' ')} UTC")
    hand = [
        m for m in managed if m.region == HOME and m.image_id in before.images and before.images[m.image_id].deprecation
    ]
    for source in hand:
        copies = [m for m in managed if m.source_id == source.image_id and m.region != HOME]
        followed = sum(bool(after.images[c.image_id].deprecation) for c in copies if c.image_id in after.images)
        lines.append(
            f"   {source.build.name}: deprecated by hand in step 7; {followed}/{len(copies)} copies follow it now"
        )
    return lines


def removal_lines(tick: Tick, managed: list[ManagedImage], before: AccountState, after: AccountState) -> list[str]:
    """Per region, what the function reported; then which versions are gone, as EC2 now lists them."""
    rows = [
        [
            region,
            str(tick.applied(region)["DeregisterImage"]),
            str(tick.regions.get(region, {}).get("snapshots_deleted", 0)),
            str(tick.regions.get(region, {}).get("gib_reclaimed", 0)),
            str(len(tick.regions.get(region, {}).get("failures", []))),
        ]
        for region in REGIONS
    ]
    header = ["REGION", "AMIS DEREGISTERED", "SNAPSHOTS DELETED", "GIB RECLAIMED", "FAILURES"]
    gone = {m.build.name for m in managed if m.image_id in before.images and m.image_id not in after.images}
    partly = {m.build.name for m in managed if m.image_id in after.images} & gone
    return [
        *columns(header, rows, "      "),
        "    Deregistered with their snapshots, in every region: "
        + (", ".join(sorted(gone - partly)) or "none")
        + (f"; in some regions only: {', '.join(sorted(partly))}" if partly else ""),
    ]


def kept_lines(
    managed: list[ManagedImage], newest: set[tuple[str, str]], decisions: dict[str, dict[str, Any]]
) -> list[str]:
    """The old versions still registered, each image with the part of its reason that keeps it."""
    rows: list[list[str]] = []
    for m in managed:
        decision = decisions.get(m.image_id)
        if decision is None or (m.build.family, m.build.version) in newest:
            continue
        why = str(decision["reason"]).split(", but ", 1)[-1] if decision["status"] == "keep" else decision["reason"]
        status = "" if decision["status"] == "keep" else f"{decision['status'].upper()}: "
        rows.append([m.build.name if m.region == HOME else "", m.region, m.image_id, status + why])
    if not rows:
        return ["      none"]
    lines = columns(["VERSION", "REGION", "IMAGE", "WHY"], rows, "      ")
    why = lines[0].index("WHY")
    wrapped = []
    for line in lines:
        head, text = line[:why], line[why:]
        parts = textwrap.wrap(text, WIDTH - why, break_on_hyphens=False) or [""]
        wrapped += [head + parts[0], *(" " * why + part for part in parts[1:])]
    return wrapped
