"""Instance keys (docs/data-model.md): the one place that builds and parses them, for the agent and the SIEM.

net:<ip>:<port>                        a server address seen on the wire (IPv6 unbracketed)
host:<host_id>:port:<port>             a listener on an endpoint (loopback URLs land here too)
host:<host_id>:cfg:<client>:<name>     a configured server without a network address; the name may hold ':'
url:<scheme>://<host>:<port><path>     a remote server a client is configured to reach
"""

from __future__ import annotations

import ipaddress
from typing import Literal, TypedDict
from urllib.parse import urlsplit

Kind = Literal["net", "host_port", "host_cfg", "host", "url", "other"]


class KeyParts(TypedDict, total=False):
    kind: Kind
    ip: str
    port: int | None
    host_id: str
    client: str
    server_name: str
    url: str


def net(ip: object, port: object) -> str:
    return f"net:{ip}:{port}"


def host_port(host_id: str, port: int | str) -> str:
    return f"host:{host_id}:port:{port}"


def host_cfg(host_id: str, client: str, server_name: str) -> str:
    return f"host:{host_id}:cfg:{client}:{server_name}"


def url(value: str) -> str:
    """The url: key of a server URL (default port by scheme, '/' for an empty path); ValueError if unparseable."""
    parts = urlsplit(value)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"url:{parts.scheme}://{parts.hostname}:{port}{parts.path or '/'}"


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def server_url(host_id: str, value: str) -> str:
    """A configured server URL: a loopback one is this host's listener, anything else a remote url: key."""
    parts = urlsplit(value)
    if is_loopback_host(parts.hostname):
        return host_port(host_id, parts.port or (443 if parts.scheme == "https" else 80))
    return url(value)


def parse(key: str) -> KeyParts:
    """Split an instance key into its parts; unknown shapes come back as kind 'other'."""
    kind, _, rest = key.partition(":")
    if kind == "net":
        address, _, port = rest.rpartition(":")
        return {"kind": "net", "ip": address.strip("[]"), "port": int(port) if port.isdigit() else None}
    if kind == "host":
        host_id, _, tail = rest.partition(":")
        sub, _, value = tail.partition(":")
        if sub == "port" and value.isdigit():
            return {"kind": "host_port", "host_id": host_id, "port": int(value)}
        if sub == "cfg":
            client, _, name = value.partition(":")
            return {"kind": "host_cfg", "host_id": host_id, "client": client, "server_name": name}
        return {"kind": "host", "host_id": host_id}
    if kind == "url":
        return {"kind": "url", "url": rest}
    return {"kind": "other"}


def build(parts: KeyParts) -> str:
    """The key `parts` came from (parse's inverse, for every kind but 'host' and 'other')."""
    kind = parts.get("kind")
    if kind == "net":
        return net(parts["ip"], parts["port"])
    if kind == "host_port":
        return host_port(parts["host_id"], parts["port"] or 0)
    if kind == "host_cfg":
        return host_cfg(parts["host_id"], parts["client"], parts["server_name"])
    if kind == "url":
        return f"url:{parts['url']}"
    raise ValueError(f"instance key parts of kind {kind!r} do not make a key")
