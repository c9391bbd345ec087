"""The web UI's and the API's hardening, in Debian's chromium against a real `mcpeeker serve` over TLS, the real
OpenID provider and the real OpenSearch node: screenshots of every page, hostile tool names as data, security
headers on every response, axe-core accessibility checks, rate limits on token endpoints, and a 503 (not a 401)
when the provider's keys cannot be fetched.

Screenshots go to a temporary directory; `MCPEEKER_UI_SCREENSHOTS=docs/screenshots` writes the docs' copies."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mcpeeker import indices
from mcpeeker.client import make_client
from mcpeeker.settings import Settings

from cluster import drop_prefix
from collect.pki import Pki, make_pki
from dashboards.seed import HOSTS, _ingest, _write_lines
from paths import REPO_ROOT, SITE_KEY, missing
from serve.conftest import AUDIENCE, Provider, free_port, rsa_jwk, seed_findings
from serve.oidc_flow import login

playwright_sync = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
CHROMIUM = "/usr/bin/chromium"
AXE = REPO_ROOT / "tests" / "oidc" / "node_modules" / "axe-core" / "axe.min.js"
AUDIT_KEY = "9" * 64
TOOL_SCRIPT = "<script>alert('tool')</script>"
TOOL_IMG = '"><img src=x onerror=alert(2)>'
TOOL_SERVER = "tools-xss-server"
AUTH_FAILURES = 40  # refused bearer tokens per address per minute on this module's server
TOKENS_PER_MINUTE = 3
SHOT_LIMIT = 200 * 1024
HSTS_MAX_AGE = 86400  # this module's serve.yaml: not the default, so the configured value is what is sent


@dataclass
class Served:
    base: str
    settings: Settings
    spki: str  # chromium trusts exactly this certificate
    ca: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def http(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.tls(), follow_redirects=False, timeout=30, **kwargs)


def start_serve(
    workdir: Path, settings: Settings, pki: Pki, config: dict[str, Any], insecure_http: bool = False
) -> Served:
    """`mcpeeker serve` over TLS (or `--insecure-http`) with `config` as serve.yaml, answering /healthz."""
    cert = x509.load_pem_x509_certificate(Path(pki.server_cert).read_bytes())
    spki = base64.b64encode(
        hashlib.sha256(cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()
    ).decode()
    port = config.pop("_port", None) or free_port()
    serve_yaml = workdir / f"serve-{port}.yaml"
    serve_yaml.write_text(json.dumps({"tokens_file": str(workdir / f"tokens-{port}.json"), **config}))
    log = workdir / f"serve-{port}.log"
    env = {**os.environ, "MCPEEKER_SITE_KEY": SITE_KEY, "MCPEEKER_AUDIT_KEY": AUDIT_KEY}
    listen = ["--insecure-http"] if insecure_http else ["--cert", str(pki.server_cert), "--key", str(pki.server_key)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpeeker.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        + [*listen, "--serve-config", str(serve_yaml)]
        + ["--url", settings.url, "--index-prefix", settings.index_prefix],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    scheme = "http" if insecure_http else "https"
    served = Served(f"{scheme}://127.0.0.1:{port}", settings, spki, Path(pki.ca), proc, log)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"mcpeeker serve exited: {log.read_text()}"
        try:
            if httpx.get(f"{served.base}/healthz", verify=served.tls()).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"mcpeeker serve did not answer: {log.read_text()}"
        time.sleep(0.2)


def stop_serve(served: Served) -> None:
    served.proc.send_signal(signal.SIGTERM)
    try:
        served.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()


def hostile_tools_report() -> dict[str, Any]:
    """An agent report from alice's laptop: an MCP server whose tool names are markup (attacker-controlled)."""
    host = HOSTS["alice-laptop"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    key = f"host:{host['id']}:port:9998"
    return {
        "schema": "mcpeeker.agent/1",
        "scan_id": "alice-laptop-hostile-tools",
        "host_id": host["id"],
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "agent": {"version": "0.1.0"},
        "host": {"os": host["os"], "ips": [host["ip"]]},
        "local_score": 11.0,
        "duration_ms": 900,
        "evidence": [
            {
                "type": "probe",
                "score": 1.0,
                "reason": "MCP initialize answered",
                "instance_key": key,
                "probe": {
                    "ok": True,
                    "server_name": TOOL_SERVER,
                    "server_version": "1.0",
                    "url": "http://127.0.0.1:9998/mcp",
                },
            },
            {
                "type": "tools",
                "score": 0.6,
                "reason": "tools listed by the inventory",
                "instance_key": key,
                "tools": {
                    "source": "inventory",
                    "client": "claude-desktop",
                    "server_name": TOOL_SERVER,
                    "tool_names": [TOOL_SCRIPT, TOOL_IMG, "search"],
                    "tools_count": 3,
                },
            },
        ],
    }


@pytest.fixture(scope="module")
def hard(os_url: str, oidc: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} not found: scripts/install-debs.sh installs chromium")
    workdir = tmp_path_factory.mktemp("ui-hardening")
    port = free_port()
    oidc.ui_redirects.append(f"https://127.0.0.1:{port}/auth/callback")
    oidc.restart(oidc.keys)  # the provider now knows this server's UI callback
    settings = Settings(url=os_url, index_prefix=f"t-{uuid.uuid4().hex[:10]}-", site_key=SITE_KEY, audit_key=AUDIT_KEY)
    client = make_client(settings)
    indices.install(settings, client)
    hostile = workdir / "hostile"
    _ingest(settings, "agent", _write_lines(hostile / "agent.ndjson", [hostile_tools_report()]), hostile)
    seed_findings(settings, workdir)
    served = start_serve(
        workdir,
        settings,
        make_pki(workdir / "pki"),
        {
            "_port": port,
            "oidc": {"issuer": oidc.issuer, "audience": AUDIENCE, "hosts_claim": "mcpeeker_hosts"},
            "ui": {"client_id": "mcpeeker-web", "logins_per_minute": 1000},
            "auth_failures_per_minute": AUTH_FAILURES,
            "tokens_per_minute": TOKENS_PER_MINUTE,
            "hsts_max_age_seconds": HSTS_MAX_AGE,
        },
    )
    yield served
    stop_serve(served)
    drop_prefix(client, settings.index_prefix)


@pytest.fixture(scope="module")
def browser(hard: Served) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=[f"--ignore-certificate-errors-spki-list={hard.spki}"]
        )
        yield chromium
        chromium.close()


class Browser:
    """One person's browser context (1280x800), logged in through the provider's own login and consent forms."""

    def __init__(self, browser: Any, served: Served, user: str | None, **context: Any) -> None:
        self.base = served.base
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, **context)
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.goto(f"{served.base}/login")
        if user is None:
            return
        self.page.get_by_role("link", name="Sign in with your company account").click()
        for _ in range(6):
            if self.page.url.startswith(served.base):
                break
            if self.page.locator("input[name=login]").count():
                self.page.fill("input[name=login]", user)
                self.page.fill("input[name=password]", "any")
            self.page.locator("button[type=submit]").first.click()
            self.page.wait_for_load_state()
        assert user in self.page.locator("header .who").inner_text()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)  # an alert() from a rendered payload would land here
        dialog.dismiss()

    def goto(self, path: str) -> Any:
        return self.page.goto(f"{self.base}{path}")

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.context.cookies() if c["name"] == "mcpeeker_session"}

    def close(self) -> None:
        self.context.close()


def tools_finding(served: Served, oidc: Provider) -> str:
    with served.http(headers={"Authorization": f"Bearer {oidc.token('anna')}"}) as api:
        items = api.get("/api/v1/findings", params={"text": TOOL_SERVER}).json()["items"]
    assert len(items) == 1, items
    return str(items[0]["finding"]["id"])


# Every page a person sees: (who, path, expected status, screenshot name).
PAGES = [
    (None, "/login", 200, "login"),
    ("alice", "/my/servers", 200, "my-servers"),
    ("alice", "/my/register", 200, "register"),
    ("alice", "/findings", 200, "findings-my-hosts"),
    ("alice", "/admin/queue", 403, "forbidden"),
    ("anna", "/findings", 200, "triage"),
    ("anna", "/findings/{finding}", 200, "finding"),
    ("adam", "/admin/queue", 200, "approval-queue"),
    ("adam", "/admin/tokens", 200, "tokens"),
]


def test_screenshots_of_every_page(browser: Any, hard: Served, oidc: Provider, tmp_path: Path) -> None:
    """Each page at 1280x800, under 200 KB (the finding page whole, with its timeline)."""
    out = Path(os.environ.get("MCPEEKER_UI_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    finding = tools_finding(hard, oidc)
    alice = Browser(browser, hard, "alice")  # a pending registration for the queue and "my servers"
    alice.goto("/my/register")
    alice.page.fill("#server_name", "docs-search")
    alice.page.fill("#server_url", "http://10.10.1.21:8123/mcp")
    alice.page.fill("#purpose", "search over the team's docs")
    alice.page.get_by_role("button", name="Register").click()
    alice.close()
    with hard.http(headers={"Authorization": f"Bearer {oidc.token('adam')}"}) as api:  # rows for the pages
        assert api.post("/api/v1/tokens", json={"name": "ci-export", "role": "analyst"}).status_code == 201
        verdict = {"verdict": "needs_info", "note": "asked the owner which tools it exposes"}
        assert api.post(f"/api/v1/findings/{finding}/feedback", json=verdict).status_code == 201
    people: dict[str | None, Browser] = {}
    for user, path, status, name in PAGES:
        person = people.get(user) or people.setdefault(user, Browser(browser, hard, user))
        answer = person.goto(path.format(finding=finding))
        assert answer.status == status, (user, path)
        shot = out / f"{name}.png"
        person.page.screenshot(path=str(shot), full_page=name == "finding")
        assert 0 < shot.stat().st_size < SHOT_LIMIT, (shot, shot.stat().st_size)
        assert person.dialogs == []
    for person in people.values():
        person.close()


def test_hostile_tool_names_are_text(browser: Any, hard: Served, oidc: Provider) -> None:
    """Tool names an agent reported are markup: the finding page shows them as text (no element, no dialog) and
    the API returns them as JSON strings. (Tool descriptions are never stored: only names and digests.)"""
    finding = tools_finding(hard, oidc)
    with hard.http(headers={"Authorization": f"Bearer {oidc.token('anna')}"}) as api:
        answer = api.get(f"/api/v1/findings/{finding}")
    assert answer.headers["content-type"].startswith("application/json")
    names = answer.json()["finding"]["mcp"]["tools"]["names"]
    assert TOOL_SCRIPT in names and TOOL_IMG in names
    assert TOOL_SCRIPT in answer.text  # a JSON string, byte for byte (json escapes nothing of it)
    anna = Browser(browser, hard, "anna")
    anna.goto(f"/findings/{finding}")
    tools = anna.page.locator("dt:text-is('Tools') + dd").inner_text()
    assert TOOL_SCRIPT in tools and TOOL_IMG in tools
    assert anna.page.locator("main script, main img, body script").count() == 0
    assert "&lt;script&gt;alert('tool')&lt;/script&gt;" in anna.page.content()
    anna.goto(f"/findings?text={TOOL_SERVER}")
    assert anna.page.locator("main img, body script").count() == 0
    assert anna.dialogs == []
    anna.close()


def _check_headers(response: httpx.Response, where: str, hsts: str | None = f"max-age={HSTS_MAX_AGE}") -> None:
    headers = response.headers
    assert headers.get("strict-transport-security") == hsts, (where, headers.get("strict-transport-security"))
    csp = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, (where, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src" not in csp, (where, csp)
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert headers.get("x-frame-options") == "DENY", where


def test_security_headers_on_every_response(browser: Any, hard: Served, oidc: Provider) -> None:
    finding = tools_finding(hard, oidc)
    adam = Browser(browser, hard, "adam")
    session = adam.cookies()
    adam.close()
    checked = 0
    with hard.http() as anon:
        for path in ("/login", "/healthz", "/static/ui.css", "/", "/findings", "/nowhere", "/api/v1/openapi.json"):
            _check_headers(anon.get(path), f"anonymous {path}")
            checked += 1
        _check_headers(anon.post("/my/register", data={"purpose": "x"}), "anonymous POST")
        _check_headers(anon.get("/api/v1/findings"), "API without a token")
    with hard.http(cookies=session) as pages:
        for path in ("/", "/my/servers", "/my/register", "/findings", f"/findings/{finding}", "/findings/nope"):
            _check_headers(pages.get(path), f"adam {path}")
        for path in ("/admin/queue", "/admin/tokens"):
            answer = pages.get(path)
            assert answer.status_code == 200
            _check_headers(answer, f"adam {path}")
        refused = pages.post("/admin/tokens", data={"name": "x", "role": "analyst"})  # no CSRF token
        assert refused.status_code == 403
        _check_headers(refused, "CSRF refusal")
    with hard.http(headers={"Authorization": f"Bearer {oidc.token('alice')}"}) as api:
        for method, path in (
            ("GET", "/api/v1/me"),
            ("GET", "/api/v1/findings"),
            ("GET", f"/api/v1/findings/{finding}"),
            ("GET", "/api/v1/registry"),
            ("GET", "/api/v1/tokens"),  # 403
            ("GET", "/api/v1/findings?limit=0"),  # 422
            ("GET", "/api/v1/registry/nope"),  # 404
        ):
            _check_headers(api.request(method, path), f"API {method} {path}")
            checked += 1
    assert checked >= 14


def test_no_hsts_over_plain_http(hard: Served, oidc: Provider, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`--insecure-http` (loopback, behind a local TLS proxy): the same headers but no Strict-Transport-Security,
    which a browser ignores over plain HTTP and which would pin the proxy's host name to HTTPS by mistake."""
    workdir = tmp_path_factory.mktemp("plain-http")
    config = {
        "oidc": {"issuer": oidc.issuer, "audience": AUDIENCE},
        "ui": {"client_id": "mcpeeker-web"},
        "hsts_max_age_seconds": HSTS_MAX_AGE,
    }
    plain = start_serve(workdir, hard.settings, make_pki(workdir / "pki"), config, insecure_http=True)
    try:
        with httpx.Client(base_url=plain.base, follow_redirects=False, timeout=30) as anon:
            for path in ("/login", "/healthz", "/static/ui.css", "/", "/nowhere", "/api/v1/openapi.json"):
                _check_headers(anon.get(path), f"plain HTTP {path}", hsts=None)
            _check_headers(anon.get("/api/v1/findings"), "plain HTTP API without a token", hsts=None)
        with httpx.Client(base_url=plain.base, headers={"Authorization": f"Bearer {oidc.token('alice')}"}) as api:
            answer = api.get("/api/v1/findings")
            assert answer.status_code == 200
            _check_headers(answer, "plain HTTP API", hsts=None)
    finally:
        stop_serve(plain)


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))  # the context bypasses the page's CSP for this test's own script only
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    assert result["passes"], "axe-core checked nothing"  # it ran its rules on this page
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_accessibility_axe_core(browser: Any, hard: Served, oidc: Provider) -> None:
    """axe-core on every page: no serious or critical violation (labels, contrast, names, landmarks)."""
    if not AXE.is_file():
        missing("tests/oidc/node_modules/axe-core missing: `make deps` (npm ci in tests/oidc) installs it")
    finding = tools_finding(hard, oidc)
    people: dict[str | None, Browser] = {}
    failures: dict[str, list[str]] = {}
    for user, path, status, _ in PAGES:
        person = people.get(user) or people.setdefault(user, Browser(browser, hard, user, bypass_csp=True))
        assert person.goto(path.format(finding=finding)).status == status
        bad = _axe(person.page)
        if bad:
            failures[f"{user} {path}"] = [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}" for v in bad]
        # Keyboard: Tab alone reaches every link, field and button of the page.
        controls = "a[href], input:not([type=hidden]), select, textarea, button"
        focusable = person.page.locator(controls).count()
        for _ in range(focusable + 1):
            person.page.keyboard.press("Tab")
            person.page.evaluate(
                "() => document.activeElement && document.activeElement.setAttribute('data-tabbed', '')"
            )
        missed = person.page.locator(f":is({controls}):not([data-tabbed])").evaluate_all(
            "els => els.map(e => e.outerHTML)"
        )
        assert focusable > 0 and missed == [], (user, path, missed)
    for person in people.values():
        person.close()
    assert failures == {}, json.dumps(failures, indent=1)


def test_token_creation_rate_limited(browser: Any, hard: Served, oidc: Provider) -> None:
    """An identity creates at most TOKENS_PER_MINUTE API tokens a minute, through the API and the UI together; the
    next is 429 and writes nothing."""
    with hard.http(headers={"Authorization": f"Bearer {oidc.token('amy')}"}) as api:
        made = [
            api.post("/api/v1/tokens", json={"name": f"ci-{n}", "role": "analyst"}) for n in range(TOKENS_PER_MINUTE)
        ]
        assert [m.status_code for m in made] == [201] * TOKENS_PER_MINUTE
        before = len(api.get("/api/v1/tokens").json()["items"])
        refused = api.post("/api/v1/tokens", json={"name": "one-too-many", "role": "analyst"})
        assert refused.status_code == 429 and "new tokens a minute" in refused.json()["error"]
        assert len(api.get("/api/v1/tokens").json()["items"]) == before
        amy = Browser(browser, hard, "amy")  # the UI's form spends the same budget
        amy.goto("/admin/tokens")
        amy.page.fill("#name", "from-the-ui")
        with amy.page.expect_navigation() as navigation:
            amy.page.get_by_role("button", name="Create token").click()
        assert navigation.value.status == 429 and "too many new tokens" in amy.page.locator(".error").inner_text()
        amy.close()
        assert len(api.get("/api/v1/tokens").json()["items"]) == before
    with hard.http(headers={"Authorization": f"Bearer {oidc.token('adam')}"}) as api:  # another identity's budget
        assert api.post("/api/v1/tokens", json={"name": "adam-ci", "role": "analyst"}).status_code == 201


def test_unreachable_provider_keys_answer_503(os_url: str, tmp_path: Path, hard: Served) -> None:
    """The provider answered discovery when the server started, then stopped: a real token gets 503 naming the
    provider's keys, not a 401; a provider that never answered (a dead port) also 503."""
    provider = Provider(tmp_path / "p2", free_port(), [("k9", *rsa_jwk("k9"))])
    provider.workdir.mkdir()
    provider.start()
    pki = make_pki(tmp_path / "pki")
    config = {"oidc": {"issuer": provider.issuer, "audience": AUDIENCE}}
    served = start_serve(tmp_path, hard.settings, pki, config)
    dead_port = free_port()
    dead = start_serve(
        tmp_path, hard.settings, pki, {"oidc": {"issuer": f"http://127.0.0.1:{dead_port}", "audience": AUDIENCE}}
    )
    try:
        token = login(provider.issuer, "mcpeeker", "anna", "http://127.0.0.1/callback")["access_token"]
        provider.stop()
        with served.http(headers={"Authorization": f"Bearer {token}"}) as api:
            answer = api.get("/api/v1/me")
        assert answer.status_code == 503, answer.text
        assert "signing keys" in answer.json()["error"] and "cannot be fetched" in answer.json()["error"]
        assert answer.headers.get("retry-after") and "www-authenticate" not in answer.headers
        with dead.http(headers={"Authorization": f"Bearer {token}"}) as api:
            answer = api.get("/api/v1/findings")
        assert answer.status_code == 503 and f"127.0.0.1:{dead_port}" in answer.json()["error"], answer.text
        provider.start()  # back again: the same token is accepted
        with served.http(headers={"Authorization": f"Bearer {token}"}) as api:
            assert api.get("/api/v1/me").json()["name"] == "anna"
    finally:
        provider.stop()
        stop_serve(served)
        stop_serve(dead)


def test_auth_failures_rate_limited(hard: Served, oidc: Provider) -> None:
    """Last in the module: refused bearer tokens from one address are limited to AUTH_FAILURES a minute; then that
    address gets 429 for the minute, even with a good token (checked before any token is looked at)."""
    good = oidc.token("anna")
    with hard.http() as api:
        answers = []
        for n in range(AUTH_FAILURES + 1):
            answers.append(api.get("/api/v1/me", headers={"Authorization": f"Bearer mcpk_guess{n}"}).status_code)
            if answers[-1] == 429:
                break
        assert answers[-1] == 429 and set(answers[:-1]) == {401}, answers
        refused = api.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        assert "too many refused tokens" in refused.json()["error"]
        _check_headers(refused, "429")
        assert api.get("/healthz").status_code == 200
