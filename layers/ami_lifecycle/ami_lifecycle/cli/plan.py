"""`python -m ami_lifecycle plan`: the sweep's plan, read-only, with your own AWS credentials.

Reads every region of the policy exactly as the scheduled sweep does and prints, per family and region,
what stays, what is deprecated, disabled or deregistered, and why. Nothing is changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from typing import TextIO

import boto3

from ..aws.clients import ClientFactory
from ..flows.sweep import read_and_plan
from ..model.plan import ImageDecision, SweepPlan
from ..policy import PolicyError, load_policy
from ..read.fleet import launch_template_table, usage_reader
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
    parser.add_argument("--json", action="store_true", help="print the plan as JSON lines, one per image")


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
    result = read_and_plan(policy, clients, now, launches, templates, args.recycle_bin_days)
    if args.json:
        for decision in _decisions(result):
            print(json.dumps(decision.__dict__ | {"protections": [p.kind for p in decision.protections]}), file=out)
    else:
        print_plan(result, out)
    return EXIT_BLOCKED if any(p.blocked for p in result.regions.values()) else EXIT_OK


def print_plan(plan: SweepPlan, out: TextIO) -> None:
    """One table per family: each version in each region, what happens to it and why."""
    print(f"Plan as of {plan.now:%Y-%m-%d %H:%M} UTC (read-only: nothing was changed)", file=out)
    families: dict[str, list[ImageDecision]] = defaultdict(list)
    for decision in _decisions(plan):
        families[decision.family].append(decision)
    for family, decisions in sorted(families.items()):
        print(f"\n{family}", file=out)
        rows = [("VERSION", "CREATED", "REGION", "IMAGE", "STATUS", "WHY")]
        previous = None
        home = next(iter(plan.regions))  # the home region is read, and listed, first
        for d in sorted(decisions, key=lambda d: (d.created, d.version, d.region != home, d.region)):
            first = (d.version, d.created) != previous
            previous = (d.version, d.created)
            rows.append((d.version if first else "", d.created[:10] if first else "", d.region, d.image_id,
                         d.status, d.reason))  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[5], file=out)
        print_parameters(plan, out, family)
    for family in families_with_parameters_only(plan, set(families)):
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
