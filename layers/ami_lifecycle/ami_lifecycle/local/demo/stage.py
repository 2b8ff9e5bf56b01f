"""The stage: what the stack deploys (policy, DR key, usage and launch template tables, alert topic, event rules)
on the local AWS, and the real handlers wired to it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ami_lifecycle.aws.launch_template_table import LAUNCH_TEMPLATE_TABLE_ENV
from ami_lifecycle.aws.usage_table import USAGE_TABLE_ENV
from ami_lifecycle.model.image import RECYCLE_TAG, RECYCLE_VALUE

from ...policy import POLICY_FILE_ENV
from .. import fidelity
from ..eventbus import LocalEventBus
from ..invoke import DEFAULT_ACCOUNT_ID
from ..seed import create_kms_key, create_launch_template_table
from .events import EventFlow
from .launches import LaunchResources, create_launch_resources
from .output import handler_logs_to_stderr
from .server import repo_root
from .sweep import Sweeper
from .world import (
    DR_REGIONS,
    HOME,
    KMS_ALIAS,
    LAUNCH_TEMPLATE_TABLE,
    RECYCLE_BIN_DAYS,
    REGIONS,
    WEST,
    LocalAws,
    write_policy,
)


@dataclass(frozen=True)
class Stage:
    """The local AWS with what the stack deploys, and the real handlers wired to it."""

    aws: LocalAws
    kms_key_arn: str
    resources: LaunchResources
    flow: EventFlow
    sweeper: Sweeper
    loggers: tuple[Any, ...]  # the handlers' Powertools loggers

    @contextlib.contextmanager
    def handler_logs(self) -> Iterator[None]:
        """Every handler's warnings and errors on stderr while the story runs."""
        with contextlib.ExitStack() as stack:
            for logger in self.loggers:
                stack.enter_context(handler_logs_to_stderr(logger))
            yield


def set_stage(aws: LocalAws, workdir: Path) -> Stage:
    """The policy, the DR key, the tables and alert topic, the event rules; the handlers that use them."""
    root = repo_root()
    kms_key_arn = create_kms_key(aws.clients.client("kms", WEST), KMS_ALIAS)
    os.environ[POLICY_FILE_ENV] = str(write_policy(workdir, kms_key_arn))
    resources = create_launch_resources(aws)
    create_launch_template_table(aws.clients.client("dynamodb", HOME), LAUNCH_TEMPLATE_TABLE)
    # Imported here, not at the top: Powertools reads its settings from the environment set above (a child
    # Logger made earlier would belong to no service and print plain text).
    from ami_lifecycle.aws.alert_topic import LAUNCH_ALERTS_TOPIC_ENV
    from ami_lifecycle.flows.sweep import DRY_RUN_ENV, RECYCLE_BIN_DAYS_ENV
    from functions.image_available import image_available_handler
    from functions.launch_tracking import launch_tracking_handler
    from functions.sweep import sweep_handler

    from ...cli import main as plan_command

    # As the template's Environment sets them; local_aws() restores the environment afterwards.
    os.environ[USAGE_TABLE_ENV] = resources.table
    os.environ[LAUNCH_TEMPLATE_TABLE_ENV] = LAUNCH_TEMPLATE_TABLE
    os.environ[LAUNCH_ALERTS_TOPIC_ENV] = resources.topic_arn
    os.environ[RECYCLE_BIN_DAYS_ENV] = str(RECYCLE_BIN_DAYS)
    for region in REGIONS:  # the stack's Recycle Bin rules at home, dr-forwarder.yaml's in the DR regions
        for resource_type in ("EC2_IMAGE", "EBS_SNAPSHOT"):
            fidelity.add_recycle_bin_rule(region, resource_type, RECYCLE_BIN_DAYS, {RECYCLE_TAG: RECYCLE_VALUE})

    bus = LocalEventBus(HOME, list(DR_REGIONS), DEFAULT_ACCOUNT_ID, root / "template.yaml", root / "dr-forwarder.yaml")
    flow = EventFlow(bus, image_available_handler.lambda_handler, launch_tracking_handler.lambda_handler)
    sweeper = Sweeper(
        sweep_handler.lambda_handler, plan_command, DRY_RUN_ENV, Path(os.environ[POLICY_FILE_ENV]), resources.table
    )
    loggers = (image_available_handler.logger, launch_tracking_handler.logger, sweep_handler.logger)
    return Stage(aws, kms_key_arn, resources, flow, sweeper, loggers)
