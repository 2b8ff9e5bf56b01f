"""`python -m ami_lifecycle restore IMAGE_ID --region R`: a retired AMI and its snapshots back from the Recycle Bin."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TextIO

import boto3

from ..aws.clients import ClientFactory, error_code
from ..flows.restore import NotRestorable, restore_image
from ..policy import Policy, PolicyError, load_policy
from .exit_codes import EXIT_BLOCKED, EXIT_OK, EXIT_USAGE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image_id", help="the AMI the sweep deregistered, e.g. ami-0123456789abcdef0")
    parser.add_argument("--region", required=True, help="the region it was deregistered in")
    parser.add_argument("--policy", help="the policy document, for the family's keep tag (default: ami-lifecycle:keep)")
    parser.add_argument(
        "--snapshots",
        default="",
        help="its snapshots, comma-separated, as the sweep's report names them (found without, in most cases)",
    )
    parser.add_argument("--profile", help="AWS profile to act with (default: the usual credential chain)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    policy: Policy | None = None
    try:
        policy = load_policy(args.policy) if args.policy else None
    except PolicyError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    clients = ClientFactory(boto3.Session(profile_name=args.profile))
    try:
        snapshots = tuple(s.strip() for s in args.snapshots.split(",") if s.strip())
        done = restore_image(clients, args.region, args.image_id, policy, datetime.now(UTC), snapshots)
    except NotRestorable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # AccessDenied, throttling: say which call, change nothing more
        print(f"error: {args.image_id} in {args.region}: {error_code(e)}: {e}", file=sys.stderr)
        return EXIT_BLOCKED
    for change in done.changes:
        print(f"  {change}", file=out)
    for failure in done.failures:
        print(f"  FAILED: {failure}", file=out)
    if done.failures:
        print(f"{done.image_id} is not fully restored; run the command again.", file=out)
        return EXIT_BLOCKED
    print(
        f"{done.image_id} is registered in {done.region} with {len(done.snapshots)} snapshots and tagged "
        f"{done.keep_tag}: the sweep keeps it until you remove that tag.",
        file=out,
    )
    return EXIT_OK
