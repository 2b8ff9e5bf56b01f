"""EC2 instance launches (via SQS, in batches): usage records, lineage tags, alerts for retired AMIs."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.flows.launches import process_launch_batch
from ami_lifecycle.policy import load_policy

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    policy = load_policy()  # a bad policy fails the whole batch before any AWS call; SQS keeps the messages
    account_id = context.invoked_function_arn.split(":")[4]
    return process_launch_batch(event, policy, ClientFactory(), account_id, context)
