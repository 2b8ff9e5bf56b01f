"""The family parameters in the printed plan: what each region's parameter names, where it moves, and pins."""

from __future__ import annotations

from collections import defaultdict
from typing import TextIO

from ..model.parameters import ParameterDecision
from ..model.plan import SweepPlan


def print_parameters(plan: SweepPlan, out: TextIO, family: str | None = None) -> None:
    """One block per family (or only `family`): each region's parameter, the image it names and why."""
    by_family: dict[str, list[ParameterDecision]] = defaultdict(list)
    for region_plan in plan.regions.values():
        for decision in region_plan.parameters:
            by_family[decision.family].append(decision)
    for name, decisions in sorted(by_family.items()):
        if family is not None and name != family:
            continue
        pin = decisions[0].pinned
        print(f"  parameter {decisions[0].name}" + (f" (pinned to {pin})" if pin else ""), file=out)
        rows = [("REGION", "NAMES NOW", "WILL NAME", "STATUS")]
        for d in decisions:
            rows.append((d.region, d.named or "-", d.image_id or "-", d.status))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        reasons = ["WHY", *(d.reason for d in decisions)]
        for row, reason in zip(rows, reasons, strict=True):
            print("    " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + "  " + reason, file=out)


def families_with_parameters_only(plan: SweepPlan, families: set[str]) -> list[str]:
    """Families the plan has parameter decisions for but no images (a pin of a family with no build, say)."""
    named = {d.family for region_plan in plan.regions.values() for d in region_plan.parameters}
    return sorted(named - families)
