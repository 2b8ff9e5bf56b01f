"""Write requirements.lock from a pip installation report (`pip install --dry-run --report`) made for the Lambda
platform: every package the layer ships, pinned, with the sha256 of the very wheel pip chose for that platform.

The layer Makefile's `lock` target runs it; `build-AmiLifecycleLayer` installs the lock in hash-checking mode, so
two builds ship the same files, and a wheel that changed on the index fails the build instead of shipping.
Standard library only: it runs with whatever Python runs the build.
"""

from __future__ import annotations

import json
import sys
from typing import Any

HEADER = """\
# The layer's third-party packages, every one pinned with the hash of its wheel for the Lambda runtime
# (cp{python}, {platform}). Generated from requirements.txt by `make lock`; do not edit by hand.
"""


def lock_lines(report: dict[str, Any]) -> list[str]:
    """One `name==version --hash=sha256:...` line per package, sorted by name."""
    lines = []
    for item in report["install"]:
        metadata, download = item["metadata"], item["download_info"]
        digest = download.get("archive_info", {}).get("hashes", {}).get("sha256")
        if not digest:
            raise SystemExit(f"{metadata['name']}: the report has no sha256 for {download.get('url')}")
        lines.append(f"{metadata['name']}=={metadata['version']} \\\n    --hash=sha256:{digest}")
    return sorted(lines, key=str.lower)


def main(argv: list[str]) -> None:
    python, platform = argv[1], argv[2]
    report = json.load(sys.stdin)
    sys.stdout.write(HEADER.format(python=python.replace(".", ""), platform=platform))
    sys.stdout.write("\n".join(lock_lines(report)) + "\n")


if __name__ == "__main__":
    main(sys.argv)
