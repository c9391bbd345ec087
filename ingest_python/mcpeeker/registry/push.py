"""Approved registry servers to running Zeek sensors, without a restart (zeek/scripts/mcp/registry.zeek).

Two ways, usable together:

* Broker: publish ``MCP::registry_update(hosts: set[addr])`` on topic ``mcpeeker/registry`` to a Zeek that
  listens for it (``MCP::registry_listen``; in a cluster the manager, which hands the option to every node).
  Zeek replaces ``MCP::known_mcp_hosts`` through the Config framework and answers ``MCP::registry_applied``
  on ``mcpeeker/registry/ack``; the push waits for that answer.
* File: a Config-framework file holding ``MCP::known_mcp_hosts a,b,c`` that Zeek re-reads when its
  modification time moves (``redef Config::config_files += { PATH };``).

Every push is the full set of addresses of the approved, unexpired entries, so pushing twice changes nothing
and a revocation or expiry takes effect with the next push. Zeek's set holds addresses only: an entry that
approves one port (server.port, server.url) approves its address there.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ..errors import MCPeekerError
from .model import RegistryEntry, is_active

TOPIC = "mcpeeker/registry"
ACK_TOPIC = "mcpeeker/registry/ack"
UPDATE_EVENT = "MCP::registry_update"
APPLIED_EVENT = "MCP::registry_applied"
OPTION = "MCP::known_mcp_hosts"
# Where Zeek's Python bindings (the `broker` package) are, when `import broker` does not find them.
BROKER_PYTHON_ENV = "MCPEEKER_BROKER_PYTHON"
DEFAULT_BROKER_PYTHON = Path("/opt/zeek/lib/zeek/python")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PushError(MCPeekerError):
    pass


@dataclass(frozen=True)
class ApprovedHosts:
    """What Zeek gets from the registry, and what it cannot get."""

    addresses: tuple[IPAddress, ...]
    # Approved entries that name one port (server.port or server.url): Zeek approves the whole address.
    port_scoped: tuple[str, ...] = ()
    # Approved entries without an IP address (server.name, host.id, a URL with a DNS name): not pushed.
    without_address: tuple[str, ...] = ()


@dataclass(frozen=True)
class PushResult:
    """Zeek's answer to one Broker push."""

    host: str
    port: int
    node: str  # the Zeek node that applied it: "standalone", or the cluster manager's name
    applied: int  # addresses in the set Zeek applied
    seconds: float  # from publishing to Zeek's answer


def _address(value: Any) -> IPAddress | None:
    try:
        return ipaddress.ip_address(str(value).strip().strip("[]"))
    except ValueError:
        return None


def entry_address(entry: RegistryEntry) -> IPAddress | None:
    """The server address an entry approves: server.ip, else host.ip, else an IP literal in server.url
    (server.ip before host.ip, as in the Suricata dataset export)."""
    server, host = entry.get("server") or {}, entry.get("host") or {}
    candidates = [server.get("ip"), host.get("ip")]
    if server.get("url"):
        candidates.append(urlsplit(str(server["url"])).hostname)
    for candidate in candidates:
        if candidate not in (None, "") and (address := _address(candidate)) is not None:
            return address
    return None


def approved_hosts(entries: Iterable[RegistryEntry], now: datetime) -> ApprovedHosts:
    """Addresses of the entries that are approved and unexpired at `now`."""
    addresses: set[IPAddress] = set()
    port_scoped, without = [], []
    for entry in entries:
        if not is_active(entry, now):
            continue
        address = entry_address(entry)
        if address is None:
            without.append(entry["entry_id"])
            continue
        addresses.add(address)
        server = entry.get("server") or {}
        if server.get("port") or server.get("url"):
            port_scoped.append(entry["entry_id"])
    ordered = tuple(sorted(addresses, key=lambda a: (a.version, int(a))))
    return ApprovedHosts(ordered, tuple(sorted(port_scoped)), tuple(sorted(without)))


# --- Config framework file ---------------------------------------------------------------------
def config_file_text(addresses: Sequence[IPAddress]) -> str:
    """The option line, with the name and a space alone for no address (the Config reader's empty set)."""
    return (
        "# MCPeeker registry: approved MCP servers (written by `mcpeeker registry push --file`).\n"
        f"{OPTION} {','.join(str(a) for a in addresses)}\n"
    )


def write_config_file(path: Path, addresses: Sequence[IPAddress]) -> Path:
    """Replace `path` atomically (rename) with the option line for `addresses`.

    Zeek's Config reader re-reads a file when its modification time, in whole seconds, is later than at the
    last read: the new file's time is moved past the old one's so that two pushes within a second both count.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="ascii") as handle:
            handle.write(config_file_text(addresses))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        mtime = time.time()
        try:
            previous = path.stat().st_mtime
        except FileNotFoundError:
            previous = None
        if previous is not None and int(mtime) <= int(previous):
            mtime = int(previous) + 1
        os.utime(temporary, (mtime, mtime))
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise PushError(f"{path}: cannot write the Zeek config file: {exc}") from exc
    return path


# --- Broker ------------------------------------------------------------------------------------
def _broker_python_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(BROKER_PYTHON_ENV):
        dirs.append(Path(os.environ[BROKER_PYTHON_ENV]))
    from ..sensors.zeek import find_zeek

    zeek = find_zeek()
    if zeek is not None and (zeek.parent / "zeek-config").is_file():
        try:
            out = subprocess.run(
                [str(zeek.parent / "zeek-config"), "--python_dir"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            ).stdout.strip()
        except OSError:
            out = ""
        if out:
            dirs.append(Path(out))
    dirs.append(DEFAULT_BROKER_PYTHON)
    return dirs


def load_broker() -> ModuleType:
    """Zeek's `broker` Python bindings: importable as is, or from $MCPEEKER_BROKER_PYTHON, `zeek-config
    --python_dir` or /opt/zeek/lib/zeek/python."""
    problems = []
    try:
        return importlib.import_module("broker")
    except ImportError as exc:
        problems.append(f"import broker: {exc}")
    for directory in _broker_python_dirs():
        if not (directory / "broker").is_dir():
            continue
        sys.path.insert(0, str(directory))
        try:
            importlib.import_module("broker.zeek")
            return importlib.import_module("broker")
        except ImportError as exc:
            sys.path.remove(str(directory))
            sys.modules.pop("broker", None)
            problems.append(f"{directory}: {exc}")
    raise PushError(
        "Zeek's Broker Python bindings (module `broker`) are not available: set "
        f"{BROKER_PYTHON_ENV} to the directory holding them (`zeek-config --python_dir`, e.g. "
        f"{DEFAULT_BROKER_PYTHON}); they must be built for this Python "
        f"({sys.version_info.major}.{sys.version_info.minor}), or use --file [{'; '.join(problems)}]"
    )


def push_broker(
    host: str, port: int, addresses: Sequence[IPAddress], *, timeout: float = 10.0, broker: ModuleType | None = None
) -> PushResult:
    """Publish the approved addresses to the Zeek at host:port and wait for it to apply them."""
    broker = broker or load_broker()
    endpoint = broker.Endpoint()
    try:
        acks = endpoint.make_subscriber(ACK_TOPIC)
        if not endpoint.peer(host, port, 0):
            raise PushError(
                f"cannot reach Zeek's Broker endpoint at {host}:{port}: is Zeek running with "
                "MCP::registry_listen set (zeek/scripts/mcp/registry.zeek)?"
            )
        started = time.monotonic()
        deadline = started + timeout
        endpoint.publish(TOPIC, broker.zeek.Event(UPDATE_EVENT, set(addresses)))
        while (remaining := deadline - time.monotonic()) > 0:
            message = acks.get(remaining)
            if message is None:
                continue
            event = broker.zeek.Event(message[1])
            if event.name() == APPLIED_EVENT:
                node, applied = event.args()
                return PushResult(
                    host, port, str(node), int(getattr(applied, "value", applied)), time.monotonic() - started
                )
        raise PushError(
            f"{host}:{port}: Zeek did not confirm the update within {timeout:g}s (does it load "
            f"registry.zeek and subscribe to {TOPIC}?)"
        )
    finally:
        endpoint.shutdown()
