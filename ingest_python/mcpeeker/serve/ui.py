"""The web UI under /: server-rendered pages (Jinja2, autoescaped) with plain HTML forms, no scripts.

Login is the OpenID authorization-code flow with PKCE (state, nonce, code_verifier); the ID token is checked with
the API's JWKS verifier (audience = this client, the login's nonce) and the person's role comes from the access
token exactly as for the API (Authenticator.person). The session lives in memory here; the browser holds only a
signed, HttpOnly, SameSite=Lax cookie (Secure over TLS) with the session id. Every POST carries the session's CSRF
token. Roles, the developer's scope and the self-approval rule are the API's (roles.yaml through the
Authenticator, serve.access), never a second copy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from starlette.datastructures import FormData

from ..cases import lifecycle
from ..cases.queries import FindingFilter
from ..errors import MCPeekerError
from ..feedback import VERDICTS, give_verdict, timeline
from ..registry.model import RegistryError, effective_status
from ..registry.store import VersionConflict
from ..timeutil import utcnow
from .access import Access, InvalidTokenRequest
from .auth import Forbidden, Principal, Unauthenticated
from .findings import BadCursor, FindingPage, list_findings, visible
from .limits import MinuteBudget
from .config import UiConfig
from .oidc import InvalidToken
from .tokens import ApiToken, ApiTokenStore

HERE = Path(__file__).parent
SESSION_COOKIE = "mcpeeker_session"
LOGIN_COOKIE = "mcpeeker_login"
LOGIN_TTL = 600  # seconds a started login may take at the provider
MAX_SESSIONS = 10_000
# The UI's pages: styles from this server only, forms post here only, no scripts at all, never framed.
UI_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
CLASSIFICATIONS = ("unauthorized", "suspect", "authorized", "unknown")
SEVERITIES = ("critical", "high", "medium", "low", "info")


class LoginRequired(Exception):
    pass


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Session:
    principal: Principal
    csrf: str
    expires: float
    flash: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PendingLogin:
    verifier: str
    nonce: str
    redirect_uri: str
    next: str
    started: float


class SessionStore:
    """Sessions and started logins in memory; cookies carry `<id>.<HMAC(id)>` under a per-process key."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, PendingLogin] = {}

    def sign(self, value: str) -> str:
        mac = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return f"{value}.{mac}"

    def unsign(self, cookie: str | None) -> str | None:
        if not cookie or "." not in cookie:
            return None
        value, _, mac = cookie.rpartition(".")
        good = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
        return value if hmac.compare_digest(mac, good) else None

    def _expire(self, now: float) -> None:
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
        self._pending = {k: p for k, p in self._pending.items() if p.started + LOGIN_TTL > now}

    def start_login(self, pending: PendingLogin) -> str:
        state = secrets.token_urlsafe(24)
        with self._lock:
            self._expire(time.time())
            if len(self._pending) >= MAX_SESSIONS:
                raise PageError(503, "too many logins in progress; try again in a few minutes")
            self._pending[state] = pending
        return state

    def finish_login(self, state: str) -> PendingLogin | None:
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or pending.started + LOGIN_TTL < time.time():
            return None
        return pending

    def create(self, principal: Principal, expires: float) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(principal, secrets.token_urlsafe(32), expires)
        with self._lock:
            self._expire(time.time())
            if len(self._sessions) >= MAX_SESSIONS:
                raise PageError(503, "too many sessions; try again later")
            self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if sid is None:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and session.expires <= time.time():
                del self._sessions[sid]
                return None
        return session

    def drop(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)


class LoginLimiter:
    """At most `per_minute` sign-in starts and callbacks per client address (a sliding minute)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def check(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > MAX_SESSIONS:  # forget quiet addresses rather than grow without bound
                self._seen = {a: q for a, q in self._seen.items() if q and q[-1] > now - 60}
            recent = self._seen.setdefault(address, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            if len(recent) >= self.per_minute:
                raise PageError(429, "too many sign-in attempts from your address: wait a minute and try again")
            recent.append(now)


def _templates() -> Environment:
    # Autoescape everywhere: server names, tool names, descriptions and hosts are attacker-controlled text.
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=ChainableUndefined)
    env.filters["when"] = lambda value: str(value or "")[:19].replace("T", " ")
    return env


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _local_path(value: str | None) -> str:
    """Where to go after login: a path on this server only (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _host_label(finding: dict[str, Any]) -> str:
    host = finding.get("host", {})
    ips = host.get("ip") or []
    return str(host.get("name") or host.get("hostname") or (ips[0] if ips else "") or host.get("id") or "")


def _server_label(finding: dict[str, Any]) -> str:
    mcp = finding.get("mcp", {})
    configured = mcp.get("config", {}).get("server_name") or []
    name = mcp.get("server", {}).get("name") or (configured[0] if configured else None)
    return str(name or finding.get("instance", {}).get("key", ""))


class UiRoute(APIRoute):
    """Turns the UI's refusals into pages: no session -> the login page; a refused role -> a 403 page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            ui: Ui = request.app.state.ui
            try:
                return await handler(request)
            except LoginRequired:
                target = urlencode({"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")})
                return RedirectResponse(f"/login?{target}", status_code=303)
            except Forbidden as exc:
                return ui.page(request, "error.html", {"title": "Forbidden", "message": str(exc)}, 403)
            except PageError as exc:
                return ui.page(request, "error.html", {"title": f"Error {exc.status}", "message": str(exc)}, exc.status)

        return route


class Ui:
    def __init__(
        self,
        access: Access,
        tokens: ApiTokenStore,
        ui_config: UiConfig,
        max_page_size: int,
        token_budget: MinuteBudget | None = None,
    ) -> None:
        self.access = access
        self.token_budget = token_budget or MinuteBudget(10)
        self.auth = access.auth
        self.tokens = tokens
        self.config = ui_config
        self.max_page_size = max_page_size
        self.sessions = SessionStore()
        self.limiter = LoginLimiter(ui_config.logins_per_minute)
        self.env = _templates()

    # ------------------------------------------------------------------------------------------ plumbing
    def page(self, request: Request, name: str, values: dict[str, Any], status: int = 200) -> HTMLResponse:
        session = self.session(request)
        principal = session.principal if session else None
        context = {
            "me": principal,
            "may": (lambda action: principal is not None and self.auth.may(principal, action)),
            "csrf": session.csrf if session else "",
            "flash": session.flash[:] if session else [],
            **values,
        }
        if session:
            session.flash.clear()
        html = self.env.get_template(name).render(context)
        return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": UI_CSP})

    def session(self, request: Request) -> Session | None:
        cached: Session | None = getattr(request.state, "ui_session", None)
        if cached is not None:
            return cached
        session = self.sessions.get(self.sessions.unsign(request.cookies.get(SESSION_COOKIE)))
        request.state.ui_session = session
        return session

    def who(self, request: Request, action: str | None = None) -> Session:
        session = self.session(request)
        if session is None:
            raise LoginRequired()
        if action:
            self.auth.require(session.principal, action)
        return session

    async def posted(self, request: Request, action: str | None = None) -> tuple[Session, FormData]:
        """A POST's session and form, after its CSRF token is checked against the session's."""
        session = self.who(request)
        form = await request.form()
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
            raise PageError(403, "the form's CSRF token is missing or wrong: reload the page and try again")
        if action:
            self.auth.require(session.principal, action)
        return session, form

    def cookie_flags(self, request: Request) -> dict[str, Any]:
        # Behind a local TLS proxy (--insecure-http) the public callback URL says the browser speaks https.
        tls = request.url.scheme == "https" or str(self.config.redirect_uri or "").startswith("https:")
        return {"httponly": True, "samesite": "lax", "secure": tls, "path": "/"}

    def redirect_uri(self, request: Request) -> str:
        return str(self.config.redirect_uri or request.url_for("auth_callback"))


def _text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if len(text) > limit:
        raise PageError(422, f"{name}: at most {limit} characters")
    return text


def _back(session: Session, url: str, message: str) -> Response:
    """Post/redirect/get: the message is shown once on the page the browser is sent back to."""
    session.flash.append(message)
    return RedirectResponse(url, status_code=303)


def build_ui(ui: Ui) -> APIRouter:
    router = APIRouter(route_class=UiRoute, include_in_schema=False)
    access, auth = ui.access, ui.auth
    verifier = auth.verifier

    # ------------------------------------------------------------------------------------------ login
    @router.get("/login")
    def login_page(request: Request, next: str = "/") -> Response:
        return ui.page(request, "login.html", {"next": _local_path(next)})

    @router.get("/auth/login")
    def auth_login(request: Request, next: str = "/") -> Response:
        ui.limiter.check(request.client.host if request.client else "")
        verifier_text, challenge = _pkce()
        nonce = secrets.token_urlsafe(24)
        redirect_uri = ui.redirect_uri(request)
        try:
            endpoint = verifier.endpoint("authorization_endpoint")
        except MCPeekerError as exc:
            raise PageError(503, f"the login provider cannot be reached now: {exc}") from None
        state = ui.sessions.start_login(
            PendingLogin(verifier_text, nonce, redirect_uri, _local_path(next), time.time())
        )
        query = {
            "client_id": ui.config.client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": ui.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        response = RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=303)
        # The state is bound to this browser: a callback carrying someone else's code and state is refused.
        response.set_cookie(LOGIN_COOKIE, ui.sessions.sign(state), max_age=LOGIN_TTL, **ui.cookie_flags(request))
        return response

    @router.get("/auth/callback", name="auth_callback")
    def auth_callback(
        request: Request, code: str | None = None, state: str | None = None, error: str | None = None
    ) -> Response:
        ui.limiter.check(request.client.host if request.client else "")
        if error:
            raise PageError(401, f"the login provider refused the login: {error[:200]}")
        mine = ui.sessions.unsign(request.cookies.get(LOGIN_COOKIE))
        if not code or not state or mine is None or not hmac.compare_digest(mine, state):
            raise PageError(400, "this login was not started in this browser, or it expired: sign in again")
        pending = ui.sessions.finish_login(state)
        if pending is None:
            raise PageError(400, "this login expired or was already used: sign in again")
        try:
            tokens = httpx.post(
                verifier.endpoint("token_endpoint"),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": pending.redirect_uri,
                    "client_id": ui.config.client_id,
                    "code_verifier": pending.verifier,
                },
                timeout=verifier.timeout,
                verify=verifier.tls or True,
            )
        except (httpx.HTTPError, MCPeekerError) as exc:
            raise PageError(503, f"the login provider cannot be reached now: {exc}") from None
        if tokens.status_code != 200:
            raise PageError(401, f"the login provider refused the code ({tokens.status_code})")
        body = tokens.json()
        try:
            identity = verifier.verify_id_token(str(body.get("id_token", "")), ui.config.client_id, pending.nonce)
            access_token = str(body.get("access_token", ""))
            principal = auth.person(access_token)
            claims = jwt.decode(access_token, options={"verify_signature": False})  # verified by person() above
        except (InvalidToken, Unauthenticated) as exc:
            raise PageError(401, f"login refused: {exc}") from None
        except MCPeekerError as exc:  # the provider's keys cannot be fetched
            raise PageError(503, f"the login provider cannot be reached now: {exc}") from None
        if str(claims.get("sub")) != identity.subject:
            raise PageError(401, "login refused: the ID token and the access token name different people")
        expires = min(time.time() + ui.config.session_minutes * 60, float(claims["exp"]))
        sid, _ = ui.sessions.create(principal, expires)
        response = RedirectResponse(pending.next, status_code=303)
        flags = ui.cookie_flags(request)
        response.set_cookie(SESSION_COOKIE, ui.sessions.sign(sid), max_age=int(expires - time.time()), **flags)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    @router.post("/auth/logout")
    async def auth_logout(request: Request) -> Response:
        await ui.posted(request)
        ui.sessions.drop(ui.sessions.unsign(request.cookies.get(SESSION_COOKIE)))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/")
    def home(request: Request) -> Response:
        principal = ui.who(request).principal
        if auth.may(principal, "registry.approve"):
            return RedirectResponse("/admin/queue", status_code=303)
        if auth.may(principal, "finding.all"):
            return RedirectResponse("/findings", status_code=303)
        return RedirectResponse("/my/servers", status_code=303)

    # ------------------------------------------------------------------------------------------ developer
    @router.get("/my/servers")
    def my_servers(request: Request) -> Response:
        principal = ui.who(request, "registry.list").principal
        now = utcnow()
        entries = [e for e in access.registry_for(principal).all() if e.get("owner") == principal.name]
        rows = [{"entry": e, "status": effective_status(e, now)} for e in entries]
        return ui.page(request, "servers.html", {"title": "My servers", "rows": rows})

    @router.get("/my/register")
    def register_form(request: Request) -> Response:
        ui.who(request, "registry.add")
        return ui.page(request, "register.html", {"title": "Register my server"})

    @router.post("/my/register")
    async def register(request: Request) -> Response:
        session, form = await ui.posted(request, "registry.add")
        principal = session.principal
        fields: dict[str, Any] = {"owner": access.owner_for(principal, None), "purpose": _text(form, "purpose")}
        if not fields["purpose"]:
            raise PageError(422, "purpose: say what the server is for")
        if team := _text(form, "team", 128):
            fields["team"] = team
        server: dict[str, Any] = {k: v for k in ("name", "url", "ip") if (v := _text(form, f"server_{k}", 2048))}
        if port := _text(form, "server_port", 5):
            if not port.isdigit() or not 1 <= int(port) <= 65535:
                raise PageError(422, "server port: a number from 1 to 65535")
            server["port"] = int(port)
        host = {k: v for k in ("name", "ip") if (v := _text(form, f"host_{k}", 255))}
        if not server and not host:
            raise PageError(422, "name the server (name, URL, address or port) or its host")
        fields.update(server=server, host=host)
        try:
            entry = access.registry_for(principal).add(fields)
        except (RegistryError, MCPeekerError) as exc:
            raise PageError(409, str(exc)) from None
        return _back(session, "/my/servers", f"registered {entry['entry_id']}: pending until an admin approves it")

    # ------------------------------------------------------------------------------------------ findings
    @router.get("/findings")
    def findings(request: Request) -> Response:
        principal = ui.who(request, "finding.list").principal
        q = request.query_params
        where = FindingFilter(
            classification=tuple(v for v in q.getlist("classification") if v),
            severity=tuple(v for v in q.getlist("severity") if v),
            status=tuple(v for v in q.getlist("status") if v),
            host=q.get("host") or None,
            text=(q.get("text") or "")[:200] or None,
        )
        try:
            page = list_findings(
                access.settings,
                access.client,
                FindingPage(where, None, 50, q.get("cursor") or None),
                access.scope_for(principal),
            )
        except BadCursor as exc:
            raise PageError(422, str(exc)) from None
        rows = [{"f": f, "host": _host_label(f), "server": _server_label(f)} for f in page.items]
        nxt = None
        if page.next_cursor:
            params = [(k, v) for k, v in q.multi_items() if k != "cursor"] + [("cursor", page.next_cursor)]
            nxt = "/findings?" + urlencode(params)
        title = "Triage" if auth.may(principal, "finding.all") else "Findings on my hosts"
        values = {
            "title": title,
            "rows": rows,
            "total": page.total,
            "next": nxt,
            "q": q,
            "classifications": CLASSIFICATIONS,
            "severities": SEVERITIES,
            "statuses": lifecycle.STATUSES,
        }
        return ui.page(request, "findings.html", values)

    def shown(principal: Principal, finding_id: str) -> dict[str, Any]:
        found = visible(access.settings, access.client, finding_id, access.scope_for(principal))
        if found is None:
            raise PageError(404, f"no finding {finding_id!r}")
        return found

    async def finding_posted(request: Request, finding_id: str, action: str) -> tuple[Session, FormData]:
        """A POST acting on a finding: CSRF and role checked, and the finding visible to the caller (else 404)."""
        session, form = await ui.posted(request, action)
        shown(session.principal, finding_id)
        return session, form

    @router.get("/findings/{finding_id}")
    def finding(request: Request, finding_id: str) -> Response:
        principal = ui.who(request, "finding.show").principal
        found = shown(principal, finding_id)
        values = {
            "title": f"Finding {finding_id}",
            "f": found,
            "host": _host_label(found),
            "server": _server_label(found),
            "timeline": timeline(access.settings, access.client, finding_id),
            "verdicts": VERDICTS,
            "statuses": lifecycle.STATUSES,
        }
        return ui.page(request, "finding.html", values)

    @router.post("/findings/{finding_id}/claim")
    async def claim(request: Request, finding_id: str) -> Response:
        session, form = await finding_posted(request, finding_id, "registry.claim")
        principal = session.principal
        purpose = _text(form, "purpose")
        if not purpose:
            raise PageError(422, "purpose: say what the server is for")
        try:
            entry = access.registry_for(principal).claim(
                finding_id, principal.name, _text(form, "team", 128) or None, purpose
            )
        except (RegistryError, MCPeekerError) as exc:
            raise PageError(409, str(exc)) from None
        return _back(
            session, f"/findings/{finding_id}", f"claimed as {entry['entry_id']}: pending until an admin approves it"
        )

    @router.post("/findings/{finding_id}/verdict")
    async def verdict(request: Request, finding_id: str) -> Response:
        session, form = await finding_posted(request, finding_id, "feedback.add")
        chosen = _text(form, "verdict", 32)
        if chosen not in VERDICTS:
            raise PageError(422, f"verdict: one of {', '.join(VERDICTS)}")
        result = give_verdict(
            access.settings, access.client, session.principal.actor, finding_id, chosen, _text(form, "note"), None
        )
        moved = f"; status {result.status.old} -> {result.status.new}" if result.status else ""
        return _back(session, f"/findings/{finding_id}", f"verdict {chosen} recorded{moved}")

    @router.post("/findings/{finding_id}/status")
    async def status(request: Request, finding_id: str) -> Response:
        session, form = await finding_posted(request, finding_id, "finding.status")
        new, reason = _text(form, "status", 32), _text(form, "reason")
        if new not in lifecycle.STATUSES or not reason:
            raise PageError(422, f"status: one of {', '.join(lifecycle.STATUSES)}, with a reason")
        try:
            change = lifecycle.set_status(
                access.settings, access.client, finding_id, new, session.principal.actor, reason
            )
        except lifecycle.LifecycleError as exc:
            raise PageError(409, str(exc)) from None
        return _back(session, f"/findings/{finding_id}", f"status {change.old} -> {change.new}")

    # ------------------------------------------------------------------------------------------ admin
    @router.get("/admin/queue")
    def queue(request: Request) -> Response:
        principal = ui.who(request, "registry.approve").principal
        now = utcnow()
        entries = access.registry_for(principal).all()
        pending = [e for e in entries if effective_status(e, now) == "pending"]
        due = access.registry_for(principal).due(14)
        return ui.page(request, "queue.html", {"title": "Approval queue", "pending": pending, "due": due})

    @router.post("/admin/registry/{entry_id}/{action}")
    async def decide(request: Request, entry_id: str, action: str) -> Response:
        if action not in ("approve", "reject", "renew"):
            raise PageError(404, f"no action {action!r}")
        session, form = await ui.posted(request, f"registry.{action}")
        registry = access.registry_for(session.principal)
        try:
            entry, version = registry.get_versioned(entry_id)
        except RegistryError as exc:
            raise PageError(404, str(exc)) from None
        access.check_not_own_request(session.principal, entry, action)  # Forbidden -> the 403 page says why
        try:
            registry.apply(entry_id, action, _text(form, "note"), None, version=version)
        except VersionConflict as exc:
            raise PageError(409, str(exc)) from None
        except RegistryError as exc:
            raise PageError(409, str(exc)) from None
        return _back(session, "/admin/queue", f"{entry_id}: {action} done")

    @router.get("/admin/tokens")
    def tokens_page(request: Request) -> Response:
        ui.who(request, "token.list")
        return ui.page(request, "tokens.html", token_values(None))

    def token_values(secret: str | None, created: ApiToken | None = None) -> dict[str, Any]:
        now = utcnow()
        rows = [{"t": t, "state": t.state(now)} for t in sorted(ui.tokens.list(), key=lambda t: t.created)]
        roles = sorted(auth_roles())
        return {"title": "API tokens", "rows": rows, "secret": secret, "created": created, "roles": roles}

    def auth_roles() -> list[str]:
        from ..roles import roles_config

        return list(roles_config(auth.roles_file)["roles"])

    @router.post("/admin/tokens")
    async def token_create(request: Request) -> Response:
        session, form = await ui.posted(request, "token.create")
        name = _text(form, "name", 64)
        if not ui.token_budget.spend(session.principal.name):
            raise PageError(429, f"{session.principal.name}: too many new tokens this minute; wait and try again")
        if not name:
            raise PageError(422, "name: what the token is for")
        try:
            record, secret = access.create_token(
                ui.tokens, session.principal, name, _text(form, "role", 64), _text(form, "expires", 8) or "30d"
            )
        except InvalidTokenRequest as exc:
            raise PageError(422, str(exc)) from None
        # Shown once, in this response only (never stored, never redirected through a URL).
        return ui.page(request, "tokens.html", token_values(secret, record), 201)

    @router.post("/admin/tokens/{token_id}/revoke")
    async def token_revoke(request: Request, token_id: str) -> Response:
        session, _ = await ui.posted(request, "token.revoke")
        try:
            record = access.revoke_token(ui.tokens, session.principal, token_id)
        except MCPeekerError as exc:
            raise PageError(404, str(exc)) from None
        return _back(session, "/admin/tokens", f"revoked {record.id} ({record.name})")

    return router


def install_ui(app: FastAPI, ui: Ui) -> None:
    """Mount the UI's pages and its stylesheet on the app (create_app calls this)."""
    app.state.ui = ui
    app.include_router(build_ui(ui))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
