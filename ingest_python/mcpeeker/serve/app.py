"""The application factory: the versioned REST API under /api/v1, health, metrics, the OpenAPI document.

Every API route names the roles.yaml action it needs (`x-mcpeeker-action` in the OpenAPI document, which the
tests walk so that a new route without a rule fails them). Nothing under /api/v1 answers without a valid bearer
token; /healthz and the OpenAPI document do, and /metrics only to loopback clients (serve.yaml `metrics`).
The web UI, when it comes, is one more router mounted in `create_app` beside the API's.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Callable, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from .. import analytics
from ..errors import MCPeekerError
from ..cases import lifecycle
from ..cases import suppressions as sup
from ..correlate.scoring import ScoringConfig
from ..feedback import VERDICTS, SuppressRequest, give_verdict, timeline
from ..registry.model import STATUSES, RegistryEntry, RegistryError, effective_status
from ..registry.store import Registry, VersionConflict, render_export
from ..roles import roles_config
from ..settings import Settings
from ..timeutil import parse_iso, utcnow
from .access import Access, InvalidTokenRequest
from .auth import Authenticator, Forbidden, Principal, Unauthenticated
from .config import ServeConfig, is_loopback
from ..cases.queries import FindingFilter, QueryError
from .findings import BadCursor, FindingPage, list_findings, visible
from .limits import MinuteBudget
from .tokens import ApiTokenStore
from .ui import Ui, install_ui

API = "/api/v1"
ACTION_KEY = "x-mcpeeker-action"
ANY_ROLE = "me"  # the action of routes every authenticated principal may use (who am I)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class ServeContext:
    settings: Settings
    client: Any
    config: ServeConfig
    auth: Authenticator
    tokens: ApiTokenStore
    ttl_days: int = 90
    tls: bool = False  # served over TLS by this process: only then Strict-Transport-Security means anything


class Problem(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


# --------------------------------------------------------------------------------------------- request bodies
class HostIn(BaseModel):
    id: str | None = Field(None, max_length=128)
    name: str | None = Field(None, max_length=255)
    ip: str | None = Field(None, max_length=45)


class ServerIn(BaseModel):
    name: str | None = Field(None, max_length=255)
    port: int | None = Field(None, ge=1, le=65535)
    url: str | None = Field(None, max_length=2048)
    ip: str | None = Field(None, max_length=45)


class RegisterIn(BaseModel):
    purpose: str = Field(..., min_length=1, max_length=2000)
    owner: str | None = Field(None, min_length=1, max_length=128)
    team: str | None = Field(None, max_length=128)
    host: HostIn | None = None
    server: ServerIn | None = None
    expires: str | None = Field(None, max_length=40)

    @field_validator("expires")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value:
            parse_iso(value)  # ValueError -> 422 naming body.expires
        return value


class ClaimIn(BaseModel):
    purpose: str = Field(..., min_length=1, max_length=2000)
    team: str | None = Field(None, max_length=128)


class TransitionIn(BaseModel):
    note: str = Field("", max_length=2000)
    days: int | None = Field(None, ge=1, le=3650)


class FeedbackIn(BaseModel):
    verdict: Literal["true_positive", "false_positive", "benign", "needs_info"]
    note: str = Field("", max_length=2000)
    suppress_expires: str | None = Field(
        None, max_length=40, description="false_positive only: also suppress the instance until then (30d or ISO)"
    )


class StatusIn(BaseModel):
    status: Literal["open", "acknowledged", "resolved", "false_positive", "accepted_risk"]
    reason: str = Field(..., min_length=1, max_length=2000)


class MatchIn(BaseModel):
    host: str | None = Field(None, max_length=255)
    instance: str | None = Field(None, max_length=512)
    detection: str | None = Field(None, max_length=64)
    tool: str | None = Field(None, max_length=255)
    network: str | None = Field(None, max_length=64)


class SuppressionIn(BaseModel):
    match: MatchIn
    reason: str = Field(..., min_length=1, max_length=2000)
    expires: str = Field(..., min_length=2, max_length=40, description="30d, 12h or an ISO date")
    owner: str | None = Field(None, min_length=1, max_length=128)


class TokenIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=64)
    role: str = Field(..., min_length=1, max_length=64)
    expires: str = Field("30d", max_length=8)


class ImportIn(BaseModel):
    entries: list[dict[str, Any]] = Field(..., max_length=5000)


assert set(VERDICTS) == {"true_positive", "false_positive", "benign", "needs_info"}
assert set(lifecycle.STATUSES) == {"open", "acknowledged", "resolved", "false_positive", "accepted_risk"}


def _etag(version: dict[str, int]) -> str:
    return f'"{version["if_seq_no"]}-{version["if_primary_term"]}"'


def _if_match(value: str | None) -> dict[str, int] | None:
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    try:
        seq, term = text.strip('"').split("-")
        return {"if_seq_no": int(seq), "if_primary_term": int(term)}
    except ValueError:
        raise Problem(412, f"If-Match {value!r}: not an ETag this API handed out", "If-Match") from None


def _public_entry(entry: RegistryEntry) -> dict[str, Any]:
    out: dict[str, Any] = dict(entry)
    out["effective_status"] = effective_status(entry, utcnow())
    return out


def build_api(ctx: ServeContext, token_budget: MinuteBudget | None = None) -> APIRouter:
    router = APIRouter()
    token_budget = token_budget or MinuteBudget(ctx.config.tokens_per_minute)
    auth = ctx.auth

    def need(action: str) -> Callable[[Request], Principal]:
        def dependency(request: Request) -> Principal:
            principal: Principal | None = getattr(request.state, "principal", None)
            if principal is None:  # the middleware authenticates every /api/v1 request before anything else
                raise Unauthenticated("missing bearer token (Authorization: Bearer <token>)", "invalid_request")
            if action != ANY_ROLE:
                auth.require(principal, action)
            return principal

        return dependency

    def extra(action: str) -> dict[str, Any]:
        return {ACTION_KEY: action}

    # The scope, self-approval and token rules live in access.py, shared with the web UI.
    access = Access(ctx.settings, ctx.client, auth, ctx.ttl_days)
    registry_for = access.registry_for
    scope_for = access.scope_for

    def shown(finding_id: str, principal: Principal) -> dict[str, Any]:
        """The finding, if the caller's scope lets them see it; else 404 (never a hint that it exists)."""
        found = visible(ctx.settings, ctx.client, finding_id, scope_for(principal))
        if found is None:
            raise Problem(404, f"no finding {finding_id!r}")
        return found

    entry_visible = access.entry_visible

    def versioned(registry: Registry, entry_id: str) -> tuple[RegistryEntry, dict[str, int]]:
        try:
            return registry.get_versioned(entry_id)
        except RegistryError as exc:
            raise Problem(404, str(exc)) from None

    def entry_response(entry: RegistryEntry, version: dict[str, int], status: int = 200) -> JSONResponse:
        return JSONResponse(_public_entry(entry), status_code=status, headers={"ETag": _etag(version)})

    # ------------------------------------------------------------------------------------------ who am I
    @router.get("/me", openapi_extra=extra("me"), tags=["auth"])
    def me(principal: Annotated[Principal, Depends(need("me"))]) -> dict[str, Any]:
        actions = sorted(a for a in (roles_config(auth.roles_file)["roles"][principal.role]))
        return {"name": principal.name, "role": principal.role, "kind": principal.kind, "actions": actions}

    # ------------------------------------------------------------------------------------------ findings
    @router.get("/findings", openapi_extra=extra("finding.list"), tags=["findings"])
    def findings(
        principal: Annotated[Principal, Depends(need("finding.list"))],
        classification: Annotated[list[str], Query()] = [],
        severity: Annotated[list[str], Query()] = [],
        status: Annotated[list[str], Query()] = [],
        host: Annotated[str | None, Query(max_length=255)] = None,
        owner: Annotated[str | None, Query(max_length=128)] = None,
        detection: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[datetime | None, Query()] = None,
        until: Annotated[datetime | None, Query()] = None,
        text: Annotated[str | None, Query(max_length=200)] = None,
        suppressed: Annotated[bool | None, Query()] = None,
        limit: Annotated[int, Query(ge=1)] = 50,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> dict[str, Any]:
        if limit > ctx.config.max_page_size:
            raise Problem(422, f"limit: at most {ctx.config.max_page_size}", "query.limit")
        where = FindingFilter(
            classification=tuple(classification),
            severity=tuple(severity),
            status=tuple(status),
            host=host,
            owner=owner,
            detection=detection,
            since=since,
            until=until,
            text=text,
            suppressed=suppressed,
        )
        request = FindingPage(where, None, limit, cursor)
        try:
            page = list_findings(ctx.settings, ctx.client, request, scope_for(principal))
        except BadCursor as exc:
            raise Problem(422, str(exc), "query.cursor") from None
        except QueryError as exc:
            raise Problem(422, str(exc), "query.detection") from None
        return {"items": page.items, "total": page.total, "next_cursor": page.next_cursor}

    @router.get("/findings/{finding_id}", openapi_extra=extra("finding.show"), tags=["findings"])
    def finding(finding_id: str, principal: Annotated[Principal, Depends(need("finding.show"))]) -> dict[str, Any]:
        return {"finding": shown(finding_id, principal), "timeline": timeline(ctx.settings, ctx.client, finding_id)}

    @router.post("/findings/{finding_id}/feedback", openapi_extra=extra("feedback.add"), tags=["findings"])
    def feedback(
        finding_id: str, body: FeedbackIn, principal: Annotated[Principal, Depends(need("feedback.add"))]
    ) -> JSONResponse:
        shown(finding_id, principal)
        suppress = None
        if body.suppress_expires:
            auth.require(principal, "suppress.add")
            try:
                expires = sup.parse_expiry(body.suppress_expires, utcnow())
            except MCPeekerError as exc:
                raise Problem(422, str(exc), "body.suppress_expires") from None
            suppress = SuppressRequest(expires, _max_suppression_days())
        result = give_verdict(ctx.settings, ctx.client, principal.actor, finding_id, body.verdict, body.note, suppress)
        out: dict[str, Any] = dict(result.feedback)
        out["status"] = result.status.new if result.status else None
        out["suppression_id"] = result.suppression.suppression_id if result.suppression else None
        return JSONResponse(out, status_code=201)

    @router.post("/findings/{finding_id}/status", openapi_extra=extra("finding.status"), tags=["findings"])
    def finding_status(
        finding_id: str, body: StatusIn, principal: Annotated[Principal, Depends(need("finding.status"))]
    ) -> dict[str, Any]:
        shown(finding_id, principal)
        try:
            change = lifecycle.set_status(
                ctx.settings, ctx.client, finding_id, body.status, principal.actor, body.reason
            )
        except lifecycle.LifecycleError as exc:
            raise Problem(409, str(exc), "body.status") from None
        return {"finding_id": change.finding_id, "from": change.old, "to": change.new, "at": change.at, "by": change.by}

    # ------------------------------------------------------------------------------------------ suppressions
    @router.get("/suppressions", openapi_extra=extra("suppress.list"), tags=["suppressions"])
    def suppressions_list(principal: Annotated[Principal, Depends(need("suppress.list"))]) -> dict[str, Any]:
        now = utcnow()
        rules = sup.load(ctx.settings, ctx.client)
        return {"items": [{**r.to_doc(), "active": r.active(now)} for r in rules]}

    @router.post("/suppressions", openapi_extra=extra("suppress.add"), tags=["suppressions"])
    def suppressions_add(
        body: SuppressionIn, principal: Annotated[Principal, Depends(need("suppress.add"))]
    ) -> JSONResponse:
        try:
            expires = sup.parse_expiry(body.expires, utcnow())
        except MCPeekerError as exc:
            raise Problem(422, str(exc), "body.expires") from None
        match = sup.Match(**body.match.model_dump())
        try:
            rule = sup.add(
                ctx.settings,
                ctx.client,
                principal.actor,
                match,
                body.owner or principal.name,
                body.reason,
                expires,
                _max_suppression_days(),
            )
        except sup.SuppressionError as exc:
            text = str(exc)
            field = "body.expires" if text.startswith("expires") else "body.match"
            raise Problem(422, text, field) from None
        return JSONResponse(rule.to_doc(), status_code=201)

    @router.delete("/suppressions/{suppression_id}", openapi_extra=extra("suppress.remove"), tags=["suppressions"])
    def suppressions_remove(
        suppression_id: str, principal: Annotated[Principal, Depends(need("suppress.remove"))]
    ) -> dict[str, Any]:
        try:
            rule = sup.remove(ctx.settings, ctx.client, principal.actor, suppression_id)
        except sup.SuppressionError as exc:
            raise Problem(404, str(exc)) from None
        return rule.to_doc()

    @router.post("/findings/{finding_id}/claim", openapi_extra=extra("registry.claim"), tags=["registry"])
    def claim(
        finding_id: str, body: ClaimIn, principal: Annotated[Principal, Depends(need("registry.claim"))]
    ) -> JSONResponse:
        shown(finding_id, principal)
        registry = registry_for(principal)
        entry = registry.claim(finding_id, principal.name, body.team, body.purpose)
        return entry_response(entry, registry.get_versioned(entry["entry_id"])[1], 201)

    # ------------------------------------------------------------------------------------------ registry
    @router.get("/registry", openapi_extra=extra("registry.list"), tags=["registry"])
    def registry_list(
        principal: Annotated[Principal, Depends(need("registry.list"))],
        status: Annotated[str | None, Query(max_length=16)] = None,
        owner: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise Problem(422, f"status: one of {', '.join(STATUSES)}", "query.status")
        if limit > ctx.config.max_page_size:
            raise Problem(422, f"limit: at most {ctx.config.max_page_size}", "query.limit")
        now = utcnow()
        entries = [e for e in registry_for(principal).all() if entry_visible(principal, e)]
        if status:
            entries = [e for e in entries if effective_status(e, now) == status]
        if owner:
            entries = [e for e in entries if e.get("owner") == owner]
        page = entries[offset : offset + limit]
        return {
            "items": [_public_entry(e) for e in page],
            "total": len(entries),
            "next_offset": offset + limit if offset + limit < len(entries) else None,
        }

    @router.get("/registry/export", openapi_extra=extra("registry.export"), tags=["registry"])
    def registry_export(
        principal: Annotated[Principal, Depends(need("registry.export"))],
        format: Annotated[Literal["json", "yaml", "csv"], Query()] = "json",
    ) -> Response:
        text = render_export(registry_for(principal).all(), format)
        media = {"json": "application/json", "yaml": "application/yaml", "csv": "text/csv"}[format]
        return Response(text, media_type=f"{media}; charset=utf-8")

    @router.post("/registry/import", openapi_extra=extra("registry.import"), tags=["registry"])
    def registry_import(
        body: ImportIn, principal: Annotated[Principal, Depends(need("registry.import"))]
    ) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        refused: list[str] = []
        for number, row in enumerate(body.entries, start=1):
            # An import may approve entries, but nobody approves their own.
            if row.get("status") == "approved" and row.get("owner") in principal.identities():
                refused.append(f"entry {number}: {principal.name} may not approve their own entry")
            else:
                rows.append(row)
        added, present, errors = registry_for(principal).import_entries(rows, f"api:{principal.name}")
        return {"added": added, "present": present, "errors": refused + errors}

    @router.get("/registry/{entry_id}", openapi_extra=extra("registry.show"), tags=["registry"])
    def registry_show(entry_id: str, principal: Annotated[Principal, Depends(need("registry.show"))]) -> JSONResponse:
        entry, version = versioned(registry_for(principal), entry_id)
        if not entry_visible(principal, entry):
            raise Problem(404, f"no registry entry {entry_id!r}")
        return entry_response(entry, version)

    @router.post("/registry", openapi_extra=extra("registry.add"), tags=["registry"])
    def registry_add(body: RegisterIn, principal: Annotated[Principal, Depends(need("registry.add"))]) -> JSONResponse:
        owner = access.owner_for(principal, body.owner)
        fields = body.model_dump(exclude_none=True)
        fields["owner"] = owner
        registry = registry_for(principal)
        entry = registry.add(fields)
        return entry_response(entry, registry.get_versioned(entry["entry_id"])[1], 201)

    def transition_route(action: str) -> None:
        def route(
            entry_id: str,
            principal: Annotated[Principal, Depends(need(f"registry.{action}"))],
            body: TransitionIn | None = None,
            if_match: Annotated[str | None, Header(max_length=64)] = None,
        ) -> JSONResponse:
            wanted = _if_match(if_match)
            registry = registry_for(principal)
            entry, version = versioned(registry, entry_id)
            if wanted is not None and wanted != version:
                raise Problem(412, f"{entry_id} changed since you read it (ETag {_etag(version)})", "If-Match")
            access.check_not_own_request(principal, entry, action)
            note = body.note if body else ""
            days = body.days if body else None
            try:
                updated = registry.apply(entry_id, action, note, days, version=version)
            except VersionConflict as exc:
                raise Problem(412 if wanted is not None else 409, str(exc)) from None
            return entry_response(updated, registry.get_versioned(entry_id)[1])

        router.add_api_route(
            f"/registry/{{entry_id}}/{action}",
            route,
            methods=["POST"],
            name=f"registry_{action}",
            openapi_extra=extra(f"registry.{action}"),
            tags=["registry"],
        )

    for action in ("approve", "reject", "revoke", "renew"):
        transition_route(action)

    # ------------------------------------------------------------------------------------------ analytics
    @router.get("/analytics/summary", openapi_extra=extra("analytics.show"), tags=["analytics"])
    def analytics_summary(principal: Annotated[Principal, Depends(need("analytics.show"))]) -> dict[str, Any]:
        return analytics.summary(ctx.client, ctx.settings)

    # ------------------------------------------------------------------------------------------ API tokens
    @router.post("/tokens", openapi_extra=extra("token.create"), tags=["tokens"])
    def token_create(body: TokenIn, principal: Annotated[Principal, Depends(need("token.create"))]) -> JSONResponse:
        if not token_budget.spend(principal.name):  # a stolen admin session cannot mint tokens in bulk
            raise Problem(429, f"{principal.name}: at most {ctx.config.tokens_per_minute} new tokens a minute")
        try:
            record, secret = access.create_token(ctx.tokens, principal, body.name, body.role, body.expires)
        except InvalidTokenRequest as exc:
            raise Problem(422, str(exc), exc.field) from None
        return JSONResponse({"token": secret, **_token_view(record)}, status_code=201)

    @router.get("/tokens", openapi_extra=extra("token.list"), tags=["tokens"])
    def token_list(principal: Annotated[Principal, Depends(need("token.list"))]) -> dict[str, Any]:
        return {"items": [_token_view(t) for t in sorted(ctx.tokens.list(), key=lambda t: t.created)]}

    @router.delete("/tokens/{token_id}", openapi_extra=extra("token.revoke"), tags=["tokens"])
    def token_revoke(token_id: str, principal: Annotated[Principal, Depends(need("token.revoke"))]) -> dict[str, Any]:
        try:
            record = access.revoke_token(ctx.tokens, principal, token_id)
        except MCPeekerError as exc:
            raise Problem(404, str(exc)) from None
        return _token_view(record)

    return router


def _max_suppression_days() -> int:
    return int(ScoringConfig.load().suppressions.get("max_days", sup.DEFAULT_MAX_DAYS))


def _token_view(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "created": record.created,
        "created_by": record.created_by,
        "expires": record.expires,
        "revoked": record.revoked,
        "state": record.state(utcnow()),
    }


def _error(status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(ctx: ServeContext) -> FastAPI:
    app = FastAPI(
        title="MCPeeker",
        version="1",
        description="Findings, registry, feedback and analytics of MCPeeker (docs/serve.md). "
        "Every /api/v1 route needs `Authorization: Bearer <OpenID access token or API token>`.",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; the JSON document is what clients need
        redoc_url=None,
    )
    metrics = CollectorRegistry()
    requests = Counter(
        "mcpeeker_serve_requests", "API requests by route and status", ["method", "route", "status"], registry=metrics
    )
    latency = Histogram("mcpeeker_serve_request_seconds", "API request latency", ["route"], registry=metrics)
    # Refused bearer tokens per client address: guessing API tokens or replaying stolen JWTs is throttled.
    failures = MinuteBudget(ctx.config.auth_failures_per_minute)
    token_budget = MinuteBudget(ctx.config.tokens_per_minute)  # shared by the API's and the UI's token forms
    max_age = ctx.config.hsts_max_age_seconds
    hsts = f"max-age={max_age}" if ctx.tls and max_age > 0 else ""

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.monotonic()
        declared = request.headers.get("content-length")
        response: Response | None = None
        if request.url.path.startswith(API + "/") and request.url.path != app.openapi_url:
            # Authentication comes first: no body parsing, validation or routing answers a stranger.
            address = request.client.host if request.client else ""
            if failures.exhausted(address):
                response = _error(
                    429,
                    f"too many refused tokens from your address: at most {ctx.config.auth_failures_per_minute} "
                    "a minute; wait and try again",
                    headers={"Retry-After": "60"},
                )
            else:
                try:
                    request.state.principal = await run_in_threadpool(ctx.auth.authenticate, request)
                except Unauthenticated as exc:
                    failures.spend(address)
                    response = _error(401, str(exc), headers={"WWW-Authenticate": f'Bearer error="{exc.error}"'})
                except Forbidden as exc:
                    response = _error(403, str(exc))
                except MCPeekerError as exc:  # the provider's discovery document or keys cannot be fetched
                    response = _error(
                        503,
                        f"cannot check tokens now, the OpenID provider is unreachable: {exc}",
                        headers={"Retry-After": "30"},
                    )
        if response is not None:
            pass
        elif declared is not None and (not declared.isdigit() or int(declared) > ctx.config.max_body_bytes):
            response = _error(413, f"request body larger than {ctx.config.max_body_bytes} bytes")
        elif declared is None and request.method in ("POST", "PUT", "PATCH"):
            # A body of unannounced length (chunked) would be read whole before any limit applies.
            response = _error(411, "a request body needs a Content-Length")
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if hsts:
            response.headers.setdefault("Strict-Transport-Security", hsts)
        route = request.scope.get("route")
        template = getattr(route, "path", "(unmatched)")
        requests.labels(request.method, template, str(response.status_code)).inc()
        latency.labels(template).observe(time.monotonic() - started)
        return response

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_request: Request, exc: Unauthenticated) -> JSONResponse:
        challenge = f'Bearer error="{exc.error}"'
        return _error(401, str(exc), headers={"WWW-Authenticate": challenge})

    @app.exception_handler(Forbidden)
    async def forbidden(_request: Request, exc: Forbidden) -> JSONResponse:
        return _error(403, str(exc))

    @app.exception_handler(Problem)
    async def problem(_request: Request, exc: Problem) -> JSONResponse:
        return _error(exc.status, str(exc), exc.field)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        field = ".".join(str(part) for part in first.get("loc", ())) or "(body)"
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors
        ]
        return JSONResponse(
            {"error": f"{field}: {first.get('msg', 'invalid')}", "field": field, "details": details}, status_code=422
        )

    @app.exception_handler(RegistryError)
    async def registry_error(_request: Request, exc: RegistryError) -> JSONResponse:
        text = str(exc)
        status = 404 if text.startswith("no registry entry") else 409 if "cannot " in text or "exists" in text else 422
        return _error(status, text)

    @app.exception_handler(MCPeekerError)
    async def domain_error(_request: Request, exc: MCPeekerError) -> JSONResponse:
        text = str(exc)
        return _error(404 if text.startswith("no finding") else 422, text)

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        up = await run_in_threadpool(_ping, ctx.client)
        return {"status": "ok", "cluster": "up" if up else "down"}

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(request: Request) -> Response:
        if ctx.config.metrics == "loopback":
            if not is_loopback(request.client.host if request.client else None):
                raise Problem(404, "not found")
        else:
            ctx.auth.require(ctx.auth.authenticate(request), "metrics.read")
        return PlainTextResponse(generate_latest(metrics), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(build_api(ctx, token_budget), prefix=API)
    # The web UI under / (pages, login, its stylesheet): the same Authenticator and access rules as the API.
    access = Access(ctx.settings, ctx.client, ctx.auth, ctx.ttl_days)
    install_ui(app, Ui(access, ctx.tokens, ctx.config.ui, ctx.config.max_page_size, token_budget))
    return app


def _ping(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - health reports, it does not raise
        return False
