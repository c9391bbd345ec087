"""Keys of "remote MCP service used" findings: one per (client host, catalogue service).

remote:<client>:<service>     client is the agent's keyed host id when an agent claims the address, else the IP
                              (IPv6 unbracketed); service is the catalogue's service id (no ':' in it)

Kept apart from instance_key.py: an instance key names an MCP *server*; this names a *use* of a public service.
"""

from __future__ import annotations

from typing import TypedDict

PREFIX = "remote:"


class RemoteKeyParts(TypedDict):
    client: str
    service: str


def key(client: str, service: str) -> str:
    if not client or not service or ":" in service:
        raise ValueError(f"remote key needs a client and a service id without ':' (got {client!r}, {service!r})")
    return f"{PREFIX}{client}:{service}"


def is_remote(value: str) -> bool:
    return value.startswith(PREFIX)


def parse(value: str) -> RemoteKeyParts:
    """Split a remote key; ValueError when `value` is not one."""
    if not is_remote(value):
        raise ValueError(f"{value!r} is not a remote-service key")
    client, sep, service = value[len(PREFIX) :].rpartition(":")
    if not sep or not client or not service:
        raise ValueError(f"{value!r} is not a remote-service key (remote:<client>:<service>)")
    return {"client": client, "service": service}
