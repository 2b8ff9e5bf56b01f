"""Calls a real handler as Lambda would, with a context that names the function, region and account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

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
