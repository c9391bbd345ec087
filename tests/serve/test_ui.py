"""The web UI of `mcpeeker serve` in Debian's chromium (Playwright, the system browser, never a downloaded one),
logged in through the real OpenID provider's login form, against a real `mcpeeker serve` over TLS and the real
OpenSearch node with findings from the real pipeline."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
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
from collect.pki import make_pki
from dashboards.seed import HOSTS, _ingest, _write_lines
from paths import REPO_ROOT, SITE_KEY, missing
from serve.conftest import AUDIENCE, Provider, free_port, seed_findings

playwright_sync = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the dev extra)")
CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<img src=x onerror=alert(1)>"
SHOTS = REPO_ROOT / "bench" / "out" / "ui-screenshots"  # git-ignored
AUDIT_KEY = secrets.token_hex(32)
LOGINS_PER_MINUTE = 60  # the module's logins stay under it; the last test goes over


@dataclass
class Ui:
    base: str
    settings: Settings
    spki: str  # the server certificate's key hash: chromium trusts exactly this certificate
    ca: Path
    log: Path


def hostile_report() -> dict[str, Any]:
    """An agent report from alice's laptop whose MCP server calls itself an XSS payload (attacker-controlled)."""
    host = HOSTS["alice-laptop"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    key = f"host:{host['id']}:port:9999"
    return {
        "schema": "mcpeeker.agent/1",
        "scan_id": "alice-laptop-hostile",
        "host_id": host["id"],
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "agent": {"version": "0.1.0"},
        "host": {"os": host["os"], "ips": [host["ip"]]},
        "local_score": 11.0,
        "duration_ms": 900,
        "evidence": [
            {
                "type": "listener",
                "score": 0.8,
                "reason": "process listens and answers MCP initialize",
                "listener": {"ip": "127.0.0.1", "port": 9999, "pid": 31337, "transport": "tcp"},
            },
            {
                "type": "probe",
                "score": 1.0,
                "reason": "MCP initialize answered",
                "instance_key": key,
                "probe": {
                    "ok": True,
                    "server_name": HOSTILE,
                    "server_version": "1.0",
                    "url": "http://127.0.0.1:9999/mcp",
                },
            },
        ],
    }


@pytest.fixture(scope="module")
def ui(os_url: str, oidc: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} not found: scripts/install-debs.sh installs chromium")
    workdir = tmp_path_factory.mktemp("ui")
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    oidc.ui_redirects.append(f"{base}/auth/callback")
    oidc.restart(oidc.keys)  # the provider now knows the UI's client and callback
    settings = Settings(url=os_url, index_prefix=f"t-{uuid.uuid4().hex[:10]}-", site_key=SITE_KEY, audit_key=AUDIT_KEY)
    client = make_client(settings)
    indices.install(settings, client)
    _ingest(
        settings, "agent", _write_lines(workdir / "hostile" / "agent.ndjson", [hostile_report()]), workdir / "hostile"
    )
    seed_findings(settings, workdir)  # ingests the seed's reports and correlates them with the one above
    pki = make_pki(workdir / "pki")
    cert = x509.load_pem_x509_certificate(Path(pki.server_cert).read_bytes())
    spki = base64.b64encode(
        hashlib.sha256(cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()
    ).decode()
    serve_yaml = workdir / "serve.yaml"
    serve_yaml.write_text(
        json.dumps(
            {
                "oidc": {"issuer": oidc.issuer, "audience": AUDIENCE, "hosts_claim": "mcpeeker_hosts"},
                "ui": {"client_id": "mcpeeker-web", "logins_per_minute": LOGINS_PER_MINUTE},
                "tokens_file": str(workdir / "api-tokens.json"),
            }
        )
    )
    log = workdir / "serve.log"
    env = {**os.environ, "MCPEEKER_SITE_KEY": SITE_KEY, "MCPEEKER_AUDIT_KEY": AUDIT_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpeeker.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        + ["--cert", str(pki.server_cert), "--key", str(pki.server_key), "--serve-config", str(serve_yaml)]
        + ["--url", os_url, "--index-prefix", settings.index_prefix],
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"mcpeeker serve exited: {log.read_text()}"
        try:
            if httpx.get(f"{base}/healthz", verify=ssl.create_default_context(cafile=str(pki.ca))).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"mcpeeker serve did not answer: {log.read_text()}"
        time.sleep(0.2)
    yield Ui(base, settings, spki, Path(pki.ca), log)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    drop_prefix(client, settings.index_prefix)


@pytest.fixture(scope="module")
def browser(ui: Ui) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        # --ignore-certificate-errors-spki-list trusts the test server's certificate only, nothing else.
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=[f"--ignore-certificate-errors-spki-list={ui.spki}"]
        )
        yield chromium
        chromium.close()


class Person:
    """One person's browser context, logged in through the provider's own login and consent forms."""

    def __init__(self, browser: Any, ui: Ui, user: str) -> None:
        self.ui = ui
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        self.callbacks: list[str] = []
        self.page.on("request", self._request)
        self.page.goto(f"{ui.base}/login")
        self.page.get_by_role("link", name="Sign in with your company account").click()
        for _ in range(6):
            if self.page.url.startswith(ui.base):
                break
            if self.page.locator("input[name=login]").count():
                self.page.fill("input[name=login]", user)
                self.page.fill("input[name=password]", "any")
            self.page.locator("button[type=submit]").first.click()
            self.page.wait_for_load_state()
        assert self.page.url.startswith(ui.base), self.page.url
        assert user in self.page.locator("header .who").inner_text()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)  # an alert() from a rendered payload would land here
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        if "/auth/callback" in request.url:
            self.callbacks.append(request.url)

    def goto(self, path: str) -> Any:
        return self.page.goto(f"{self.ui.base}{path}")

    def flash(self) -> str:
        return str(self.page.locator(".flash").all_inner_texts())

    def close(self) -> None:
        self.context.close()


def test_only_login_and_health_without_session(ui: Ui) -> None:
    tls = ssl.create_default_context(cafile=str(ui.ca))
    with httpx.Client(base_url=ui.base, verify=tls, follow_redirects=False) as anon:
        for path in ("/", "/findings", "/my/servers", "/admin/queue", "/admin/tokens", "/findings/x"):
            answer = anon.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login?"), (path, answer)
        assert anon.post("/my/register", data={"purpose": "x"}).status_code == 303
        login = anon.get("/login")
        assert login.status_code == 200 and "Sign in" in login.text
        csp = login.headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert anon.get("/healthz").status_code == 200


def test_developer_registers_claims_and_admin_approves(browser: Any, ui: Ui) -> None:
    alice = Person(browser, ui, "alice")
    cookie = next(c for c in alice.context.cookies() if c["name"] == "mcpeeker_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax", cookie
    assert "." in cookie["value"] and len(cookie["value"]) < 200  # a signed id, nothing else

    # Register a server whose name is an XSS payload: it must render as text.
    alice.goto("/my/register")
    alice.page.fill("#server_name", HOSTILE)
    alice.page.fill("#server_url", "http://10.9.9.9:8123/mcp")
    alice.page.fill("#purpose", "notes search for the docs team")
    alice.page.get_by_role("button", name="Register").click()
    assert "pending until an admin approves" in alice.flash()
    cell = alice.page.locator("td.server").filter(has_text="onerror")
    assert cell.inner_text().strip().startswith(HOSTILE)
    assert alice.page.locator("main img").count() == 0

    # Findings on alice's hosts; claim the first.
    alice.goto("/findings")
    assert alice.page.locator("h1").inner_text() == "Findings on my hosts"
    rows = alice.page.locator("tbody tr")
    assert rows.count() >= 1
    rows.first.locator("td.server a").click()
    finding_id = alice.page.url.rsplit("/", 1)[1]
    alice.page.fill("#claim_purpose", "my laptop's MCP server")
    alice.page.get_by_role("button", name="Claim this finding").click()
    assert "pending until an admin approves" in alice.flash()
    claimed = re.search(r"claimed as (\S+):", alice.flash())
    assert claimed
    entry_id = claimed.group(1)

    # The developer cannot reach the admin pages.
    for path in ("/admin/queue", "/admin/tokens"):
        answer = alice.goto(path)
        assert answer.status == 403, path
        assert "may not" in alice.page.locator(".error").inner_text()

    # The admin approves the claim in a second browser context.
    adam = Person(browser, ui, "adam")
    adam.goto("/admin/queue")
    row = adam.page.locator("tbody tr").filter(has_text=entry_id)
    row.get_by_role("button", name="Approve").click()
    assert f"{entry_id}: approve done" in adam.flash()
    hostile_row = adam.page.locator("tbody tr").filter(has_text="onerror")
    assert HOSTILE in hostile_row.locator("td.server").inner_text()
    alice.goto("/my/servers")
    assert "approved" in alice.page.locator("tbody tr").filter(has_text=entry_id).inner_text()
    assert alice.dialogs == [] and adam.dialogs == []  # no alert() fired anywhere
    assert finding_id  # the claim's finding stays visible to its claimant
    assert alice.goto(f"/findings/{finding_id}").status == 200
    adam.close()
    alice.close()


def test_developer_sees_only_own_findings(browser: Any, ui: Ui, oidc: Provider) -> None:
    tls = ssl.create_default_context(cafile=str(ui.ca))
    dave_api = httpx.Client(base_url=ui.base, verify=tls, headers={"Authorization": f"Bearer {oidc.token('dave')}"})
    daves = [f["finding"]["id"] for f in dave_api.get("/api/v1/findings").json()["items"]]
    assert daves, "dave has findings on his host"
    alice = Person(browser, ui, "alice")
    alice.goto("/findings")
    listed = alice.page.locator("tbody td.server a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert not {f"/findings/{d}" for d in daves} & set(listed)
    answer = alice.goto(f"/findings/{daves[0]}")
    assert answer.status == 404
    alice.close()


def test_self_approval_refused(browser: Any, ui: Ui) -> None:
    amy = Person(browser, ui, "amy")  # admin and developer
    amy.goto("/my/register")
    amy.page.fill("#server_name", "amy-own-server")
    amy.page.fill("#server_port", "8765")
    amy.page.fill("#host_name", "amy-ws")
    amy.page.fill("#purpose", "mine")
    amy.page.get_by_role("button", name="Register").click()
    amy.goto("/admin/queue")
    row = amy.page.locator("tbody tr").filter(has_text="amy-own-server")
    row.get_by_role("button", name="Approve").click()
    assert "may not approve their own request" in amy.page.locator(".error").inner_text()
    amy.goto("/my/servers")
    assert "pending" in amy.page.locator("tbody tr").filter(has_text="amy-own-server").inner_text()
    amy.close()


def test_analyst_verdict_changes_status(browser: Any, ui: Ui) -> None:
    anna = Person(browser, ui, "anna")
    anna.goto("/findings?status=open")
    assert anna.page.locator("h1").inner_text() == "Triage"
    SHOTS.mkdir(parents=True, exist_ok=True)
    anna.page.set_viewport_size({"width": 1280, "height": 690})
    anna.page.screenshot(path=str(SHOTS / "triage.png"))  # looked at by hand; docs/serve-ui-triage.png is one
    anna.page.locator("tbody tr").first.locator("td.server a").click()
    assert anna.page.locator(".facts .status").inner_text() == "open"
    anna.page.select_option("#verdict", "true_positive")
    anna.page.fill("#note", "confirmed with the owner")
    anna.page.get_by_role("button", name="Record verdict").click()
    assert "open -> acknowledged" in anna.flash()
    assert anna.page.locator(".facts .status").inner_text() == "acknowledged"
    assert "true_positive: confirmed with the owner" in anna.page.locator("table").last.inner_text()
    anna.page.screenshot(path=str(SHOTS / "finding.png"), full_page=True)
    # The status form moves it on, with the reason in the timeline.
    anna.page.select_option("#new_status", "resolved")
    anna.page.fill("#reason", "server removed from the laptop")
    anna.page.get_by_role("button", name="Change status").click()
    assert "acknowledged -> resolved" in anna.flash()
    assert anna.page.locator(".facts .status").inner_text() == "resolved"
    for _ in range(20):  # the timeline is a search over the audit index: visible after its refresh
        if "server removed from the laptop" in anna.page.locator("table").last.inner_text():
            break
        time.sleep(0.5)
        anna.page.reload()
    assert "resolved: server removed from the laptop" in anna.page.locator("table").last.inner_text()
    # The filters narrow the list: resolved has this finding, open no longer does.
    finding_path = anna.page.url.removeprefix(ui.base)
    anna.goto("/findings?status=resolved")
    assert finding_path in anna.page.locator("tbody td.server a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    anna.goto("/findings?status=open")
    assert finding_path not in anna.page.locator("tbody td.server a").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    anna.close()


def test_csrf_and_logout(browser: Any, ui: Ui) -> None:
    adam = Person(browser, ui, "adam")
    before = adam.goto("/admin/tokens") and adam.page.locator("tbody tr").count()
    # The browser posts the form with its CSRF field removed: refused.
    adam.page.locator("form[aria-label='create a token'] input[name=csrf]").evaluate("e => e.remove()")
    adam.page.fill("#name", "no-csrf")
    with adam.page.expect_navigation() as navigation:
        adam.page.get_by_role("button", name="Create token").click()
    assert navigation.value.status == 403 and "CSRF" in adam.page.locator(".error").inner_text()
    # The session cookie with a wrong token, and with none: refused.
    cookies = {c["name"]: c["value"] for c in adam.context.cookies() if c["name"] == "mcpeeker_session"}
    with httpx.Client(base_url=ui.base, verify=ssl.create_default_context(cafile=str(ui.ca)), cookies=cookies) as raw:
        for form in ({"name": "bad-csrf", "role": "analyst", "csrf": "x" * 43}, {"name": "none", "role": "analyst"}):
            refused = raw.post("/admin/tokens", data=form)
            assert refused.status_code == 403 and "CSRF" in refused.text, refused.text[:300]
        assert raw.get("/admin/tokens").status_code == 200  # the cookie itself is good
    adam.goto("/admin/tokens")
    assert adam.page.locator("tbody tr").count() == before  # nothing created
    # With the form's token it works, and the secret is shown once.
    adam.page.fill("#name", "ci-export")
    adam.page.get_by_role("button", name="Create token").click()
    secret = adam.page.locator("#new-token").inner_text()
    assert secret.startswith("mcpk_") or len(secret) > 20
    adam.goto("/admin/tokens")
    assert adam.page.locator("#new-token").count() == 0 and secret not in adam.page.content()
    adam.page.locator("tbody tr").filter(has_text="ci-export").get_by_role("button", name="Revoke").click()
    assert "revoked" in adam.flash()
    # Sign out ends the session on the server: the old cookie opens nothing.
    old = [c for c in adam.context.cookies() if c["name"] == "mcpeeker_session"]
    adam.page.get_by_role("button", name="Sign out").click()
    assert adam.page.url.startswith(f"{ui.base}/login")
    adam.context.add_cookies(old)
    adam.goto("/admin/queue")
    assert adam.page.url.startswith(f"{ui.base}/login")
    adam.close()


def test_hostile_server_name_renders_as_text(browser: Any, ui: Ui) -> None:
    """The server name an agent reported is `<img src=x onerror=alert(1)>`: the list, the finding page and the
    summary show it as text; no element is made of it and no dialog fires."""
    anna = Person(browser, ui, "anna")
    anna.goto("/findings?text=onerror")
    cell = anna.page.locator("tbody td.server")
    assert cell.count() == 1 and cell.inner_text() == HOSTILE
    assert HOSTILE in anna.page.locator("tbody td.summary").inner_text()
    assert anna.page.locator("main img").count() == 0
    assert "&lt;img src=x onerror=alert(1)&gt;" in anna.page.content()
    cell.locator("a").click()
    assert HOSTILE in anna.page.locator("dd.server").inner_text()
    assert anna.page.locator("main img").count() == 0
    assert anna.dialogs == []
    anna.close()


def test_templates_never_mark_data_safe() -> None:
    """Autoescape stays on: no template turns data into markup."""
    templates = REPO_ROOT / "ingest_python" / "mcpeeker" / "serve" / "templates"
    found = [p.name for p in templates.glob("*.html") if re.search(r"\|\s*safe|autoescape\s+false", p.read_text())]
    assert found == []


def test_login_callback_is_bound_to_the_browser_and_used_once(browser: Any, ui: Ui) -> None:
    """A callback URL (code + state) replayed in the same browser, or carried to another one, opens no session."""
    anna = Person(browser, ui, "anna")
    (callback,) = anna.callbacks
    assert "code=" in callback and "state=" in callback
    before = [c["value"] for c in anna.context.cookies() if c["name"] == "mcpeeker_session"]
    again = anna.page.goto(callback)  # the login cookie went with the first use: refused
    assert again.status == 400 and "sign in again" in anna.page.locator(".error").inner_text()
    assert [c["value"] for c in anna.context.cookies() if c["name"] == "mcpeeker_session"] == before
    stranger = browser.new_context()
    page = stranger.new_page()
    answer = page.goto(callback)
    assert answer.status == 400 and "not started in this browser" in page.locator(".error").inner_text()
    assert not [c for c in stranger.cookies() if c["name"] == "mcpeeker_session"]
    assert page.goto(f"{ui.base}/findings") and page.url.startswith(f"{ui.base}/login")
    stranger.close()
    anna.close()


# Every UI page a person opens, with the roles.yaml action it needs (the API's rule for the same data).
PAGES = {
    "/my/servers": "registry.list",
    "/my/register": "registry.add",
    "/findings": "finding.list",
    "/admin/queue": "registry.approve",
    "/admin/tokens": "token.list",
}
OPEN_OR_SCOPED = {"/", "/login", "/auth/login", "/auth/callback", "/findings/{finding_id}"}


def test_every_page_has_a_rule_and_roles_are_enforced(browser: Any, ui: Ui, tmp_path: Path) -> None:
    from mcpeeker.roles import permits
    from mcpeeker.serve.access import Access
    from mcpeeker.serve.auth import Authenticator
    from mcpeeker.serve.config import OidcConfig, UiConfig
    from mcpeeker.serve.oidc import OidcVerifier
    from mcpeeker.serve.tokens import ApiTokenStore
    from mcpeeker.serve.ui import Ui as UiPages
    from mcpeeker.serve.ui import build_ui

    tokens = ApiTokenStore(tmp_path / "tokens.json")
    auth = Authenticator(OidcVerifier(OidcConfig("http://127.0.0.1:1", "x")), tokens)
    router = build_ui(UiPages(Access(ui.settings, None, auth), tokens, UiConfig(), 100))
    served = {str(getattr(r, "path", "")) for r in router.routes if "GET" in getattr(r, "methods", set())}
    assert served - OPEN_OR_SCOPED == set(PAGES), "a new UI page needs a row in PAGES (its roles.yaml action)"
    for user, role in (("alice", "developer"), ("anna", "analyst"), ("adam", "admin")):
        person = Person(browser, ui, user)
        for path, action in PAGES.items():
            expected = 200 if permits(role, action) else 403
            assert person.goto(path).status == expected, (user, path)
        person.close()


def test_login_rate_limited(ui: Ui) -> None:
    """Last in the module: it uses up the sign-in budget of 127.0.0.1 for a minute."""
    tls = ssl.create_default_context(cafile=str(ui.ca))
    with httpx.Client(base_url=ui.base, verify=tls, follow_redirects=False) as anon:
        answers = [anon.get("/auth/login").status_code for _ in range(LOGINS_PER_MINUTE + 1)]
        assert answers[-1] == 429 and 303 in answers, answers
        refused = anon.get("/auth/login")
        assert refused.status_code == 429 and "too many sign-in attempts" in refused.text
        assert anon.get("/login").status_code == 200  # the page itself still answers
