"""The policy document: which AMIs are managed, how they group into families and versions, where they go,
how long they are kept. Validated before any AWS call."""

from .document import (
    POLICY_FILE_ENV,
    REGION_PATTERN,
    Defaults,
    DrRegion,
    LaunchTemplateUpdates,
    Match,
    Policy,
    PolicyError,
    Retention,
    Rule,
    Selector,
    Sharing,
    SweepSettings,
    TagFilter,
    TagPropagation,
    UsageReports,
)
from .loading import json_schema, load_policy, parse_policy

__all__ = [
    "POLICY_FILE_ENV",
    "REGION_PATTERN",
    "Defaults",
    "DrRegion",
    "LaunchTemplateUpdates",
    "Match",
    "Policy",
    "PolicyError",
    "Retention",
    "Rule",
    "Selector",
    "Sharing",
    "SweepSettings",
    "TagFilter",
    "TagPropagation",
    "UsageReports",
    "json_schema",
    "load_policy",
    "parse_policy",
]
