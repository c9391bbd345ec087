"""Squid access.log ingest (mcpeeker.ingest.normalise.squid) on the logs Squid itself wrote while the remote pcaps were
captured (tests/pcaps/remote/*.squid-access*.log: native squid, common and combined logformats of one session):
every line parses, only the lines naming a catalogue service become documents, users are keyed hashes, query
secrets are redacted, bad lines are named, and `mcpeeker ingest squid` indexes them into the real test node."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from paths import PCAP_DIR

from mcpeeker.client import make_client
from mcpeeker.ingest.normalise import NORMALISERS, Context
from mcpeeker.ingest.normalise.squid import SquidParser, normalise_squid, parse_line
from mcpeeker.ingest.readers import SOURCES, BadLine, Record, read_file
from mcpeeker.settings import Settings

LOGS = {
    "native": PCAP_DIR / "remote" / "remote_proxy_connect_linear.squid-access.log",
    "common": PCAP_DIR / "remote" / "remote_proxy_connect_linear.squid-access-common.log",
    "combined": PCAP_DIR / "remote" / "remote_proxy_connect_linear.squid-access-combined.log",
}
KEY = os.urandom(32)
CTX = Context(index_prefix="t-", site_key=KEY)
# The session: two CONNECTs to mcp.linear.app (dedicated), four MCP POSTs to api.githubcopilot.com/mcp (shared host,
# MCP path, in clear through the proxy), and the capture's readiness probe (a Squid error line).
EXPECTED = {("linear", "proxy_connect", True): 2, ("github", "proxy_url", False): 4}


def _records(path: Path) -> list[Record]:
    out = []
    for item in read_file("squid", str(path)):
        assert isinstance(item, Record), item
        out.append(item)
    return out


def _docs(records: list[Record]) -> list[dict]:
    return [d for r in records for _, _, d, _ in normalise_squid(r.rtype, r.data, r.raw, CTX, r.file, r.line)]


def test_squid_is_a_registered_source() -> None:
    assert "squid" in SOURCES and NORMALISERS["squid"] is normalise_squid


@pytest.mark.parametrize("fmt", LOGS)
def test_each_logformat_gives_the_same_sightings(fmt: str) -> None:
    records = _records(LOGS[fmt])
    assert len(records) == 7 and {r.data["format"] for r in records} == {fmt}
    docs = _docs(records)
    seen: dict[tuple[str, str, bool], int] = {}
    for d in docs:
        r = d["mcpeeker"]["remote"]
        key = (r["service"], r["seen"], r["dedicated"])
        seen[key] = seen.get(key, 0) + 1
        assert d["mcpeeker"]["evidence"] == {"type": "context", "kind": "proxy", "reason": "remote_mcp_service"}
        assert "instance" not in d["mcpeeker"]
        assert d["source"]["ip"] == "127.0.0.1" and d["observer"]["product"] == "Squid"
        assert d["event"]["dataset"] == "squid.access" and d["event"]["id"]
    assert seen == EXPECTED
    connect = next(d for d in docs if d["mcpeeker"]["remote"]["seen"] == "proxy_connect")
    assert connect["http"]["request"]["method"] == "CONNECT" and connect["url"]["port"] == 443
    assert connect["event"]["action"] == "TCP_TUNNEL" and connect["destination"]["domain"] == "mcp.linear.app"
    url = next(d for d in docs if d["mcpeeker"]["remote"]["seen"] == "proxy_url")
    assert url["url"]["original"] == "http://api.githubcopilot.com/mcp" and url["url"]["path"] == "/mcp"
    assert url["http"]["response"]["status_code"] in (200, 202)
    if fmt == "combined":
        assert url["user_agent"]["original"].startswith("python-httpx/")
    if fmt == "native":  # sub-second timestamps only in the native format
        assert connect["@timestamp"].endswith("Z") and "." in connect["@timestamp"]


def _variant(fmt: str, old: str, new: str) -> Record:
    """A real line of the log with one field changed (another user, another host): what another request looks like."""
    line = next(x for x in LOGS[fmt].read_text().splitlines() if old in x)
    text = line.replace(old, new, 1)
    return Record("squid", "access", parse_line(text), text.encode(), "access.log", 1, 0)


def test_users_are_keyed_hashes_and_query_secrets_redacted() -> None:
    rec = _variant(
        "native", "http://api.githubcopilot.com/mcp -", "http://api.githubcopilot.com/mcp?token=s3cr3t alice"
    )
    (doc,) = _docs([rec])
    assert doc["user"]["name"] != "alice" and len(doc["user"]["name"]) >= 16
    assert doc["user"]["name"] == _docs([rec])[0]["user"]["name"]  # stable under one key
    assert "s3cr3t" not in str(doc) and doc["url"]["path"] == "/mcp"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("CONNECT mcp.linear.app:443", "CONNECT linear.app:443"),  # the vendor's ordinary site
        ("CONNECT mcp.linear.app:443", "CONNECT api.githubcopilot.com:443"),  # a shared host: CONNECT says nothing
        ("CONNECT mcp.linear.app:443", "CONNECT mcp.linear.app.example.org:443"),  # merely contains the name
        ("http://api.githubcopilot.com/mcp", "http://api.githubcopilot.com/models"),  # shared host, no MCP path
    ],
)
def test_ordinary_web_use_is_not_indexed(old: str, new: str) -> None:
    assert _docs([_variant("native", old, new)]) == []


def test_bad_lines_are_named(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    good = LOGS["native"].read_bytes().splitlines()[1]
    log.write_bytes(good + b"\nnot a squid line\n" + good.replace(b"mcp.linear", b"mcp.\xfflinear") + b"\n")
    items = list(read_file("squid", str(log)))
    assert isinstance(items[0], Record)
    assert isinstance(items[1], BadLine) and items[1].line == 2 and "not a Squid access.log line" in items[1].reason
    assert isinstance(items[2], BadLine) and items[2].line == 3 and "not UTF-8" in items[2].reason
    assert SquidParser("x").parse(b"", 4, 0) is None


@pytest.mark.opensearch
def test_mcpeeker_ingest_squid_indexes_the_sightings(os_settings: Settings, tmp_path: Path) -> None:
    logs = tmp_path / "squid"
    logs.mkdir()
    for fmt, path in LOGS.items():
        (logs / f"access-{fmt}.log").write_bytes(path.read_bytes())
    (logs / "cache.log").write_text("not an access log: skipped when a directory is walked\n")
    env = dict(
        os.environ,
        MCPEEKER_URL=os_settings.url,
        MCPEEKER_INDEX_PREFIX=os_settings.index_prefix,
        MCPEEKER_SITE_KEY=os_settings.site_key or "",
    )
    exe = Path(sys.executable).with_name("mcpeeker")
    dead = tmp_path / "dead.log"
    run = subprocess.run(
        [str(exe), "ingest", "squid", str(logs), "--no-setup", "--no-progress", "--dead-letter", str(dead)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    client = make_client(os_settings)
    index = os_settings.index("mcp-events-*")
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 100, "query": {"term": {"event.module": "squid"}}})["hits"]["hits"]
    by = {}
    for h in hits:
        r = h["_source"]["mcpeeker"]["remote"]
        by[(r["service"], r["seen"])] = by.get((r["service"], r["seen"]), 0) + 1
    assert by == {("linear", "proxy_connect"): 6, ("github", "proxy_url"): 12}  # three formats of one session
    # mcpeeker.remote is mapped (templates/mcp-events.json): searchable by service.
    linear = client.count(index=index, body={"query": {"term": {"mcpeeker.remote.service": "linear"}}})["count"]
    assert linear == 6
