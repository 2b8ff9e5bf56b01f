"""Command line: `python -m ami_lifecycle plan` prints the sweep's plan, read-only."""

from .plan import EXIT_BLOCKED, EXIT_OK, EXIT_USAGE, main

__all__ = ["EXIT_BLOCKED", "EXIT_OK", "EXIT_USAGE", "main"]
