"""The catalogue of public remote MCP endpoints (detections/remote/endpoints.yaml) and `mcpeeker catalogue update`.

The file validates against its schema and the checks a schema cannot make (unique hosts and services, a named source
per entry, dedicated hosts named for MCP, shared hosts only with an MCP path); the generated sensor files are current
(the catalogue test in tests/catalogue holds them with the others); a newer list merges with a report.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mcpeeker import remote_endpoints as remote

from paths import REPO_ROOT

CATALOGUE = REPO_ROOT / "detections" / "remote" / "endpoints.yaml"
SCHEMA = REPO_ROOT / "schemas" / "remote-endpoints.schema.json"
MCPEEKER = Path(sys.executable).with_name("mcpeeker")


def _doc() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    return data


def test_catalogue_matches_schema_and_checks() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))
    cat = remote.load(CATALOGUE)
    # A few dozen real services, both kinds, every one with its source listed in `sources`.
    assert len(cat.endpoints) >= 40
    assert len(cat.dedicated()) >= 30 and len(cat.shared()) >= 5
    hosts = [e.host for e in cat.endpoints]
    assert len(hosts) == len(set(hosts))
    for e in cat.endpoints:
        src = cat.sources[e.source]
        assert src.url.startswith("https://") and e.source != remote.LOCAL_SOURCE, e.host
    # The shared hosts the issue names need a path; the dedicated ones are named for MCP.
    by_host = cat.by_host()
    assert not by_host["api.githubcopilot.com"].dedicated and by_host["api.githubcopilot.com"].paths == ("/mcp",)
    assert not by_host["hf.co"].dedicated
    assert all(
        by_host[h].dedicated for h in ("mcp.notion.com", "mcp.linear.app", "mcp.sentry.dev", "mcp.atlassian.com")
    )
    assert not any(h.endswith(".googleapis.com") for h in (e.host for e in cat.dedicated()))


def test_the_file_is_in_its_canonical_form() -> None:
    """`catalogue update` writes the file through dump(): the committed file is already in that form."""
    assert remote.dump(remote.load(CATALOGUE)) == CATALOGUE.read_text(encoding="utf-8")


def _error(doc: dict[str, Any]) -> str:
    with pytest.raises(remote.RemoteCatalogueError) as exc:
        remote.check(doc, "x.yaml")
    return str(exc.value)


def test_consistency_errors_name_the_entry() -> None:
    doc = _doc()
    dup = copy.deepcopy(doc)
    dup["endpoints"].append(dict(dup["endpoints"][0], service="other"))
    assert "host also in endpoints[0]" in _error(dup)

    same_service = copy.deepcopy(doc)
    same_service["endpoints"].append(dict(same_service["endpoints"][0], host="mcp.example.com"))
    assert "service 'asana' also in endpoints[0]" in _error(same_service)

    unknown = copy.deepcopy(doc)
    unknown["endpoints"][3]["source"] = "nowhere"
    assert "endpoints[3]" in _error(unknown) and "'nowhere' is not in `sources`" in _error(unknown)

    shared_root = copy.deepcopy(doc)
    gh = next(e for e in shared_root["endpoints"] if e["host"] == "api.githubcopilot.com")
    gh["paths"] = ["/"]
    assert "api.githubcopilot.com" in _error(shared_root) and "segment 'mcp' or 'sse'" in _error(shared_root)

    shared_as_dedicated = copy.deepcopy(doc)
    gh = next(e for e in shared_as_dedicated["endpoints"] if e["host"] == "api.githubcopilot.com")
    gh["dedicated"] = True
    assert "no label of the host names MCP" in _error(shared_as_dedicated)
    gh["note"] = "a vendor that says so"
    remote.check(shared_as_dedicated, "x.yaml")  # a note justifies it

    bad_schema = copy.deepcopy(doc)
    bad_schema["endpoints"][5]["transport"] = ["websocket"]
    assert "x.yaml: endpoints/5/transport/0" in _error(bad_schema)
    bad_host = copy.deepcopy(doc)
    bad_host["endpoints"][1]["host"] = "MCP.Example.com:443"
    assert "endpoints/1/host" in _error(bad_host)


def test_sensor_files_follow_the_catalogue() -> None:
    cat = remote.load(CATALOGUE)
    files = remote.sensor_files(cat)
    dedicated = {base64.b64decode(x).decode() for x in files["mcp-remote-dedicated.lst"].split()}
    shared = {base64.b64decode(x).decode() for x in files["mcp-remote-shared.lst"].split()}
    assert dedicated == {e.host for e in cat.dedicated()} and shared == {e.host for e in cat.shared()}
    intel = [line.split("\t") for line in files["remote-endpoints.intel"].splitlines()[1:]]
    assert {(i[0], i[1]) for i in intel if i[1] == "Intel::DOMAIN"} == {(h, "Intel::DOMAIN") for h in dedicated}
    # Shared hosts only as host + path: their bare name is ordinary traffic.
    assert {i[0] for i in intel if i[1] == "Intel::URL"} == {u for e in cat.shared() for u in e.urls()}
    assert all(i[2] == remote.INTEL_SOURCE for i in intel)
    # The committed sensor files are what the catalogue renders (make catalogue).
    for name in ("mcp-remote-dedicated.lst", "mcp-remote-shared.lst"):
        assert (REPO_ROOT / "suricata" / name).read_text() == files[name], name
    assert (REPO_ROOT / "zeek" / "scripts" / "mcp" / remote.ZEEK_TABLE_FILE).read_text() == remote.zeek_table_text(cat)


def _newer(tmp_path: Path) -> Path:
    doc = _doc()
    doc["sources"]["mcp-registry"] = {
        "url": "https://registry.modelcontextprotocol.io/v0/servers",
        "description": "a newer list (test)",
    }
    eps = doc["endpoints"]
    eps[:] = [e for e in eps if e["host"] != "mcp.asana.com"]  # removed
    next(e for e in eps if e["host"] == "mcp.notion.com")["paths"] = ["/mcp", "/sse"]  # changed
    eps.append(
        {
            "service": "example-new",
            "name": "Example",
            "vendor": "Example",
            "host": "mcp.example.com",
            "paths": ["/mcp"],
            "transport": ["streamable-http"],
            "auth": ["oauth"],
            "dedicated": True,
            "source": "mcp-registry",
        }
    )
    path = tmp_path / "newer.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_merge_reports_added_changed_removed_and_keeps_local(tmp_path: Path) -> None:
    current_doc = _doc()
    current_doc["endpoints"].append(
        {
            "service": "corp-internal",
            "name": "Corp",
            "vendor": "Corp",
            "host": "mcp.corp.example",
            "paths": ["/mcp"],
            "transport": ["streamable-http"],
            "auth": ["oauth"],
            "dedicated": True,
            "source": "local",
        }
    )
    current = remote.check(current_doc, "current")
    merged, report = remote.merge(current, remote.load(_newer(tmp_path)))
    assert report.added == ["mcp.example.com"]
    assert report.changed == ["mcp.notion.com"]
    assert report.removed == ["mcp.asana.com"]
    assert report.kept_local == ["mcp.corp.example"]
    hosts = merged.by_host()
    assert "mcp.asana.com" not in hosts and hosts["mcp.notion.com"].paths == ("/mcp", "/sse")
    assert set(merged.sources) == {"awesome-remote-mcp-servers", "mcp-registry"}
    # What update writes loads again, schema included.
    out = tmp_path / "merged.yaml"
    out.write_text(remote.dump(merged))
    assert remote.load(out) == merged


def test_cli_update_writes_the_merge_and_the_sensor_files(tmp_path: Path) -> None:
    target = tmp_path / "endpoints.yaml"
    shutil.copy(CATALOGUE, target)
    newer = _newer(tmp_path)
    sensors = tmp_path / "sensors"
    sensors.mkdir()
    base = [str(MCPEEKER), "catalogue", "update", str(newer), "--catalogue", str(target)]
    dry = subprocess.run([*base, "--dry-run"], capture_output=True, text=True, check=True)
    assert "1 added, 1 changed, 1 removed" in dry.stdout and target.read_text() == CATALOGUE.read_text()
    run = subprocess.run([*base, "--sensors", str(sensors)], capture_output=True, text=True, check=True)
    assert "added mcp.example.com" in run.stdout and "removed mcp.asana.com" in run.stdout
    assert "mcp.example.com" in {e.host for e in remote.load(target).endpoints}
    lst = (sensors / "mcp-remote-dedicated.lst").read_text().split()
    assert base64.b64encode(b"mcp.example.com").decode() in lst
    assert base64.b64encode(b"mcp.asana.com").decode() not in lst
    assert "mcp.example.com\tIntel::DOMAIN" in (sensors / "remote-endpoints.intel").read_text()


def test_cli_update_rejects_a_bad_list_naming_file_and_field(tmp_path: Path) -> None:
    target = tmp_path / "endpoints.yaml"
    shutil.copy(CATALOGUE, target)
    bad = tmp_path / "bad.yaml"
    doc = _doc()
    del doc["endpoints"][2]["source"]
    bad.write_text(yaml.safe_dump(doc))
    run = subprocess.run(
        [str(MCPEEKER), "catalogue", "update", str(bad), "--catalogue", str(target)], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert str(bad) in run.stderr and "endpoints/2" in run.stderr and "'source' is a required property" in run.stderr
    assert target.read_text() == CATALOGUE.read_text()  # nothing written
    garbled = tmp_path / "garbled.yaml"
    garbled.write_text("endpoints: [\n")
    run = subprocess.run(
        [str(MCPEEKER), "catalogue", "update", str(garbled), "--catalogue", str(target)], capture_output=True, text=True
    )
    assert run.returncode == 2 and f"{garbled}: line" in run.stderr
