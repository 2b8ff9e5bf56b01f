"""Shared test setup: fake credentials, no real endpoints, and the local AWS with the fidelity layer."""

import os

# Before anything makes a boto3 client: never reach a real account.
for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
    os.environ.pop(var, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    MOTO_EC2_LOAD_DEFAULT_AMIS="false",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_SERVICE_NAME="ami-lifecycle",
    POWERTOOLS_METRICS_NAMESPACE="AmiLifecycle",
)
