"""TLS and mTLS to the cluster, for real: stunnel in front of the session's OpenSearch node, certificates
made here by our CA code, the `mcpeeker` CLI as the client.

Every refused connection must fail with one clear line naming the problem (no traceback) and must not
reach the node: the node's indices and templates for the test's prefix are compared before and after,
and stunnel's log must show no upstream connection for the refused attempts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcpeeker.client import make_client, tls_context
from mcpeeker.indices import load_templates
from mcpeeker.localnode import certs
from mcpeeker.localnode.tlsfront import TlsFront
from mcpeeker.settings import Settings
from paths import missing

UTC = dt.UTC


@pytest.fixture(scope="module", autouse=True)
def _stunnel() -> None:
    if not (shutil.which("stunnel4") or shutil.which("stunnel")):
        missing("stunnel (Debian stunnel4) is not installed: run scripts/install-debs.sh")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _upstream_port(os_url: str) -> int:
    if not os_url.startswith("http://127.0.0.1:"):
        pytest.skip("the TLS front forwards to a node on this machine's loopback; MCPEEKER_TEST_URL is elsewhere")
    return int(os_url.rsplit(":", 1)[1])


def _mcpeeker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MCPEEKER_") or k == "MCPEEKER_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "mcpeeker.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**base, **(env or {})},
    )


def _get(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise


def _node_state(os_url: str, prefix: str) -> tuple[list[str], list[str], int]:
    """What the node holds for `prefix`: index names, template names, documents in the probe index."""
    indices = sorted(
        row["index"]
        for row in json.loads(
            urllib.request.urlopen(
                f"{os_url}/_cat/indices/{prefix}*?format=json&expand_wildcards=all", timeout=10
            ).read()
        )
    )
    templates = sorted(t["name"] for t in _get(f"{os_url}/_index_template/{prefix}*").get("index_templates", []))
    count = _get(f"{os_url}/{prefix}probe/_count").get("count", -1)
    return indices, templates, count


def _cleanup(os_url: str, prefix: str) -> None:
    for path in (f"/{prefix}*?expand_wildcards=all", f"/_index_template/{prefix}*"):
        request = urllib.request.Request(os_url + path, method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=30).read()
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise


@pytest.fixture
def prefix(os_url: str) -> Iterator[str]:
    """A fresh index prefix with one probe document already on the node (written over plain loopback)."""
    value = f"tls-{uuid.uuid4().hex[:8]}-"
    request = urllib.request.Request(
        f"{os_url}/{value}probe/_doc/1?refresh=true",
        data=b'{"n":1}',
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()
    yield value
    _cleanup(os_url, value)


def _front(tmp_path: Path, os_url: str, client_certs: bool = False) -> TlsFront:
    return TlsFront(tmp_path / "tls", _free_port(), _upstream_port(os_url), require_client_certs=client_certs)


@pytest.fixture
def front(tmp_path: Path, os_url: str) -> Iterator[TlsFront]:
    tls = _front(tmp_path, os_url)
    tls.start()
    yield tls
    tls.stop()


@pytest.fixture
def mtls_front(tmp_path: Path, os_url: str) -> Iterator[TlsFront]:
    tls = _front(tmp_path, os_url, client_certs=True)
    tls.start()
    yield tls
    tls.stop()


def _client_flags(tls: TlsFront) -> list[str]:
    return ["--client-cert", str(tls.client.cert), "--client-key", str(tls.client.key)]


def _upstream_connections(tls: TlsFront) -> int:
    """How many connections stunnel has opened to the node (one log line each)."""
    return tls.log.read_text(errors="replace").count("s_connect: connected")


def test_cli_start_tls_with_client_certs_then_setup_and_search_through_it(
    os_url: str, tmp_path: Path, prefix: str
) -> None:
    port = _upstream_port(os_url)
    if os.environ.get("MCPEEKER_TEST_URL"):
        pytest.skip("`opensearch start --tls` reuses the session's own node; MCPEEKER_TEST_URL is not one")
    tls_dir, tls_port = tmp_path / "front", _free_port()
    node_args = ["--name", f"test-{port}", "--port", str(port), "--tls-dir", str(tls_dir)]
    started = _mcpeeker("opensearch", "start", *node_args, "--tls", "--client-certs", "--tls-port", str(tls_port))
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip()
        assert url == f"https://localhost:{tls_port}"
        assert "--ca-certs" in started.stderr and "--client-cert" in started.stderr
        ca, cert, key = tls_dir / "ca.crt", tls_dir / "client.crt", tls_dir / "client.key"
        for secret in (tls_dir / "ca.key", key, tls_dir / "server.pem"):
            assert secret.stat().st_mode & 0o077 == 0, f"{secret} is readable by others"
        # Flags.
        setup = _mcpeeker(
            "setup",
            "--url",
            url,
            "--ca-certs",
            str(ca),
            "--client-cert",
            str(cert),
            "--client-key",
            str(key),
            "--index-prefix",
            prefix,
        )
        assert setup.returncode == 0, setup.stderr
        indices, templates, _ = _node_state(os_url, prefix)
        assert f"{prefix}mcp-findings" in indices and f"{prefix}mcp-events" in templates
        # Environment variables, then the config file, carry the same settings.
        env = {
            "MCPEEKER_URL": url,
            "MCPEEKER_CA_CERTS": str(ca),
            "MCPEEKER_CLIENT_CERT": str(cert),
            "MCPEEKER_CLIENT_KEY": str(key),
            "MCPEEKER_INDEX_PREFIX": prefix,
        }
        again = _mcpeeker("setup", env=env)
        assert again.returncode == 0 and "up to date" in again.stdout + again.stderr, again.stderr
        config = tmp_path / "mcpeeker.yaml"
        config.write_text(
            f"connection:\n  url: {url}\n  ca_certs: {ca}\n  client_cert: {cert}\n"
            f"  client_key: {key}\n  index_prefix: {prefix}\n"
        )
        third = _mcpeeker("setup", "--config", str(config))
        assert third.returncode == 0 and "up to date" in third.stdout + third.stderr, third.stderr
        # A search through the front sees the probe document written over plain loopback.
        client = make_client(Settings(url=url, ca_certs=str(ca), client_cert=str(cert), client_key=str(key)))
        assert client.count(index=f"{prefix}probe")["count"] == 1
        status = json.loads(_mcpeeker("opensearch", "status", *node_args, "--json").stdout)
        assert status["running"] and status["tls"]["running"] and status["tls"]["client_certs"] is True
        assert status["tls"]["url"] == url
    finally:
        stopped = _mcpeeker("opensearch", "stop", *node_args, "--tls-only")
    assert stopped.returncode == 0 and "TLS front" in stopped.stderr
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", tls_port), timeout=2).close()
    assert _get(os_url + "/_cluster/health")["status"] in {"green", "yellow"}  # the node keeps running


def _expect_refused(tls: TlsFront, os_url: str, prefix: str, flags: list[str], phrase: str) -> str:
    """Run a write (setup) and a document write through `tls` with `flags`; both must fail and reach nothing."""
    before = _node_state(os_url, prefix)
    connections = _upstream_connections(tls)
    result = _mcpeeker("setup", "--url", tls.url, "--index-prefix", prefix, *flags)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert phrase in result.stderr, result.stderr
    assert result.stderr.count("\n") <= 2, result.stderr  # one clear line, not a log dump
    # The library path as the ingest side uses it: a document write into an existing index.
    values = dict(zip(flags[::2], flags[1::2]))
    settings = Settings(
        url=tls.url,
        ca_certs=values.get("--ca-certs"),
        client_cert=values.get("--client-cert"),
        client_key=values.get("--client-key"),
        timeout=10,
    )
    with pytest.raises(Exception) as excinfo:
        make_client(settings).index(index=f"{prefix}probe", body={"n": 2}, refresh=True)
    assert type(excinfo.value).__name__ in {"SSLError", "ConnectionError"}, repr(excinfo.value)
    assert _node_state(os_url, prefix) == before == ([f"{prefix}probe"], [], 1)
    assert _upstream_connections(tls) == connections, "the front connected to the node for a refused client"
    return result.stderr


def test_wrong_ca_is_refused_and_sends_nothing(front: TlsFront, os_url: str, prefix: str, tmp_path: Path) -> None:
    other = certs.create_ca(tmp_path / "other", "Somebody else's CA")
    message = _expect_refused(front, os_url, prefix, ["--ca-certs", str(other.cert)], "is not signed by a CA we trust")
    assert "--ca-certs" in message


def test_expired_server_certificate_is_refused_and_sends_nothing(front: TlsFront, os_url: str, prefix: str) -> None:
    now = dt.datetime.now(UTC)
    front.install_server_cert(
        *certs.issue(
            front.ca,
            "localhost",
            hosts=certs.DEFAULT_HOSTS,
            not_before=now - dt.timedelta(days=400),
            not_after=now - dt.timedelta(days=1),
        )
    )
    front.reload()
    message = _expect_refused(front, os_url, prefix, ["--ca-certs", str(front.ca.cert)], "has expired")
    assert "certificate has expired" in message


def test_wrong_host_server_certificate_is_refused_and_sends_nothing(front: TlsFront, os_url: str, prefix: str) -> None:
    front.install_server_cert(*certs.issue(front.ca, "siem.example", hosts=["siem.example"]))
    front.reload()
    message = _expect_refused(
        front, os_url, prefix, ["--ca-certs", str(front.ca.cert)], "is not valid for the host in the URL"
    )
    assert "localhost" in message  # the name that did not match


def test_missing_client_certificate_is_refused_and_sends_nothing(
    mtls_front: TlsFront, os_url: str, prefix: str
) -> None:
    message = _expect_refused(
        mtls_front,
        os_url,
        prefix,
        ["--ca-certs", str(mtls_front.ca.cert)],
        "requires a client certificate and none was given",
    )
    assert "--client-cert" in message and "MCPEEKER_CLIENT_CERT" in message


def test_unknown_client_certificate_is_refused_and_sends_nothing(
    mtls_front: TlsFront, os_url: str, prefix: str, tmp_path: Path
) -> None:
    # Well-formed and valid, but signed by a CA the front does not trust.
    other = certs.create_ca(tmp_path / "other", "Somebody else's CA")
    stranger = certs.write_pair(tmp_path / "other", "client", *certs.issue(other, "stranger", client=True))
    message = _expect_refused(
        mtls_front,
        os_url,
        prefix,
        ["--ca-certs", str(mtls_front.ca.cert), "--client-cert", str(stranger.cert), "--client-key", str(stranger.key)],
        "rejected the client certificate",
    )
    assert str(stranger.cert) in message and "unknown ca" in message


def test_expired_client_certificate_is_refused(mtls_front: TlsFront, os_url: str, prefix: str, tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    old = certs.write_pair(
        tmp_path,
        "old-client",
        *certs.issue(
            mtls_front.ca,
            "old",
            client=True,
            not_before=now - dt.timedelta(days=30),
            not_after=now - dt.timedelta(days=1),
        ),
    )
    _expect_refused(
        mtls_front,
        os_url,
        prefix,
        ["--ca-certs", str(mtls_front.ca.cert), "--client-cert", str(old.cert), "--client-key", str(old.key)],
        "rejected the client certificate",
    )


def test_verified_mtls_works_and_the_right_certificate_is_needed(
    mtls_front: TlsFront, os_url: str, prefix: str
) -> None:
    connections = _upstream_connections(mtls_front)
    result = _mcpeeker(
        "setup",
        "--url",
        mtls_front.url,
        "--ca-certs",
        str(mtls_front.ca.cert),
        "--index-prefix",
        prefix,
        *_client_flags(mtls_front),
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    assert _upstream_connections(mtls_front) > connections  # the log line the refusal tests count is real
    indices, templates, count = _node_state(os_url, prefix)
    assert f"{prefix}mcp-registry" in indices and len(templates) == len(load_templates(prefix)) and count == 1


def test_insecure_warns_loudly_on_every_run(mtls_front: TlsFront, os_url: str, prefix: str) -> None:
    for attempt in range(2):
        result = _mcpeeker(
            "setup", "--url", mtls_front.url, "--insecure", "--index-prefix", prefix, *_client_flags(mtls_front)
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("WARNING: TLS certificate verification is OFF") == 1, (attempt, result.stderr)
        assert "InsecureRequestWarning" not in result.stderr  # ours replaces urllib3's line per request
    by_env = _mcpeeker(
        "setup",
        "--url",
        mtls_front.url,
        "--index-prefix",
        prefix,
        *_client_flags(mtls_front),
        env={"MCPEEKER_VERIFY_TLS": "false"},
    )
    assert by_env.returncode == 0 and "verification is OFF" in by_env.stderr, by_env.stderr
    # Verified runs stay quiet.
    verified = _mcpeeker(
        "setup",
        "--url",
        mtls_front.url,
        "--ca-certs",
        str(mtls_front.ca.cert),
        "--index-prefix",
        prefix,
        *_client_flags(mtls_front),
    )
    assert verified.returncode == 0 and "WARNING" not in verified.stderr, verified.stderr


def test_unreadable_tls_setting_names_the_setting(front: TlsFront, prefix: str, tmp_path: Path) -> None:
    result = _mcpeeker("setup", "--url", front.url, "--ca-certs", str(tmp_path / "nope.crt"), "--index-prefix", prefix)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--ca-certs" in result.stderr and "MCPEEKER_CA_CERTS" in result.stderr and "nope.crt" in result.stderr


def test_certificate_rotation_without_downtime(mtls_front: TlsFront, os_url: str, prefix: str) -> None:
    """Clients keep querying (a pooled client and fresh connections) while the server certificate is
    replaced three times through the CLI; no request may fail and each new certificate must be served."""
    settings = Settings(
        url=mtls_front.url,
        ca_certs=str(mtls_front.ca.cert),
        client_cert=str(mtls_front.client.cert),
        client_key=str(mtls_front.client.key),
        timeout=10,
    )
    context = tls_context(settings)
    stop = threading.Event()
    done = {"pooled": 0, "fresh": 0}
    failures: list[str] = []

    def pooled() -> None:
        client = make_client(settings)
        while not stop.is_set():
            try:
                assert client.count(index=f"{prefix}probe")["count"] == 1
                done["pooled"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                failures.append(f"pooled: {exc!r}")

    def fresh() -> None:
        while not stop.is_set():
            try:  # a new TCP connection and TLS handshake per request
                with urllib.request.urlopen(
                    f"{mtls_front.url}/{prefix}probe/_count", context=context, timeout=10
                ) as response:
                    assert json.loads(response.read())["count"] == 1
                done["fresh"] += 1
            except Exception as exc:  # noqa: BLE001
                failures.append(f"fresh: {exc!r}")

    threads = [threading.Thread(target=pooled), threading.Thread(target=fresh)]
    for thread in threads:
        thread.start()
    served = [mtls_front.served_certificate().serial_number]
    try:
        for _ in range(3):
            time.sleep(0.7)
            before = dict(done)
            rotated = _mcpeeker("opensearch", "rotate-cert", "--tls-dir", str(mtls_front.dir))
            assert rotated.returncode == 0, rotated.stderr
            served.append(mtls_front.served_certificate().serial_number)
            # Both clients made progress across the reload.
            time.sleep(0.3)
            assert done["pooled"] > before["pooled"] and done["fresh"] > before["fresh"], (before, done)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == [], failures[:5]
    assert len(set(served)) == 4, "each rotation must serve a new certificate"
    assert served[-1] == certs.certificate_of(mtls_front.server_pem).serial_number
    assert done["pooled"] > 20 and done["fresh"] > 20, done
    print(f"rotation: {done['pooled']} pooled + {done['fresh']} fresh-connection requests, 3 rotations, 0 failed")


def test_ca_rollover_with_a_bundle_refuses_no_request(
    front: TlsFront, os_url: str, prefix: str, tmp_path: Path
) -> None:
    """docs/tls.md's CA change: clients trust old+new CA, the server switches to the new CA, nothing fails;
    afterwards a client that trusts only the old CA gets the clear 'not signed by a CA we trust' error."""
    new_ca = certs.create_ca(tmp_path / "next", "MCPeeker local CA 2")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(front.ca.cert.read_bytes() + new_ca.cert.read_bytes())
    settings = Settings(url=front.url, ca_certs=str(bundle), timeout=10)
    context = tls_context(settings)
    stop = threading.Event()
    done, failures = [0], []

    def fresh() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(f"{front.url}/{prefix}probe/_count", context=context, timeout=10) as r:
                    assert json.loads(r.read())["count"] == 1
                done[0] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                failures.append(repr(exc))

    thread = threading.Thread(target=fresh)
    thread.start()
    try:
        time.sleep(0.5)
        front.install_server_cert(*certs.issue(new_ca, "localhost", hosts=certs.DEFAULT_HOSTS))
        front.reload()
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert failures == [] and done[0] > 5, (done, failures[:3])
    assert front.served_certificate().issuer == certs.certificate_of(new_ca.cert).subject
    old_only = _mcpeeker("setup", "--url", front.url, "--ca-certs", str(front.ca.cert), "--index-prefix", prefix)
    assert old_only.returncode == 2 and "is not signed by a CA we trust" in old_only.stderr, old_only.stderr
    new_only = _mcpeeker("setup", "--url", front.url, "--ca-certs", str(new_ca.cert), "--index-prefix", prefix)
    assert new_only.returncode == 0, new_only.stderr


def test_start_renews_a_server_certificate_close_to_expiry(front: TlsFront) -> None:
    now = dt.datetime.now(UTC)
    front.install_server_cert(
        *certs.issue(front.ca, "localhost", hosts=certs.DEFAULT_HOSTS, not_after=now + dt.timedelta(days=10))
    )
    front.reload()
    short = front.served_certificate()
    front.start()  # already running: renews the certificate and reloads in place
    renewed = front.served_certificate()
    assert renewed.serial_number != short.serial_number
    assert renewed.not_valid_after_utc - now > dt.timedelta(days=300)
    assert front.status().pid is not None
