"""Done-when of issue 18: each positive remote-service capture or proxy log gives exactly one "remote MCP service used"
finding per (client host, service) through the real sensors (Suricata with mcp.rules + mcp-remote.rules and their
dataset files, Zeek with the package), the real ingest and the real correlation on the local node; no negative
gives any; approving the service in the registry (for everyone, or for a group of hosts that includes the client)
makes the finding authorized, and an approval for other hosts does not."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from paths import AUDIT_KEY, SITE_KEY, require_zeek
from remote.sensors import MCP_RULES, REMOTE_PCAPS, REMOTE_RULES, labels, sid_counts

from cluster import drop_prefix
from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.correlate import remote as remote_findings
from mcpeeker.correlate.engine import Correlator
from mcpeeker.correlate.instances import HostMap
from mcpeeker.correlate.scoring import ScoringConfig
from mcpeeker.ingest.normalise.zeek import ZEEK
from mcpeeker.ingest.run import IngestOptions, run_ingest
from mcpeeker.model import remote_key
from mcpeeker.registry.model import RegistryError, new_entry
from mcpeeker.registry.store import Registry
from mcpeeker.remote_endpoints import default_matcher
from mcpeeker.report import remote_matrix, write_report
from mcpeeker.roles import Actor
from mcpeeker.sensors.suricata import find_suricata, run_suricata
from mcpeeker.sensors.zeek import run_zeek
from mcpeeker.settings import Settings
from mcpeeker.timeutil import utcnow

ADMIN = Actor("admin", "admin")
# How each service is seen in these captures at best: SNI of a dedicated host (notion), CONNECT and SNI in the
# tunnel (linear), SNI and the server certificate under TLS 1.2 (attio), the certificate alone, no SNI (buildkite),
# an MCP path of a shared host in clear or in a proxy's URL log (github).
STRENGTH = {"notion": "tls", "linear": "tls", "attio": "tls", "buildkite": "tls", "github": "proxy_url"}
SQUID_LOGS = sorted(REMOTE_PCAPS.glob("*.squid-access*.log"))
# Squid ran beside the client in the capture's namespace, so its log names the client as 127.0.0.1.
SQUID_CLIENT = "127.0.0.1"


def _settings(os_url: str) -> Settings:
    import uuid

    return Settings(
        url=os_url,
        index_prefix=f"t-remote-{uuid.uuid4().hex[:8]}-",
        site_key=SITE_KEY,
        audit_key=AUDIT_KEY,
        identity="admin",
    )


def _ingest(settings: Settings, source: str, paths: list[Path], work: Path) -> None:
    options = IngestOptions(
        source=source,
        paths=tuple(map(str, paths)),
        dead_letter=str(work / f"dead-{source}.log"),
        spool_dir=work / f"spool-{source}",
        checkpoint=work / f"checkpoint-{source}",
    )
    result = run_ingest(settings, options)
    assert result.rejected == 0 and result.dead_lettered == 0, (source, result)


def _sensors(settings: Settings, pcap: Path, work: Path) -> None:
    """Suricata (both rule sets, datasets copied beside the merged file) and Zeek over `pcap`, ingested."""
    eve = run_suricata(pcap, [MCP_RULES, REMOTE_RULES], work / "suricata")
    logs = run_zeek(pcap, work / "zeek", binary=require_zeek())
    assert any(p.name == "mcp_remote.log" for p in logs) or not labels_for(pcap)["remote_services"]
    _ingest(settings, "suricata", [eve], work)
    _ingest(settings, "zeek", [p for p in logs if p.stem in ZEEK], work)  # files.log etc. are not ingested


def labels_for(pcap: Path) -> dict[str, Any]:
    return next(e for e in labels() if e["file"] == pcap.name)


def _remote(settings: Settings) -> dict[str, dict[str, Any]]:
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-findings"))
    body = {"size": 500, "query": {"term": {"instance.kind": "remote"}}}
    hits = client.search(index=settings.index("mcp-findings"), body=body)["hits"]["hits"]
    return {h["_source"]["instance"]["key"]: h["_source"] for h in hits}


def _correlate(settings: Settings) -> Any:
    return Correlator(settings, make_client(settings)).run_once(ADMIN)


@pytest.fixture(scope="module")
def suricata_ok() -> None:
    try:
        find_suricata()
    except Exception as exc:
        pytest.skip(f"suricata not usable: {exc}")


@pytest.fixture
def world(os_url: str) -> Iterator[Settings]:
    settings = _settings(os_url)
    client = make_client(settings)
    indices.install(settings, client)
    yield settings
    drop_prefix(client, settings.index_prefix)


@pytest.mark.suricata
@pytest.mark.parametrize("entry", labels(), ids=[e["scenario"] for e in labels()])
def test_each_capture_gives_one_finding_per_service(
    entry: dict[str, Any], world: Settings, suricata_ok: None, tmp_path: Path
) -> None:
    _sensors(world, REMOTE_PCAPS / entry["file"], tmp_path)
    _correlate(world)
    found = _remote(world)
    client = entry["client"]["ip"]
    assert set(found) == {remote_key.key(client, s) for s in entry["remote_services"]}
    endpoints = default_matcher()
    for key, doc in found.items():
        service = remote_key.parse(key)["service"]
        ep = endpoints.service(service)
        assert ep is not None
        assert doc["remote"]["service"] == service and doc["remote"]["host"] == ep.host
        assert doc["remote"]["vendor"] == ep.vendor and doc["remote"]["dedicated"] == ep.dedicated
        assert doc["remote"]["seen"] == STRENGTH[service]
        # Every way the label says the sensors saw it (a certificate sighting included) reached the finding.
        assert set(doc["remote"]["seen_kinds"]) == set(entry["remote_services"][service])
        assert doc["host"]["ip"] == [client] and doc["registry"]["match"] is False
        assert doc["first_seen"] <= doc["last_seen"] and doc["evidence"]["total"] >= 1
        assert doc["classification"] == ("unauthorized" if STRENGTH[service] == "proxy_url" else "suspect")
        assert doc["suggested_entry"]["remote"] == {"service": service, "clients": [client]}
    assert _correlate(world).written == 0  # nothing new: nothing rewritten


@pytest.mark.parametrize("log", SQUID_LOGS, ids=[p.name.split(".")[1] for p in SQUID_LOGS])
def test_each_squid_log_gives_one_finding_per_service(log: Path, world: Settings, tmp_path: Path) -> None:
    _ingest(world, "squid", [log], tmp_path)
    _correlate(world)
    found = _remote(world)
    assert set(found) == {remote_key.key(SQUID_CLIENT, "linear"), remote_key.key(SQUID_CLIENT, "github")}
    assert found[remote_key.key(SQUID_CLIENT, "linear")]["remote"]["seen"] == "tls"  # a CONNECT
    assert found[remote_key.key(SQUID_CLIENT, "github")]["remote"]["seen"] == "proxy_url"
    assert found[remote_key.key(SQUID_CLIENT, "github")]["remote"]["seen_kinds"] == ["proxy_url"]


@pytest.mark.suricata
def test_registry_approval_by_service_host_and_group(world: Settings, suricata_ok: None, tmp_path: Path) -> None:
    entry = labels_for(REMOTE_PCAPS / "remote_proxy_connect_linear.pcap")
    _sensors(world, REMOTE_PCAPS / entry["file"], tmp_path)
    _correlate(world)
    client = entry["client"]["ip"]
    linear, github = remote_key.key(client, "linear"), remote_key.key(client, "github")
    registry = Registry(world, make_client(world), ADMIN, 90)

    # The CLI's form: a service for every client.
    added = subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", "registry", "add", "--owner", "secops", "--purpose", "Linear MCP",
         "--remote-service", "linear", "--url", world.url, "--index-prefix", world.index_prefix],
        capture_output=True, text=True, env={"MCPEEKER_SITE_KEY": SITE_KEY, "MCPEEKER_AUDIT_KEY": AUDIT_KEY,
         "MCPEEKER_IDENTITY": "admin", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
    )  # fmt: skip
    assert added.returncode == 0, added.stdout + added.stderr
    linear_entry = next(e for e in registry.all() if e.get("remote", {}).get("service") == "linear")
    assert "clients" not in linear_entry["remote"]
    # Pending is not approval.
    _correlate(world)
    assert _remote(world)[linear]["classification"] == "suspect"
    assert _remote(world)[linear]["registry"]["status"] == "pending"
    registry.apply(linear_entry["entry_id"], "approve")
    # GitHub's MCP path approved by host name, but for other hosts only.
    others = registry.add(
        {"owner": "dev", "purpose": "copilot", "remote": {"host": "api.githubcopilot.com", "clients": ["10.9.9.9"]}}
    )
    registry.apply(others["entry_id"], "approve")
    _correlate(world)
    found = _remote(world)
    assert found[linear]["classification"] == "authorized" and found[linear]["registry"]["match"] is True
    assert found[linear]["severity"] == "info" and "suggested_entry" not in found[linear]
    assert found[github]["classification"] == "unauthorized" and found[github]["registry"]["match"] is False
    # ... and for a group that holds this client.
    group = registry.add(
        {"owner": "dev", "purpose": "copilot", "remote": {"host": "api.githubcopilot.com", "clients": [client, "x"]}}
    )
    registry.apply(group["entry_id"], "approve")
    _correlate(world)
    found = _remote(world)
    assert (
        found[github]["classification"] == "authorized" and found[github]["registry"]["entry_id"] == group["entry_id"]
    )
    # Revoking it takes effect at the next cycle without new evidence.
    registry.apply(group["entry_id"], "revoke")
    _correlate(world)
    assert _remote(world)[github]["classification"] == "unauthorized"
    # The report's view: services x hosts, unapproved first, each cell naming how the use was seen.
    out = tmp_path / "report.html"
    write_report(world, out)
    page = out.read_text()
    section = page[page.index('<section id="remote-services">') :]
    section = section[: section.index("</section>")]
    assert re.findall(r'data-service="([^"]+)"', section) == ["github", "linear"]
    assert re.findall(r'data-client="([^"]+)" data-approved="(\w+)"', section) == [(client, "false"), (client, "true")]
    assert "unapproved proxy_url" in section and "approved tls" in section
    assert remote_matrix(list(_remote(world).values())).unapproved == {"github": 1, "linear": 0}
    # Server findings are untouched by remote entries (none of these captures holds an MCP server of ours).
    assert all(
        doc["registry"].get("entry_id") not in (linear_entry["entry_id"], group["entry_id"])
        for doc in _all_findings(world)
        if doc["instance"]["kind"] != "remote"
    )


def _all_findings(settings: Settings) -> list[dict[str, Any]]:
    client = make_client(settings)
    hits = client.search(index=settings.index("mcp-findings"), body={"size": 500})["hits"]["hits"]
    return [h["_source"] for h in hits]


def test_strength_orders_the_score() -> None:
    """DNS-only < TLS session < proxy URL on an MCP path, with the shipped weights; the strongest sighting wins."""
    config = ScoringConfig.load()
    now = utcnow()
    scores = {}
    for kinds in (["dns"], ["dns", "tls_sni"], ["http_host"], ["dns", "tls_sni", "proxy_url"], ["other"]):
        use = remote_findings.RemoteUse("10.1.1.1", "notion", 1, "2026-12-06T08:00:00.000Z", "2026-12-06T08:00:01.000Z")
        use.seen = {k: 1 for k in kinds}
        found = remote_findings.RemoteFinding("remote:10.1.1.1:notion", "10.1.1.1", None, "notion", [use])
        doc = remote_findings.build(found, HostMap(), [], config, default_matcher(), now)
        scores[",".join(kinds)] = (doc["score"], doc["remote"]["seen"], doc["classification"]) if doc else None
    assert scores["dns"] == (3, "dns", "suspect")
    assert scores["dns,tls_sni"] == (6, "tls", "suspect") and scores["http_host"] == scores["dns,tls_sni"]
    assert scores["dns,tls_sni,proxy_url"] == (9, "proxy_url", "unauthorized")
    assert scores["other"] is None  # a kind that proves nothing makes no finding
    # An agent's address joins its host: the finding is keyed by the host id, and the group may name either.
    use.seen = {"dns": 2}
    hosts = HostMap()
    hosts.add("h" * 64, ["10.1.1.1"])
    grouped = remote_findings.group(iter([use]), hosts)
    assert list(grouped) == [remote_key.key("h" * 64, "notion")]
    expired = new_entry({"owner": "o", "remote": {"service": "notion", "clients": ["10.1.1.1"]}}, now, 90, "admin")
    expired.update(status="approved", expires=(now - timedelta(days=1)).isoformat())
    doc = remote_findings.build(
        grouped[remote_key.key("h" * 64, "notion")], hosts, [expired], config, default_matcher(), now
    )
    assert doc is not None and doc["registry"]["status"] == "expired" and doc["classification"] != "authorized"


def test_remote_entries_are_checked() -> None:
    now = utcnow()
    with pytest.raises(RegistryError, match="remote.service or remote.host"):
        new_entry({"owner": "o", "remote": {"clients": ["10.0.0.1"]}}, now, 90, "a")
    with pytest.raises(RegistryError, match="not host/server"):
        new_entry({"owner": "o", "remote": {"service": "notion"}, "host": {"ip": "10.0.0.1"}}, now, 90, "a")
    with pytest.raises(RegistryError, match="unknown fields"):
        new_entry({"owner": "o", "remote": {"service": "notion", "path": "/mcp"}}, now, 90, "a")
    a = new_entry({"owner": "o", "remote": {"service": "Notion", "clients": ["b", "a"]}}, now, 90, "x")
    b = new_entry({"owner": "p", "remote": {"service": "notion", "clients": ["a", "b"]}}, now, 90, "y")
    assert a["entry_id"] == b["entry_id"] and a["remote"] == {"service": "notion", "clients": ["a", "b"]}
    assert new_entry({"owner": "o", "remote": {"service": "notion"}}, now, 90, "x")["entry_id"] != a["entry_id"]
    with pytest.raises(ValueError):
        remote_key.parse("net:10.0.0.1:443")
    assert remote_key.parse(remote_key.key("2001:db8::1", "github")) == {"client": "2001:db8::1", "service": "github"}


@pytest.mark.suricata
def test_replay_runs_the_remote_rules_with_their_datasets(suricata_ok: None, tmp_path: Path) -> None:
    """`mcpeeker replay` (replay.run_sensors) loads mcp-remote.rules by default, its dataset files beside the merged
    rules: the remote SIDs fire as the labels say."""
    from mcpeeker.replay import run_sensors

    entry = labels_for(REMOTE_PCAPS / "remote_proxy_connect_linear.pcap")
    run = run_sensors([REMOTE_PCAPS / entry["file"]], None, tmp_path)
    records = [json.loads(line) for line in run.eves[0].read_text().splitlines() if line.strip()]
    assert sid_counts(records) == entry["suricata_sids"]
    assert (run.eves[0].parent / "mcp-remote-dedicated.lst").is_file()


KONG_LOG = Path(__file__).parent / "data" / "kong-file-log.json"


def test_kong_gateway_log_gives_one_finding_per_service(world: Settings, tmp_path: Path) -> None:
    """`mcpeeker ingest kong`: Kong's file-log JSON lines (tests/remote/data/kong-file-log.json, laid out as the
    sample log object of https://developer.konghq.com/plugins/file-log/; Kong does not install here) give one
    finding per (client, service) whose upstream is a catalogue service; ordinary API traffic, a request Kong
    answered itself and a name that merely contains 'mcp' give none. Consumers are keyed hashes, query secrets
    are redacted, request headers other than the user agent are not stored."""
    _ingest(world, "kong", [KONG_LOG], tmp_path)
    client = make_client(world)
    client.indices.refresh(index=world.index("mcp-events-*"))
    hits = client.search(index=world.index("mcp-events-*"), body={"size": 50})["hits"]["hits"]
    docs = [h["_source"] for h in hits]
    assert sorted(d["mcpeeker"]["remote"]["service"] for d in docs) == ["github", "linear", "linear"]
    for doc in docs:
        assert doc["mcpeeker"]["remote"]["seen"] == "gateway_url" and doc["source"]["ip"] == "10.10.0.95"
        assert doc["user"]["name"] != "alice" and len(doc["user"]["name"]) >= 32
        assert "s3cr3t" not in json.dumps(doc) and "authorization" not in json.dumps(doc).lower()
        assert doc["observer"]["product"] == "Kong Gateway" and doc["event"]["module"] == "kong"
    github = next(d for d in docs if d["mcpeeker"]["remote"]["service"] == "github")
    assert github["url"]["domain"] == "api.githubcopilot.com" and github["url"]["path"] == "/mcp/"
    _correlate(world)
    found = _remote(world)
    assert set(found) == {remote_key.key("10.10.0.95", "linear"), remote_key.key("10.10.0.95", "github")}
    assert {f["remote"]["seen"] for f in found.values()} == {"proxy_url"}
    assert found[remote_key.key("10.10.0.95", "linear")]["evidence"]["total"] == 2
