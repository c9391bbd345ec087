"""Role checks for CLI actions: identity (settings) -> role (configs/roles.yaml) -> allowed actions.

This is a guard rail for the CLI, not a security boundary: the cluster's own security roles
(docs/opensearch-security-roles.yml) are what enforce access in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config import load_named_config
from .errors import MCPeekerError
from .settings import Settings


class PermissionDenied(MCPeekerError):
    pass


@dataclass(frozen=True)
class Actor:
    name: str
    role: str


@lru_cache(maxsize=4)
def _roles(path: str | None) -> dict[str, Any]:
    roles: dict[str, Any] = load_named_config("roles", Path(path) if path else None)  # schema-checked mapping
    return roles


def actor_for(settings: Settings, roles_file: str | None = None) -> Actor:
    roles = _roles(roles_file)
    name = settings.identity or "analyst"
    role = roles["identities"].get(name)
    if role is None or role not in roles["roles"]:
        raise PermissionDenied(f"identity {name!r} has no role in configs/roles.yaml (identities: ...)")
    return Actor(name, role)


def authorize(settings: Settings, action: str, roles_file: str | None = None) -> Actor:
    """Return the acting identity, or raise PermissionDenied naming the identity, role and action."""
    actor = actor_for(settings, roles_file)
    allowed = _roles(roles_file)["roles"][actor.role]
    group = action.split(".", 1)[0]
    if "*" in allowed or action in allowed or f"{group}.*" in allowed:
        return actor
    raise PermissionDenied(f"identity {actor.name!r} (role {actor.role}) may not {action}")
