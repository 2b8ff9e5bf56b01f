"""EventBridge routing for local runs: the rules of template.yaml (and dr-forwarder.yaml) in moto.

Each function's rules get an SQS queue as target, so moto's own pattern matcher decides which events reach
which function, exactly as the deployed rules would. Events published in a DR region are matched by the
forwarder's rule there; EventBridge keeps their original `region` when it forwards them to the home bus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as {"Fn::X": value} without resolving them."""


def _cfn_tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        return {name: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: str | Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_CfnLoader)
    return template


@dataclass(frozen=True)
class RuleSpec:
    function: str  # logical id of the target function ("" for the DR forwarder)
    name: str
    pattern: dict[str, Any]


def function_rules(template: dict[str, Any]) -> list[RuleSpec]:
    """EventBridge rules that reach the template's functions: SAM EventBridgeRule events, and
    AWS::Events::Rule resources targeting a queue that a function reads (SAM SQS events)."""
    resources = template.get("Resources", {})
    functions = {k: r for k, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}
    rules = []
    reader_of: dict[str, str] = {}  # queue logical id -> function logical id
    for logical_id, resource in functions.items():
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") == "EventBridgeRule":
                rules.append(RuleSpec(logical_id, f"{logical_id}-{event_name}", event["Properties"]["Pattern"]))
            elif event.get("Type") == "SQS":
                reader_of[event["Properties"]["Queue"]["Fn::GetAtt"][0]] = logical_id
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        for target in resource["Properties"].get("Targets", []):
            queue = target["Arn"].get("Fn::GetAtt", [""])[0] if isinstance(target["Arn"], dict) else ""
            if queue in reader_of:
                rules.append(RuleSpec(reader_of[queue], logical_id, resource["Properties"]["EventPattern"]))
    return rules


def forwarder_rules(template: dict[str, Any]) -> list[RuleSpec]:
    """Rules of the DR forwarder template (plain AWS::Events::Rule resources)."""
    return [
        RuleSpec("", logical_id, resource["Properties"]["EventPattern"])
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Events::Rule"
    ]


def _key(pattern: dict[str, Any]) -> str:
    return json.dumps(pattern, sort_keys=True)


class LocalEventBus:
    """Default buses of the home and DR regions, with the deployed rules, delivering into per-function queues."""

    def __init__(
        self,
        home_region: str,
        dr_regions: list[str],
        account_id: str,
        template: str | Path = "template.yaml",
        forwarder: str | Path = "dr-forwarder.yaml",
    ) -> None:
        self.account_id = account_id
        self._queues: dict[tuple[str, str], str] = {}  # (region, function) -> queue url
        home_rules = function_rules(load_template(template))
        forwarded = {_key(r.pattern) for r in forwarder_rules(load_template(forwarder))}
        for rule in home_rules:
            self._route(home_region, rule, rule.function)
            # A DR region forwards the events its forwarder rule matches to the home bus, where this rule applies.
            if _key(rule.pattern) in forwarded:
                for region in dr_regions:
                    self._route(region, rule, rule.function)

    def _route(self, region: str, rule: RuleSpec, function: str) -> None:
        sqs = boto3.client("sqs", region_name=region)
        url = sqs.create_queue(QueueName=f"local-{function}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = boto3.client("events", region_name=region)
        events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern))
        events.put_targets(Rule=rule.name, Targets=[{"Id": function, "Arn": arn}])
        self._queues[(region, function)] = url

    def publish(self, region: str, source: str, detail_type: str, detail: dict[str, Any], resources: list[str]) -> None:
        """Emit an event as the AWS service would, in `region`."""
        result = boto3.client("events", region_name=region).put_events(
            Entries=[
                {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "Resources": resources}
            ]
        )
        if result["FailedEntryCount"]:
            raise RuntimeError(f"put_events failed: {result['Entries']}")

    def deliveries(self) -> list[tuple[str, dict[str, Any]]]:
        """Drain every queue: (function logical id, event as EventBridge delivers it)."""
        delivered = []
        for (region, function), url in self._queues.items():
            sqs = boto3.client("sqs", region_name=region)
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for message in messages:
                    event = json.loads(message["Body"])
                    event.setdefault("account", self.account_id)  # moto leaves out the envelope's account
                    delivered.append((function, event))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return delivered
