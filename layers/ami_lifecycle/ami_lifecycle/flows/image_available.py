"""The "image available" flow: protect a new managed AMI in every DR region, or finish a DR copy.

Reconciles rather than reacts: the scope is one image (a source and its copies, or one copy). The flow reads
that scope (the region read, narrowed), plans (pure), and applies with the one executor, so a repeated event
changes nothing and a redelivered one finishes what an earlier one could not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..act.executor import RegionResult, apply_plan
from ..act.finish import FinishImage
from ..aws.clients import ClientFactory, error_code, is_transient
from ..aws.regions import per_region
from ..model.events import AmiStateChangeEvent
from ..model.image import Image
from ..model.inventory import IMAGES, RegionInventory
from ..plan.current import Candidate, event_candidate
from ..plan.image_available import RegionStep, plan_copy_finish, plan_source
from ..plan.parameters import NOT_OURS, plan_event_parameter
from ..policy import Match, Policy
from ..read.parameters import read_parameter_tags
from ..read.region import Scope, read_image, read_regions
from .launch_templates import update_after_finish

logger = Logger(child=True)
metrics = Metrics()


@dataclass
class RegionOutcome:
    """What happened in one region. `changes` lists what was applied, even when a later step failed."""

    region: str
    image_id: str | None = None
    status: str = "up-to-date"
    note: str = ""
    changes: list[str] = field(default_factory=list)
    error: str | None = None
    transient: bool = False
    tags_left_out: str = ""

    @property
    def failed(self) -> bool:
        return self.error is not None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"region": self.region, "image_id": self.image_id, "status": self.status}
        if self.note:
            data["note"] = self.note
        if self.changes:
            data["changes"] = self.changes
        if self.tags_left_out:
            data["tags_left_out"] = self.tags_left_out
        if self.error:
            data |= {"error": self.error, "transient": self.transient}
        return data


@dataclass
class Outcome:
    image_id: str
    region: str
    status: str  # protected | finished | skipped | incomplete
    reason: str = ""
    family: str | None = None
    version: str | None = None
    regions: list[RegionOutcome] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"image_id": self.image_id, "region": self.region, "status": self.status}
        if self.reason:
            data["reason"] = self.reason
        if self.family:
            data |= {"family": self.family, "version": self.version}
        if self.regions:
            data["regions"] = [r.as_dict() for r in self.regions]
        return data


class ProtectionIncomplete(RuntimeError):
    """Some regions failed. Raised after every other region is done, so the invocation is retried
    (and lands in the dead-letter queue if it keeps failing); the retry only redoes what is missing."""

    def __init__(self, outcome: Outcome) -> None:
        failed = [r for r in outcome.regions if r.failed]
        super().__init__(
            f"{outcome.image_id}: {len(failed)} of {len(outcome.regions)} regions failed: "
            + "; ".join(f"{r.region}: {r.error}" for r in failed)
        )
        self.outcome = outcome


def handle_image_available(
    event: AmiStateChangeEvent, policy: Policy, clients: ClientFactory, account_id: str
) -> Outcome:
    image_id, region = event.detail.image_id, event.region
    log = {"image_id": image_id, "region": region}
    if event.detail.state != "available":
        return _skip(image_id, region, f"state is {event.detail.state}, not available", log)
    if event.account != account_id:
        return _skip(image_id, region, f"event from account {event.account}, not this account", log)
    if region != policy.home_region and policy.dr_region(region) is None:
        return _skip(image_id, region, "region is neither the home region nor a DR region", log)

    image = read_image(clients, region, image_id)
    if image is None:
        return _skip(image_id, region, "image not found (deregistered, or never existed)", log, warn=True)
    if image.owner_id != account_id:
        return _skip(image_id, region, f"owned by {image.owner_id}, not this account", log, warn=True)
    if image.state != "available":
        return _skip(image_id, region, f"image is {image.state} now", log)
    if image.made_by_aws_backup:
        return _skip(image_id, region, "made by AWS Backup, which manages it itself", log)

    if region == policy.home_region:
        if lineage := image.copied_from:
            return _skip(image_id, region, f"a copy of {lineage[0]} ({lineage[1]}); copies are never copied", log)
        outcome = _protect_source(image, policy, clients)
    else:
        # A copy by its lineage tags or, whoever made it, by EC2's ancestry: a copy of a managed source is adopted.
        if not (lineage := image.copy_of):
            return _skip(image_id, region, "not a copy; DR regions are never a source", log)
        outcome = _finish_copy(image, lineage, policy, clients)

    if outcome.status != "skipped":
        _record(outcome)
    if outcome.status == "incomplete":
        raise ProtectionIncomplete(outcome)
    return outcome


def _protect_source(source: Image, policy: Policy, clients: ClientFactory) -> Outcome:
    match = policy.match(source.name, source.tags, source.creation_date)
    if match is None:
        return _skip(
            source.image_id,
            source.region,
            "not selected by any managed_images rule",
            {"image_id": source.image_id, "region": source.region, "image_name": source.name},
        )
    scopes = {dr.region: Scope(copies_of=source.image_id) for dr in policy.dr_regions_for(match.rule)}
    inventories = read_regions(clients, scopes)
    copies = {region: list(i.images.values()) for region, i in inventories.items() if i.readable}
    steps = plan_source(source, match, policy, copies)
    unread = [_unread_outcome(i) for i in inventories.values() if not i.readable]
    return _apply(source, "protected", match, steps, clients, unread, list(scopes), source.creation_date, policy)


def _finish_copy(copy: Image, lineage: tuple[str, str], policy: Policy, clients: ClientFactory) -> Outcome:
    source_id, source_region = lineage
    log = {"image_id": copy.image_id, "region": copy.region, "source_image_id": source_id}
    if source_region != policy.home_region:
        return _skip(copy.image_id, copy.region, f"source region {source_region} is not the home region", log)
    source = read_image(clients, source_region, source_id)
    if source is None:
        return _skip(copy.image_id, copy.region, f"source {source_id} no longer exists", log, warn=True)
    match = policy.match(source.name, source.tags, source.creation_date)
    if match is None:
        return _skip(copy.image_id, copy.region, f"source {source_id} is no longer managed", log, warn=True)
    if copy.region not in {r.region for r in policy.dr_regions_for(match.rule)}:
        return _skip(copy.image_id, copy.region, f"{copy.region} is not a DR region of rule {match.rule.name}", log)
    steps = [plan_copy_finish(copy, source, match, policy)]
    return _apply(copy, "finished", match, steps, clients, [], [], source.creation_date, policy)


def _apply(
    image: Image,
    status: str,
    match: Match,
    steps: list[RegionStep],
    clients: ClientFactory,
    unread: list[RegionOutcome],
    order_after: list[str],
    created: str,
    policy: Policy,
) -> Outcome:
    results = apply_plan(clients, {step.region: step.actions for step in steps})
    regions = [_region_outcome(step, results.get(step.region)) for step in steps] + unread
    # Each image finished now moves its region's parameter within the same invocation (the version's creation
    # is its source's, for the source and each of its copies).
    finished = {
        o.region: event_candidate(action.image, match.family, match.version, created)
        for step, o in zip(steps, regions, strict=False)
        if not o.failed
        for action in step.actions
        if isinstance(action, FinishImage) and action.image.state == "available"
    }
    move_parameters(finished, {o.region: o for o in regions}, policy, clients)
    # ... and the launch templates the policy names there (the same images: finished, available).
    done = [a.image for s in steps for a in s.actions if isinstance(a, FinishImage) and a.image.region in finished]
    _update_templates(regions, done, policy, match, created, clients)
    order = [image.region, *order_after]
    regions.sort(key=lambda r: order.index(r.region) if r.region in order else len(order))
    if any(r.failed for r in regions):
        status = "incomplete"
    return Outcome(image.image_id, image.region, status, family=match.family, version=match.version, regions=regions)


def move_parameters(
    finished: dict[str, Candidate], outcomes: dict[str, RegionOutcome], policy: Policy, clients: ClientFactory
) -> None:
    """Per region: read the family parameter's tags (one call), and write it if the finished image is newer."""
    if not finished or not policy.parameters.publish:
        return
    family = next(iter(finished.values())).family
    name = policy.parameters.name_for(family)
    if name is None:
        logger.warning("no parameter: the family name cannot be part of one", extra={"family": family})
        return

    def plan(region: str, image: Candidate) -> tuple[str, Any]:
        try:
            return "", plan_event_parameter(image, read_parameter_tags(clients.ssm(region), name), policy)
        except Exception as e:  # reported in the region's outcome; the retry reads again
            return f"{error_code(e)}: {e}", (None, None)

    planned = per_region(finished, plan)
    results = apply_plan(clients, {r: [action] for r, (_, (_, action)) in planned.items() if action is not None})
    for region, (error, (decision, _)) in planned.items():
        outcome, result = outcomes[region], results.get(region)
        if decision is not None and decision.status == NOT_OURS:
            logger.warning(f"parameter {name} left alone: not created by the product", extra={"region": region})
            metrics.add_metric(name="ParametersNotOurs", unit=MetricUnit.Count, value=1)
        if result is not None:
            outcome.changes += result.changes
            if result.error is None:
                metrics.add_metric(name="ParametersMoved", unit=MetricUnit.Count, value=1)
        failure = error or (result.error if result is not None else None)
        if failure:
            outcome.status, outcome.error = "failed", f"parameter {name}: {failure}"
            logger.error("parameter not moved", extra={"region": region, "parameter": name, "error": failure})
        elif decision is not None:
            outcome.note = "; ".join(n for n in (outcome.note, f"parameter {name}: {decision.reason}") if n)


def _update_templates(
    regions: list[RegionOutcome],
    finished: list[Image],
    policy: Policy,
    match: Match,
    created: str,
    clients: ClientFactory,
) -> None:
    """Once an image is finished in its region, the launch templates the policy names there may name it."""
    templates = update_after_finish(clients, policy, match, created, finished)
    for region in regions:
        result, error = templates.results.get(region.region), templates.errors.get(region.region)
        region.changes += result.changes if result else []
        if templates.notes.get(region.region):
            region.note = "; ".join(n for n in (region.note, *templates.notes[region.region]) if n)
        if result is not None and result.error is not None:
            error, region.transient = result.error, result.transient
        elif error is not None:
            region.transient = True  # a read that failed: the retry reads again
        if error is not None and not region.failed:
            region.status, region.error = "failed", error


def _region_outcome(step: RegionStep, result: RegionResult | None) -> RegionOutcome:
    outcome = RegionOutcome(step.region, step.image_id, step.status, step.note, error=step.error)
    outcome.tags_left_out = step.tags_left_out
    if step.tags_left_out:
        logger.warning(
            "tags left out", extra={"region": step.region, "image_id": step.image_id, "left_out": step.tags_left_out}
        )
    if result is None:
        return outcome
    outcome.changes = result.changes
    if result.created_ids:
        outcome.image_id = result.created_ids[0]
    if result.error is not None:
        outcome.status, outcome.error, outcome.transient = "failed", result.error, result.transient
        extra = {"region": step.region, "image_id": outcome.image_id, "error": result.error, "applied": result.changes}
        logger.error("region failed", extra=extra)
    elif result.changed and step.status == "up-to-date":
        outcome.status = "updated"
    return outcome


def _unread_outcome(inventory: RegionInventory) -> RegionOutcome:
    error = inventory.errors[IMAGES]
    outcome = RegionOutcome(inventory.region, status="failed", error=f"{error_code(error)}: {error}")
    outcome.transient = is_transient(error)
    logger.error("region failed", extra={"region": inventory.region, "error": outcome.error, "applied": []})
    return outcome


def _skip(image_id: str, region: str, reason: str, log: dict[str, Any], warn: bool = False) -> Outcome:
    (logger.warning if warn else logger.info)(f"skipped: {reason}", extra=log | {"reason": reason})
    metrics.add_metric(name="ImagesSkipped", unit=MetricUnit.Count, value=1)
    return Outcome(image_id, region, "skipped", reason)


def _record(outcome: Outcome) -> None:
    metric = {"protected": "ImagesProtected", "finished": "CopiesFinished", "incomplete": "ImagesIncomplete"}
    metrics.add_metric(name=metric[outcome.status], unit=MetricUnit.Count, value=1)
    for r in outcome.regions:
        if r.status == "copy-started":
            metrics.add_metric(name="CopiesStarted", unit=MetricUnit.Count, value=1)
        if r.failed:
            metrics.add_metric(name="RegionFailures", unit=MetricUnit.Count, value=1)
    level = logger.error if outcome.status == "incomplete" else logger.info
    level(f"{outcome.status}: {outcome.image_id} ({outcome.family} {outcome.version})", extra=outcome.as_dict())
