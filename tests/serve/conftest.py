"""Fixtures for `mcpeeker serve`: a real OpenID provider (node, the `oidc-provider` package in tests/oidc, installed
by `make deps`), a real `mcpeeker serve` process over TLS against the real OpenSearch node, and findings made by the
real pipeline (agent reports -> `mcpeeker ingest` -> correlation)."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.correlate.engine import Correlator
from mcpeeker.settings import Settings

from cluster import drop_prefix
from collect.pki import make_pki
from paths import AUDIT_KEY, REPO_ROOT, SITE_KEY, missing, node  # the seed's host ids use SITE_KEY too
from serve.oidc_flow import login

OIDC_DIR = REPO_ROOT / "tests" / "oidc"
AUDIENCE = "urn:mcpeeker:api"
OTHER_AUDIENCE = "urn:other:api"
REDIRECT = "http://127.0.0.1/callback"
# Who can log in at the test provider: their groups (-> roles.yaml groups:) and the hosts they own.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {
        "groups": ["mcpeeker-developers", "staff"],
        "mcpeeker_hosts": ["machine-alice-laptop"],
        "email": "a@x.test",
    },
    "dave": {"groups": ["mcpeeker-developers"], "mcpeeker_hosts": ["machine-build-01"]},
    "anna": {"groups": ["mcpeeker-analysts"]},
    "adam": {"groups": ["mcpeeker-admins"]},
    "amy": {"groups": ["mcpeeker-admins", "mcpeeker-developers"]},
    "nobody": {"groups": ["staff"]},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rsa_jwk(kid: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return key, jwk


@dataclass
class Provider:
    """The oidc-provider process; `restart(keys)` brings it back on the same port with another key set."""

    workdir: Path
    port: int
    keys: list[tuple[str, rsa.RSAPrivateKey, dict[str, Any]]]
    proc: subprocess.Popen[str] | None = None
    issuer: str = ""
    ui_redirects: list[str] = field(default_factory=list)  # the web UI's callbacks (tests/serve/test_ui.py)
    _tokens: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def start(self) -> None:
        config = {
            "port": self.port,
            "host": "127.0.0.1",
            "jwks": {"keys": [jwk for _, _, jwk in self.keys]},
            "clients": [
                {"client_id": "mcpeeker", "redirect_uris": [REDIRECT], "audience": AUDIENCE},
                {"client_id": "other-app", "redirect_uris": [REDIRECT], "audience": OTHER_AUDIENCE},
            ]
            + [  # the web UI: a web client (https callbacks) for the same API audience
                {"client_id": "mcpeeker-web", "redirect_uris": [uri], "audience": AUDIENCE, "application_type": "web"}
                for uri in self.ui_redirects[-1:]
            ],
            "accounts": ACCOUNTS,
            "access_token_ttl": 600,
        }
        path = self.workdir / "provider.json"
        path.write_text(json.dumps(config))
        log = open(self.workdir / "provider.log", "a")
        self.proc = subprocess.Popen(
            [node() or "node", str(OIDC_DIR / "provider.mjs"), str(path)], stdout=subprocess.PIPE, stderr=log, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the OpenID provider did not start: {(self.workdir / 'provider.log').read_text()}"
        self.issuer = json.loads(line)["issuer"]
        self._tokens.clear()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self, keys: list[tuple[str, rsa.RSAPrivateKey, dict[str, Any]]]) -> None:
        self.stop()
        self.keys = keys
        self.start()

    def token(self, user: str, client: str = "mcpeeker") -> str:
        """An access token for `user`, obtained through the provider's login and consent forms (cached)."""
        return str(self.response(user, client)["access_token"])

    def response(self, user: str, client: str = "mcpeeker") -> dict[str, Any]:
        """The provider's whole token response (access and ID token) for `user` (cached)."""
        if (user, client) not in self._tokens:
            self._tokens[(user, client)] = login(self.issuer, client, user, REDIRECT)
        return self._tokens[(user, client)]

    def sign(self, claims: dict[str, Any], kid: str | None = None, key: Any = None) -> str:
        """A token signed with one of the provider's own keys (to test exp, nbf, iss edge cases)."""
        kid = kid or self.keys[0][0]
        private = key or {k: v for k, v, _ in self.keys}[kid]
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid, "typ": "at+jwt"})


@pytest.fixture(scope="session")
def oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    if node() is None:
        missing("node not found: the serve tests run the OpenID provider with Node.js (make deps installs it)")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        missing("tests/oidc/node_modules missing: `make deps` (or `npm ci --prefix tests/oidc`) installs it")
    kid, key_one, jwk = "k1", *rsa_jwk("k1")
    provider = Provider(tmp_path_factory.mktemp("oidc"), free_port(), [(kid, key_one, jwk)])
    provider.start()
    yield provider
    provider.stop()


@dataclass
class Api:
    base: str
    ca: Path
    settings: Settings
    tokens_file: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, verify=self.tls(), headers=headers, timeout=30)

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        with self.client(token) as client:
            return client.request(method, path, **kwargs)


def seed_findings(settings: Settings, workdir: Path) -> None:
    """Agent reports of four hosts through `mcpeeker ingest agent` and one correlation cycle."""
    from datetime import datetime, timezone

    from dashboards.seed import _agent_reports, _ingest, _write_lines

    now = datetime.now(timezone.utc).replace(microsecond=0)
    _ingest(settings, "agent", _write_lines(workdir / "agent.ndjson", _agent_reports(now)), workdir)
    client = make_client(settings)
    client.indices.refresh(index=settings.index("mcp-events-*"))
    Correlator(settings, client).run_once()
    client.indices.refresh(index=settings.index("mcp-findings"))


@pytest.fixture(scope="module")
def api(os_url: str, oidc: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    workdir = tmp_path_factory.mktemp("serve")
    settings = Settings(
        url=os_url,
        index_prefix=f"t-{uuid.uuid4().hex[:10]}-",
        site_key=SITE_KEY,
        audit_key=AUDIT_KEY,
    )
    client = make_client(settings)
    indices.install(settings, client)
    seed_findings(settings, workdir)
    pki = make_pki(workdir / "pki")
    tokens_file = workdir / "api-tokens.json"
    serve_yaml = workdir / "serve.yaml"
    serve_yaml.write_text(
        json.dumps(
            {
                "oidc": {"issuer": oidc.issuer, "audience": AUDIENCE, "hosts_claim": "mcpeeker_hosts"},
                "tokens_file": str(tokens_file),
                "max_page_size": 200,
                "auth_failures_per_minute": 10000,  # the module refuses many tokens on purpose
            }
        )
    )
    port = free_port()
    log = workdir / "serve.log"
    env = {**os.environ, "MCPEEKER_SITE_KEY": settings.site_key or "", "MCPEEKER_AUDIT_KEY": AUDIT_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpeeker.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        + ["--cert", str(pki.server_cert), "--key", str(pki.server_key), "--serve-config", str(serve_yaml)]
        + ["--url", os_url, "--index-prefix", settings.index_prefix],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    api = Api(f"https://127.0.0.1:{port}", pki.ca, settings, tokens_file, proc, log)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"mcpeeker serve exited: {log.read_text()}"
        try:
            if api.call("GET", "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"mcpeeker serve did not answer: {log.read_text()}"
        time.sleep(0.2)
    yield api
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    drop_prefix(client, settings.index_prefix)
