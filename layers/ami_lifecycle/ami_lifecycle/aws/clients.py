"""AWS clients, made inside the invocation and keyed by region, so tests and the demo can inject them."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:  # typed clients from stub packages installed for development only
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_batch import BatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient

# Throttling is a per-API token bucket: retry it with backoff rather than fail the region.
DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
)

TRANSIENT_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ServiceUnavailable",
        "Unavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
    }
)


_shared_session: boto3.Session | None = None
_shared_session_lock = threading.Lock()


def shared_session() -> boto3.Session:
    """One session per process, made on first use: a new session re-reads every service model (~0.2 s per
    client), which a warm Lambda container should pay once, not per invocation."""
    global _shared_session
    with _shared_session_lock:
        if _shared_session is None:
            _shared_session = boto3.Session()
        return _shared_session


class ClientFactory:
    """One client per (service, region), created on first use; safe to share between threads."""

    def __init__(self, session: boto3.Session | None = None, config: Config | None = None) -> None:
        self._session = session or shared_session()
        self._config = config or DEFAULT_CONFIG
        self._clients: dict[tuple[str, str], Any] = {}
        # boto3 sessions are not thread-safe when creating clients.
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        """Any service's client; the product's own code uses the typed accessors below."""
        key = (service, region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(service, region_name=region, config=self._config)  # type: ignore[call-overload]
            return self._clients[key]

    def ec2(self, region: str) -> EC2Client:
        return self.client("ec2", region)  # type: ignore[no-any-return]

    def autoscaling(self, region: str) -> AutoScalingClient:
        return self.client("autoscaling", region)  # type: ignore[no-any-return]

    def batch(self, region: str) -> BatchClient:
        return self.client("batch", region)  # type: ignore[no-any-return]

    def dynamodb(self, region: str) -> DynamoDBClient:
        return self.client("dynamodb", region)  # type: ignore[no-any-return]

    def sns(self, region: str) -> SNSClient:
        return self.client("sns", region)  # type: ignore[no-any-return]

    def ssm(self, region: str) -> SSMClient:
        return self.client("ssm", region)  # type: ignore[no-any-return]


def error_code(error: BaseException) -> str:
    """A short code for a failed call: the AWS error code, or the botocore exception name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    if isinstance(error, BotoCoreError):
        return type(error).__name__
    return type(error).__name__


def is_transient(error: BaseException) -> bool:
    """Worth retrying later: throttling after retries, a region that did not answer, a 5xx."""
    if isinstance(error, ClientError):
        return error_code(error) in TRANSIENT_CODES
    return isinstance(error, BotoCoreError)
