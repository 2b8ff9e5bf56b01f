"""The adoption plan as sections (a title, a table, notes), printed as plain columns or as Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..plan.adoption import AdoptionReport, Retirement

DETAIL_HEADING = "Per family: each version in each region, what the sweep does and why"


@dataclass(frozen=True)
class Section:
    title: str
    header: tuple[str, ...] = ()
    rows: Sequence[tuple[str, ...]] = ()
    notes: tuple[str, ...] = field(default=())


def adoption_sections(report: AdoptionReport) -> list[Section]:
    return [_found(report), _adopted(report), _copies(report), _retirement(report), _reclaim(report)]


def _found(report: AdoptionReport) -> Section:
    regions = list(report.unmanaged)
    rows = [(f.family, ", ".join(f.versions), *(str(f.images.get(r, 0)) for r in regions)) for f in report.families]
    unmanaged = ", ".join(f"{r} {n}" for r, n in report.unmanaged.items() if n) or "none"
    notes: tuple[str, ...] = (f"Not managed (no rule selects them, or copies without a managed source): {unmanaged}",)
    if not rows:
        notes = ("No image is selected by the policy's rules.", *notes)
    return Section("Found: families and versions the policy selects", ("FAMILY", "VERSIONS", *regions), rows, notes)


def _adopted(report: AdoptionReport) -> Section:
    rows = [
        (
            a.family,
            a.version,
            a.region,
            a.image_id,
            f"copy of {a.copy_of}" if a.copy_of else "source",
            "family tag; retiring" if a.retiring else "finished; kept",
        )
        for a in sorted(report.adopted, key=lambda a: (a.family, a.version, a.copy_of is not None, a.region))
    ]
    copies = sum(a.copy_of is not None for a in report.adopted)
    retiring = sum(a.retiring for a in report.adopted)
    notes = (
        (
            f"{len(rows)} images ({len(rows) - copies} sources, {copies} copies) carry none of the product's tags yet:",
            f"  {len(rows) - retiring} in versions retention keeps are finished (lineage and snapshot tags, sharing "
            "as the policy says);",
            f"  {retiring} beyond retention only get the family tag (the lineage they retire with) and retire from "
            "the same run.",
        )
        if rows
        else ("None: every managed image already carries the product's tags.",)
    )
    header = ("FAMILY", "VERSION", "REGION", "IMAGE", "WHAT", "FIRST RUN")
    return Section("Adopted by the first run", header, rows, notes)


def _copies(report: AdoptionReport) -> Section:
    rows = [
        (c.family, c.version, c.source_image_id, c.region)
        for c in sorted(report.copies, key=lambda c: (c.family, c.version, c.region))
    ]
    note = f"{len(rows)} copies to start." if rows else "None: every version within retention has its DR copies."
    return Section("Copies to start", ("FAMILY", "VERSION", "SOURCE", "TO"), rows, (note,))


def _retirement(report: AdoptionReport) -> Section:
    rows = [_retirement_row(report, r) for r in report.retirements]
    kept = [f"{r.family} {r.version} {why}" for r in report.retirements for why in r.kept_by]
    notes = [
        "Versions beyond retention are deprecated, then deregistered with their snapshots once their grace period "
        "is over, unless something still uses them; a date past means at the first run that may remove it."
        if rows
        else "None: every version is within retention."
    ]
    if kept:
        notes.append("Kept while in use (not counted as reclaimed):")
        notes += [f"  {k}" for k in kept]
    blocked = {r.region: r.blocked for r in report.regions if r.blocked}
    if blocked and rows:
        notes.append("Nothing is removed today in " + ", ".join(blocked) + f": {next(iter(blocked.values()))}")
    header = ("FAMILY", "VERSION", "IMAGES", "DEPRECATED", "DEREGISTERED FROM", "GiB", "USD/MONTH")
    return Section("Retirement: what goes, and when", header, rows, tuple(notes))


def _retirement_row(report: AdoptionReport, r: Retirement) -> tuple[str, ...]:
    gib = sum(r.gib.values())
    return (
        r.family,
        r.version,
        str(len(r.images)),
        _when(r.deprecated_from, report.now),
        _when(r.removable_from, report.now),
        str(gib),
        f"{report.cost(gib):.2f}",
    )


def _reclaim(report: AdoptionReport) -> Section:
    rows = [
        (r.region, str(r.gib_today), f"{report.cost(r.gib_today):.2f}", str(r.gib_retiring),
         f"{report.cost(r.gib_retiring):.2f}")
        for r in report.regions
    ]  # fmt: skip
    rows.append(
        ("total", str(report.gib_today), f"{report.cost(report.gib_today):.2f}", str(report.gib_retiring),
         f"{report.cost(report.gib_retiring):.2f}")
    )  # fmt: skip
    notes = (
        f"GiB: the snapshots' provisioned size, an upper bound of what is billed (EBS bills the blocks a snapshot "
        f"stores); at USD {report.price_per_gb_month:g} per GB-month (sweep.snapshot_price_per_gb_month).",
    )
    header = ("REGION", "TODAY GiB", "USD/MONTH", "ONCE RETIRED GiB", "USD/MONTH")
    return Section("Reclaimed: snapshot storage per region", header, rows, notes)


def _when(when: datetime, now: datetime) -> str:
    return f"{when:%Y-%m-%d}" + (" (past)" if when <= now else "")


def text(sections: Sequence[Section], heading: str) -> str:
    lines = [heading]
    for section in sections:
        lines += ["", section.title]
        if section.rows:
            lines += _columns(section.header, section.rows, "  ")
        lines += [f"  {note}" for note in section.notes]
    return "\n".join(lines)


def markdown(sections: Sequence[Section], heading: str) -> str:
    lines = [f"## {heading}"]
    for section in sections:
        lines += ["", f"### {section.title}", ""]
        if section.rows:
            lines.append("| " + " | ".join(section.header) + " |")
            lines.append("|" + "---|" * len(section.header))
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in section.rows]
            lines.append("")
        for note in section.notes:  # a list item for an indented note, a paragraph for the others
            lines += [f"- {_cell(note.strip())}"] if note.startswith("  ") else [_cell(note), ""]
    # one blank line between blocks
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1])).rstrip("\n")


def _cell(value: str) -> str:
    return value.replace("|", "\\|")


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str) -> list[str]:
    table = [list(header), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
