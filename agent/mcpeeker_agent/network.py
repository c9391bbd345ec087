"""Listening sockets with their owning process, host addresses, and the opt-in MCP `initialize` probe."""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from . import __version__

PROBE_PATHS = ("/mcp", "/", "/mcp/")
PROTOCOL_VERSION = "2025-06-18"
MAX_RESPONSE_BYTES = 65536
# Addresses at which a listener is reachable through 127.0.0.1 (the only address we ever probe).
_LOCAL_BINDS = {"127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1"}


@dataclass(frozen=True)
class Listener:
    ip: str
    port: int
    pid: int | None

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.ip).is_loopback
        except ValueError:
            return False


@dataclass
class ListenerScan:
    listeners: list[Listener] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


def list_listeners() -> ListenerScan:
    scan = ListenerScan()
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        scan.errors.append(
            {"where": "listeners", "error": "permission denied listing sockets (run as admin for owners)"}
        )
        return scan
    except OSError as exc:
        scan.errors.append({"where": "listeners", "error": exc.strerror or type(exc).__name__})
        return scan
    seen: set[tuple[str, int, int | None]] = set()
    for conn in conns:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr:
            continue
        key = (conn.laddr.ip, conn.laddr.port, conn.pid)
        if key not in seen:
            seen.add(key)
            scan.listeners.append(Listener(*key))
    scan.listeners.sort(key=lambda ln: (ln.port, ln.ip))
    return scan


def host_addresses() -> list[str]:
    """Non-loopback, non-link-local addresses, so network evidence can be joined to this host."""
    out: set[str] = set()
    try:
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                ip = a.address.split("%", 1)[0]
                try:
                    parsed = ipaddress.ip_address(ip)
                except ValueError:
                    continue
                if not (parsed.is_loopback or parsed.is_link_local):
                    out.add(str(parsed))
    except OSError:
        pass
    return sorted(out)


def probe_candidates(listeners: list[Listener], preferred_ports: list[int], limit: int) -> list[int]:
    """Ports to probe on 127.0.0.1: MCP-owned or configured ports first, then other local listeners."""
    reachable = sorted({ln.port for ln in listeners if ln.ip in _LOCAL_BINDS})
    ordered = [p for p in dict.fromkeys(preferred_ports) if p in reachable]
    ordered += [p for p in reachable if p not in ordered]
    return ordered[:limit]


def probe(port: int, paths: tuple[str, ...] = PROBE_PATHS, timeout: float = 0.5) -> dict[str, object]:
    """POST an MCP initialize to http://127.0.0.1:<port><path>; the first answer with serverInfo wins."""
    last: dict[str, object] = {"ok": False, "url": f"http://127.0.0.1:{port}{paths[0]}"}
    for path in paths:
        result = _probe_once(port, path, timeout)
        if result.get("ok"):
            return result
        last = result
        if result.get("error") in ("connection refused", "timeout"):
            break  # nothing HTTP answers here; other paths will not help
    return last


def _probe_once(port: int, path: str, timeout: float) -> dict[str, object]:
    url = f"http://127.0.0.1:{port}{path}"
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcpeeker-agent", "version": __version__},
            },
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = _read_bounded(resp, timeout, started)
        session = resp.getheader("Mcp-Session-Id")
        status = resp.status
    except ConnectionRefusedError:
        return {"ok": False, "url": url, "error": "connection refused"}
    except (socket.timeout, TimeoutError):
        return {"ok": False, "url": url, "error": "timeout"}
    except (OSError, http.client.HTTPException) as exc:
        return {"ok": False, "url": url, "error": type(exc).__name__}
    finally:
        conn.close()
    result = _parse_initialize(raw)
    out: dict[str, object] = {"ok": bool(result), "url": url, "status": status}
    if result:
        info = result.get("serverInfo") or {}
        out.update(
            {
                "server_name": str(info.get("name", ""))[:256],
                "server_version": str(info.get("version", ""))[:64],
                "protocol_version": str(result.get("protocolVersion", ""))[:32],
            }
        )
        if session:
            _end_session(port, path, session, timeout)
    return out


def _read_bounded(resp: http.client.HTTPResponse, timeout: float, started: float) -> bytes:
    """Read until a JSON-RPC message is complete, the cap, or the deadline (SSE streams stay open)."""
    chunks: list[bytes] = []
    size = 0
    while size < MAX_RESPONSE_BYTES and time.monotonic() - started < timeout * 2:
        try:
            chunk = resp.read1(4096) if hasattr(resp, "read1") else resp.read(4096)
        except (socket.timeout, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if _parse_initialize(b"".join(chunks)):
            break
    return b"".join(chunks)[:MAX_RESPONSE_BYTES]


def _parse_initialize(raw: bytes) -> dict[str, Any] | None:
    text = raw.decode("utf-8", "replace")
    candidates = [text] + [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    for cand in candidates:
        try:
            msg = json.loads(cand)
        except ValueError:
            continue
        if isinstance(msg, dict) and isinstance(msg.get("result"), dict) and "serverInfo" in msg["result"]:
            result: dict[str, Any] = msg["result"]
            return result
    return None


def _end_session(port: int, path: str, session: str, timeout: float) -> None:
    # Be a polite client: the session we opened is closed again.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("DELETE", path, headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": PROTOCOL_VERSION})
        conn.getresponse().read(1024)
    except (OSError, http.client.HTTPException):
        pass
    finally:
        conn.close()
