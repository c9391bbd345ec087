"""Who may see and do what beyond roles.yaml's actions: the developer's scope of findings and registry entries, the
self-approval rule, registering for others, and API tokens. One copy, used by the REST API (app.py) and the web UI
(ui.py), so both enforce the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import audit
from ..errors import MCPeekerError
from ..registry.model import RegistryEntry, effective_status
from ..registry.store import Registry
from ..roles import roles_config
from ..settings import Settings
from ..timeutil import utcnow
from .auth import Authenticator, Forbidden, Principal
from .findings import Scope
from .tokens import ApiToken, ApiTokenStore, parse_duration


class InvalidTokenRequest(MCPeekerError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Access:
    settings: Settings
    client: Any
    auth: Authenticator
    ttl_days: int = 90

    def registry_for(self, principal: Principal) -> Registry:
        return Registry(self.settings, self.client, principal.actor, self.ttl_days)

    def scope_for(self, principal: Principal) -> Scope | None:
        """None: every finding; else what a principal without finding.all may see."""
        if self.auth.may(principal, "finding.all"):
            return None
        now = utcnow()
        # Only approved entries widen the view: a pending request naming someone else's address must not show
        # that host's findings to whoever filed it. A claim's own finding is visible to its claimant.
        own: list[RegistryEntry] = [
            e if effective_status(e, now) == "approved" else RegistryEntry(source_finding=e.get("source_finding"))
            for e in self.registry_for(principal).all()
            if e.get("owner") == principal.name
        ]
        # Hosts are known by keyed ids: a machine id from the hosts claim matches under every key of the ring.
        ring = self.settings.site_keys()
        hashed = tuple(h for value in principal.hosts for h in ring.hashes(value).values())
        return Scope(principal.name, principal.hosts + hashed, tuple(own))

    def entry_visible(self, principal: Principal, entry: RegistryEntry) -> bool:
        return self.auth.may(principal, "registry.all") or entry.get("owner") == principal.name

    def owner_for(self, principal: Principal, owner: str | None) -> str:
        """The owner of a new registration: roles without registry.all register for themselves only."""
        wanted = owner or principal.name
        if wanted != principal.name and not self.auth.may(principal, "registry.all"):
            raise Forbidden(f"{principal.name} (role {principal.role}) may register servers for themselves only")
        return wanted

    def check_not_own_request(self, principal: Principal, entry: RegistryEntry, action: str) -> None:
        """Nobody approves or renews their own request: the owner and whoever added, reopened or imported it."""
        if action not in ("approve", "renew"):
            return
        requesters = {entry.get("owner")} | {
            h.get("actor") for h in entry.get("history", []) if h.get("action") in ("add", "reopen", "import")
        }
        if principal.identities() & requesters:
            raise Forbidden(f"{principal.name} may not {action} their own request ({entry.get('entry_id')})")

    def create_token(
        self, tokens: ApiTokenStore, principal: Principal, name: str, role: str, expires: str
    ) -> tuple[ApiToken, str]:
        """(record, secret): the secret is shown once; the creation is audited with the principal's identity."""
        self.auth.require(principal, "token.create")
        if role not in roles_config(self.auth.roles_file)["roles"]:
            raise InvalidTokenRequest(f"role {role!r} is not defined in roles.yaml", "body.role")
        try:
            lifetime = parse_duration(expires)
        except MCPeekerError as exc:
            raise InvalidTokenRequest(str(exc), "body.expires") from None
        audit.signing_key(self.settings)  # no audit key: refuse before a token exists
        record, secret = tokens.create(name, role, lifetime, principal.name)
        audit.append(
            self.settings,
            self.client,
            principal.actor,
            "token.create",
            "api_token",
            record.id,
            {"name": record.name, "role": record.role, "expires": record.expires},
        )
        return record, secret

    def revoke_token(self, tokens: ApiTokenStore, principal: Principal, token_id: str) -> ApiToken:
        """Raises MCPeekerError for an unknown id."""
        self.auth.require(principal, "token.revoke")
        record = tokens.revoke(token_id)
        audit.append(self.settings, self.client, principal.actor, "token.revoke", "api_token", record.id, {})
        return record
