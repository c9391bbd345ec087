"""Roles: who may do what (configs/roles.yaml), for the CLI and for `mcpeeker serve`.

The CLI's identity comes from the settings (identity:, MCPEEKER_IDENTITY): a guard rail, not a security boundary
(the cluster's own security roles, docs/opensearch-security-roles.yml, enforce access there); its `--as` is a demo
convenience honoured only against the demo index prefixes (roles.yaml cli.as_prefixes). `mcpeeker serve` is the
boundary: it takes the role from the authenticated token's groups (roles.yaml groups:) and checks every request.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from .config import load_named_config
from .errors import ConfigError, MCPeekerError
from .settings import Settings

DEMO_PREFIXES = ("demo-",)


class PermissionDenied(MCPeekerError):
    pass


@dataclass(frozen=True)
class Actor:
    name: str
    role: str


@lru_cache(maxsize=4)
def _roles(path: str | None) -> dict[str, Any]:
    data: dict[str, Any] = load_named_config("roles", Path(path) if path else None)
    known = set(data["roles"])
    for section in ("identities", "groups"):
        for name, role in (data.get(section) or {}).items():
            if role not in known:
                raise ConfigError(f"roles.yaml: {section}.{name}: role {role!r} is not defined under roles:")
    return data


def roles_config(roles_file: str | None = None) -> dict[str, Any]:
    """configs/roles.yaml (or `roles_file`), schema-checked, every role it names defined."""
    return _roles(roles_file)


def permits(role: str, action: str, roles_file: str | None = None) -> bool:
    allowed = _roles(roles_file)["roles"].get(role, [])
    group = action.split(".", 1)[0]
    return "*" in allowed or action in allowed or f"{group}.*" in allowed


def role_for_groups(groups: Iterable[str], roles_file: str | None = None) -> str | None:
    """The role of someone in `groups`: among the roles their groups map to, the one listed last in roles:."""
    data = _roles(roles_file)
    mapping: dict[str, str] = data.get("groups") or {}
    order = list(data["roles"])
    found = {mapping[g] for g in groups if g in mapping}
    return max(found, key=order.index) if found else None


def with_as(settings: Settings, as_identity: str | None, roles_file: str | None = None) -> Settings:
    """The settings acting as `as_identity` (the CLI's --as); refused outside the demo index prefixes."""
    if not as_identity:
        return settings
    prefixes = tuple((_roles(roles_file).get("cli") or {}).get("as_prefixes", DEMO_PREFIXES))
    if not settings.index_prefix or not settings.index_prefix.startswith(prefixes):
        raise PermissionDenied(
            f"--as works only against the demo index prefixes ({', '.join(prefixes)}; roles.yaml cli.as_prefixes), "
            f"not {settings.index_prefix or '(no prefix)'!r}: the CLI acts as the settings' identity "
            "(identity: / MCPEEKER_IDENTITY), and people act through `mcpeeker serve` with their own login"
        )
    return replace(settings, identity=as_identity)


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
    if permits(actor.role, action, roles_file):
        return actor
    raise PermissionDenied(f"identity {actor.name!r} (role {actor.role}) may not {action}")
