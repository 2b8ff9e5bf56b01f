"""The "image available" flow: protect a new managed AMI in every DR region, or finish a DR copy.

Reconciles rather than reacts: the scope is one image (a source and its copies, or one copy); every run
reads the live state of that scope and applies only what is missing, so a repeated event changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .clients import ClientFactory
from .events import AmiStateChangeEvent
from .executor import RegionOutcome, apply_actions, run_regions
from .images import Image
from .inventory import describe_image, find_copies, read_image_state
from .planner import DesiredImage, desired_copy, desired_source, plan_copy, plan_finish
from .policy import DrRegion, Match, Policy

logger = Logger(child=True)
metrics = Metrics()


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

    image = describe_image(clients.ec2(region), region, image_id)
    if image is None:
        return _skip(image_id, region, "image not found (deregistered, or never existed)", log, warn=True)
    if image.owner_id != account_id:
        return _skip(image_id, region, f"owned by {image.owner_id}, not this account", log, warn=True)
    if image.state != "available":
        return _skip(image_id, region, f"image is {image.state} now", log)
    if image.made_by_aws_backup:
        return _skip(image_id, region, "made by AWS Backup, which manages it itself", log)

    lineage = image.copied_from
    if region == policy.home_region:
        if lineage:
            return _skip(image_id, region, f"a copy of {lineage[0]} ({lineage[1]}); copies are never copied", log)
        outcome = _protect_source(image, policy, clients)
    else:
        if not lineage:
            return _skip(image_id, region, "not a copy made by this product; DR regions are never a source", log)
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

    def home(outcome: RegionOutcome) -> None:
        outcome.image_id = source.image_id
        _finish(clients.ec2(source.region), source, desired_source(source, match, policy), outcome)

    jobs = {source.region: home}
    for dr in policy.dr_regions_for(match.rule):
        jobs[dr.region] = _copy_job(source, match, dr, policy, clients)
    return _run(source, "protected", match, jobs)


def _copy_job(source: Image, match: Match, dr: DrRegion, policy: Policy, clients: ClientFactory) -> Any:
    def job(outcome: RegionOutcome) -> None:
        ec2 = clients.ec2(dr.region)
        decision = plan_copy(source, match, dr, find_copies(ec2, dr.region, source.image_id), policy)
        outcome.note = decision.note
        if decision.action:
            outcome.status = "copy-started"
            outcome.image_id = apply_actions(ec2, [decision.action], outcome)
        elif decision.existing is None:
            outcome.status = "copy-failed"
            outcome.error = decision.note
        elif decision.existing.state != "available":
            outcome.status, outcome.image_id = "copy-pending", decision.existing.image_id
        else:
            outcome.image_id = decision.existing.image_id
            _finish(ec2, decision.existing, desired_copy(source, match, policy), outcome)

    return job


def _finish_copy(copy: Image, lineage: tuple[str, str], policy: Policy, clients: ClientFactory) -> Outcome:
    source_id, source_region = lineage
    log = {"image_id": copy.image_id, "region": copy.region, "source_image_id": source_id}
    if source_region != policy.home_region:
        return _skip(copy.image_id, copy.region, f"source region {source_region} is not the home region", log)
    source = describe_image(clients.ec2(source_region), source_region, source_id)
    if source is None:
        return _skip(copy.image_id, copy.region, f"source {source_id} no longer exists", log, warn=True)
    match = policy.match(source.name, source.tags, source.creation_date)
    if match is None:
        return _skip(copy.image_id, copy.region, f"source {source_id} is no longer managed", log, warn=True)
    if copy.region not in {r.region for r in policy.dr_regions_for(match.rule)}:
        return _skip(copy.image_id, copy.region, f"{copy.region} is not a DR region of rule {match.rule.name}", log)

    def job(outcome: RegionOutcome) -> None:
        outcome.image_id = copy.image_id
        _finish(clients.ec2(copy.region), copy, desired_copy(source, match, policy), outcome)

    return _run(copy, "finished", match, {copy.region: job})


def _run(image: Image, status: str, match: Match, jobs: dict[str, Any]) -> Outcome:
    regions = run_regions(jobs)
    if any(r.failed for r in regions):
        status = "incomplete"
    return Outcome(image.image_id, image.region, status, family=match.family, version=match.version, regions=regions)


def _finish(ec2: Any, image: Image, desired: DesiredImage, outcome: RegionOutcome) -> None:
    actions = plan_finish(image, read_image_state(ec2, image, desired.sharing), desired)
    apply_actions(ec2, actions, outcome)
    if actions:
        outcome.status = "updated"


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
