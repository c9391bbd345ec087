#!/usr/bin/env python3
"""Latency of `mcpeeker serve` on 10k findings: the findings list and the finding page (with its timeline).

    .venv/bin/python bench/serve_latency.py [--hosts 10000] [--requests 200] [--url http://127.0.0.1:9250]

Builds 10k findings the way bench/correlate_cycle.py does (each host an agent listener and network evidence;
one real correlation cycle) under a throw-away index prefix on a running node (default: the tests' node on 9250;
`mcpeeker opensearch start` gives one), starts the test OpenID provider (tests/oidc) and `mcpeeker serve` over
TLS as real processes, logs an analyst and a developer in through the provider's forms, and times sequential
requests over HTTPS with a kept-alive connection. Prints p50/p95/max per request kind.
"""

from __future__ import annotations

import argparse
import os
import random
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

import httpx  # noqa: E402
from opensearchpy import helpers  # noqa: E402

from correlate_cycle import evidence_docs, host_ip  # noqa: E402
from mcpeeker import indices  # noqa: E402
from mcpeeker.client import make_client  # noqa: E402
from mcpeeker.correlate.engine import Correlator  # noqa: E402
from mcpeeker.settings import Settings  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--url", default=os.environ.get("MCPEEKER_TEST_URL", "http://127.0.0.1:9250"))
    args = parser.parse_args()

    from cluster import drop_prefix
    from collect.pki import make_pki
    from serve.conftest import ACCOUNTS, AUDIENCE, Provider, free_port, rsa_jwk

    work = Path(tempfile.mkdtemp(prefix="mcpeeker-bench-serve-"))
    settings = Settings(
        url=args.url, index_prefix=f"bench-serve-{uuid.uuid4().hex[:6]}-", site_key="b" * 64, audit_key="c" * 64
    )
    client = make_client(settings)
    indices.install(settings, client)
    provider = Provider(work, free_port(), [("k1", *rsa_jwk("k1"))])
    serve: subprocess.Popen[bytes] | None = None
    try:
        start = datetime.now(timezone.utc) - timedelta(hours=2)
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        began = time.monotonic()
        helpers.bulk(
            client,
            evidence_docs(settings.index_prefix, args.hosts, args.hosts * 3, start, now),
            chunk_size=5000,
            request_timeout=300,
        )
        client.indices.refresh(index=settings.index("mcp-events-*"))
        Correlator(settings, client).run_once()
        client.indices.refresh(index=settings.index("mcp-findings"))
        total = client.count(index=settings.index("mcp-findings"))["count"]
        print(f"{total:,} findings from {args.hosts:,} hosts in {time.monotonic() - began:.1f} s")

        # The developer owns the first 20 hosts (their addresses in the hosts claim).
        ACCOUNTS["dev-bench"] = {"groups": ["mcpeeker-developers"], "mcpeeker_hosts": [host_ip(n) for n in range(20)]}
        port = free_port()
        provider.ui_redirects.append(f"https://127.0.0.1:{port}/auth/callback")  # the web UI's client
        provider.start()
        pki = make_pki(work / "pki")
        serve_yaml = work / "serve.yaml"
        serve_yaml.write_text(
            f'{{"oidc": {{"issuer": "{provider.issuer}", "audience": "{AUDIENCE}"}}, '
            f'"ui": {{"client_id": "mcpeeker-web"}}, "tokens_file": "{work / "tokens.json"}"}}'
        )
        serve = subprocess.Popen(
            [sys.executable, "-m", "mcpeeker.cli", "serve", "--port", str(port), "--cert", str(pki.server_cert)]
            + ["--key", str(pki.server_key), "--serve-config", str(serve_yaml), "--url", args.url]
            + ["--index-prefix", settings.index_prefix],
            env={**os.environ, "MCPEEKER_SITE_KEY": settings.site_key or "", "MCPEEKER_AUDIT_KEY": "c" * 64},
            stdout=open(work / "serve.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        import ssl

        tls = ssl.create_default_context(cafile=str(pki.ca))
        base = f"https://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", verify=tls).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        analyst, developer = provider.token("anna"), provider.token("dev-bench")
        with httpx.Client(base_url=base, verify=tls, timeout=30) as http:
            page = http.get("/api/v1/findings", params={"limit": 200}, headers=_auth(analyst)).json()
            ids = [f["finding"]["id"] for f in page["items"]]
            sample = page["items"][0]
            rng = random.Random(1)
            session = ui_session(base, tls, "anna")
            kinds = {
                "findings list (analyst, 50 per page)": lambda: ("/api/v1/findings", {}, analyst),
                "findings list, filtered (class+severity+text+since)": lambda: (
                    "/api/v1/findings",
                    {
                        "classification": sample["classification"],
                        "severity": sample["severity"],
                        "text": "SRV-4",
                        "since": "2020-01-01T00:00:00Z",
                    },
                    analyst,
                ),
                "findings list (developer, own hosts)": lambda: ("/api/v1/findings", {}, developer),
                "finding page with timeline (analyst)": lambda: (f"/api/v1/findings/{rng.choice(ids)}", {}, analyst),
                "UI triage page, HTML (analyst, 50 per page)": lambda: ("/findings", {}, None),
                "UI finding page with timeline, HTML (analyst)": lambda: (f"/findings/{rng.choice(ids)}", {}, None),
            }
            for name, make in kinds.items():
                path, params, token = make()
                if token is not None:
                    first = http.get(path, params=params, headers=_auth(token)).json()
                    if "total" in first:
                        name += f" [{first['total']:,} match]"
                times = []
                for i in range(args.requests + 5):
                    path, params, token = make()
                    t0 = time.perf_counter()
                    if token is None:  # a UI page: the browser's session cookie
                        response = http.get(path, params=params, headers={"Cookie": session})
                    else:
                        response = http.get(path, params=params, headers=_auth(token))
                    elapsed = (time.perf_counter() - t0) * 1000
                    assert response.status_code == 200, response.text
                    if i >= 5:  # warm-up
                        times.append(elapsed)
                print(
                    f"{name:66s} p50 {statistics.median(times):6.1f} ms  p95 {percentile(times, 0.95):6.1f} ms  "
                    f"max {max(times):6.1f} ms  (n={len(times)})"
                )
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=20)
        provider.stop()
        drop_prefix(client, settings.index_prefix)
    return 0


def ui_session(base: str, tls: ssl.SSLContext, user: str) -> str:
    """The web UI's session cookie for `user`, through /auth/login and the provider's login and consent forms."""
    from urllib.parse import urljoin

    from serve.oidc_flow import _form

    with httpx.Client(verify=tls, follow_redirects=False, timeout=30) as browser:
        response = browser.get(f"{base}/auth/login")
        for _ in range(12):
            location = response.headers.get("location")
            if response.status_code in (302, 303) and location:
                target = urljoin(str(response.url), location)
                response = browser.get(target)
                if "/auth/callback" in target:
                    break
                continue
            form = _form(response)
            fields = dict(form["inputs"])
            if fields.get("prompt") == "login":
                fields.update(login=user, password="any")
            response = browser.post(urljoin(str(response.url), form["action"]), data=fields)
        cookie = response.cookies.get("mcpeeker_session")
        assert cookie, f"no UI session for {user}: {response.status_code} {response.text[:300]}"
        return f"mcpeeker_session={cookie}"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


if __name__ == "__main__":
    raise SystemExit(main())
