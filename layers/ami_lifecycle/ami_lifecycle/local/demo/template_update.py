"""The demo's launch template update: the policy names a template for the web family, a new web build becomes
available, and the template gets a version with only its image changed (its default stays, as the entry asks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...plan.launch_templates import MANAGED_TEMPLATE_TAG, MANAGED_TEMPLATE_VALUE
from ..seed import register_ami
from .events import EventFlow, complete_copies, statuses
from .output import say
from .world import HOME, Account, LocalAws

UPDATED_TEMPLATE = "web-fleet"
NEW_BUILD = "web-1.4.0"  # after the parameters' story, whose newest build is web-1.3.0
ENTRY = f"launch_templates:\n  - {{family: web, name: {UPDATED_TEMPLATE}, regions: [{HOME}]}}\n"


def template_update(aws: LocalAws, flow: EventFlow, account: Account, policy_file: Path) -> list[str]:
    """Step 17. Returns what went wrong."""
    ec2 = aws.ec2(HOME)
    web = [image_id for build, image_id in account.managed if build.family == "web"][-1]
    data: dict[str, Any] = {
        "ImageId": web,
        "InstanceType": "m7g.large",
        "KeyName": "web-ops",
        "UserData": "IyEvYmluL3NoCnN5c3RlbWN0bCBzdGFydCB3ZWI=",
        "MetadataOptions": {"HttpTokens": "required"},
    }
    tags = [{"Key": MANAGED_TEMPLATE_TAG, "Value": MANAGED_TEMPLATE_VALUE}, {"Key": "Team", "Value": "frontend"}]
    template_id = ec2.create_launch_template(
        LaunchTemplateName=UPDATED_TEMPLATE,
        LaunchTemplateData=data,
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": tags}],
    )["LaunchTemplate"]["LaunchTemplateId"]
    policy_file.write_text(policy_file.read_text(encoding="utf-8") + ENTRY, encoding="utf-8")
    new = register_ami(ec2, NEW_BUILD, {"ami-lifecycle:managed": "true", "Team": "frontend", "BuildId": "build-2001"})
    step = flow.start_step()
    flow.ami_state_change(HOME, new, "available")
    flow.deliver()
    finished = complete_copies(flow)
    versions = sorted(
        ec2.describe_launch_template_versions(LaunchTemplateId=template_id)["LaunchTemplateVersions"],
        key=lambda v: v["VersionNumber"],
    )
    first, *rest = versions
    changed = {k for k in set(first["LaunchTemplateData"]) | set(rest[0]["LaunchTemplateData"] if rest else {})
               if rest and first["LaunchTemplateData"].get(k) != rest[0]["LaunchTemplateData"].get(k)}  # fmt: skip
    default = next(v["VersionNumber"] for v in versions if v["DefaultVersion"])
    say(
        f"17. The policy names launch template {UPDATED_TEMPLATE} ({template_id}) for the web family,",
        f"    tagged {MANAGED_TEMPLATE_TAG}={MANAGED_TEMPLATE_VALUE}: {ENTRY.splitlines()[1].strip()[2:]}",
        f"    {NEW_BUILD} available -> {statuses(step.invocations)};"
        f" its copies finish -> {statuses(finished.invocations)}",
        *(
            f"    version {v['VersionNumber']}: {v['LaunchTemplateData']['ImageId']}"
            f"{' (default)' if v['DefaultVersion'] else ''}  {v.get('VersionDescription') or ''}".rstrip()
            for v in versions
        ),
        f"    version 2 differs from version 1 only in {', '.join(sorted(changed)) or 'nothing'};"
        f" the default stays version {default} (set_default: false)",
        "",
    )
    problems = []
    if len(rest) != 1 or rest[0]["LaunchTemplateData"].get("ImageId") != new or changed != {"ImageId"}:
        problems.append(f"step 17: {UPDATED_TEMPLATE} has no single new version naming only {new}: {versions}")
    if default != 1:
        problems.append(f"step 17: {UPDATED_TEMPLATE}'s default moved to {default}, which the policy did not ask")
    return problems
