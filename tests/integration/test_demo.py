"""`make demo` works: run in-process, it protects every build, filters the noise, tracks the launches, lets the
sweep retire what is unused and leaves the process as it was."""

from __future__ import annotations

import os
import re
import socket
from typing import Any

import pytest

from ami_lifecycle.local import demo, fidelity
from ami_lifecycle.local.demo import history

WIDTH = 110
ROW = re.compile(
    r"^(?P<family>\S+)?\s+(?P<version>\d+\.\d+\.\d+)?\s+(?P<region>[a-z]{2}-[a-z]+-\d)\s+(?P<image>ami-[0-9a-f]+)"
    r"\s+(?P<state>\S+)\s+(?P<lineage>\S+)\s+(?P<snap_tags>\d+/\d+)\s+(?P<launch>\d+/\d+)\s+(?P<perms>\S+)"
    r"\s+(?P<key>\S+)$"
)


def table_rows(output: str) -> list[dict[str, str]]:
    """The report's table, with family and version filled in on every row."""
    rows, family, version = [], "", ""
    for line in output.splitlines():
        if m := ROW.match(line):
            row = m.groupdict()
            family, version = row["family"] or family, row["version"] or version
            rows.append(row | {"family": family, "version": version})
    return rows


def instance_rows(output: str) -> list[dict[str, str]]:
    """The launches table: instance, region, AMI label, lineage tags ("-" when none)."""
    rows = []
    for line in output.splitlines():
        if line.startswith("  i-"):
            instance, region, ami, lineage = re.split(r"\s{2,}", line.strip())
            rows.append({"instance": instance, "region": region, "ami": ami, "lineage": lineage})
    return rows


def usage_rows(output: str) -> dict[str, dict[str, str]]:
    """The usage table by image id: AMI label, region, last launch ("... by i-..." or "no record")."""
    section = output.split("Usage table (DynamoDB)", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in section.splitlines():
        if " ami-" in line:
            ami, image, region, last = re.split(r"\s{2,}", line.strip())
            rows[image] = {"ami": ami, "region": region, "last": last}
    return rows


PLAN_ROW = re.compile(
    r"^   \|   (?:(?P<version>\d+\.\d+\.\d+)\s+\d{4}-\d\d-\d\d)?\s+(?P<region>[a-z]{2}-[a-z]+-\d)\s+"
    r"(?P<image>ami-[0-9a-f]+)\s+(?P<status>[a-z]+)\s+(?P<why>.+)$"
)
KEPT_ROW = re.compile(
    r"^ {6}(?P<name>[a-z]+-\d+\.\d+\.\d+)?\s+(?P<region>[a-z]{2}-[a-z]+-\d)\s+(?P<image>ami-[0-9a-f]+)\s+(?P<why>.+)$"
)
RESULT_ROW = re.compile(r"^ {6}(?P<region>[a-z]{2}-[a-z]+-\d)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$")


def plan_rows(output: str) -> dict[str, dict[str, str]]:
    """Step 8's plan, as `python -m ami_lifecycle plan` printed it, by image id; a wrapped WHY joined again. The
    families of the account's history are left out."""
    rows: dict[str, dict[str, str]] = {}
    version, last, family = "", None, ""
    past = {b.family for b in history.PAST_BUILDS}
    for line in output.split("\n8. ", 1)[1].split("\n9. ", 1)[0].splitlines():
        if heading := re.match(r"^   \| ([a-z]+)$", line):
            family, last = heading[1], None
        elif family in past:
            continue
        elif m := PLAN_ROW.match(line):
            version = m["version"] or version
            last = rows[m["image"]] = m.groupdict() | {"version": version}
        elif last is not None and re.match(r"^   \| {20,}\S", line):
            last["why"] += " " + line[5:].strip()
        else:
            last = None
    return rows


def kept_rows(output: str) -> dict[str, dict[str, str]]:
    """Step 10's old versions still registered, by image id: name, region and why."""
    section = output.split("    Kept, though deprecated for 15 days", 1)[1].split("\n11. ", 1)[0]
    rows: dict[str, dict[str, str]] = {}
    name, last = "", None
    for line in section.splitlines()[2:]:  # the heading's end and the table's header
        if m := KEPT_ROW.match(line):
            name = m["name"] or name
            last = rows[m["image"]] = m.groupdict() | {"name": name}
        elif last is not None:
            last["why"] += " " + line.strip()
    return rows


def image_of(rows: list[dict[str, str]], family: str, version: str, region: str) -> str:
    (image,) = [r["image"] for r in rows if (r["family"], r["version"], r["region"]) == (family, version, region)]
    return image


def endpoint_port(output: str) -> int:
    match = re.search(r"http://127\.0\.0\.1:(\d+)", output)
    assert match, output
    return int(match.group(1))


def assert_server_stopped(port: int) -> None:
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_demo_protects_every_build_and_filters_the_noise(capsys: pytest.CaptureFixture[str]) -> None:
    env_before = dict(os.environ)

    status = demo.main()

    out = capsys.readouterr().out
    assert status == 0, out
    assert max(len(line) for line in out.splitlines()) <= WIDTH

    # Every family/version: the source and one copy in each DR region, all complete.
    rows = table_rows(out)
    builds = {(b.family, b.version) for b in demo.MANAGED_BUILDS}
    assert {(r["family"], r["version"]) for r in rows} == builds
    for family, version in builds:
        regions = [r["region"] for r in rows if (r["family"], r["version"]) == (family, version)]
        assert regions == ["us-east-1", "us-west-2", "eu-west-1"], (family, version)
    for row in rows:
        assert (row["state"], row["lineage"], row["launch"], row["perms"]) == ("available", "yes", "3/3", "ok"), row
        tagged, total = row["snap_tags"].split("/")
        assert tagged == total != "0", row
        assert row["key"] == ("ami-dr" if row["region"] == "us-west-2" else "-"), row
    assert len({r["image"] for r in rows}) == len(rows)

    # Noise never reached the handler; the skipped AMIs say why; a re-delivery made no second copy.
    assert "2. Build noise: 11 events (pending, failed, instance state-change) -> 0 delivered, 0 invocations" in out
    assert "4. Copies pending: 14 'pending' events in DR regions -> 0 delivered" in out
    assert "not selected by any managed_images rule" in out
    assert "DR regions are never a source" in out
    assert "DR images before 17, after 17: no second copy" in out  # 2 of them copies of the history
    assert "Totals: 7/7 AMIs protected, 14 copies made, 6 launches tracked, 1 alert" in out
    # 11 of the seeded builds, and the history beyond retention: base 3.0.0 and 3.1.0 with their us-west-2 copies,
    # tools 1.0.0; steps 14-16 deprecate web-1.2.0 twice in 3 regions (before the pin cancels it, after it is removed);
    # deregistered: web-1.1.0 in 3 regions (6 snapshots, 84 GiB) and the 5 of the history (9 snapshots: 8 + 30 GiB
    # for each base image, 16 for tools: 168 GiB)
    assert "        sweep: 22 AMIs deprecated, 8 deregistered (15 snapshots, 252 GiB), 9 old ones kept in use" in out
    assert "34 handler invocations (24 image-available, 2 launch-tracking, 8 sweep), 26 events filtered out" in out
    # the family parameters: per region, moved by the new build's events, rolled back by a pin and forward again
    assert "    each DR region's when its copy is finished: us-east-1 1.3.0, us-west-2 1.2.0, eu-west-1 1.2.0" in out
    assert "    tick -> dry_run=false: 6 actions planned (3 CancelDeprecation, 3 PutImageParameter), 6 applied" in out
    assert "    /ami-lifecycle/web/latest: us-east-1 1.2.0, us-west-2 1.2.0, eu-west-1 1.2.0;\n" in out
    assert "    /ami-lifecycle/web/latest: us-east-1 1.3.0, us-west-2 1.3.0, eu-west-1 1.3.0;\n" in out
    assert "OK:" in out and "FAILED" not in out and "6 launches tracked (tagged, recorded), 1 alert" in out
    # Step 17: a named launch template gets a version with only the image changed, its default left as it was
    assert "web-1.4.0 available -> 1 protected; its copies finish -> 2 finished" in out
    assert "version 2 differs from version 1 only in ImageId; the default stays version 1 (set_default: false)" in out

    assert_adoption_plan(out)
    assert_launches_tracked(out, rows)
    assert_sweep(out, rows)

    # Nothing of the demo stays behind: environment (AWS_ENDPOINT_URL, POLICY_FILE, ...) and the server.
    assert dict(os.environ) == env_before
    assert_server_stopped(endpoint_port(out))


def assert_adoption_plan(out: str) -> None:
    """Step 0: the account's history, and the adoption plan the operator reads before deploying anything."""
    opening = out.split("\n0. ", 1)[1].split("\n1. ", 1)[0]
    assert opening.startswith("Before the product: us-east-1 has base x3, tools x2 (Team legacy, built over 200 days)")
    assert "   python -m ami_lifecycle plan --policy policy/policy.yaml   (no --usage-table yet)" in opening
    lines = [line.removeprefix("   |").strip() for line in opening.splitlines() if line.startswith("   |")]
    assert lines[0] == "Found: families and versions the policy selects"
    # the other tool's copies of base 3.0.0 and 3.1.0 in us-west-2 are members of their versions (EC2's ancestry)
    assert lines[2].split() == ["base", "3.0.0,", "3.1.0,", "3.2.0", "3", "2", "0"]
    assert lines[3].split() == ["tools", "1.0.0,", "1.1.0", "2", "0", "0"]
    # every past build is adopted, and the copies another tool made too, recognised by EC2's ancestry: the versions
    # retention keeps are finished; those beyond it, the copies with their sources, only get the family tag, and retire
    adopted = [re.split(r"\s{2,}", line) for line in lines if re.match(r"(base|tools) +\d\.\d\.\d +us-\S+ +ami-", line)]
    sources = {b: history_ids(out, b) for b in history.PAST_BUILDS}
    kept = {(b.family, b.version) for b in history.newest()}
    assert [(a[0], a[1], a[2], a[4]) for a in adopted] == [
        ("base", "3.0.0", "us-east-1", "source"),
        ("base", "3.0.0", "us-west-2", f"copy of {sources[history.PAST_BUILDS[0]]}"),
        ("base", "3.1.0", "us-east-1", "source"),
        ("base", "3.1.0", "us-west-2", f"copy of {sources[history.PAST_BUILDS[1]]}"),
        ("base", "3.2.0", "us-east-1", "source"),
        ("tools", "1.0.0", "us-east-1", "source"),
        ("tools", "1.1.0", "us-east-1", "source"),
    ]
    assert all(a[5] == ("finished; kept" if (a[0], a[1]) in kept else "family tag; retiring") for a in adopted)
    assert "7 images (5 sources, 2 copies) carry none of the product's tags yet:" in lines
    finished = "2 in versions retention keeps are finished (lineage and snapshot tags, sharing as the policy says);"
    assert finished in lines
    copies = [
        line.split()[:2] + line.split()[3:]
        for line in lines
        if re.match(r"(base|tools) .* (us-west-2|eu-west-1)$", line)
    ]
    assert copies == [["base", "3.2.0", "eu-west-1"], ["base", "3.2.0", "us-west-2"],
                      ["tools", "1.1.0", "eu-west-1"], ["tools", "1.1.0", "us-west-2"]]  # fmt: skip
    # the versions beyond retention retire after the 14-day grace period; nothing is removed without launch records
    retiring = [line.split() for line in lines if re.match(r"(base|tools) +\d\.\d\.\d +\d +\d{4}-", line)]
    assert [(r[0], r[1]) for r in retiring] == [("base", "3.0.0"), ("base", "3.1.0"), ("tools", "1.0.0")]
    assert all(r[4] > r[3] for r in retiring)  # deregistered from after deprecated
    assert any(
        line.startswith("Nothing is removed today in us-east-1, us-west-2, eu-west-1: launch records") for line in lines
    )
    # 8 + 30 GiB for each base version, 16 for tools, at home; the copies of both base versions in us-west-2; at
    # the list price, 0.05 per GB-month
    reclaim = {line.split()[0]: line.split()[1:] for line in lines if re.match(r"(us-|eu-|total)\S* +\d+ +\d", line)}
    assert reclaim == {
        "us-east-1": ["0", "0.00", "92", "4.60"],
        "us-west-2": ["0", "0.00", "76", "3.80"],
        "eu-west-1": ["0", "0.00", "0", "0.00"],
        "total": ["0", "0.00", "168", "8.40"],
    }
    # step 9 adopts them as planned: 2 finished, 5 tagged in one CreateTags per family and region, and deprecated
    assert (
        "   the history is adopted: 7 images, 2 of versions retention keeps finished (lineage, snapshots), the others\n"
        "      beyond retention tagged with their family (3 CreateTags) and deprecated; 4 copies started\n"
    ) in out
    # step 10: nothing uses them, so they go after the grace period
    assert "    The history beyond retention, adopted and deprecated in step 9: 5/5 images deregistered with" in out


def history_ids(out: str, build: history.PastBuild) -> str:
    """The image id the adoption plan shows for a past build's source."""
    found = re.search(rf"\| +{build.family} +{re.escape(build.version)} +us-east-1 +(ami-\S+) +source", out)
    assert found, build
    return found.group(1)


def assert_launches_tracked(out: str, rows: list[dict[str, str]]) -> None:
    """Step 7: instances carry lineage naming the home source, usage is recorded per managed AMI, one alert."""
    web_new, web_old = image_of(rows, "web", "1.2.0", "us-east-1"), image_of(rows, "web", "1.0.0", "us-east-1")
    web_new_copy = image_of(rows, "web", "1.2.0", "us-west-2")
    # Pending and running of 6 instances delivered as one SQS batch; later 1 more, and its "stopped" filtered.
    assert "7. Launches: 4 x web-1.2.0 (Auto Scaling burst), 1 x its us-west-2 copy, 1 x debug-box-handmade" in out
    assert (
        "12 events (pending, running) -> 12 delivered -> launch-tracking: 1 SQS batch of 12 messages, 0 failed" in out
    )
    assert "simulated: fidelity.set_deprecation_time): web-1.0.0 deprecated since yesterday" in out
    assert (
        "3 events (pending, running, stopped)\n   -> 2 delivered -> launch-tracking: 1 SQS batch of 2 messages" in out
    )

    instances = instance_rows(out)
    assert [(i["region"], i["ami"]) for i in instances] == [("us-east-1", "web 1.2.0")] * 4 + [
        ("us-west-2", "web 1.2.0 copy"),
        ("us-east-1", "unmanaged"),
        ("us-east-1", "web 1.0.0 deprecated"),
    ]
    new_lineage = f"web 1.2.0 <- {web_new} (us-east-1)"  # a DR instance names the source, not the copy
    assert [i["lineage"] for i in instances] == [new_lineage] * 5 + ["-", f"web 1.0.0 <- {web_old} (us-east-1)"]
    by_ami = {i["instance"]: i["ami"] for i in instances}
    deprecated_instance = instances[-1]["instance"]

    usage = usage_rows(out)
    assert len(usage) == 4 and {web_new, web_new_copy, web_old} < usage.keys()
    assert [r["ami"] for r in usage.values()].count("unmanaged") == 1
    for image, record in usage.items():
        if record["ami"] == "unmanaged":
            assert record["last"] == "no record", record
        else:
            instance = record["last"].rsplit(" by ", 1)[1]
            assert by_ami[instance] == record["ami"], (image, record)  # an instance launched from that AMI
    assert usage[web_new_copy]["region"] == "us-west-2" and usage[web_old]["last"].endswith(deprecated_instance)

    assert "Alerts received by the inbox subscribed to ami-lifecycle-launch-alerts: 1" in out
    assert f"  web 1.0.0 ({web_old}, us-east-1): deprecated since " in out
    assert f"    instances: {deprecated_instance}\n" in out


def assert_sweep(out: str, rows: list[dict[str, str]]) -> None:
    """Steps 8-11: a dry run that changes nothing, deprecation, deregistration of what is unused, nothing left."""
    images = {(r["family"], r["version"], r["region"]): r["image"] for r in rows}
    newest = {("web", "1.2.0"), ("api", "2.1.0"), ("batch", "1.0.0")}
    web_old = images["web", "1.0.0", "us-east-1"]
    template = re.search(r"launch template api-server \((lt-[0-9a-f]+)\), in no Auto Scaling group", out)
    assert template, out
    assert "   version 1 launches api-2.0.0, version 2 (the default) api-2.1.0" in out

    # 8: the function with SWEEP_DRY_RUN unset plans only; the plan command shows what it would do.
    assert "8. Schedule tick, new deployment (SweepDryRun is true until you change it)" in out
    # the history is adopted: the 2 images retention keeps finished, the 5 beyond it (base 3.0.0 and 3.1.0 with
    # their us-west-2 copies, tools 1.0.0) tagged with their family, one CreateTags per family and region (3), and
    # deprecated with the seeded builds' 11; the versions it keeps are copied (4 copies)
    assert (
        "   -> dry_run=true: 39 actions planned (3 AddLineageTags, 4 CopyImage, 12 CreateImageUsageReport, 16\n"
        "      DeprecateImage, 2 FinishListedImage, 2 PutImageParameter), 0 applied\n"
    ) in out
    assert "   nothing changed: 30 images, 50 snapshots as they were\n" in out
    assert (
        "   | Actions a sweep would take: 3 AddLineageTags, 4 CopyImage, 12 CreateImageUsageReport, 16 "
        "DeprecateImage,\n"
        "   |     2 FinishListedImage, 2 PutImageParameter\n"
    ) in out
    plan = plan_rows(out)
    assert plan.keys() == set(images.values())
    for (family, version, region), image in images.items():
        row = plan[image]
        assert (row["version"], row["region"]) == (version, region), row
        if (family, version) in newest:
            assert (row["status"], row["why"]) == ("keep", "newest 1 of its family (#1)"), row
        elif image == web_old:  # deprecated by hand in step 7: it waits out its grace period
            assert row["status"] == "retiring" and row["why"].startswith("deprecated since "), row
        else:
            assert row["status"] == "deprecate" and row["why"].startswith("beyond retention: deprecated from"), row

    # 9: applied; every old version deprecated in every region, the hand-deprecated one's copies too.
    assert "9. Dry run turned off (SweepDryRun=false in samconfig.toml): tick" in out
    # and each retiring version, shared with other accounts, is asked about: who still uses it there
    assert (
        "   -> dry_run=false: 39 actions planned (3 AddLineageTags, 4 CopyImage, 12 CreateImageUsageReport, 16\n"
        "      DeprecateImage, 2 FinishListedImage, 2 PutImageParameter), 39 applied\n"
    ) in out
    assert re.search(
        r"   us-west-2: web-1\.0\.0, web-1\.1\.0, api-2\.0\.0, batch-0\.9\.0 deprecated from \S+ \S+ UTC", out
    )
    assert "   web-1.0.0: deprecated by hand in step 7; 2/2 copies follow it now" in out

    # 10: the unused old versions are gone with their snapshots; the ones in use stay, and say why, also the one
    # another account uses (reported once on the alerts topic).
    # 17 deprecated: the seeded builds' 11, web-1.0.0 by hand, and the history's 5
    assert "10. Time passes: 15 days (simulated: fidelity.set_deprecation_time on the 17 deprecated images)" in out
    assert "   and account 111111111111, which the policy shares with, runs 3 x batch-0.9.0\n" in out
    # web-1.1.0 in each region, and the history beyond retention, deprecated in step 9 and used by nothing
    assert (
        "    tick -> dry_run=false: 12 actions planned (8 DeregisterImage, 3 MarkRetired, 1 "
        "ReportUseInOtherAccounts),\n"
        "       12 applied\n"
    ) in out
    results = {m["region"]: m.groups()[1:] for line in out.splitlines() if (m := RESULT_ROW.match(line))}
    # us-east-1: web-1.1.0 (8 + 20 GiB), base 3.0.0 and 3.1.0 (8 + 30 each), tools 1.0.0 (16); us-west-2: web-1.1.0
    # and the two base copies; eu-west-1: web-1.1.0
    assert results == {
        "us-east-1": ("4", "7", "120", "0"), "us-west-2": ("3", "6", "104", "0"), "eu-west-1": ("1", "2", "28", "0"),
    }  # fmt: skip
    assert "    Deregistered with their snapshots, in every region: web-1.1.0\n" in out
    kept = kept_rows(out)
    expected_kept = {
        images[f, v, r]
        for f, v in (("web", "1.0.0"), ("api", "2.0.0"), ("batch", "0.9.0"))
        for r in ("us-east-1", "us-west-2", "eu-west-1")
    }
    assert kept.keys() == expected_kept
    deprecated_instance = instance_rows(out)[-1]["instance"]
    api_old = images["api", "2.0.0", "us-east-1"]
    batch_old = images["batch", "0.9.0", "us-east-1"]
    for image, row in kept.items():
        source = {"web-1.0.0": web_old, "api-2.0.0": api_old, "batch-0.9.0": batch_old}[row["name"]]
        used = {
            "web-1.0.0": f"used by instance {deprecated_instance} (running); launched ",
            "api-2.0.0": f"used by launch-template {template.group(1)} version 1",
            "batch-0.9.0": "used in 1 account (111111111111): 3 instances (usage report amiur-",
        }[row["name"]]
        if row["region"] == "us-east-1":
            assert image == source and row["why"].startswith(used), row
        else:
            assert row["why"].startswith(f"kept with its source {source} ("), row

    # 11: nothing left to do.
    assert "11. Next tick -> dry_run=false: 0 actions planned, 0 applied\n" in out
    # 34 images and 56 snapshots after step 9, less the 8 deregistered with their 15 snapshots in step 10
    assert "    nothing changed: 26 images, 41 snapshots as they were\n" in out

    # 12: a retired version comes back from the Recycle Bin, with its snapshots, and the next tick keeps it.
    web_retired = images["web", "1.1.0", "us-east-1"]
    assert f"12. web-1.1.0 is wanted back: python -m ami_lifecycle restore {web_retired} --region us-east-1\n" in out
    assert f"    | {web_retired} is registered in us-east-1 with 2 snapshots and tagged ami-lifecycle:keep" in out
    kept_by_tag = "web-1.1.0: keep (tagged ami-lifecycle:keep)\n"
    assert f"    next tick -> dry_run=false: 0 actions planned, 0 applied; {kept_by_tag}" in out


def test_demo_fails_loudly_when_copies_never_complete(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One build, and time never passes for the copies: they stay pending, so sharing them never happens.
    monkeypatch.setattr(demo, "MANAGED_BUILDS", demo.MANAGED_BUILDS[:1])
    monkeypatch.setattr(fidelity, "complete_pending_copies", lambda *args, **kwargs: [])
    env_before = dict(os.environ)

    status = demo.main()

    out = capsys.readouterr().out
    assert status == 1, out
    assert "FAILED:" in out
    assert "web 1.0.0 in us-west-2" in out and "state is pending" in out
    assert "Totals: 0/1 AMIs protected" in out
    assert "no available copy of web-1.0.0 in us-west-2 to launch from" in out  # step 7 went on without it
    assert dict(os.environ) == env_before
    assert_server_stopped(endpoint_port(out))


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # the stub records none
def test_demo_fails_when_launch_tracking_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The launch-tracking function fails every message: nothing tagged or recorded, no alert; SQS would retry.
    from functions.launch_tracking import launch_tracking_handler

    def fail_all(event: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    monkeypatch.setattr(launch_tracking_handler, "process_launch_batch", fail_all)

    status = demo.main()

    out = capsys.readouterr().out
    assert status == 1, out
    assert "Totals: 7/7 AMIs protected, 14 copies made, 0 launches tracked, 0 alerts" in out
    assert "launch-tracking: 1 SQS batch of 12 messages, 12 failed" in out
    assert "launch batch of 12 messages failed" in out and "usage of " in out and "alerts for []" in out
    assert all(i["lineage"] == "-" for i in instance_rows(out))


def test_demo_fails_when_the_sweep_ignores_the_dry_run_and_launch_templates(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sweep that acts whatever SWEEP_DRY_RUN says and does not see launch templates: the first tick deprecates,
    # and the api version a launch template still launches is deregistered. The demo must say so and exit 1.
    from ami_lifecycle.read import region as fleet
    from functions.sweep import sweep_handler

    monkeypatch.setattr(sweep_handler, "dry_run_setting", lambda *args: False)
    monkeypatch.setattr(fleet, "read_launch_templates", lambda ec2, inventory, cache=None: {})
    env_before = dict(os.environ)

    status = demo.main()

    out = capsys.readouterr().out
    assert status == 1, out
    assert (
        "   -> dry_run=false: 39 actions planned (3 AddLineageTags, 4 CopyImage, 12 CreateImageUsageReport, 16\n"
        "      DeprecateImage, 2 FinishListedImage, 2 PutImageParameter), 39 applied\n"
    ) in out
    # 22 images (4 new copies, 16 deprecated, the 2 kept history images finished) and 9 snapshots (the 6 of the new
    # copies, the 3 of the finished history images tagged)
    assert "   CHANGED: 31 of the 34 images, 56 snapshots\n" in out
    assert "step 8 (dry run) changed 31 images or snapshots, e.g. image ami-" in out
    assert "step 8: not a dry run with SWEEP_DRY_RUN unset" in out
    # EC2's own index still finds the template the broken reader missed: kept, but not for the expected reason
    api_old = image_of(table_rows(out), "api", "2.0.0", "us-east-1")
    assert f"step 10: api 2.0.0 us-east-1 ({api_old}) is keep (" in out
    assert "(found by DescribeImageReferences); protections ['launch-template'])" in out
    # the history beyond retention, adopted and deprecated by step 8 already, is gone too after step 10; so the
    # deprecations move from step 9 to step 8, and the totals are those of a correct run
    assert "step 9: 0 deprecations applied, expected 16" in out
    assert "sweep: 22 AMIs deprecated, 8 deregistered (15 snapshots, 252 GiB), 9 old ones kept in use" in out
    assert dict(os.environ) == env_before
    assert_server_stopped(endpoint_port(out))


def test_demo_refuses_an_endpoint_that_is_not_localhost() -> None:
    env_before = dict(os.environ)

    with pytest.raises(demo.DemoError, match="refusing to run"):
        demo.use_local_aws("https://aws.example.invalid")  # anything but 127.0.0.1, never contacted

    assert dict(os.environ) == env_before
