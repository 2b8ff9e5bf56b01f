"""The policy document: valid documents load, invalid ones fail naming the field."""

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from ami_lifecycle.policy import PolicyError, check_parameter_path, json_schema, load_policy, parse_policy

MINIMAL = """
home_region: us-east-1
dr_regions: [{region: us-west-2}]
managed_images:
  - name: tagged
    select: {tags: {Managed: "true"}}
    family: {tag: Family}
"""


def test_minimal_document_gets_safe_defaults() -> None:
    policy = parse_policy(MINIMAL)

    rule = policy.managed_images[0]
    sharing = policy.sharing_for(rule)
    assert sharing.launch_permissions == [] and sharing.public is False
    assert policy.retention_for(rule).keep_latest == 3
    assert policy.sweep.launch_template_refresh_hours == 24
    assert [r.region for r in policy.dr_regions_for(rule)] == ["us-west-2"]


@pytest.mark.parametrize(
    ("fragment", "field"),
    [
        ("home_region: us-east-1\nmanaged_images: []", "managed_images"),
        (MINIMAL.replace("us-west-2", "mars-1"), "dr_regions.0.region"),
        (
            MINIMAL.replace(
                "{region: us-west-2}",
                "{region: us-west-2, kms_key_id: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd'}",
            ),
            "dr_regions.0",
        ),
        (MINIMAL.replace("family: {tag: Family}", "family: {tag: Family, value: web}"), "managed_images.0.family"),
        (MINIMAL.replace('select: {tags: {Managed: "true"}}', "select: {}"), "managed_images.0.select"),
        (
            MINIMAL.replace('select: {tags: {Managed: "true"}}', "select: {name_pattern: 'web-('}"),
            "managed_images.0.select.name_pattern",
        ),
        (
            MINIMAL.replace("family: {tag: Family}", "family: {tag: Family}\n    dr_regions: [eu-west-1]"),
            "dr_regions: ['eu-west-1'] not listed",
        ),
        (MINIMAL + "    sharing: {accounts: ['1234']}\n", "managed_images.0.sharing.accounts.0"),
        (MINIMAL + "    sharing: {acounts: ['123456789012']}\n", "managed_images.0.sharing.acounts"),
        (MINIMAL.replace("us-west-2", "us-east-1"), "home region"),
        (MINIMAL + "    sharing: {public: true}\n", "allow_public_sharing"),
        (MINIMAL + "sweep: {launch_template_refresh_hours: 0}\n", "sweep.launch_template_refresh_hours"),
        (MINIMAL + "sweep: {launch_template_refresh_hours: 721}\n", "sweep.launch_template_refresh_hours"),
        ("[1, 2]", "must be a mapping"),
        ("home_region: [", "not valid YAML"),
    ],
)
def test_invalid_document_names_the_field(fragment: str, field: str) -> None:
    with pytest.raises(PolicyError) as error:
        parse_policy(fragment, origin="policy.yaml")

    assert field in str(error.value)
    assert str(error.value).startswith("policy.yaml")


def test_public_sharing_needs_both_switches() -> None:
    policy = parse_policy("allow_public_sharing: true\n" + MINIMAL + "    sharing: {public: true}\n")

    assert {"Group": "all"} in policy.sharing_for(policy.managed_images[0]).launch_permissions


def test_rules_match_in_order_and_resolve_family_and_version() -> None:
    policy = parse_policy(
        """
home_region: us-east-1
managed_images:
  - name: named
    select: {name_pattern: '(?P<family>[a-z]+)-(?P<version>\\d+\\.\\d+)'}
    family: {name_group: family}
    version: {name_group: version}
  - name: tagged
    select: {tags: {Managed: "*"}}
    family: {value: fallback}
"""
    )

    named = policy.match("web-1.2", {}, "2026-01-01T00:00:00.000Z")
    tagged = policy.match("whatever", {"Managed": "yes"}, "2026-01-01T00:00:00.000Z")

    assert named is not None and (named.rule.name, named.family, named.version) == ("named", "web", "1.2")
    assert tagged is not None and (tagged.family, tagged.version) == ("fallback", "2026-01-01T00:00:00.000Z")
    assert policy.match("web-1.2.3", {}, "2026") is None  # fullmatch: a longer name is not selected


def test_a_selected_image_without_its_family_tag_is_not_managed() -> None:
    policy = parse_policy(MINIMAL)

    assert policy.match("x", {"Managed": "true"}, "2026") is None
    assert policy.match("x", {"Managed": "true", "Family": "web"}, "2026") is not None


def test_load_policy_reads_policy_file_env(tmp_path, monkeypatch) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(MINIMAL)
    monkeypatch.setenv("POLICY_FILE", str(path))

    assert load_policy().home_region == "us-east-1"


def test_load_policy_without_a_file_says_what_to_set(monkeypatch) -> None:
    monkeypatch.delenv("POLICY_FILE", raising=False)

    with pytest.raises(PolicyError, match="POLICY_FILE"):
        load_policy()


def test_shipped_policy_is_valid() -> None:
    policy = load_policy("policy/policy.yaml")

    assert policy.managed_images


def test_published_json_schema_is_current() -> None:
    published = json.loads(Path("schema/policy.schema.json").read_text())

    assert published == json_schema(), "run `make schema` after changing the policy model"


@pytest.mark.parametrize("path", ["policy/policy.yaml"])
def test_shipped_policy_validates_against_the_published_schema(path: str) -> None:
    jsonschema.validate(yaml.safe_load(Path(path).read_text()), json_schema())


def test_schema_rejects_what_the_model_rejects() -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"home_region": "us-east-1", "managed_images": [], "typo": 1}, json_schema())


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ("defaults: {retention: {keep_latest: true}}", "defaults.retention.keep_latest", "valid integer"),
        ('defaults: {retention: {deregister_after_days: "30"}}', "defaults.retention.deregister_after_days", "integer"),
        ("defaults: {retention: {launched_within_days: 7.5}}", "defaults.retention.launched_within_days", "integer"),
        ("sweep: {dry_run: 1}", "sweep.dry_run", "valid boolean"),
        ('sweep: {dry_run: "no"}', "sweep.dry_run", "valid boolean"),
        ("sweep: {max_deregistrations_per_region: false}", "sweep.max_deregistrations_per_region", "integer"),
        ("defaults: {sharing: {snapshot_permissions: 0}}", "defaults.sharing.snapshot_permissions", "boolean"),
        ('sweep: {summary: "yes"}', "sweep.summary", "valid boolean"),
        ("sweep: {summary: 1}", "sweep.summary", "valid boolean"),
        ('sweep: {snapshot_price_per_gb_month: "0.05"}', "sweep.snapshot_price_per_gb_month", "valid number"),
        ("sweep: {snapshot_price_per_gb_month: true}", "sweep.snapshot_price_per_gb_month", "valid number"),
        ("sweep: {snapshot_price_per_gb_month: -0.01}", "sweep.snapshot_price_per_gb_month", "greater than or equal"),
        ("sweep: {snapshot_price_per_gb_month: .inf}", "sweep.snapshot_price_per_gb_month", "finite number"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_not_converted(extra: str, field: str, message: str) -> None:
    with pytest.raises(PolicyError, match=rf"{field}: Input should be a {message}|{field}: .*{message}"):
        parse_policy(MINIMAL + extra)


def test_launch_templates_are_named_by_id_name_or_tags_and_keep_their_default_unless_asked() -> None:
    policy = parse_policy(
        MINIMAL
        + """launch_templates:
  - {family: web, name: web-asg}
  - {family: web, tags: {Tier: web}, set_default: true}
  - {family: api, id: lt-0123456789abcdef0, regions: [us-west-2]}
"""
    )

    by_name, by_tags, by_id = policy.launch_templates
    assert (by_name.set_default, by_tags.set_default) == (False, True)
    assert policy.launch_template_regions(by_name) == ["us-east-1", "us-west-2"]
    assert policy.launch_template_regions(by_id) == ["us-west-2"]
    assert by_name.selects("lt-1", "web-asg", {}) and not by_name.selects("lt-1", "web-asg-2", {})
    assert by_tags.selects("lt-1", "x", {"Tier": "web", "Team": "a"}) and not by_tags.selects("lt-1", "x", {})
    assert by_id.selects("lt-0123456789abcdef0", "x", {})


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("{family: web}", "launch_templates.0: Value error, set exactly one of id, name, tags"),
        ("{family: web, name: a-b, tags: {Tier: web}}", "set exactly one of id, name, tags"),
        ("{family: web, tags: {}}", "an empty selector would update every template"),
        ("{family: web, id: lt-0123456789abcdef0}", "list exactly that region"),
        ("{family: web, id: lt-0123456789abcdef0, regions: [us-east-1, us-west-2]}", "list exactly that region"),
        ("{family: web, id: template-1, regions: [us-east-1]}", "launch_templates.0.id"),
        ("{family: web, name: web, regions: [eu-west-1]}", "launch_templates.0.regions: ['eu-west-1']"),
        ("{family: web, name: web, set_default: 'yes'}", "launch_templates.0.set_default"),
        ("{family: web, name: web, default: true}", "launch_templates.0.default"),
    ],
)
def test_a_bad_launch_template_entry_is_refused_naming_it(entry: str, field: str) -> None:
    with pytest.raises(PolicyError, match=field.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        parse_policy(MINIMAL + f"launch_templates:\n  - {entry}\n")


def test_parameters_are_published_by_default_under_the_products_path() -> None:
    policy = parse_policy(MINIMAL)

    assert policy.parameters.publish is True and policy.parameters.tier == "Standard"
    assert policy.parameters.name_for("web") == "/ami-lifecycle/web/latest"
    assert policy.parameters.prefix == "/ami-lifecycle/"
    assert policy.parameters.name_for("web server") is None  # not a parameter name: reported, never written
    assert policy.pins == {}


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("parameters: {path: /ami-lifecycle/latest}", "parameters: Value error, path '/ami-lifecycle/latest' must"),
        ("parameters: {path: '/ami/{family}/{family}'}", "must contain {family} exactly once"),
        ("parameters: {path: '/aws/{family}'}", "SSM reserves names beginning with aws or ssm"),
        ("parameters: {path: 'ami/{family}'}", "parameters.path: String should match pattern"),
        ("parameters: {share: true}", "share: true needs tier: Advanced"),
        ("parameters: {share: true, tier: Advanced}", "defaults.sharing names no accounts"),
        ("parameters: {tier: Intelligent-Tiering}", "parameters.tier"),
        ("pins: {web: 1.2.0, '': 2}", "pins"),
        ("parameters: {publish: 'yes'}", "parameters.publish: Input should be a valid boolean"),
    ],
)
def test_bad_parameter_settings_name_the_field(fragment: str, message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        parse_policy(MINIMAL + fragment + "\n")


def test_a_parameter_path_outside_the_stacks_prefix_is_refused() -> None:
    policy = parse_policy(MINIMAL + "parameters: {path: '/images/{family}/latest'}\npins: {web: 1.2.0}\n")

    with pytest.raises(PolicyError, match="not under the stack's parameter path prefix '/ami-lifecycle/'"):
        check_parameter_path(policy, "/ami-lifecycle/")
    check_parameter_path(policy, "/images/")  # under its own prefix: accepted
    assert policy.pins == {"web": "1.2.0"} and policy.parameters.prefix == "/images/"
