"""Calls a real handler as Lambda would, with a context that names the function, region and account."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass
class LocalLambdaContext:
    function_name: str
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def sqs_event(bodies: list[Any], queue_arn: str) -> dict[str, Any]:
    """What Lambda passes a function reading an SQS queue; message ids are m0, m1, ... in order."""
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"handle-{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795300000000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1795300000001",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for i, body in enumerate(bodies)
        ]
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m ami_lifecycle.local.invoke HANDLER EVENT.json`: run a handler in-process, as Lambda would.

    It uses the AWS configuration of the environment (AWS_ENDPOINT_URL, credentials, POLICY_FILE).
    """
    import argparse
    import importlib
    import os
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m ami_lifecycle.local.invoke", description=main.__doc__)
    parser.add_argument("handler", help="module:function, e.g. functions.image_available.image_available_handler")
    parser.add_argument("event", type=Path, help="event JSON file, e.g. events/ami-available.json")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--account", default=DEFAULT_ACCOUNT_ID, help="account id in the function ARN")
    args = parser.parse_args(argv)

    module_name, _, function_name = args.handler.partition(":")
    handler = getattr(importlib.import_module(module_name), function_name or "lambda_handler")
    context = LocalLambdaContext(module_name.rsplit(".", 1)[-1], args.region, args.account)
    result = handler(json.loads(args.event.read_text()), context)
    print(json.dumps(result, default=str))  # one line, after the handler's own log lines: pipe to `tail -1 | jq`
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
