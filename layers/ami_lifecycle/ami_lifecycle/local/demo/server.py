"""The local AWS: a moto server in this process, the environment pointed at it, and the guard against any other."""

from __future__ import annotations

import contextlib
import logging
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import boto3
from moto.server import ThreadedMotoServer

from ami_lifecycle.aws.clients import ClientFactory

from .. import fidelity
from .world import HANDLER_ENV, HOME, LOCALHOST, REGIONS, DemoError, LocalAws


def use_local_aws(endpoint: str) -> ClientFactory:
    """Point every boto3 client of this process at `endpoint`, with fake credentials; clients for the demo.

    Refuses anything but 127.0.0.1: the demo creates and shares AMIs and must never reach a real account.
    """
    if urlparse(endpoint).hostname != LOCALHOST:
        raise DemoError(f"refusing to run: AWS_ENDPOINT_URL would be {endpoint}, not http://{LOCALHOST}:PORT")
    # Anything that could send a client elsewhere or use real credentials goes: profiles, per-service endpoints,
    # session tokens, the setting that makes botocore ignore AWS_ENDPOINT_URL, and ~/.aws.
    for var in list(os.environ):
        if var.startswith("AWS_ENDPOINT_URL_") or var in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        ):
            del os.environ[var]
    no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), LOCALHOST]))
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=HOME,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        NO_PROXY=no_proxy,
        no_proxy=no_proxy,
        MOTO_EC2_LOAD_DEFAULT_AMIS="false",  # else moto adds 1,300 public AMIs and their snapshots
        **HANDLER_ENV,
    )
    boto3.setup_default_session()  # a default session made earlier may hold other settings
    clients = ClientFactory()  # one client per service and region: creating clients is the slow part here
    for service in ("ec2", "kms", "sqs", "events", "dynamodb", "sns", "autoscaling"):  # autoscaling: the sweep
        for region in REGIONS:
            actual = clients.client(service, region).meta.endpoint_url
            if actual.rstrip("/") != endpoint:
                raise DemoError(f"refusing to run: {service} in {region} would call {actual}, not {endpoint}")
    return clients


def reset_local_aws(endpoint: str) -> None:
    """Forget every resource of the local AWS (the backends are shared by everything in this process)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    opener.open(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


@contextlib.contextmanager
def local_aws() -> Iterator[LocalAws]:
    """A moto server on a free port of 127.0.0.1, with the fidelity extension.

    The environment and boto3's default session are restored afterwards, so a caller (a test) is left as it was.
    """
    saved_env, saved_session = dict(os.environ), boto3.DEFAULT_SESSION
    werkzeug_log = logging.getLogger("werkzeug")  # the server logs every request
    saved_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)
    fidelity.install()  # same process as the server: the patches apply to what it serves
    server = ThreadedMotoServer(ip_address=LOCALHOST, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        clients = use_local_aws(endpoint)
        reset_local_aws(endpoint)  # moto's state is per process: start from an empty account
        try:
            yield LocalAws(endpoint, clients)
        finally:
            reset_local_aws(endpoint)
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        boto3.DEFAULT_SESSION = saved_session
        werkzeug_log.setLevel(saved_level)


def repo_root() -> Path:
    """Where template.yaml is: the working directory (make demo), else this checkout."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[5]):
        if (candidate / "template.yaml").is_file():
            return candidate
    raise DemoError("template.yaml not found: run the demo from the repository root (make demo)")
