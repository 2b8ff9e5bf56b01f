"""What an AMI usage report says: which other accounts use an AMI shared with them, and how much."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

PENDING, AVAILABLE, ERROR = "pending", "available", "error"
# Report entries' resource types, as the plan names them.
RESOURCE_NAMES = {"ec2:Instance": "instances", "ec2:LaunchTemplate": "launch templates"}


@dataclass(frozen=True)
class UsageEntry:
    account_id: str
    resource_type: str  # ec2:Instance | ec2:LaunchTemplate | imagebuilder:...
    count: int


@dataclass(frozen=True)
class UsageReport:
    report_id: str
    image_id: str
    state: str  # pending | available | error
    created: datetime
    expires: datetime
    state_reason: str = ""
    entries: tuple[UsageEntry, ...] = ()

    def summary(self) -> str:
        """ "used in 3 accounts: 12 instances, 2 launch templates", or "" when nothing uses the AMI."""
        used = [e for e in self.entries if e.count > 0]
        if not used:
            return ""
        accounts = sorted({e.account_id for e in used})
        counts: Counter[str] = Counter()
        for entry in used:
            counts[RESOURCE_NAMES.get(entry.resource_type, entry.resource_type)] += entry.count
        what = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda item: -item[1]))
        return f"used in {len(accounts)} account{'s' if len(accounts) > 1 else ''} ({', '.join(accounts)}): {what}"
