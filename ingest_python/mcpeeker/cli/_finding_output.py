"""How `mcpeeker finding list` prints findings: a table that fits the terminal, JSON, or CSV.

The table picks columns in priority order (COLUMNS) while they fit the console's width (cli/_columns.py, shared with
`replay`), so an 80-column terminal shows whole ids, classifications, severities and statuses instead of every
column cut to a few characters; `--wide` shows every column. CSV cells that a spreadsheet would run as a formula (= + - @, tab, carriage return)
get a leading quote (OWASP's CSV injection advice): server names and summaries come from the network.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from . import _columns
from ._columns import Column

Finding = dict[str, Any]
COLOURS = {"unauthorized": "red", "suspect": "yellow", "authorized": "green"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _host(f: Finding) -> str:
    host = f.get("host") or {}
    ips = host.get("ip") or []
    name = host.get("name") or host.get("hostname") or (ips[0] if ips else None)
    if not name:
        name = (f.get("destination") or {}).get("ip") or ""
        if not name and host.get("id"):
            name = str(host["id"])[:12]  # a keyed hash: its start is enough to tell hosts apart
    return str(name)


def _server(f: Finding) -> str:
    """The name the server gave itself on the wire, else the name a client configuration gives it."""
    mcp = f.get("mcp") or {}
    name = (mcp.get("server") or {}).get("name")
    if not name:
        configured = (mcp.get("config") or {}).get("server_name") or []
        name = configured[0] if isinstance(configured, list) and configured else configured
    return str(name or "")


def _status(f: Finding) -> str:
    head = f.get("finding", {})
    return str(head.get("status") or "open") + ("/muted" if head.get("suppressed") else "")


def _registry(f: Finding) -> str:
    registry = f.get("registry") or {}
    return str(registry.get("entry_id") or "") if registry.get("match") else "-"


COLUMNS: tuple[Column[Finding], ...] = (
    Column("id", lambda f: str(f["finding"]["id"])),
    Column(
        "class",
        lambda f: str(f.get("classification", "")),
        style=lambda f: COLOURS.get(f.get("classification", ""), "white"),
    ),
    Column("severity", lambda f: str(f.get("severity", ""))),
    Column("status", _status),
    Column("host", _host, 22),
    Column("server", _server, 22),
    Column("score", lambda f: f"{f.get('score', 0):g}"),
    Column("last seen", lambda f: str(f.get("last_seen") or "")[:16].replace("T", " ")),
    Column("owner", lambda f: str((f.get("registry") or {}).get("owner") or ""), 16),
    Column("trust", lambda f: str((f.get("trust") or {}).get("score", ""))),
    Column("attacks", lambda f: ",".join((f.get("attack") or {}).get("types", [])), 30),
    Column("evidence", lambda f: ",".join((f.get("evidence") or {}).get("types", [])), 24),
    Column("registry", _registry, 20),
    Column("instance", lambda f: str((f.get("instance") or {}).get("key", "")), 48),
)


def choose_columns(findings: list[Finding], width: int, wide: bool = False) -> list[tuple[Column[Finding], int]]:
    """Columns in priority order with their widths, while the table fits `width`; the id always shows whole."""
    return _columns.choose_columns(findings, COLUMNS, width, wide)


def findings_table(findings: list[Finding], width: int, wide: bool = False) -> Table:
    return _columns.fitted_table(findings, COLUMNS, width, wide)


def print_table(console: Console, findings: list[Finding], wide: bool = False) -> None:
    _columns.print_fitted(console, findings, COLUMNS, wide)


def csv_cell(value: Any) -> str | int | float:
    """A CSV cell a spreadsheet shows as text: a string starting like a formula gets a leading quote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


CSV_FIELDS: tuple[tuple[str, Callable[[Finding], Any]], ...] = (
    ("finding_id", lambda f: f["finding"]["id"]),
    ("classification", lambda f: f.get("classification")),
    ("severity", lambda f: f.get("severity")),
    ("status", lambda f: f.get("finding", {}).get("status") or "open"),
    ("suppressed", lambda f: bool(f.get("finding", {}).get("suppressed"))),
    ("score", lambda f: f.get("score")),
    ("trust", lambda f: (f.get("trust") or {}).get("score")),
    ("host_id", lambda f: (f.get("host") or {}).get("id")),
    ("host", _host),
    ("server_name", _server),
    ("destination_ip", lambda f: (f.get("destination") or {}).get("ip")),
    ("destination_port", lambda f: (f.get("destination") or {}).get("port")),
    ("first_seen", lambda f: f.get("first_seen")),
    ("last_seen", lambda f: f.get("last_seen")),
    ("owner", lambda f: (f.get("registry") or {}).get("owner")),
    ("registry_entry", lambda f: (f.get("registry") or {}).get("entry_id")),
    ("attack_types", lambda f: ";".join((f.get("attack") or {}).get("types", []))),
    ("evidence_types", lambda f: ";".join((f.get("evidence") or {}).get("types", []))),
    ("instance", lambda f: (f.get("instance") or {}).get("key")),
    ("summary", lambda f: f.get("finding", {}).get("summary")),
)


def to_csv(findings: list[Finding]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([name for name, _get in CSV_FIELDS])
    for f in findings:
        writer.writerow([csv_cell(get(f)) for _name, get in CSV_FIELDS])
    return out.getvalue()


def to_json(findings: list[Finding]) -> str:
    return json.dumps(findings, indent=2)
