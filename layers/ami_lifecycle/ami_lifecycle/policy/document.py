"""The policy document: which AMIs are managed, how they group into families, where they go.

One YAML document, validated here before any AWS call. Every model forbids unknown keys so that a
typo fails loudly instead of silently turning a feature off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

POLICY_FILE_ENV = "POLICY_FILE"

REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$"
ACCOUNT_PATTERN = r"^\d{12}$"
ORG_ARN_PATTERN = r"^arn:aws[a-z-]*:organizations::\d{12}:organization/o-[a-z0-9]{10,32}$"
OU_ARN_PATTERN = r"^arn:aws[a-z-]*:organizations::\d{12}:ou/o-[a-z0-9]{10,32}/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$"
KMS_KEY_PATTERN = (
    r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)"
    r"|alias/[A-Za-z0-9/_-]+|(mrk-)?[0-9a-f-]{32,36})$"
)

Region = Annotated[str, Field(pattern=REGION_PATTERN)]
AccountId = Annotated[str, Field(pattern=ACCOUNT_PATTERN)]


class PolicyError(ValueError):
    """The policy document cannot be used; the message names the field."""


class _Strict(BaseModel):
    # strict: a boolean or a string where a number belongs (and the reverse) is refused, not converted
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DrRegion(_Strict):
    """A disaster-recovery region that receives a copy of every managed AMI."""

    region: Region
    kms_key_id: Annotated[str, Field(pattern=KMS_KEY_PATTERN)] | None = Field(
        default=None,
        description="Encrypt copies in this region with this key (id, alias or ARN of a key in this region).",
    )

    @model_validator(mode="after")
    def _key_lives_in_region(self) -> DrRegion:
        # CopyImage needs the key in the destination region; a key ARN of another region never works.
        if self.kms_key_id and self.kms_key_id.startswith("arn:"):
            key_region = self.kms_key_id.split(":")[3]
            if key_region != self.region:
                raise ValueError(
                    f"kms_key_id {self.kms_key_id} is in {key_region}, but copies to {self.region} "
                    f"need a key in {self.region}"
                )
        return self


class Sharing(_Strict):
    """Who may launch managed AMIs (and copy them, with snapshot permissions)."""

    accounts: list[AccountId] = Field(default_factory=list)
    organization_arns: list[Annotated[str, Field(pattern=ORG_ARN_PATTERN)]] = Field(default_factory=list)
    organizational_unit_arns: list[Annotated[str, Field(pattern=OU_ARN_PATTERN)]] = Field(default_factory=list)
    snapshot_permissions: bool = Field(
        default=False,
        description="Also grant createVolumePermission on the snapshots to `accounts` (needed to copy the AMI).",
    )
    public: bool = Field(default=False, description="Make AMIs public. Needs allow_public_sharing: true.")

    @property
    def launch_permissions(self) -> list[dict[str, str]]:
        perms: list[dict[str, str]] = [{"UserId": a} for a in self.accounts]
        perms += [{"OrganizationArn": a} for a in self.organization_arns]
        perms += [{"OrganizationalUnitArn": a} for a in self.organizational_unit_arns]
        if self.public:
            perms.append({"Group": "all"})
        return perms

    @property
    def snapshot_accounts(self) -> list[str]:
        return list(self.accounts) if self.snapshot_permissions else []


class TagFilter(_Strict):
    """Glob patterns over tag keys (case-sensitive); a key passes if it matches include and not exclude."""

    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)

    def apply(self, tags: dict[str, str]) -> dict[str, str]:
        return {
            k: v
            for k, v in tags.items()
            if not k.startswith("aws:")  # reserved: EC2 refuses to set them
            and any(fnmatchcase(k, p) for p in self.include)
            and not any(fnmatchcase(k, p) for p in self.exclude)
        }


class TagPropagation(_Strict):
    to_copies: TagFilter = Field(default_factory=TagFilter, description="Source AMI tags carried onto DR copies.")
    to_snapshots: TagFilter = Field(
        default_factory=TagFilter, description="AMI tags carried onto the AMI's own snapshots."
    )
    to_instances: TagFilter = Field(
        default_factory=lambda: TagFilter(include=[]),
        description="AMI tags carried onto instances launched from it (lineage tags always are).",
    )
    priority: list[str] = Field(
        default_factory=list,
        description="Glob patterns over tag keys: which propagated tags go first when not all fit within EC2's 50 "
        "tags per resource. Order: the product's own tags, then keys matching these globs in the listed order, then "
        "the rest alphabetically; what does not fit is left out with a warning naming it.",
    )


class Retention(_Strict):
    """How versions retire (applied by the scheduled sweep)."""

    keep_latest: int = Field(default=3, ge=1, description="The newest N versions of a family are always kept.")
    keep_days: int = Field(default=0, ge=0, description="Versions younger than this many days are kept.")
    deprecate_after_days: int = Field(
        default=0, ge=0, description="Days after a version is superseded before it is deprecated."
    )
    deregister_after_days: int = Field(
        default=30, ge=1, description="Grace period: days a version stays deprecated before it is deregistered."
    )
    disable_after_days: int | None = Field(
        default=None, ge=0, description="Optional: disable deprecated versions after this many days."
    )
    launched_within_days: int = Field(
        default=30, ge=0, description="A version launched within this many days counts as in use."
    )
    keep_tag: str = Field(default="ami-lifecycle:keep", description="An AMI with this tag key is never retired.")

    @model_validator(mode="after")
    def _disable_before_deregister(self) -> Retention:
        if self.disable_after_days is not None and self.disable_after_days >= self.deregister_after_days:
            raise ValueError("disable_after_days must be smaller than deregister_after_days")
        return self


class ValueSource(_Strict):
    """Where a family name or version comes from: exactly one of tag, name_group, value."""

    tag: str | None = None
    name_group: str | None = None
    value: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ValueSource:
        if sum(x is not None for x in (self.tag, self.name_group, self.value)) != 1:
            raise ValueError("set exactly one of tag, name_group, value")
        return self


class Selector(_Strict):
    """Which AMIs a rule manages. All listed tags must match (value "*" = any value) and the name pattern."""

    tags: dict[str, str] = Field(default_factory=dict)
    name_pattern: str | None = Field(default=None, description="Python regex, matched against the whole name.")

    @field_validator("name_pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression: {e}") from e
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> Selector:
        if not self.tags and not self.name_pattern:
            raise ValueError("select needs tags and/or name_pattern; an empty selector would manage every AMI")
        return self

    def matches(self, name: str, tags: dict[str, str]) -> dict[str, str | None] | None:
        """The name pattern's named groups if this AMI is selected, else None."""
        for key, want in self.tags.items():
            if key not in tags or (want != "*" and tags[key] != want):
                return None
        if self.name_pattern is None:
            return {}
        m = re.fullmatch(self.name_pattern, name or "")
        return m.groupdict() if m else None


class Rule(_Strict):
    """One group of managed AMIs. Rules are tried in order; the first whose selector matches wins."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    select: Selector
    family: ValueSource
    version: ValueSource | None = Field(
        default=None, description="Where the version label comes from; default: the AMI's creation date."
    )
    dr_regions: list[Region] | None = Field(
        default=None, description="Subset of the policy's DR regions for this rule; default: all of them."
    )
    sharing: Sharing | None = None
    tags: TagPropagation | None = None
    retention: Retention | None = None

    @model_validator(mode="after")
    def _groups_exist(self) -> Rule:
        groups = set(re.compile(self.select.name_pattern).groupindex) if self.select.name_pattern else set()
        for field, source in (("family", self.family), ("version", self.version)):
            if source is not None and source.name_group is not None and source.name_group not in groups:
                raise ValueError(
                    f"{field}.name_group {source.name_group!r} is not a named group of select.name_pattern"
                )
        return self


class Defaults(_Strict):
    sharing: Sharing = Field(default_factory=Sharing)
    tags: TagPropagation = Field(default_factory=TagPropagation)
    retention: Retention = Field(default_factory=Retention)


class UsageReports(_Strict):
    """AMI usage reports: how the sweep learns whether other accounts still use a shared AMI before removing it."""

    lag_days: int = Field(
        default=3,
        ge=1,
        le=29,
        description="A report counts only if it was created at least this many days after the AMI was deprecated: "
        "EC2 may miss the last 24 hours of instance use and the last few days of launch template changes.",
    )
    max_age_days: int = Field(
        default=7, ge=1, le=30, description="A report older than this is asked for again (EC2 keeps them 30 days)."
    )
    max_new_per_region: int = Field(
        default=100,
        ge=1,
        le=2000,
        description="Reports created per region and run; EC2 allows 2,000 pending per region and 1 per AMI.",
    )
    image_builder_recipes: bool = Field(
        default=False,
        description="Also count Image Builder image and container recipes (only the newest SDKs document these).",
    )


class SweepSettings(_Strict):
    """How the scheduled sweep applies its plan."""

    dry_run: bool = Field(
        default=False,
        description="Plan and report only. The deployment's SweepDryRun parameter (default true) also forces it.",
    )
    max_deregistrations_per_region: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="At most this many AMIs are deregistered per region per run, the oldest first; 0 = none.",
    )
    launch_template_refresh_hours: int = Field(
        default=24,
        ge=1,
        le=720,
        description="Launch template versions never change, so the sweep keeps the AMIs they name and reads a "
        "template's versions again only when its latest version number moved, or after this many hours (1 to 720), "
        "when a deleted version stops keeping its AMI. A template naming its AMI through a resolve:ssm: parameter "
        "is read every run.",
    )
    usage_reports: UsageReports = Field(default_factory=UsageReports)
    summary: bool = Field(
        default=False,
        description="After a run that changed something (never a dry run), publish a short summary on the stack's "
        "LaunchAlertsTopic: what was deprecated, disabled and deregistered per family and region, and the GiB and "
        "monthly cost reclaimed.",
    )
    snapshot_price_per_gb_month: float = Field(
        default=0.05,
        ge=0,
        le=10,
        allow_inf_nan=False,
        description="EBS snapshot standard-tier price, USD per GB-month, for the cost figures of the plan and the "
        "summary (default: the public list price in us-east-1). The figures use each snapshot's provisioned size, "
        "an upper bound of what is billed (snapshots are billed for the blocks they store).",
    )


# What SSM allows in a parameter name (a path of at most 15 levels, 1,011 characters in all); {family} is filled in.
_PARAMETER_PATH = r"^(/[A-Za-z0-9_.{}-]+){1,15}$"
PARAMETER_NAME_PATTERN = r"^(/[A-Za-z0-9_.-]+){1,15}$"


class Parameters(_Strict):
    """An SSM parameter per family and region naming the family's current image (data type aws:ec2:image)."""

    publish: bool = Field(
        default=True,
        description="Keep the parameters. On by default: standard parameters cost nothing, the product writes "
        "only under its own path and never overwrites a parameter it did not create.",
    )
    path: Annotated[str, Field(pattern=_PARAMETER_PATH, max_length=1000)] = Field(
        default="/ami-lifecycle/{family}/latest",
        description="Parameter name, with {family} once; it must lie under the stack's ParameterPathPrefix.",
    )
    tier: Literal["Standard", "Advanced"] = Field(
        default="Standard", description="Advanced parameters can be shared (and cost a monthly fee); see share."
    )
    share: bool = Field(
        default=False,
        description="Share the parameters through AWS RAM with defaults.sharing's accounts, organizations and "
        "OUs, so consumers resolve them by ARN. Needs tier: Advanced.",
    )

    @model_validator(mode="after")
    def _usable(self) -> Parameters:
        rest = self.path.replace("{family}", "", 1)
        if "{family}" not in self.path or "{" in rest or "}" in rest:
            raise ValueError(f"path {self.path!r} must contain {{family}} exactly once, and no other braces")
        first = self.path.lstrip("/").split("/")[0].lower()
        if first.startswith(("aws", "ssm")):
            raise ValueError(f"path {self.path!r}: SSM reserves names beginning with aws or ssm")
        if self.share and self.tier != "Advanced":
            raise ValueError("share: true needs tier: Advanced (SSM shares only advanced-tier parameters)")
        return self

    @property
    def prefix(self) -> str:
        """The fixed part of the path before the family's level: where the sweep reads them all at once."""
        return self.path.split("{family}")[0].rsplit("/", 1)[0] + "/"

    def name_for(self, family: str) -> str | None:
        """The parameter of a family, or None when the family's name cannot be part of a parameter name."""
        name = self.path.replace("{family}", family)
        return name if re.fullmatch(PARAMETER_NAME_PATTERN, name) and len(name) <= 1011 else None


LAUNCH_TEMPLATE_ID_PATTERN = r"^lt-[0-9a-f]{8,17}$"
LAUNCH_TEMPLATE_NAME_PATTERN = r"^[a-zA-Z0-9().\-/_]{3,128}$"


class LaunchTemplateUpdates(_Strict):
    """Launch templates that get a new version naming a family's current image, once it is finished in their region.

    The new version is the template's default version with only the ImageId changed; it becomes the default
    only when `set_default` is true. Versions are never deleted.
    """

    family: Annotated[str, Field(min_length=1)]
    id: Annotated[str, Field(pattern=LAUNCH_TEMPLATE_ID_PATTERN)] | None = Field(
        default=None, description="One template by id (ids are regional: list its one region in `regions`)."
    )
    name: Annotated[str, Field(pattern=LAUNCH_TEMPLATE_NAME_PATTERN)] | None = Field(
        default=None, description="One template by name, in each region listed."
    )
    tags: dict[str, str] | None = Field(
        default=None, description='Every template carrying all these tags (value "*" = any value), in each region.'
    )
    regions: list[Region] | None = Field(
        default=None, description="Where to look: the home region and/or DR regions; default: all of them."
    )
    set_default: bool = Field(
        default=False, description="Also make the new version the template's default version."
    )

    @model_validator(mode="after")
    def _one_selector(self) -> LaunchTemplateUpdates:
        if sum(x is not None for x in (self.id, self.name, self.tags)) != 1:
            raise ValueError("set exactly one of id, name, tags")
        if self.tags is not None and not self.tags:
            raise ValueError("tags: name at least one tag; an empty selector would update every template")
        if self.id is not None and (self.regions is None or len(self.regions) != 1):
            raise ValueError(f"id {self.id}: a launch template id exists in one region; list exactly that region")
        return self

    def selects(self, template_id: str, name: str, tags: dict[str, str]) -> bool:
        if self.id is not None:
            return template_id == self.id
        if self.name is not None:
            return name == self.name
        return all(key in tags and (want == "*" or tags[key] == want) for key, want in (self.tags or {}).items())

    def describe(self) -> str:
        if self.id is not None:
            return f"id {self.id}"
        if self.name is not None:
            return f"name {self.name}"
        return "tags " + ", ".join(f"{k}={v}" for k, v in sorted((self.tags or {}).items()))


class Policy(_Strict):
    version: Literal[1] = 1
    home_region: Region
    dr_regions: list[DrRegion] = Field(default_factory=list)
    allow_public_sharing: bool = Field(
        default=False, description="Must be true for any rule to set sharing.public; a second, explicit opt-in."
    )
    defaults: Defaults = Field(default_factory=Defaults)
    sweep: SweepSettings = Field(default_factory=SweepSettings)
    managed_images: list[Rule] = Field(min_length=1)
    parameters: Parameters = Field(default_factory=Parameters)
    pins: dict[Annotated[str, Field(min_length=1, max_length=256)], Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description="family: version. Every region's parameter names that version; it is kept and not deprecated "
        "(a deprecation already set is cancelled). Remove the pin to move the parameters forward again.",
    )
    launch_templates: list[LaunchTemplateUpdates] = Field(
        default_factory=list,
        description="Launch templates the product adds a version to when a family's new version is finished.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        names = [r.region for r in self.dr_regions]
        if self.home_region in names:
            raise ValueError(f"dr_regions: {self.home_region} is the home region and cannot be a DR region")
        if len(set(names)) != len(names):
            raise ValueError("dr_regions: a region is listed twice")
        rule_names = [r.name for r in self.managed_images]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError("managed_images: two rules have the same name")
        for i, rule in enumerate(self.managed_images):
            unknown = set(rule.dr_regions or []) - set(names)
            if unknown:
                raise ValueError(f"managed_images.{i}.dr_regions: {sorted(unknown)} not listed in dr_regions")
        if self.parameters.share and not (
            self.defaults.sharing.accounts
            or self.defaults.sharing.organization_arns
            or self.defaults.sharing.organizational_unit_arns
        ):
            raise ValueError("parameters.share: defaults.sharing names no accounts, organizations or OUs to share with")
        public = [r.name for r in self.managed_images if self.sharing_for(r).public]
        if public and not self.allow_public_sharing:
            raise ValueError(
                f"sharing.public is set ({', '.join(public) or 'defaults'}) but allow_public_sharing is not true"
            )
        for i, entry in enumerate(self.launch_templates):
            unknown = set(entry.regions or []) - {self.home_region, *names}
            if unknown:
                raise ValueError(f"launch_templates.{i}.regions: {sorted(unknown)} is neither home nor a DR region")
        return self

    # Effective settings of a rule: its own where set, else the defaults.
    def sharing_for(self, rule: Rule) -> Sharing:
        return rule.sharing or self.defaults.sharing

    def tags_for(self, rule: Rule) -> TagPropagation:
        return rule.tags or self.defaults.tags

    def retention_for(self, rule: Rule) -> Retention:
        return rule.retention or self.defaults.retention

    def dr_regions_for(self, rule: Rule) -> list[DrRegion]:
        if rule.dr_regions is None:
            return list(self.dr_regions)
        return [r for r in self.dr_regions if r.region in rule.dr_regions]

    def launch_template_regions(self, entry: LaunchTemplateUpdates) -> list[str]:
        return list(entry.regions or [self.home_region, *(r.region for r in self.dr_regions)])

    def dr_region(self, name: str) -> DrRegion | None:
        return next((r for r in self.dr_regions if r.region == name), None)

    def match(self, name: str, tags: dict[str, str], creation_date: str) -> Match | None:
        """The first rule selecting this AMI, with its family and version, or None."""
        for rule in self.managed_images:
            groups = rule.select.matches(name, tags)
            if groups is None:
                continue
            family = _resolve(rule.family, tags, groups)
            version = _resolve(rule.version, tags, groups) if rule.version else creation_date
            if family and version:
                return Match(rule=rule, family=family, version=version)
        return None


@dataclass(frozen=True)
class Match:
    rule: Rule
    family: str
    version: str


def _resolve(source: ValueSource, tags: dict[str, str], groups: dict[str, str | None]) -> str | None:
    if source.value is not None:
        return source.value
    if source.tag is not None:
        return tags.get(source.tag) or None
    return groups.get(source.name_group or "") or None
