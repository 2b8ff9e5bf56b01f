"""`python -m ami_lifecycle plan`: the sweep's plan, read-only, with your own AWS credentials.

Reads every region of the policy exactly as the scheduled sweep does and prints the adoption plan (the families
and versions found, the images the first run adopts, the copies it starts, the versions that retire and when,
and what that reclaims), then, per family and region, what stays, what is deprecated, disabled or deregistered,
and why. Nothing is changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, TextIO

import boto3

from ..aws.clients import ClientFactory
from ..flows.sweep import read_fleet_and_plan
from ..model.plan import ImageDecision, SweepPlan
from ..plan.adoption import AdoptionReport, adoption_report
from ..policy import PolicyError, load_policy
from ..read.fleet import launch_template_table, usage_reader
from .adoption_report import DETAIL_HEADING, Section, adoption_sections, markdown, text
from .exit_codes import EXIT_BLOCKED, EXIT_OK, EXIT_USAGE
from .parameters import families_with_parameters_only, print_parameters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default="policy/policy.yaml", help="the policy document (default: %(default)s)")
    parser.add_argument(
        "--usage-table",
        help="the deployed stack's usage table (output UsageTableName); without it nothing is planned for removal",
    )
    parser.add_argument(
        "--launch-template-table",
        help="the deployed stack's launch template table (output LaunchTemplateTableName), read and never written; "
        "without it every launch template version is read",
    )
    parser.add_argument("--profile", help="AWS profile to read with (default: the usual credential chain)")
    parser.add_argument("--at", type=_timestamp, help="plan as of this UTC time, e.g. 2026-12-01T00:00 (default: now)")
    parser.add_argument(
        "--recycle-bin-days",
        type=int,
        default=0,
        help="the stack's RecycleBinRetentionDays, to say until when a retired AMI can be restored (default: 0)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print one JSON document: the adoption plan and every image's decision"
    )
    output.add_argument("--markdown", action="store_true", help="print Markdown, e.g. for a change review")


def run(args: argparse.Namespace, out: TextIO) -> int:
    try:
        policy = load_policy(args.policy)
    except PolicyError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    clients = ClientFactory(boto3.Session(profile_name=args.profile))
    now = args.at or datetime.now(UTC)
    launches = usage_reader(clients, policy, args.usage_table) if args.usage_table else None
    table = args.launch_template_table
    templates = launch_template_table(clients, policy, table, read_only=True) if table else None
    fleet, result = read_fleet_and_plan(policy, clients, now, launches, templates, args.recycle_bin_days)
    report = adoption_report(fleet, result, policy)
    if args.json:
        print(json.dumps(plan_document(result, report), indent=1), file=out)
    elif args.markdown:
        print(markdown(adoption_sections(report) + detail_sections(result), _heading(result)), file=out)
    else:
        print(text(adoption_sections(report), _heading(result)), file=out)
        print_plan(result, out)
    return EXIT_BLOCKED if any(p.blocked for p in result.regions.values()) else EXIT_OK


def plan_document(plan: SweepPlan, report: AdoptionReport) -> dict[str, Any]:
    """`--json`: the adoption plan and every image's decision, with its protections' kinds."""
    return {
        "at": plan.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "adoption": report.as_dict(),
        "actions": plan.summary()["actions"],
        "blocked": plan.summary()["blocked"],
        "decisions": [decision_dict(d) for d in _decisions(plan)],
    }


def decision_dict(decision: ImageDecision) -> dict[str, Any]:
    times = {
        k: v.strftime("%Y-%m-%dT%H:%M:%SZ") if v else None
        for k, v in (("deprecated_from", decision.deprecated_from), ("removable_from", decision.removable_from))
    }
    return decision.__dict__ | times | {"protections": [p.kind for p in decision.protections]}


def _heading(plan: SweepPlan) -> str:
    return f"Plan as of {plan.now:%Y-%m-%d %H:%M} UTC (read-only: nothing was changed)"


def detail_sections(plan: SweepPlan) -> list[Section]:
    """The per-family detail as sections (Markdown): each version in each region, what happens to it and why."""
    sections = []
    for family, decisions in _by_family(plan).items():
        rows = [(d.version, d.created[:10], d.region, d.image_id, d.status, d.reason) for d in decisions]
        header = ("VERSION", "CREATED", "REGION", "IMAGE", "STATUS", "WHY")
        sections.append(Section(f"{DETAIL_HEADING}: {family}", header, rows))
    regions = [
        (region, ", ".join(f"{n} {s}" for s, n in sorted(_statuses(p.decisions).items())) or "-", str(p.unmanaged),
         p.blocked or "")
        for region, p in plan.regions.items()
    ]  # fmt: skip
    actions = ", ".join(f"{n} {a}" for a, n in plan.summary()["actions"].items()) or "none"
    columns = ("REGION", "IMAGES", "NOT MANAGED", "NOTHING REMOVED BECAUSE")
    sections.append(Section("Per region", columns, regions, (f"Actions a sweep would take: {actions}",)))
    return sections


def print_plan(plan: SweepPlan, out: TextIO) -> None:
    """One table per family: each version in each region, what happens to it and why."""
    print(f"\n{DETAIL_HEADING}", file=out)
    by_family = _by_family(plan)
    for family, decisions in by_family.items():
        print(f"\n{family}", file=out)
        rows = [("VERSION", "CREATED", "REGION", "IMAGE", "STATUS", "WHY")]
        previous = None
        for d in decisions:
            first = (d.version, d.created) != previous
            previous = (d.version, d.created)
            rows.append((d.version if first else "", d.created[:10] if first else "", d.region, d.image_id,
                         d.status, d.reason))  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[5], file=out)
        print_parameters(plan, out, family)
    for family in families_with_parameters_only(plan, set(by_family)):
        print(f"\n{family} (no managed images)", file=out)
        print_parameters(plan, out, family)
    print("", file=out)
    for region, region_plan in plan.regions.items():
        counts = ", ".join(f"{n} {s}" for s, n in sorted(_statuses(region_plan.decisions).items())) or "no managed AMIs"
        print(f"{region}: {counts}; {region_plan.unmanaged} not managed", file=out)
        if region_plan.blocked:
            print(f"  nothing is disabled or deregistered here: {region_plan.blocked}", file=out)
        for note in region_plan.launch_template_notes:
            print(f"  {note}", file=out)
    actions = plan.summary()["actions"]
    print("Actions a sweep would take: " + (", ".join(f"{n} {a}" for a, n in actions.items()) or "none"), file=out)


def _by_family(plan: SweepPlan) -> dict[str, list[ImageDecision]]:
    """Each family's decisions, by version age, the home region (read, and listed, first) before the others."""
    families: dict[str, list[ImageDecision]] = defaultdict(list)
    for decision in _decisions(plan):
        families[decision.family].append(decision)
    home = next(iter(plan.regions))
    return {
        family: sorted(decisions, key=lambda d: (d.created, d.version, d.region != home, d.region))
        for family, decisions in sorted(families.items())
    }


def _decisions(plan: SweepPlan) -> list[ImageDecision]:
    return [d for region_plan in plan.regions.values() for d in region_plan.decisions]


def _statuses(decisions: list[ImageDecision]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for d in decisions:
        counts[d.status] += 1
    return counts


def _timestamp(value: str) -> datetime:
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
