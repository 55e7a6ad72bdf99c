"""`doctor compare` and `preflight --baseline`: snapshots of two setups (two temp HOMEs), one working."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from claimback.prevent.compare import LIKELY, compare_snapshots


def _home(root: Path, name: str, settings: dict[str, Any], version: str = "2.1.150") -> dict[str, str]:
    home = root / name
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps(settings))
    (home / "project").mkdir()
    bindir = home / "bin"
    bindir.mkdir()
    (bindir / "claude").write_text(f"#!/bin/sh\necho '{version} (Claude Code)'\n")
    (bindir / "claude").chmod(0o755)
    return {"PATH": f"{bindir}:{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(home),
            "CLAIMBACK_HOME": str(home / "cb"), "CLAIMBACK_STATUS_URL": "http://127.0.0.1:9", "LANG": "C.UTF-8",
            "ANTHROPIC_API_KEY": "sk-ant-api03-" + "x" * 40}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "claimback", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=Path(env["HOME"]) / "project")


HOOK = {"hooks": {"PreToolUse": [{"matcher": "Agent|Task", "hooks": [
    {"type": "command", "command": "claimback hook PreToolUse", "timeout": 10}]}]}}


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("setups")
    working = _home(root, "laptop", {**HOOK, "model": "claude-sonnet-4-6"})
    broken = _home(root, "ci", {"model": "claude-sonnet-4-6",
                                "env": {"ANTHROPIC_BASE_URL": "https://llm-gateway.corp.example/anthropic"}},
                   version="2.1.90")
    files = {}
    for name, env in (("working", working), ("this", broken)):
        out = root / f"{name}.json"
        done = _run(env, "doctor", "--no-ingest", "--out", str(out))
        assert done.returncode == 0, done.stderr
        files[name] = out
    return {"files": files, "env": {"working": working, "this": broken}}


def test_compare_names_the_base_url_and_the_missing_hook_first(snapshots: dict[str, Any]) -> None:
    files = snapshots["files"]
    done = _run(snapshots["env"]["this"], "doctor", "compare", str(files["working"]), str(files["this"]), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    areas = [d["area"] for d in report["differences"]]
    assert areas[0] == "base_url"  # where the requests go: the likeliest explanation
    base = report["differences"][0]
    assert base["working"] is None and base["this"] == "llm-gateway.corp.example"
    assert "unset ANTHROPIC_BASE_URL" in base["try_this"]
    hook = next(d for d in report["differences"] if d["area"] == "hooks")
    assert hook["what"].startswith("PreToolUse hook (user settings") and hook["this"] is None
    assert hook["try_this"] == "claimback guard install --scope user"
    client = next(d for d in report["differences"] if d["area"] == "client")
    assert (client["working"], client["this"]) == ("2.1.150", "2.1.90") and "@2.1.150" in client["try_this"]
    weights = [d["weight"] for d in report["differences"]]
    assert weights == sorted(weights, reverse=True) and report["likely"] >= 3
    assert all(d["try_this"] for d in report["differences"])  # one change to try, each
    text = _run(snapshots["env"]["this"], "doctor", "compare", str(files["working"]), str(files["this"]))
    assert text.returncode == 0 and text.stdout.index("ANTHROPIC_BASE_URL host") < text.stdout.index("PreToolUse hook")
    assert "try: unset ANTHROPIC_BASE_URL" in text.stdout


def test_same_setup_has_no_likely_difference(snapshots: dict[str, Any]) -> None:
    snap = json.loads(snapshots["files"]["working"].read_text())
    assert compare_snapshots(snap, snap).differences == []
    done = _run(snapshots["env"]["working"], "preflight", "--baseline", str(snapshots["files"]["working"]), "--json")
    baseline = next(c for c in json.loads(done.stdout)["checks"] if c["name"] == "baseline")
    assert baseline["status"] != "fail", baseline  # this machine now equals its own snapshot


def test_preflight_baseline_fails_ci_with_the_diff(snapshots: dict[str, Any]) -> None:
    done = _run(snapshots["env"]["this"], "preflight", "--baseline", str(snapshots["files"]["working"]))
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if "baseline" in x)
    assert "FAIL" in line and "ANTHROPIC_BASE_URL host" in line and "llm-gateway.corp.example" in line
    as_json = json.loads(_run(snapshots["env"]["this"], "preflight", "--baseline",
                              str(snapshots["files"]["working"]), "--json").stdout)
    check = next(c for c in as_json["checks"] if c["name"] == "baseline")
    assert any(d["area"] == "hooks" and d["weight"] >= LIKELY for d in check["detail"]["differences"])


def test_bad_snapshots_are_one_line_errors(tmp_path: Path, snapshots: dict[str, Any]) -> None:
    env = snapshots["env"]["this"]
    (tmp_path / "x.json").write_text('{"hello": 1}')
    for path, words in ((tmp_path / "x.json", "not a `claimback doctor --out"), (tmp_path / "nope.json", "no such file")):
        done = _run(env, "doctor", "compare", str(path))
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr
