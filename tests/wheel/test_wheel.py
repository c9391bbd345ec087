"""The wheel is the product: built with `pip wheel`, installed into a fresh venv outside the checkout and run, from
a temporary directory, against the real local node — every command a new site runs on its first day.

Nothing here may read the checkout except the test inputs (a labelled pcap): the installed commands must find
their configs, schemas, rules, catalogue, dashboards and Zeek package inside the wheel.
"""

from __future__ import annotations

import json
import secrets
import shutil
import zipfile
from pathlib import Path

import jsonschema
import pytest
from opensearchpy import OpenSearch

from mcpeeker import resources
from paths import LABELS, PCAP_DIR, in_ci, missing
from mcpeeker.sensors.zeek import find_zeek

from .conftest import clean_env, make_venv, run

pytestmark = [pytest.mark.slow, pytest.mark.opensearch, pytest.mark.suricata]

PCAP = "attack_command_injection_py2026.pcap"


def _label(name: str) -> dict:
    return next(p for p in json.loads(LABELS.read_text())["pcaps"] if p["file"] == name)


def test_wheel_carries_every_data_file(built_wheel: Path, wheel_source: Path) -> None:
    """Every file that mcpeeker.resources.DATA_FILES names in the sources is in the wheel, byte for byte, and no
    build intermediate (Cython's C) is."""
    with zipfile.ZipFile(built_wheel) as whl:
        names = set(whl.namelist())
        expected = [p for pattern in resources.DATA_FILES for p in sorted(wheel_source.glob(pattern)) if p.is_file()]
        assert len(expected) > 60, expected
        for source in expected:
            member = f"mcpeeker/_data/{source.relative_to(wheel_source).as_posix()}"
            assert member in names, f"{member} missing from {built_wheel.name}"
            assert whl.read(member) == source.read_bytes(), member
        assert {"mcpeeker/templates/mcp-events.json", "mcpeeker_agent/data/clients.yaml"} <= names
        assert not [n for n in names if n.endswith(".c")]
        assert [n for n in names if n.startswith("mcpeeker/ingest/") and n.endswith(".so")], "hot path not compiled"


def _cluster(url: str) -> OpenSearch:
    return OpenSearch(url, timeout=30)


def test_installed_wheel_runs_end_to_end(built_wheel: Path, os_url: str, tmp_path: Path) -> None:
    if shutil.which("suricata") is None:
        missing("suricata is not installed: run scripts/install-suricata.sh")
    bin_dir = make_venv(tmp_path / "venv")
    env = clean_env(PATH=f"{bin_dir}:{clean_env()['PATH']}", HOME=str(tmp_path / "home"))
    zeek = find_zeek()
    if zeek is not None:
        env["PATH"] = f"{zeek.parent}:{env['PATH']}"
    elif in_ci():
        pytest.fail("zeek not found (CI=true: the replay must run both sensors)", pytrace=False)
    work = tmp_path / "work"  # the commands run here, far from the checkout
    work.mkdir()
    (tmp_path / "home").mkdir()
    run([bin_dir / "python", "-m", "pip", "install", "--quiet", built_wheel], work, env)

    # The installed package reads its own data, not the checkout's.
    where = run(
        [bin_dir / "python", "-c", "from mcpeeker import resources as r; print(r.data_root()); print(r.checkout())"],
        work,
        env,
    ).stdout.split()
    assert where == [str(Path(where[0])), "None"] and Path(where[0]).is_relative_to(tmp_path / "venv"), where
    assert (Path(where[0]) / "zkg.meta").is_file() and (Path(where[0]) / "zeek/scripts/__load__.zeek").is_file()

    prefix = f"wheel-{secrets.token_hex(4)}-"
    env.update(MCPEEKER_URL=os_url, MCPEEKER_INDEX_PREFIX=prefix)
    mcpeeker, agent = bin_dir / "mcpeeker", bin_dir / "mcpeeker-agent"
    if "init" in run([mcpeeker, "--help"], work, env).stdout.split():
        run([mcpeeker, "init", tmp_path / "etc"], work, env)
        env["MCPEEKER_CONFIG"] = str(tmp_path / "etc" / "mcpeeker.yaml")
    else:  # before `mcpeeker init` exists: generated keys in the environment, never a built-in one
        env.update(MCPEEKER_SITE_KEY=secrets.token_hex(32), MCPEEKER_AUDIT_KEY=secrets.token_hex(32))

    client = _cluster(os_url)
    try:
        # Extras are named exactly as pip needs them (before [sigma] is installed).
        proc = run([mcpeeker, "sigma", "run", "--since", "1h"], work, env, check=False)
        assert proc.returncode == 2 and "pip install 'mcpeeker[sigma]'" in proc.stderr, proc.stderr
        proc = run([mcpeeker, "setup", "--backend", "elasticsearch"], work, env, check=False)
        assert proc.returncode == 2 and "pip install 'mcpeeker[elasticsearch]'" in proc.stderr, proc.stderr

        run([mcpeeker, "setup"], work, env)
        assert client.indices.exists_index_template(name=f"{prefix}mcp-events")
        assert client.indices.exists(index=f"{prefix}mcp-findings")

        # replay: the packaged Suricata config and rules (and Zeek package, when Zeek is here).
        label = _label(PCAP)
        run([mcpeeker, "replay", PCAP_DIR / PCAP, "--keep", work / "replay"], work, env)
        eve = next((work / "replay" / "suricata").glob("*/eve.json"))
        sids = {
            json.loads(line)["alert"]["signature_id"]
            for line in eve.read_text().splitlines()
            if '"event_type":"alert"' in line
        }
        assert sids == {int(s) for s in label["suricata_sids"]}, sids
        if zeek is not None:
            notices = (next((work / "replay" / "zeek").glob("*/notice.log"))).read_text()
            assert all(note in notices for note in label["zeek_notices"]), notices[-2000:]

        # mcpeeker-agent scan of a home with one MCP client config, then `ingest agent`.
        config = tmp_path / "scan-home" / ".config" / "Claude" / "claude_desktop_config.json"
        config.parent.mkdir(parents=True)
        config.write_text(
            json.dumps(
                {
                    "mcpServers": {
                        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv"]}
                    }
                }
            )
        )
        run(
            [
                agent,
                "scan",
                "--home",
                tmp_path / "scan-home",
                "--os",
                "linux",
                "--no-state",
                "--no-processes",
                "--no-listeners",
                "-o",
                work / "agent.ndjson",
            ],
            work,
            env,
        )
        report = json.loads((work / "agent.ndjson").read_text())
        schema = json.loads((Path(where[0]) / "schemas" / "agent-event.schema.json").read_text())
        jsonschema.Draft202012Validator(schema).validate(report)
        assert any(e.get("config", {}).get("server_name") == "files" for e in report["evidence"]), report
        run([mcpeeker, "ingest", "agent", work / "agent.ndjson", "--no-progress"], work, env)

        run([mcpeeker, "correlate", "--once"], work, env)
        client.indices.refresh(index=f"{prefix}mcp-findings")
        findings = [h["_source"] for h in client.search(index=f"{prefix}mcp-findings", size=100)["hits"]["hits"]]
        assert findings, "correlate wrote no finding"
        sources = {s for f in findings for s in f.get("evidence", {}).get("sources", [])}
        assert {"suricata", "agent"} <= sources, sources

        # sigma run with the extra: the packaged rules and pipeline convert and match the agent's config write.
        run([bin_dir / "python", "-m", "pip", "install", "--quiet", f"{built_wheel}[sigma]"], work, env)
        out = run([mcpeeker, "sigma", "run", "--since", "1h"], work, env)
        assert "file_event_lnx_mcp_client_config_write=" in out.stdout + out.stderr, out.stdout + out.stderr

        run([mcpeeker, "dashboards", "export", "--out", work / "dashboards"], work, env)
        for name in ("mcpeeker-kibana.ndjson", "mcpeeker-opensearch-dashboards.ndjson"):
            objects = [json.loads(line) for line in (work / "dashboards" / name).read_text().splitlines() if line]
            assert any(o.get("type") == "dashboard" for o in objects), name

        run([mcpeeker, "report", "--out", work / "report.html", "--quiet"], work, env)
        html = (work / "report.html").read_text()
        assert label["server"]["ip"] in html and "<html" in html.lower()
    finally:
        client.indices.delete(index=f"{prefix}*", ignore_unavailable=True, expand_wildcards="all")
        for name in client.indices.get_index_template(name=f"{prefix}*", ignore=[404]).get("index_templates", []):
            client.indices.delete_index_template(name=name["name"], ignore=[404])
