"""The `mcpeeker-agent` command line: outputs, --explain, --interval, settings errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import validate_report
from .homes import FAKE_GITHUB_TOKEN

AGENT = [sys.executable, "-m", "mcpeeker_agent.cli"]


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "MCPEEKER_SITE_KEY": "cli-test-key"}
    env.update(kw.pop("env", {}))
    return subprocess.run(AGENT + args, capture_output=True, text=True, timeout=120, env=env, **kw)


def _base(home) -> list[str]:
    return [
        "scan",
        "--home",
        str(home.home),
        "--root",
        str(home.root),
        "--os",
        home.os,
        "--no-processes",
        "--no-listeners",
        "--machine-id",
        "m",
    ]


def test_stdout_is_one_ndjson_line(linux_home, tmp_path):
    res = run(_base(linux_home) + ["--state", str(tmp_path / "s.json")])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    validate_report(report)
    assert FAKE_GITHUB_TOKEN not in res.stdout


def test_output_file_interval_and_count(linux_home, tmp_path):
    out = tmp_path / "out" / "agent.ndjson"
    res = run(_base(linux_home) + ["--no-state", "-o", str(out), "--interval", "0.1", "--count", "3"])
    assert res.returncode == 0, res.stderr
    reports = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(reports) == 3 and len({r["scan_id"] for r in reports}) == 3
    assert res.stdout == ""


def test_site_key_changes_host_id(linux_home):
    a = json.loads(run(_base(linux_home) + ["--no-state"]).stdout)
    b = json.loads(run(_base(linux_home) + ["--no-state", "--site-key", "other-key"]).stdout)
    assert a["host_id"] != b["host_id"]


def test_explain_sends_nothing(linux_home, tmp_path):
    state = tmp_path / "state.json"
    res = run(_base(linux_home) + ["--explain", "--state", str(state)])
    assert res.returncode == 0, res.stderr
    assert "Nothing was sent" in res.stdout
    assert "committed secret in env.GITHUB_PERSONAL_ACCESS_TOKEN: kind github_token" in res.stdout
    assert "environment" in res.stdout  # where the site key came from
    assert FAKE_GITHUB_TOKEN not in res.stdout


def test_bad_agent_config_names_file_and_key(linux_home, tmp_path):
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("max_depth: deep\n")
    res = run(_base(linux_home) + ["--agent-config", str(cfg)])
    assert res.returncode == 2
    assert f"{cfg}: max_depth: expected int" in res.stderr
    cfg.write_text("bogus: 1\n")
    res = run(_base(linux_home) + ["--agent-config", str(cfg)])
    assert "bogus: unknown setting" in res.stderr


def test_bad_clients_table(linux_home, tmp_path):
    table = tmp_path / "clients.yaml"
    table.write_text(
        "clients:\n  x:\n    files:\n      - scope: user\n        format: ini\n        keys: [[a]]\n        paths: {all: [~/x]}\n"
    )
    res = run(_base(linux_home) + ["--clients-table", str(table)])
    assert res.returncode == 2
    assert "clients.x.files[0].format" in res.stderr


def test_host_address_joins_the_reported_addresses(linux_home, tmp_path):
    res = run(_base(linux_home) + ["--no-state", "--host-address", "10.20.0.3", "--host-address", "2001:db8::7"])
    assert res.returncode == 0, res.stderr
    ips = json.loads(res.stdout)["host"]["ips"]
    assert "10.20.0.3" in ips and "2001:db8::7" in ips
    bad = run(_base(linux_home) + ["--no-state", "--host-address", "not-an-ip"])
    assert bad.returncode == 2 and "not an IP address: 'not-an-ip'" in bad.stderr
