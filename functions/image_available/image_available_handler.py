"""EC2 AMI State Change (available): copy a new managed AMI to every DR region, or finish a DR copy."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.flows.image_available import handle_image_available
from ami_lifecycle.model.events import InvalidEventError, parse_ami_state_change
from ami_lifecycle.policy import PolicyError, check_parameter_path, load_policy

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
        ami_event = parse_ami_state_change(event)
    except (PolicyError, InvalidEventError) as error:
        logger.error("refused", extra={"error": str(error)})
        metrics.add_metric(name="InvocationsRefused", unit=MetricUnit.Count, value=1)
        raise
    account_id = context.invoked_function_arn.split(":")[4]
    return handle_image_available(ami_event, policy, ClientFactory(), account_id).as_dict()
