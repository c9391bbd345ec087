"""Registry CLI: import (YAML/CSV, idempotent, errors named), export formats, Suricata datasets, due + notify."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import yaml

import pytest

from mcpeeker.client import make_client
from mcpeeker.registry.model import RegistryError
from mcpeeker.registry.store import Registry
from mcpeeker.roles import Actor
from mcpeeker.settings import Settings
from mcpeeker.timeutil import iso, parse_iso, utcnow

ADMIN = Actor("admin", "admin")


def cli(settings: Settings, *args: str, identity: str = "admin") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", *args, "--url", settings.url, "--index-prefix", settings.index_prefix],
        capture_output=True,
        text=True,
        env={
            "MCPEEKER_IDENTITY": identity,
            "MCPEEKER_AUDIT_KEY": settings.audit_key or "",
            "PATH": "/usr/bin:/bin",
            "HOME": str(Path.home()),
        },
    )


def test_import_is_idempotent_and_names_bad_rows(os_settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "approved.yaml"
    source.write_text(
        yaml.safe_dump(
            {
                "entries": [
                    {
                        "owner": "alice",
                        "team": "docs",
                        "purpose": "notes",
                        "status": "approved",
                        "server": {"ip": "10.20.0.3", "port": 8000},
                    },
                    {"owner": "bob", "purpose": "wiki", "server": {"url": "https://wiki.corp.example/mcp"}},
                    {"owner": "", "purpose": "no owner", "server": {"ip": "10.0.0.1", "port": 1}},
                    {"owner": "carol", "purpose": "bad port", "server": {"ip": "10.0.0.1", "port": 70000}},
                ]
            }
        )
    )
    first = cli(os_settings, "registry", "import", str(source))
    assert first.returncode == 1, "rejected rows must make the exit code non-zero"
    assert "imported 2 new, 0 already present, 2 rejected" in first.stdout
    assert f"{source}: entry 3: owner is required" in first.stdout
    assert f"{source}: entry 4: server.port 70000 is not a TCP port" in first.stdout
    second = cli(os_settings, "registry", "import", str(source))
    assert "imported 0 new, 2 already present" in second.stdout

    entries = {e["owner"]: e for e in Registry(os_settings, make_client(os_settings), ADMIN).all()}
    assert entries["alice"]["status"] == "approved" and entries["bob"]["status"] == "pending"
    assert entries["bob"]["server"]["url"] == "https://wiki.corp.example:443/mcp"

    rows = [{"owner": "dave", "purpose": "csv", "server.ip": "10.20.0.9", "server.port": "8000"}]
    csv_file = tmp_path / "approved.csv"
    with csv_file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert "imported 1 new" in cli(os_settings, "registry", "import", str(csv_file)).stdout


def test_export_formats_and_suricata_datasets(os_settings: Settings, tmp_path: Path) -> None:
    registry = Registry(os_settings, make_client(os_settings), ADMIN)
    approved = registry.add({"owner": "alice", "purpose": "notes", "server": {"ip": "10.20.0.3", "port": 8000}})
    registry.apply(approved["entry_id"], "approve")
    remote = registry.add({"owner": "erin", "purpose": "docs", "server": {"url": "http://docs.corp.example:3000/mcp"}})
    registry.apply(remote["entry_id"], "approve")
    registry.add({"owner": "bob", "purpose": "pending", "server": {"ip": "10.20.0.5", "port": 8000}})

    exported = json.loads(cli(os_settings, "registry", "export", "--format", "json").stdout)
    assert {e["owner"] for e in exported} == {"alice", "erin", "bob"} and all("history" not in e for e in exported)
    table = list(csv.DictReader(io.StringIO(cli(os_settings, "registry", "export", "--format", "csv").stdout)))
    assert {r["server.ip"] for r in table} == {"10.20.0.3", "10.20.0.5", ""}
    assert len(yaml.safe_load(cli(os_settings, "registry", "export").stdout)["entries"]) == 3

    out = tmp_path / "datasets"
    assert cli(os_settings, "registry", "export", "--suricata-dataset", str(out)).returncode == 0
    assert (out / "mcpeeker-approved-ip.lst").read_text() == "10.20.0.3\n"  # the pending entry is not approved
    authorities = {base64.b64decode(line).decode() for line in (out / "mcpeeker-approved.lst").read_text().split()}
    assert authorities == {"10.20.0.3:8000", "docs.corp.example:3000"}


def test_due_lists_expiring_entries_and_notifies(os_settings: Settings) -> None:
    client = make_client(os_settings)
    registry = Registry(os_settings, client, ADMIN)
    soon = registry.add(
        {
            "owner": "alice",
            "purpose": "soon",
            "server": {"ip": "10.20.0.3", "port": 8000},
            "expires": iso(utcnow() + timedelta(days=3)),
        }
    )
    later = registry.add({"owner": "bob", "purpose": "later", "server": {"ip": "10.20.0.3", "port": 9000}})
    for entry in (soon, later):
        registry.apply(entry["entry_id"], "approve")

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    result = cli(
        os_settings, "registry", "due", "--days", "14", "--notify", f"http://127.0.0.1:{server.server_port}/hook"
    )
    thread.join(10)
    server.server_close()
    assert result.returncode == 0, result.stderr
    assert [e["entry_id"] for e in received[0]["entries"]] == [soon["entry_id"]]
    assert "expire within 14 days" in received[0]["text"]


def test_roles_guard_the_cli(os_settings: Settings) -> None:
    registry = Registry(os_settings, make_client(os_settings), ADMIN)
    entry = registry.add({"owner": "alice", "purpose": "x", "server": {"ip": "10.20.0.3", "port": 8000}})
    refused = cli(os_settings, "registry", "approve", entry["entry_id"], identity="developer")
    assert (
        refused.returncode == 2 and "identity 'developer' (role developer) may not registry.approve" in refused.stderr
    )
    assert registry.get(entry["entry_id"])["status"] == "pending"
    unknown = cli(os_settings, "registry", "list", identity="mallory")
    assert unknown.returncode == 2 and "identity 'mallory' has no role" in unknown.stderr
    assert cli(os_settings, "registry", "approve", entry["entry_id"], identity="admin").returncode == 0
    assert replace(os_settings).index("mcp-registry").startswith(os_settings.index_prefix)


def test_entries_must_say_where_and_lifecycle_edges(os_settings: Settings) -> None:
    registry = Registry(os_settings, make_client(os_settings), ADMIN)
    with pytest.raises(RegistryError, match="a port alone would approve every server on it"):
        registry.add({"owner": "mallory", "purpose": "everything on 8000", "server": {"port": 8000}})
    with pytest.raises(RegistryError, match="expires 'notadate' is not an ISO date"):
        registry.add({"owner": "a", "purpose": "p", "server": {"name": "x"}, "expires": "notadate"})
    with pytest.raises(RegistryError, match="server.url 'http://h:99999/'"):
        registry.add({"owner": "a", "purpose": "p", "server": {"url": "http://h:99999/"}})

    # The default TTL runs from the approval; an explicit expiry is kept; a renewal never shortens.
    entry = registry.add({"owner": "alice", "purpose": "notes", "server": {"ip": "10.20.0.3", "port": 8000}})
    approved = registry.apply(entry["entry_id"], "approve")
    assert parse_iso(approved["expires"]) > utcnow() + timedelta(days=89)
    short = registry.add(
        {
            "owner": "bob",
            "purpose": "trial",
            "server": {"name": "trial-mcp"},
            "expires": iso(utcnow() + timedelta(days=3)),
        }
    )
    assert parse_iso(registry.apply(short["entry_id"], "approve")["expires"]) < utcnow() + timedelta(days=4)
    assert registry.apply(entry["entry_id"], "renew", days=1)["expires"] == approved["expires"]

    # A revoked server can be requested again: the same entry reopens as pending.
    registry.apply(entry["entry_id"], "revoke")
    again = registry.add({"owner": "carol", "purpose": "notes, new owner", "server": {"ip": "10.20.0.3", "port": 8000}})
    assert again["entry_id"] == entry["entry_id"] and again["status"] == "pending" and again["owner"] == "carol"
    assert [h["action"] for h in again["history"]][-2:] == ["revoke", "reopen"]


def test_cli_errors_are_one_clear_line(os_settings: Settings, tmp_path: Path) -> None:
    down = replace(os_settings, url="http://127.0.0.1:9")
    result = cli(down, "registry", "list")
    assert result.returncode == 2 and "cannot reach http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
    missing = replace(os_settings, index_prefix="never-set-up-")
    result = cli(missing, "finding", "list")
    assert result.returncode == 2 and "run `mcpeeker setup` first" in result.stderr and "Traceback" not in result.stderr
    result = cli(
        os_settings, "registry", "add", "--owner", "a", "--purpose", "p", "--server-name", "x", "--expires", "notadate"
    )
    assert result.returncode == 2 and "expires 'notadate' is not an ISO date" in result.stderr
    result = cli(os_settings, "registry", "import", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2 and "missing.yaml: cannot read" in result.stderr
