"""The layer ships exactly the packages of requirements.lock, each pinned with its wheel's hash, at the versions the
tests run with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LAYER = Path("layers/ami_lifecycle")
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==(\S+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            found[canonical(match[1])] = match[2]
    return found


def locked_entries() -> list[str]:
    """One entry per package: its pin and its hash options, continuation lines joined."""
    text = (LAYER / "requirements.lock").read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_every_locked_package_is_pinned_with_the_hash_of_one_wheel() -> None:
    entries = locked_entries()

    assert entries
    for entry in entries:
        assert PIN.match(entry), entry
        assert re.search(r"--hash=sha256:[0-9a-f]{64}\b", entry), entry


def test_the_lock_holds_every_direct_dependency_at_its_pinned_version() -> None:
    locked = pins(LAYER / "requirements.lock")

    for name, version in pins(LAYER / "requirements.txt").items():
        assert locked.get(name) == version, f"{name}: requirements.txt pins {version}, the lock {locked.get(name)}"


def test_the_layer_ships_the_versions_the_tests_run_with() -> None:
    tested = pins(Path("requirements-dev.txt"))
    locked = pins(LAYER / "requirements.lock")

    assert {name: (v, tested[name]) for name, v in locked.items() if tested.get(name) != v} == {}


def test_the_build_installs_the_lock_in_hash_checking_mode_and_nothing_else() -> None:
    build = (LAYER / "Makefile").read_text().split("build-AmiLifecycleLayer:", 1)[1].split("\n\n", 1)[0]

    assert "--require-hashes" in build and "--no-deps" in build and "-r requirements.lock" in build
    assert "requirements.txt" not in build


def test_the_lock_is_written_from_pips_report(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(LAYER))
    from lock_requirements import lock_lines

    report = {
        "install": [
            {"metadata": {"name": "six", "version": "1.17.0"},
             "download_info": {"url": "https://example.invalid/six.whl", "archive_info": {"hashes": {"sha256": "ab"}}}},
            {"metadata": {"name": "Boto3", "version": "1.44.5"},
             "download_info": {"url": "https://example.invalid/b.whl", "archive_info": {"hashes": {"sha256": "cd"}}}},
        ]
    }  # fmt: skip

    assert lock_lines(report) == ["Boto3==1.44.5 \\\n    --hash=sha256:cd", "six==1.17.0 \\\n    --hash=sha256:ab"]
    with pytest.raises(SystemExit, match="six"):
        lock_lines({"install": [{"metadata": {"name": "six", "version": "1"}, "download_info": {"url": "u"}}]})
