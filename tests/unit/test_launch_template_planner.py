"""The launch template planner, pure: which named templates get a version naming their family's current image."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ami_lifecycle.act.launch_templates import CreateTemplateVersion, SetDefaultTemplateVersion
from ami_lifecycle.plan.current import Candidate, Current, Named, choose_current
from ami_lifecycle.plan.launch_templates import MANAGED_TEMPLATE_TAG, TemplateImage, plan_region_updates
from ami_lifecycle.policy import Policy, parse_policy
from ami_lifecycle.read.named_templates import NamedTemplate, NamedTemplates, TemplateVersion

REGION = "us-east-1"
POLICY = """
home_region: us-east-1
managed_images:
  - name: golden
    select: {tags: {Managed: "true"}}
    family: {tag: Family}
launch_templates:
  - {family: web, name: web-asg}
  - {family: web, name: web-batch, set_default: true}
  - {family: api, name: web-batch}
"""
TAGGED = {MANAGED_TEMPLATE_TAG: "true"}


def policy() -> Policy:
    return parse_policy(POLICY)


def candidate(version: str, created: str, image_id: str, **changes: object) -> Candidate:
    fields: dict[str, object] = {"state": "available", "deprecation_time": None, "finished": True} | changes
    return Candidate("web", version, created, image_id, REGION, **fields)  # type: ignore[arg-type]


NEW = candidate("1.1.0", "2026-11-20T00:00:00.000Z", "ami-new")
OLD = candidate("1.0.0", "2026-10-01T00:00:00.000Z", "ami-old")
NEWER = candidate("1.2.0", "2026-11-25T00:00:00.000Z", "ami-newer")


def template(
    name: str = "web-asg",
    default: str | None = "ami-old",
    latest: str | None = None,
    tags: dict[str, str] | None = None,
) -> NamedTemplate:
    latest_version = TemplateVersion(2, latest) if latest is not None else TemplateVersion(1, default)
    return NamedTemplate(REGION, f"lt-{name}", name, TAGGED if tags is None else tags, TemplateVersion(1, default),
                         latest_version)  # fmt: skip


def named(*templates: NamedTemplate, selected: dict[int, list[str]] | None = None) -> NamedTemplates:
    by_name = {t.name: t.template_id for t in templates}
    default_selection = {0: [by_name["web-asg"]] if "web-asg" in by_name else [], 1: [], 2: []}
    return NamedTemplates(REGION, {t.template_id: t for t in templates}, selected or default_selection)


def images(*known: tuple[Candidate, bool]) -> dict[str, TemplateImage]:
    return {c.image_id: TemplateImage("web", Named(c.image_id, c.key, usable)) for c, usable in known}


def current(*candidates: Candidate, pin: str | None = None) -> dict[str, Current]:
    return {"web": choose_current("web", REGION, candidates, pin)}


def test_a_template_naming_an_older_version_gets_a_version_from_its_default() -> None:
    updates = plan_region_updates(policy(), named(template()), current(OLD, NEW), images((OLD, True), (NEW, True)))

    (action,) = updates.actions[REGION]
    assert action == CreateTemplateVersion(REGION, "lt-web-asg", "web-asg", 1, "ami-new", "web", "1.1.0", False)


def test_a_version_already_naming_the_image_is_made_the_default_only_when_asked() -> None:
    # web-batch is named for web (set_default) and for api: it is left alone, so name it for web alone here
    selection = {0: ["lt-web-asg"], 1: ["lt-web-batch"], 2: []}
    templates = named(template(latest="ami-new"), template("web-batch", latest="ami-new"), selected=selection)

    updates = plan_region_updates(policy(), templates, current(OLD, NEW), images((OLD, True), (NEW, True)))

    assert updates.actions[REGION] == [SetDefaultTemplateVersion(REGION, "lt-web-batch", "web-batch", 2, "ami-new")]


def test_a_template_named_for_two_families_is_left_alone() -> None:
    selection = {0: [], 1: ["lt-web-batch"], 2: ["lt-web-batch"]}

    updates = plan_region_updates(policy(), named(template("web-batch"), selected=selection), current(NEW), {})

    assert updates.actions[REGION] == []
    assert "launch template web-batch (lt-web-batch): named for families api, web; left alone" in updates.notes[REGION]


def test_never_backwards_unless_pinned_or_the_named_image_is_unusable() -> None:
    known = images((OLD, True), (NEW, True), (NEWER, True))
    on_newer = named(template(default="ami-newer"))

    assert plan_region_updates(policy(), on_newer, current(OLD, NEW), known).actions[REGION] == []
    pinned = plan_region_updates(policy(), on_newer, current(OLD, NEW, NEWER, pin="1.0.0"), known)
    assert [a.image_id for a in pinned.actions[REGION]] == ["ami-old"]  # type: ignore[attr-defined]
    unusable = images((OLD, True), (NEW, True), (NEWER, False))
    assert len(plan_region_updates(policy(), on_newer, current(OLD, NEW), unusable).actions[REGION]) == 1


def test_nothing_to_name_a_parameter_or_no_image_or_no_tag_leaves_the_template_alone() -> None:
    cases = {
        "has no image to name": (template(), current(candidate("1.1.0", "2026-11-20", "ami-new", state="pending"))),
        "follows that parameter": (template(default="resolve:ssm:/golden/web"), current(NEW)),
        "names no image": (template(default=None), current(NEW)),
        "not tagged": (template(tags={}), current(NEW)),
    }
    for why, (found, currents) in cases.items():
        updates = plan_region_updates(policy(), named(found), currents, {})
        assert updates.actions[REGION] == [], why
        assert any(why in note for note in updates.notes[REGION]), (why, updates.notes[REGION])


def test_an_unreadable_region_updates_nothing_and_says_why() -> None:
    updates = plan_region_updates(policy(), NamedTemplates(REGION, error="Throttling: slow down"), current(NEW), {})

    assert updates.actions[REGION] == []
    assert updates.notes[REGION] == ["launch templates not read, none updated: Throttling: slow down"]


versions = st.sampled_from([OLD, NEW, NEWER])
states = st.sampled_from(["available", "pending", "failed"])


@given(
    chosen=st.lists(st.tuples(versions, states, st.booleans(), st.booleans()), max_size=3),
    default=st.sampled_from(["ami-old", "ami-new", "ami-newer", "ami-foreign", "resolve:ssm:/p", None]),
    latest=st.sampled_from(["ami-old", "ami-new", "ami-newer", None]),
    tagged=st.booleans(),
    usable=st.booleans(),
    pin=st.sampled_from([None, "1.0.0", "1.2.0"]),
)
def test_an_action_only_ever_names_the_current_image_of_a_tagged_template(
    chosen: list[tuple[Candidate, str, bool, bool]],
    default: str | None,
    latest: str | None,
    tagged: bool,
    usable: bool,
    pin: str | None,
) -> None:
    candidates = [
        candidate(c.version, c.created, c.image_id, state=state, finished=finished,
                  deprecation_time=None if live else "2026-11-30T00:00:00.000Z")
        for c, state, finished, live in chosen
    ]  # fmt: skip
    currents = current(*candidates, pin=pin)
    known = images(*[(c, usable) for c in (OLD, NEW, NEWER)])
    found = template(default=default, latest=latest, tags=TAGGED if tagged else {})

    actions = plan_region_updates(policy(), named(found), currents, known).actions[REGION]

    pick = currents["web"].candidate
    for action in actions:
        assert tagged and pick is not None and action.image_id == pick.image_id  # type: ignore[attr-defined]
        assert pick.state == "available"
        assert pin == pick.version or (pick.finished and pick.deprecation_time is None)
        assert default != pick.image_id and not (default or "").startswith("resolve:ssm:")
