"""Schedule tick: reconcile every managed AMI family in every region (copy, deprecate, retire, clean up)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.aws.sweep_lease import LEASE_MARGIN, SweepLease
from ami_lifecycle.flows.sweep import (
    SweepConfigurationError,
    SweepRequest,
    dry_run_setting,
    recycle_bin_setting,
    run_sweep,
    run_sweep_alone,
)
from ami_lifecycle.policy import PolicyError, check_parameter_path, load_policy
from ami_lifecycle.read.fleet import launch_template_table, usage_reader

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        policy = load_policy()  # before any AWS call: a bad policy stops here, naming the field
        check_parameter_path(policy)  # the parameters must lie where the stack lets it write
        request = parse(event=event or {}, model=SweepRequest)
        dry_run = dry_run_setting(policy, request)
        recycle_bin_days = recycle_bin_setting()
    except (PolicyError, ValidationError, SweepConfigurationError) as error:
        logger.error("refused", extra={"error": str(error)})
        metrics.add_metric(name="InvocationsRefused", unit=MetricUnit.Count, value=1)
        raise
    clients = ClientFactory()
    now = datetime.now(UTC)
    # One sweep at a time: the lease outlasts this invocation's timeout, so a crashed run cannot keep it.
    lease = SweepLease(clients, policy.home_region, holder=context.aws_request_id)
    lasts = timedelta(milliseconds=context.get_remaining_time_in_millis()) + LEASE_MARGIN
    templates = launch_template_table(clients, policy)
    launches = usage_reader(clients, policy)
    outcome = run_sweep_alone(
        lease,
        now,
        lasts,
        lambda: run_sweep(policy, clients, now, dry_run, launches, templates, recycle_bin_days),
    )
    return outcome.as_dict()
