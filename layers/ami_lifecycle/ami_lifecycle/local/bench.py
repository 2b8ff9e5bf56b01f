"""`make bench`: API calls and wall time of the image-available, launch-tracking and sweep flows on the embedded AWS.

Wall times are moto's, in-process: they show how the flow scales, not AWS latency. Call counts are exact. The
sweep's part is bench_sweep.py.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config
from moto import mock_aws

from ami_lifecycle.aws.alert_topic import AlertTopic
from ami_lifecycle.aws.clients import ClientFactory
from ami_lifecycle.aws.usage_table import UsageStore
from ami_lifecycle.flows.image_available import handle_image_available, metrics
from ami_lifecycle.flows.launches import metrics as launch_metrics
from ami_lifecycle.flows.launches import process_launch_batch
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.calls import record_calls
from ami_lifecycle.local.invoke import DEFAULT_ACCOUNT_ID, sqs_event
from ami_lifecycle.local.seed import register_ami
from ami_lifecycle.model.events import parse_ami_state_change
from ami_lifecycle.policy import Policy, parse_policy

from .bench_adoption import adoption_bench
from .bench_sweep import SWEEP_FLEETS, sweep_fleet

HOME = "us-east-1"
DR_POOL = ["us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ca-central-1",
           "ap-northeast-1", "sa-east-1", "eu-north-1", "us-east-2", "ap-south-1"]  # fmt: skip
SNAPSHOTS = (8, 20)


def _policy(dr_regions: int) -> Policy:
    regions = "\n".join(f"  - region: {r}" for r in DR_POOL[:dr_regions])
    return parse_policy(f"""
home_region: {HOME}
dr_regions:
{regions}
defaults:
  sharing: {{accounts: ["111111111111"], snapshot_permissions: true}}
managed_images:
  - name: golden
    select: {{tags: {{"ami-lifecycle:managed": "true"}}}}
    family: {{tag: Family}}
""")


def _event(image_id: str, region: str = HOME) -> dict[str, Any]:
    return {
        "version": "0", "id": "bench", "detail-type": "EC2 AMI State Change", "source": "aws.ec2",
        "account": DEFAULT_ACCOUNT_ID, "time": "2026-11-22T00:00:00Z", "region": region,
        "resources": [], "detail": {"ImageId": image_id, "State": "available"},
    }  # fmt: skip


def _protect(policy: Policy, clients: ClientFactory, image_id: str, region: str = HOME) -> None:
    handle_image_available(parse_ami_state_change(_event(image_id, region)), policy, clients, DEFAULT_ACCOUNT_ID)
    metrics.clear_metrics()  # the handler's decorator would flush them


def calls_per_new_ami() -> None:
    print(f"API calls for one new AMI ({len(SNAPSHOTS)} snapshots, shared with one account)")
    print(f"{'DR regions':>10} {'first event':>12} {'redelivery':>11} {'copy finish':>12}  by action (first event)")
    for dr_regions in (1, 2, 5, 10):
        with mock_aws():
            fidelity.install()
            policy, clients = _policy(dr_regions), ClientFactory()
            image_id = register_ami(
                boto3.client("ec2", HOME), "web", {"ami-lifecycle:managed": "true", "Family": "web"}, SNAPSHOTS
            )
            with record_calls() as first:
                _protect(policy, clients, image_id)
            with record_calls() as again:
                _protect(policy, clients, image_id)
            region, copy_id = fidelity.complete_pending_copies(DR_POOL[0])[0]
            with record_calls() as finish:
                _protect(policy, clients, copy_id, region)
        actions = ", ".join(f"{op} {n}" for op, n in sorted(first.by_operation().items()))
        print(f"{dr_regions:>10} {len(first.calls):>12} {len(again.calls):>11} {len(finish.calls):>12}  {actions}")


def burst(amis: int, dr_regions: int) -> None:
    with mock_aws():
        fidelity.install()
        policy, clients = _policy(dr_regions), ClientFactory(config=Config(retries={"mode": "standard"}))
        ec2 = boto3.client("ec2", HOME)
        ids = [register_ami(ec2, f"app{i}", {"ami-lifecycle:managed": "true", "Family": f"app{i % 10}"},
                            SNAPSHOTS) for i in range(amis)]  # fmt: skip
        durations = []
        with record_calls() as calls:
            start = time.perf_counter()
            for image_id in ids:
                t0 = time.perf_counter()
                _protect(policy, clients, image_id)
                durations.append(time.perf_counter() - t0)
            total = time.perf_counter() - start
        copies = sum(len(boto3.client("ec2", r).describe_images(Owners=["self"])["Images"])
                     for r in DR_POOL[:dr_regions])  # fmt: skip
    quantiles = statistics.quantiles(durations, n=20)
    ops: Counter[str] = calls.by_operation()
    print(f"\nBurst: {amis} new AMIs, {dr_regions} DR regions, one invocation each")
    print(f"  copies made        {copies} (expected {amis * dr_regions})")
    print(
        f"  API calls          {len(calls.calls)} ({len(calls.calls) / amis:.1f} per AMI; CopyImage {ops['CopyImage']})"
    )
    print(f"  wall time          {total:.2f} s (per invocation: p50 {statistics.median(durations) * 1000:.0f} ms, "
          f"p95 {quantiles[18] * 1000:.0f} ms, moto in-process)")  # fmt: skip


def launch_batch(launches: int, amis: int) -> None:
    """One SQS batch of instance launches (a `running` event each) spread over a few managed AMIs."""
    with mock_aws():
        fidelity.install()
        policy, clients = _policy(1), ClientFactory()
        dynamodb = boto3.client("dynamodb", HOME)
        dynamodb.create_table(
            TableName="usage",
            KeySchema=[{"AttributeName": "image_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "image_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ec2 = boto3.client("ec2", HOME)
        instance_ids = []
        for i in range(amis):
            image_id = register_ami(ec2, f"app{i}", {"ami-lifecycle:managed": "true", "Family": f"app{i}"})
            _protect(policy, clients, image_id)
            reservation = ec2.run_instances(ImageId=image_id, MinCount=launches // amis, MaxCount=launches // amis)
            instance_ids += [i["InstanceId"] for i in reservation["Instances"]]
        events = [
            {"version": "0", "id": f"e{n}", "detail-type": "EC2 Instance State-change Notification",
             "source": "aws.ec2", "account": DEFAULT_ACCOUNT_ID, "time": "2026-11-22T00:00:00Z", "region": HOME,
             "resources": [], "detail": {"instance-id": instance_id, "state": "running"}}
            for n, instance_id in enumerate(instance_ids)
        ]  # fmt: skip
        batch = sqs_event(events, f"arn:aws:sqs:{HOME}:{DEFAULT_ACCOUNT_ID}:launch-events")
        usage = UsageStore(clients, HOME, "usage")
        with record_calls() as calls:
            start = time.perf_counter()
            response = process_launch_batch(batch, policy, clients, DEFAULT_ACCOUNT_ID, usage=usage,
                                            alerts=AlertTopic(clients, topic_arn=""))  # fmt: skip
            total = time.perf_counter() - start
        launch_metrics.clear_metrics()
    ops = ", ".join(f"{op} {n}" for op, n in sorted(calls.by_operation().items()))
    print(f"\nLaunch batch: {len(instance_ids)} launches of {amis} AMIs in one SQS batch")
    print(f"  API calls          {len(calls.calls)} ({ops})")
    print(f"  failed messages    {len(response['batchItemFailures'])}")
    print(f"  wall time          {total:.2f} s (moto in-process)")


def main() -> int:
    calls_per_new_ami()
    burst(amis=200, dr_regions=2)
    launch_batch(launches=1000, amis=5)
    for shape in SWEEP_FLEETS:
        sweep_fleet(shape)
    adoption_bench()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
