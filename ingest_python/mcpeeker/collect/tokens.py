"""Per-agent enrollment tokens: issued once, stored only as a salted scrypt hash, revocable.

A token reads `mcpk_<id>_<secret>`; the store itself (file, locking, hashing, verify cache) is
mcpeeker.tokenstore, shared with the API tokens of `mcpeeker serve`. The collector re-reads the store when it
changes, so a revocation takes effect on the next request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import MCPeekerError
from ..tokenstore import SCRYPT, HashedTokenStore

__all__ = ["AGENT_NAME", "PREFIX", "SCRYPT", "TokenRecord", "TokenStore"]

PREFIX = "mcpk"
AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


@dataclass(frozen=True)
class TokenRecord:
    id: str
    agent: str
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None


class TokenStore(HashedTokenStore[TokenRecord]):
    prefix = PREFIX
    kind = "token"

    def public(self, record: dict[str, Any]) -> TokenRecord:
        return TokenRecord(record["id"], record["agent"], record["created"], record.get("revoked"))

    def issue(self, agent: str) -> tuple[TokenRecord, str]:
        """A new token for `agent`; the token text is returned once and never stored."""
        if not AGENT_NAME.match(agent):
            raise MCPeekerError(f"agent name {agent!r}: use 1-128 letters, digits, '.', '_', '@' or '-'")
        return self._issue({"agent": agent})

    def revoke(self, *, agent: str | None = None, token_id: str | None = None) -> list[TokenRecord]:
        """Revoke one token (by id) or every active token of an agent; returns what was revoked."""
        if not agent and not token_id:
            raise MCPeekerError("name the token to revoke: --agent NAME or --id ID")
        done = self._revoke(lambda r: r["id"] == token_id or bool(agent and r["agent"] == agent))
        if not done:
            raise MCPeekerError(
                f"no active token {'with id ' + token_id if token_id else 'for agent ' + str(agent)} in {self.path}"
            )
        return done

    def __iter__(self) -> Iterator[TokenRecord]:
        return iter(self.list())
