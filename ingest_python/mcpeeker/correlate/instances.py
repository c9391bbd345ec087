"""Instance keys (see docs/data-model.md) and how network keys join endpoint hosts."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache

from ..model import instance_key
from ..model.instance_key import parse as parse_key


def finding_id(instance_key: str) -> str:
    return hashlib.sha256(instance_key.encode()).hexdigest()[:20]


@lru_cache(maxsize=65536)  # asked per address of every finding on each re-score: the same few thousand addresses
def joinable_address(value: str) -> bool:
    """Loopback and link-local addresses say nothing about which host a network flow reached."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_link_local or address.is_unspecified)


@dataclass
class HostMap:
    """Address -> host id, from what agents report. An address claimed by two hosts joins neither."""

    by_ip: dict[str, str] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)
    ips_of: dict[str, set[str]] = field(default_factory=dict)

    def add(self, host_id: str, ips: list[str]) -> None:
        for ip in ips:
            if not joinable_address(ip):
                continue
            self.ips_of.setdefault(host_id, set()).add(ip)
            owner = self.by_ip.get(ip)
            if owner is not None and owner != host_id:
                self.ambiguous.add(ip)
            self.by_ip.setdefault(ip, host_id)

    def fingerprint(self) -> str:
        joined = sorted(f"{ip}={host}" for ip, host in self.by_ip.items() if ip not in self.ambiguous)
        return hashlib.sha256("\n".join(joined).encode()).hexdigest()[:16]

    def host_for(self, ip: str) -> str | None:
        return None if ip in self.ambiguous else self.by_ip.get(ip)


def resolve(key: str, hosts: HostMap) -> str:
    """The instance a raw key belongs to: a network key joins the host that owns its server address."""
    parts = parse_key(key)
    if parts["kind"] == "net" and parts["port"] is not None:
        host_id = hosts.host_for(parts["ip"])
        if host_id:
            return instance_key.host_port(host_id, parts["port"])
    return key


def raw_keys_of(resolved: str, hosts: HostMap) -> set[str]:
    """Every raw key that resolves to `resolved` (itself plus the network keys of the host's addresses)."""
    keys = {resolved}
    parts = parse_key(resolved)
    if parts["kind"] == "host_port":
        for ip in hosts.ips_of.get(parts["host_id"], ()):
            if hosts.host_for(ip) == parts["host_id"]:
                keys.add(instance_key.net(ip, parts["port"]))
    return keys
