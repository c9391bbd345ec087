"""API tokens for automation: created by an admin for one role, shown once, stored as a scrypt hash (the store
is mcpeeker.tokenstore, shared with the collector's enrollment tokens), expiring, revocable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import MCPeekerError
from ..timeutil import iso, parse_iso, utcnow
from ..tokenstore import HashedTokenStore

PREFIX = "mcpa"
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@ -]{0,63}$")
DURATION = re.compile(r"^(\d{1,5})([hdw])$")
MAX_DAYS = 366


@dataclass(frozen=True)
class ApiToken:
    id: str
    name: str
    role: str
    created: str
    created_by: str
    expires: str
    revoked: str | None = None

    @property
    def identity(self) -> str:
        """Who acts with this token, as the audit chain records it."""
        return f"token:{self.id}:{self.name}"

    def state(self, now: datetime) -> str:
        if self.revoked:
            return "revoked"
        return "expired" if parse_iso(self.expires) <= now else "active"


def parse_duration(text: str) -> timedelta:
    """30d, 12h, 2w; at most a year."""
    match = DURATION.match(text.strip())
    if not match:
        raise MCPeekerError(f"expires {text!r}: use a number and h, d or w (e.g. 30d)")
    amount, unit = int(match.group(1)), match.group(2)
    delta = {"h": timedelta(hours=amount), "d": timedelta(days=amount), "w": timedelta(weeks=amount)}[unit]
    if delta <= timedelta(0) or delta > timedelta(days=MAX_DAYS):
        raise MCPeekerError(f"expires {text!r}: between 1h and {MAX_DAYS}d")
    return delta


class ApiTokenStore(HashedTokenStore[ApiToken]):
    prefix = PREFIX
    kind = "API token"

    def public(self, record: dict[str, Any]) -> ApiToken:
        return ApiToken(
            record["id"],
            record["name"],
            record["role"],
            record["created"],
            record["created_by"],
            record["expires"],
            record.get("revoked"),
        )

    def usable(self, record: dict[str, Any]) -> bool:
        return record.get("revoked") is None and parse_iso(record["expires"]) > utcnow()

    def create(self, name: str, role: str, lifetime: timedelta, created_by: str) -> tuple[ApiToken, str]:
        if not TOKEN_NAME.match(name):
            raise MCPeekerError(f"token name {name!r}: 1-64 letters, digits, space, '.', '_', '@' or '-'")
        fields = {"name": name, "role": role, "created_by": created_by, "expires": iso(utcnow() + lifetime)}
        return self._issue(fields)

    def revoke(self, token_id: str) -> ApiToken:
        done = self._revoke(lambda r: r["id"] == token_id)
        if not done:
            raise MCPeekerError(f"no active API token with id {token_id!r} in {self.path}")
        return done[0]

    def get(self, token_id: str) -> ApiToken | None:
        record = self._read().get(token_id)
        return self.public(record) if record else None
