"""`mcpeeker collect` and `mcpeeker-agent scan --ship`, as real processes over real TLS into the real node.

The collector runs as `python -m mcpeeker.cli collect` with certificates made here (tests/collect/pki.py); the
agent scans the agent tests' fixture home; documents are counted in OpenSearch.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agent.homes import make_home
from collect.pki import Pki, make_pki

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

MCPEEKER = [sys.executable, "-m", "mcpeeker.cli"]
AGENT = [sys.executable, "-m", "mcpeeker_agent.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    def __init__(
        self,
        tmp: Path,
        settings,
        pki: Pki,
        tokens: Path,
        *,
        port: int | None = None,
        mtls: bool = False,
        url: str | None = None,
        spool: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.pki = pki
        self.dead_letter = tmp / "collector-dead-letter.log"
        self.log = open(tmp / f"collector-{self.port}-{time.monotonic_ns()}.log", "w")
        args = MCPEEKER + [
            "collect",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--cert",
            str(pki.server_cert),
            "--key",
            str(pki.server_key),
            "--tokens",
            str(tokens),
            "--dead-letter",
            str(self.dead_letter),
            "--spool-dir",
            str(spool or tmp / "collector-spool"),
            "--url",
            url or settings.url,
            "--index-prefix",
            settings.index_prefix,
        ]
        if mtls:
            args += ["--client-ca", str(pki.ca)]
        if url:
            args.append("--no-setup")
        env = {**os.environ, "MCPEEKER_SITE_KEY": settings.site_key}
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.context = ssl.create_default_context(cafile=str(pki.ca))
        if mtls:
            self.context.load_cert_chain(pki.client_cert, pki.client_key)
        self.base = f"https://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"collector exited: {Path(self.log.name).read_text()}"
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise AssertionError(f"collector did not answer: {Path(self.log.name).read_text()}")

    def get(self, path: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
        with urllib.request.urlopen(self.base + path, timeout=10, context=context or self.context) as r:
            return r.status, r.read().decode()

    def post(self, body: bytes, token: str | None, context: ssl.SSLContext | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + "/api/v1/reports", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60, context=context or self.context) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def pki(tmp_path) -> Pki:
    return make_pki(tmp_path / "pki")


@pytest.fixture
def collectors():
    started: list[Collector] = []
    yield started
    for c in started:
        c.stop()


def token_cli(tokens: Path, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(
        MCPEEKER + ["collect", "token", *args, "--tokens", str(tokens)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    return res


def issue(tokens: Path, agent: str) -> str:
    return token_cli(tokens, "issue", "--agent", agent).stdout.strip()


def scan_report(tmp_path: Path, settings, n: int = 0) -> bytes:
    """One real agent report (the bytes as the agent would ship them)."""
    home = make_home(tmp_path / f"home-{n}", "linux")
    env = {**os.environ, "MCPEEKER_SITE_KEY": settings.site_key}
    res = subprocess.run(
        AGENT
        + [
            "scan",
            "--home",
            str(home.home),
            "--root",
            str(home.root),
            "--os",
            "linux",
            "--no-processes",
            "--no-listeners",
            "--no-state",
            "--machine-id",
            f"m{n}",
        ],
        capture_output=True,
        check=True,
        env=env,
        timeout=120,
    )
    return res.stdout.strip()


def agent_docs(client, settings) -> list[dict]:
    index = settings.index("mcp-events-*")
    client.indices.refresh(index=index)
    hits = client.search(index=index, body={"size": 1000, "query": {"term": {"event.module": "agent"}}})["hits"]["hits"]
    return hits


def test_outage_of_five_scans_loses_and_duplicates_nothing(tmp_path, os_settings, os_client, pki, collectors):
    tokens = tmp_path / "tokens.json"
    token_file = tmp_path / "agent.token"
    token_file.write_text(issue(tokens, "laptop-1") + "\n")
    token_file.chmod(0o600)
    home = make_home(tmp_path / "home", "linux")
    outbox = tmp_path / "outbox"
    port = free_port()
    log = open(tmp_path / "agent.log", "w")
    agent = subprocess.Popen(
        AGENT
        + [
            "scan",
            "--home",
            str(home.home),
            "--root",
            str(home.root),
            "--os",
            "linux",
            "--no-processes",
            "--no-listeners",
            "--no-state",
            "--machine-id",
            "laptop-1",
            "-o",
            str(tmp_path / "sent.ndjson"),
            "--ship",
            f"https://127.0.0.1:{port}",
            "--token-file",
            str(token_file),
            "--ca-certs",
            str(pki.ca),
            "--spool-dir",
            str(outbox),
            "--ship-retries",
            "1",
            "--interval",
            "1",
            "--count",
            "8",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MCPEEKER_SITE_KEY": os_settings.site_key},
    )
    try:
        # The collector is down for the first five scans: each report waits in the outbox, the agent keeps going.
        deadline = time.monotonic() + 120
        while len(list(outbox.glob("*.json"))) < 5:
            assert agent.poll() is None, f"the agent exited during the outage: {(tmp_path / 'agent.log').read_text()}"
            assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.1)
        collectors.append(Collector(tmp_path, os_settings, pki, tokens, port=port))
        assert agent.wait(timeout=180) == 0, (tmp_path / "agent.log").read_text()
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        log.close()
    agent_log = (tmp_path / "agent.log").read_text()
    assert "not shipped" in agent_log  # it did see the outage
    assert list(outbox.glob("*.json")) == []
    reports = [json.loads(line) for line in (tmp_path / "sent.ndjson").read_text().splitlines()]
    assert len(reports) == 8

    hits = agent_docs(os_client, os_settings)
    scans = [h["_source"] for h in hits if h["_source"]["event"]["dataset"] == "agent.scan"]
    assert sorted(s["mcpeeker"]["scan"]["id"] for s in scans) == sorted(r["scan_id"] for r in reports)  # each once
    assert len(hits) == sum(len(r["evidence"]) + 1 for r in reports)
    assert {h["_source"]["agent"]["id"] for h in hits} == {"laptop-1"}  # the enrolled identity that sent them
    # Sent in order: the first five (spooled) reports arrived in one drain, scan order kept in the outbox names.
    order = [
        line.split("shipped ")[1].split(" ")[0] for line in agent_log.splitlines() if "mcpeeker-agent: shipped" in line
    ]
    assert order and int(order[0]) >= 5

    # A resend (a lost acknowledgement) overwrites the same documents.
    line = (tmp_path / "sent.ndjson").read_text().splitlines()[0].encode()
    status, answer = collectors[0].post(line, token_file.read_text().strip())
    assert status == 202, answer
    # ... also when something on the way re-serialised it (other key order, indentation).
    again = json.loads(line)
    status, answer = collectors[0].post(
        json.dumps(dict(reversed(list(again.items()))), indent=2).encode(), token_file.read_text().strip()
    )
    assert status == 202, answer
    assert len(agent_docs(os_client, os_settings)) == len(hits)
    assert not collectors[0].dead_letter.exists()


def test_revoked_token_is_refused(tmp_path, os_settings, os_client, pki, collectors):
    tokens = tmp_path / "tokens.json"
    token = issue(tokens, "laptop-2")
    other = issue(tokens, "laptop-3")
    collector = Collector(tmp_path, os_settings, pki, tokens)
    collectors.append(collector)
    report = scan_report(tmp_path, os_settings)
    assert collector.post(report, token)[0] == 202
    listed = token_cli(tokens, "list").stdout
    assert "laptop-2" in listed and token.split("_", 2)[2] not in listed  # the secret is never shown again
    assert "mcpk_" not in tokens.read_text() and token.split("_", 2)[2] not in tokens.read_text()
    token_cli(tokens, "revoke", "--agent", "laptop-2")
    status, answer = collector.post(report, token)
    assert status == 401 and "revoked" in answer["error"]
    assert collector.post(report, None)[0] == 401
    assert collector.post(report, token[:-2] + "xx")[0] == 401
    assert collector.post(report, other)[0] == 202  # revoking one agent leaves the others working
    status, metrics = collector.get("/metrics")
    assert 'mcpeeker_collector_reports_total{outcome="unauthorized"} 3.0' in metrics
    assert 'mcpeeker_collector_reports_total{outcome="accepted"} 2.0' in metrics


def test_bad_report_gets_4xx_naming_the_field_and_is_dead_lettered(tmp_path, os_settings, os_client, pki, collectors):
    tokens = tmp_path / "tokens.json"
    token = issue(tokens, "laptop-4")
    collector = Collector(tmp_path, os_settings, pki, tokens)
    collectors.append(collector)
    report = json.loads(scan_report(tmp_path, os_settings))
    report["evidence"][1]["score"] = "very high"
    status, answer = collector.post(json.dumps(report).encode(), token)
    assert status == 422 and answer["field"] == "evidence.1.score", answer
    assert "evidence.1.score" in answer["error"]
    del report["scan_id"]
    report["evidence"][1]["score"] = 0.5
    status, answer = collector.post(json.dumps(report).encode(), token)
    assert status == 422 and answer["field"] == "scan_id"
    status, answer = collector.post(b"{not json", token)
    assert status == 400
    assert agent_docs(os_client, os_settings) == []  # nothing of a refused report was indexed

    # In the agent's outbox a refused report moves aside with the reason and does not block the next one.
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    report["scan_id"] = "0123456789abcdef"
    report["host_id"] = "not-a-hash"
    (outbox / f"{1:020d}-bad.json").write_text(json.dumps(report))
    token_file = tmp_path / "agent.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    home = make_home(tmp_path / "home", "linux")
    res = subprocess.run(
        AGENT
        + [
            "scan",
            "--home",
            str(home.home),
            "--root",
            str(home.root),
            "--os",
            "linux",
            "--no-processes",
            "--no-listeners",
            "--no-state",
            "--ship",
            collector.base,
            "--token-file",
            str(token_file),
            "--ca-certs",
            str(pki.ca),
            "--spool-dir",
            str(outbox),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MCPEEKER_SITE_KEY": os_settings.site_key},
    )
    assert res.returncode == 1 and "refused a report" in res.stderr and "shipped 1 report(s)" in res.stderr, res.stderr
    assert (outbox / "rejected" / f"{1:020d}-bad.json").exists() and not list(outbox.glob("*.json"))
    assert "field 'host_id'" in (outbox / "rejected" / f"{1:020d}-bad.reason").read_text()
    assert len([h for h in agent_docs(os_client, os_settings) if h["_source"]["event"]["dataset"] == "agent.scan"]) == 1

    collector.stop()
    entries = collector.dead_letter.read_text().splitlines()
    assert len(entries) == 4
    assert entries[0].startswith("collector:laptop-4:0: field 'evidence.1.score': ")
    assert "field 'scan_id'" in entries[1] and "not JSON" in entries[2] and "field 'host_id'" in entries[3]


def test_mtls_refuses_an_agent_without_a_client_certificate(tmp_path, os_settings, os_client, pki, collectors):
    tokens = tmp_path / "tokens.json"
    token_file = tmp_path / "agent.token"
    token_file.write_text(issue(tokens, "laptop-5"))
    token_file.chmod(0o600)
    collector = Collector(tmp_path, os_settings, pki, tokens, mtls=True)
    collectors.append(collector)
    no_cert = ssl.create_default_context(cafile=str(pki.ca))
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        collector.post(scan_report(tmp_path, os_settings), token_file.read_text(), context=no_cert)
    # A certificate from another CA is refused the same way.
    stranger = make_pki(tmp_path / "other", "another CA")
    other = ssl.create_default_context(cafile=str(pki.ca))
    other.load_cert_chain(stranger.client_cert, stranger.client_key)
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        collector.get("/healthz", context=other)
    home = make_home(tmp_path / "home", "linux")
    base = AGENT + [
        "scan",
        "--home",
        str(home.home),
        "--root",
        str(home.root),
        "--os",
        "linux",
        "--no-processes",
        "--no-listeners",
        "--no-state",
        "--ship",
        collector.base,
        "--token-file",
        str(token_file),
        "--ca-certs",
        str(pki.ca),
        "--ship-retries",
        "0",
    ]
    env = {**os.environ, "MCPEEKER_SITE_KEY": os_settings.site_key}
    res = subprocess.run(
        base + ["--spool-dir", str(tmp_path / "o1")], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 1 and "not shipped" in res.stderr and len(list((tmp_path / "o1").glob("*.json"))) == 1
    # The agent verifies the collector: without the site CA (system roots only) nothing is sent, the report waits.
    no_ca = [a for a in base if a not in ("--ca-certs", str(pki.ca))]
    res = subprocess.run(
        no_ca
        + [
            "--spool-dir",
            str(tmp_path / "o2"),
            "--client-cert",
            str(pki.client_cert),
            "--client-key",
            str(pki.client_key),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 1 and "TLS verification failed" in res.stderr, res.stderr
    assert len(list((tmp_path / "o2").glob("*.json"))) == 1
    config = tmp_path / "agent.yaml"  # how a fleet configures it: the agent config file instead of flags
    config.write_text(f"client_cert: {pki.client_cert}\nclient_key: {pki.client_key}\nspool_dir: {tmp_path / 'o1'}\n")
    res = subprocess.run(base + ["--agent-config", str(config)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "shipped 2 report(s)" in res.stderr  # the one kept from the refused run, then this one
    scans = [h for h in agent_docs(os_client, os_settings) if h["_source"]["event"]["dataset"] == "agent.scan"]
    assert len(scans) == 2


def test_cluster_outage_at_the_collector_is_spooled_and_drained(tmp_path, os_settings, os_client, pki, collectors):
    tokens = tmp_path / "tokens.json"
    token = issue(tokens, "laptop-6")
    spool = tmp_path / "cspool"
    down = Collector(tmp_path, os_settings, pki, tokens, url=f"http://127.0.0.1:{free_port()}", spool=spool)
    collectors.append(down)
    reports = [scan_report(tmp_path, os_settings, n) for n in range(3)]
    for report in reports:
        status, answer = down.post(report, token)
        assert status == 202, answer  # durable in the collector's spool
    assert json.loads(down.get("/healthz")[1])["cluster"] == "down"
    down.stop()
    assert list(spool.glob("*.ndjson"))
    up = Collector(tmp_path, os_settings, pki, tokens, spool=spool)
    collectors.append(up)
    expected = sum(len(json.loads(r)["evidence"]) + 1 for r in reports)
    deadline = time.monotonic() + 60
    while len(agent_docs(os_client, os_settings)) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(agent_docs(os_client, os_settings)) == expected
    assert not list(spool.glob("*.ndjson"))


def test_a_fatal_cluster_error_answers_503_and_health_says_so(tmp_path, os_settings, pki, collectors):
    """A cluster whose TLS certificate cannot be verified is not an outage to spool through: nothing is sent,
    the agent gets 503 (it keeps the report) and /healthz reports the failure."""
    tokens = tmp_path / "tokens.json"
    token = issue(tokens, "laptop-7")
    other = Collector(tmp_path, os_settings, pki, tokens)  # an HTTPS server the collector's client cannot verify
    collectors.append(other)
    broken = Collector(
        tmp_path, os_settings, pki, tokens, url=f"https://127.0.0.1:{other.port}", spool=tmp_path / "broken-spool"
    )
    collectors.append(broken)
    status, answer = broken.post(scan_report(tmp_path, os_settings), token)
    assert status == 503 and "CERTIFICATE_VERIFY_FAILED" in answer["error"], answer
    with pytest.raises(urllib.error.HTTPError) as failed:
        broken.get("/healthz")
    assert failed.value.code == 503 and json.loads(failed.value.read())["status"] == "failed"
    assert not list((tmp_path / "broken-spool").glob("*.ndjson"))
