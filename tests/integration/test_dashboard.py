"""The operator's dashboard in template.yaml shows metrics the code emits: the EMF that real handler runs print
(Powertools Metrics, on stdout) is compared with the dashboard body - namespace, metric names, dimensions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from ami_lifecycle.aws.alert_topic import LAUNCH_ALERTS_TOPIC_ENV
from ami_lifecycle.aws.usage_table import USAGE_TABLE_ENV
from ami_lifecycle.local import fidelity
from ami_lifecycle.local.eventbus import load_template
from ami_lifecycle.local.invoke import LocalLambdaContext
from functions.image_available import image_available_handler
from functions.launch_tracking import launch_tracking_handler
from functions.sweep import sweep_handler

from .conftest import HOME, WEST, Account, ami_event
from .sweep_world import RETENTION, TABLE, World
from .test_launch_tracking import launch_event, sqs_batch

# (namespace, metric name, dimensions): a dimension's value is None where the dashboard searches over it
Metric = tuple[str, str, frozenset[tuple[str, str | None]]]
# What the operator's view must show (the dead-letter queues are checked on their own).
REQUIRED = {
    "CopiesStarted", "CopiesFinished", "ImagesAdopted", "AmisProtected", "AmisDeprecated", "AmisDisabled",
    "AmisDeregistered", "GiBReclaimed", "RegionsBlocked", "SweepFailures", "LaunchesFromRetiredAmis",
}  # fmt: skip


def template() -> dict[str, Any]:
    return load_template("template.yaml")


def dashboard_body() -> dict[str, Any]:
    (dashboard,) = [r for r in template()["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${AWS::Region} and ${Resource.Attribute}: the logical id stands for the value CloudFormation substitutes
    body = re.sub(r"\$\{AWS::Region\}", HOME, body)
    return dict(json.loads(re.sub(r"\$\{([A-Za-z0-9]+)\.QueueName\}", r"queue:\1", body)))


def dashboard_metrics() -> set[Metric]:
    found: set[Metric] = set()
    for widget in dashboard_body()["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            if isinstance(entry[0], dict) and "expression" in entry[0]:
                found.add(_searched(entry[0]["expression"]))
                continue
            fields = [f for f in entry if not isinstance(f, dict)]
            namespace, name, *dimensions = fields
            found.add((namespace, name, frozenset(zip(dimensions[::2], dimensions[1::2], strict=True))))
    return found


def _searched(expression: str) -> Metric:
    """SEARCH('{Namespace,Dim1,Dim2} MetricName="X" Dim1="value"', ...): the metric it finds."""
    match = re.fullmatch(r"SEARCH\('\{([^}]+)\} (.*)', '\w+', \d+\)", expression)
    assert match, expression
    namespace, *names = match.group(1).split(",")
    terms = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
    return namespace, terms.pop("MetricName"), frozenset((n, terms.get(n)) for n in names)


def emitted(stdout: str) -> set[Metric]:
    """Every metric of the EMF documents printed on stdout, with its dimensions' values."""
    found: set[Metric] = set()
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((d, str(document[d])) for d in dimension_set)
                found |= {(directive["Namespace"], m["Name"], dimensions) for m in directive["Metrics"]}
    return found


def shown(metric: Metric, emitted_metrics: set[Metric]) -> bool:
    """Whether the code emits what the dashboard asks for (a searched dimension matches any value)."""
    namespace, name, dimensions = metric
    for e_namespace, e_name, e_dimensions in emitted_metrics:
        values = dict(e_dimensions)
        same = (e_namespace, e_name) == (namespace, name) and {d for d, _ in dimensions} == set(values)
        if same and all(v is None or values[d] == v for d, v in dimensions):
            return True
    return False


@pytest.fixture
def runs(account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """Real handler runs, their stdout: new AMIs and their copies (one region failing), launches from a deprecated
    AMI, a refused event, and the sweep in dry run and for real over versions kept and removed."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(account.policy_text.replace("defaults:\n", "defaults:\n" + RETENTION, 1))
    monkeypatch.setenv("POLICY_FILE", str(policy_file))
    topic = boto3.client("sns", region_name=HOME).create_topic(Name="alerts")["TopicArn"]
    monkeypatch.setenv(LAUNCH_ALERTS_TOPIC_ENV, topic)
    monkeypatch.setenv(USAGE_TABLE_ENV, TABLE)
    world = World(account)
    capsys.readouterr()
    for _ in image_available_runs(account, world):
        pass
    launch_tracking_run(account, world)
    sweep_runs(world, monkeypatch)
    return capsys.readouterr().out


def image_available_runs(account: Account, world: World) -> Iterator[None]:
    def invoke(event: dict[str, Any]) -> Any:
        return image_available_handler.lambda_handler(event, LocalLambdaContext("image-available", HOME))

    for days, version in ((100, "1.0.0"), (80, "1.1.0"), (60, "1.2.0"), (40, "1.3.0")):
        image_id = world.version(f"web-{version}", days_ago=days, protect=False)
        world.built.append(image_id)
        yield invoke(ami_event(image_id))
    for region, copy_id in fidelity.complete_pending_copies():
        yield invoke(ami_event(copy_id, region))
    account.faults.fail("CopyImage", "UnauthorizedOperation", region=WEST)
    with pytest.raises(RuntimeError):  # one region failed: the event is retried
        invoke(ami_event(world.version("api-1.0.0", days_ago=1, protect=False)))
    with pytest.raises(ValueError):
        invoke({"detail-type": "not an AMI event"})


def launch_tracking_run(account: Account, world: World) -> None:
    deprecated = world.built[2]  # a version retention keeps, deprecated by hand
    fidelity.set_deprecation_time(deprecated, world.now - timedelta(days=1), HOME)
    reservation = account.ec2(HOME).run_instances(ImageId=deprecated, MinCount=1, MaxCount=1)
    event = sqs_batch([launch_event(reservation["Instances"][0]["InstanceId"])])
    launch_tracking_handler.lambda_handler(event, LocalLambdaContext("launch-tracking", HOME))
    account.ec2(HOME).terminate_instances(InstanceIds=[reservation["Instances"][0]["InstanceId"]])


def sweep_runs(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dry run, then for real: the oldest version (deprecated, no one uses it) goes; a launch template keeps
    the next one."""
    for image_id in world.built[:2]:
        for region, held in [(HOME, image_id), *world.copies(image_id).items()]:
            fidelity.set_deprecation_time(held, world.now - timedelta(days=11), region)
            fidelity.add_usage_report(held, region, world.now - timedelta(days=1))
    world.ec2().create_launch_template(LaunchTemplateName="old", LaunchTemplateData={"ImageId": world.built[1]})
    context = LocalLambdaContext("sweep", HOME)
    monkeypatch.delenv("SWEEP_DRY_RUN", raising=False)
    sweep_handler.lambda_handler({}, context)
    monkeypatch.setenv("SWEEP_DRY_RUN", "false")
    result = sweep_handler.lambda_handler({}, context)
    assert result["regions"][HOME]["applied"]["DeregisterImage"] == 1


def test_every_metric_on_the_dashboard_is_one_the_code_emits(runs: str) -> None:
    emitted_metrics = emitted(runs)
    on_dashboard = {m for m in dashboard_metrics() if m[0] != "AWS/SQS"}

    assert on_dashboard and {m for m in on_dashboard if not shown(m, emitted_metrics)} == set()
    assert {name for _, name, _ in on_dashboard} >= REQUIRED


def test_the_namespace_and_service_are_the_ones_the_functions_are_deployed_with(runs: str) -> None:
    resources = template()["Resources"]
    environment = template()["Globals"]["Function"]["Environment"]["Variables"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    services = {
        r["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        or environment["POWERTOOLS_SERVICE_NAME"]
        for r in functions
    }
    on_dashboard = {m for m in dashboard_metrics() if m[0] != "AWS/SQS"}

    assert {namespace for namespace, _, _ in on_dashboard} == {environment["POWERTOOLS_METRICS_NAMESPACE"]}
    assert {v for _, _, dims in on_dashboard for d, v in dims if d == "service"} <= services
    # the runs above were made with the deployed settings
    assert {(ns, dict(dims).get("service")) for ns, _, dims in emitted(runs)} == {
        (environment["POWERTOOLS_METRICS_NAMESPACE"], environment["POWERTOOLS_SERVICE_NAME"])
    }


def test_the_dead_letter_queues_on_the_dashboard_are_the_stacks() -> None:
    resources = template()["Resources"]
    queues = {m for m in dashboard_metrics() if m[0] == "AWS/SQS"}
    on_failure = resources["ImageAvailableFunction"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]
    dead_letter = {
        logical_id(on_failure["OnFailure"]["Destination"]),
        logical_id(resources["LaunchEventsQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]),
    }

    assert queues == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", frozenset({("QueueName", f"queue:{q}")})) for q in dead_letter
    }
    assert all(resources[q]["Type"] == "AWS::SQS::Queue" for q in dead_letter)


def logical_id(get_att: dict[str, Any]) -> str:
    """The resource of `!GetAtt Resource.Attribute` (short form) or `Fn::GetAtt: [Resource, Attribute]`."""
    value = get_att["Fn::GetAtt"]
    return str(value.split(".")[0] if isinstance(value, str) else value[0])
