"""`make demo` works: run in-process, it protects every build, filters the noise and leaves the process as it was."""

from __future__ import annotations

import os
import re
import socket

import pytest

from ami_lifecycle.local import demo, fidelity

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
    assert "DR images before 15, after 15: no second copy" in out
    assert "Totals: 7/7 AMIs protected, 14 copies made, 24 handler invocations, 25 events filtered out" in out
    assert "OK:" in out and "FAILED" not in out

    # Nothing of the demo stays behind: environment (AWS_ENDPOINT_URL, POLICY_FILE, ...) and the server.
    assert dict(os.environ) == env_before
    assert_server_stopped(endpoint_port(out))


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
    assert dict(os.environ) == env_before
    assert_server_stopped(endpoint_port(out))


def test_demo_refuses_an_endpoint_that_is_not_localhost() -> None:
    env_before = dict(os.environ)

    with pytest.raises(demo.DemoError, match="refusing to run"):
        demo.use_local_aws("https://ec2.us-east-1.amazonaws.com")

    assert dict(os.environ) == env_before
