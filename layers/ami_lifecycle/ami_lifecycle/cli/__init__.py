"""Command line: `python -m ami_lifecycle plan` prints the sweep's plan, read-only; `python -m ami_lifecycle restore`
brings a retired AMI back from the Recycle Bin."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from . import plan, restore
from .exit_codes import EXIT_BLOCKED, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_BLOCKED", "EXIT_OK", "EXIT_USAGE", "main"]


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ami_lifecycle", description="AMI lifecycle, with your own AWS credentials."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan.add_arguments(
        commands.add_parser("plan", help="print the sweep's plan for every family and region; changes nothing")
    )
    restore.add_arguments(
        commands.add_parser("restore", help="restore a retired AMI and its snapshots from the Recycle Bin, and keep it")
    )
    args = parser.parse_args(argv)
    command = plan.run if args.command == "plan" else restore.run
    return command(args, out)
