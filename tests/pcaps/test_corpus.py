"""The committed pcap corpus (tests/pcaps/) is consistent with tests/pcaps/labels.json.

These tests read the real captures: every label has its pcap, every pcap parses, the
labelled server address really carries the traffic, and the HTTP inside an MCP pcap shows
what the label claims (era, transport, auth, attack content).  Benign pcaps must not carry
MCP-specific protocol markers.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import dpkt
import pytest

import paths

# MCPEEKER_PCAPS_DIR checks a trial regeneration (generate.py --out DIR) before it replaces the corpus.
PCAP_DIR = Path(os.environ.get("MCPEEKER_PCAPS_DIR", paths.PCAP_DIR))
LABELS_PATH = PCAP_DIR / "labels.json"

ERAS = {"2024-11-05", "2025", "2026-07-28", "none"}
TRANSPORTS = {"streamable_http_sse", "streamable_http_json", "sse", "none"}
AUTHS = {"none", "bearer", "oauth_discovery"}
REQUIRED = {"file", "scenario", "description", "benign", "era", "sdk", "transport", "server", "client", "auth",
            "expected"}  # fmt: skip
SDK_RE = re.compile(r"^(none|python-mcp-\d+\.\d+\.\d+|typescript-sdk-\d+\.\d+\.\d+|fastmcp-\d+\.\d+\.\d+|rust-rmcp)$")
# Look-alike protocols of the benign captures (label key "protocol"); the DAP capture is not HTTP (path null).
PROTOCOLS = {"lsp-http", "lsp-websocket", "a2a-jsonrpc", "dap"}
PACKAGE_RE = re.compile(r"^(npm:(@[\w.-]+/)?[\w.-]+@\d[\w.-]*|pypi:[\w.-]+==\d[\w.-]*)$")
MCP_METHODS = ("initialize", "tools/list", "server/discover", "tools/call", "notifications/initialized")


def has_method(data: bytes, method: str) -> bool:
    """A JSON-RPC member "method": "<method>", whatever the JSON serializer's spacing."""
    return re.search(rb'"method"\s*:\s*"' + re.escape(method.encode()) + rb'"', data) is not None


def load_labels() -> dict[str, Any]:
    return json.loads(LABELS_PATH.read_text())


def entries() -> list[dict[str, Any]]:
    return load_labels()["pcaps"]


def ids(e: dict[str, Any]) -> str:
    return e["scenario"]


@cache
def streams(name: str) -> dict[tuple[str, int, str, int], bytes]:
    """TCP payload per direction (src ip, sport, dst ip, dport), in capture order, deduplicated by seq."""
    data: dict[tuple[str, int, str, int], dict[int, bytes]] = defaultdict(dict)
    with open(PCAP_DIR / name, "rb") as fh:
        reader = dpkt.pcap.Reader(fh)
        assert reader.datalink() == dpkt.pcap.DLT_EN10MB, f"{name}: link type {reader.datalink()}"
        for _ts, buf in reader:
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            key = (dpkt.utils.inet_to_str(ip.src), tcp.sport, dpkt.utils.inet_to_str(ip.dst), tcp.dport)
            if tcp.data:
                data[key].setdefault(tcp.seq, bytes(tcp.data))
    out = {}
    for key, segs in data.items():
        out[key] = b"".join(segs[s] for s in sorted(segs))  # seq wrap cannot happen in these short captures
    return out


def tool_lists(resp: bytes) -> list[list[dict[str, Any]]]:
    """Every tools/list result's "tools" array in the server's answers (JSON or SSE data lines)."""
    text = resp.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    found = []
    for m in re.finditer(r'"tools"\s*:\s*\[', text):
        value, _end = decoder.raw_decode(text, m.end() - 1)
        if value and isinstance(value[0], dict) and "inputSchema" in value[0]:
            found.append(value)
    return found


def to_server(e: dict[str, Any]) -> bytes:
    s = e["server"]
    return b"".join(v for (_src, _sp, dst, dp), v in streams(e["file"]).items() if dst == s["ip"] and dp == s["port"])


def dechunked(stream: bytes, message: type[dpkt.http.Message] = dpkt.http.Request) -> bytes:
    """A stream plus the bodies of its HTTP messages with chunked encoding decoded (dpkt), so that a method name
    sent one byte per chunk reads as it does in any other body; the stream alone where it does not parse."""
    out, rest = [], stream
    while rest:
        try:
            msg = message(rest)
        except (dpkt.UnpackError, ValueError):
            return stream
        out.append(bytes(msg.body))
        rest = msg.data
    return stream + b"".join(out)


def to_client(e: dict[str, Any]) -> bytes:
    s = e["server"]
    return b"".join(v for (src, sp, _dst, _dp), v in streams(e["file"]).items() if src == s["ip"] and sp == s["port"])


def test_labels_schema() -> None:
    doc = load_labels()
    assert doc["version"] == 1
    seen_files, seen_ids = set(), set()
    for e in doc["pcaps"]:
        missing = REQUIRED - e.keys()
        assert not missing, f"{e.get('file')}: missing keys {missing}"
        assert e["file"] == f"{e['scenario']}.pcap"
        assert e["file"] not in seen_files and e["scenario"] not in seen_ids
        seen_files.add(e["file"])
        seen_ids.add(e["scenario"])
        assert e["era"] in ERAS, e["file"]
        assert e["transport"] in TRANSPORTS, e["file"]
        assert e["auth"] in AUTHS, e["file"]
        assert SDK_RE.match(e["sdk"]) and SDK_RE.match(e.get("client_sdk", "none")), e["file"]
        assert isinstance(e["benign"], bool)
        assert e["server"]["ip"].startswith("10.20.0.") and e["client"]["ip"].startswith("10.10.0.")
        assert isinstance(e["server"]["port"], int)
        assert e.get("protocol") in PROTOCOLS | {None}, e["file"]
        if e.get("protocol") == "dap":
            assert e["server"]["path"] is None, e["file"]
        else:
            assert e["server"]["path"].startswith("/"), e["file"]
        for key in ("server_program", "bridge"):  # pinned registry packages behind the capture
            assert key not in e or PACKAGE_RE.match(e[key]), (e["file"], key, e[key])
        if e["benign"]:
            assert e["expected"] == [] and e["era"] == "none" and e["sdk"] == "none", e["file"]
        else:
            assert "mcp_server" in e["expected"], e["file"]
            assert ("unauthenticated" in e["expected"]) == (e["auth"] == "none"), e["file"]


def test_every_pcap_is_labelled() -> None:
    on_disk = {p.name for p in PCAP_DIR.glob("*.pcap")}
    labelled = {e["file"] for e in entries()}
    assert on_disk == labelled


def test_corpus_coverage() -> None:
    """The corpus covers what issue 3 asks for; a regeneration that drops a case fails here."""
    es = entries()
    mcp = [e for e in es if not e["benign"]]
    assert {e["era"] for e in mcp} >= {"2025", "2026-07-28"}
    for sdk in ("python-mcp-1", "python-mcp-2", "typescript-sdk-1", "typescript-sdk-2"):
        assert any(e["sdk"].startswith(sdk) for e in mcp), sdk
    for transport in ("streamable_http_sse", "streamable_http_json", "sse"):
        for family in ("python", "typescript"):
            assert any(e["transport"] == transport and e["sdk"].startswith(family) for e in mcp), (transport, family)
    tags = {t for e in mcp for t in e["expected"]}
    assert tags >= {"tool_poisoning", "rug_pull", "sensitive_file", "command_injection", "unauthenticated",
                    "oauth_discovery"}  # fmt: skip
    assert {e["auth"] for e in mcp} == AUTHS
    assert any(e["server"]["port"] not in (8000, 3000, 3001) and e["server"]["path"] not in ("/mcp", "/sse")
               for e in mcp)  # fmt: skip
    assert len([e for e in es if e["benign"]]) >= 6
    # issue 13: reference servers from the registries behind both common stdio-to-HTTP bridges, FastMCP 2.x,
    # and JSON-RPC look-alikes that also open with initialize/capabilities.
    programs = {e.get("server_program", "").rpartition("@")[0] for e in mcp} | {
        e.get("server_program", "").partition("==")[0] for e in mcp
    }
    assert programs >= {"npm:@modelcontextprotocol/server-filesystem", "npm:@modelcontextprotocol/server-memory",
                        "pypi:mcp-server-fetch", "pypi:mcp-server-git"}, programs  # fmt: skip
    assert {e.get("bridge", "").split("@")[0].split("==")[0] for e in mcp} >= {"npm:supergateway", "pypi:mcp-proxy"}
    assert any(e["sdk"].startswith("fastmcp-2.") for e in mcp)
    assert {e.get("protocol") for e in es if e["benign"]} >= PROTOCOLS


def checksums_ok(ip: dpkt.ip.IP) -> bool:
    """Recompute the IPv4 and TCP checksums (dpkt fills in zeroed sums when packing)."""
    want_ip, want_tcp = ip.sum, ip.data.sum
    ip.sum, ip.data.sum = 0, 0
    bytes(ip)
    return (ip.sum, ip.data.sum) == (want_ip, want_tcp)


@pytest.mark.parametrize("e", entries(), ids=ids)
def test_pcap_parses_and_is_small(e: dict[str, Any]) -> None:
    path = PCAP_DIR / e["file"]
    # The bad-input captures carry 10 MB bodies on purpose; everything else stays small.
    limit = 12_000_000 if "badinput" in e["scenario"] else 300_000
    assert path.stat().st_size < limit, f"{e['file']} is {path.stat().st_size} bytes"
    n = 0
    with open(path, "rb") as fh:
        for i, (_ts, buf) in enumerate(dpkt.pcap.Reader(fh), 1):
            n = i
            ip = dpkt.ethernet.Ethernet(buf).data
            # Only IPv4/TCP on the wire, with the checksums tcprewrite --fixcsum recomputed.
            assert isinstance(ip, dpkt.ip.IP) and isinstance(ip.data, dpkt.tcp.TCP), f"{e['file']} frame {i}"
            assert len(buf) <= 1514, f"{e['file']} frame {i}: {len(buf)} bytes (not an Ethernet MTU)"
            assert checksums_ok(ip), f"{e['file']} frame {i}: bad checksum"
    assert n > 0


@pytest.mark.parametrize("e", entries(), ids=ids)
def test_addresses_match_label(e: dict[str, Any]) -> None:
    s, c = e["server"], e["client"]
    keys = streams(e["file"]).keys()
    assert keys, f"{e['file']}: no TCP payload"
    for src, sp, dst, dp in keys:
        # Every payload flows between the labelled client and server, on the server port.
        assert {src, dst} == {s["ip"], c["ip"]}, (e["file"], src, dst)
        assert s["port"] in (sp, dp), (e["file"], sp, dp)
    assert to_server(e) and to_client(e)
    if s["path"] is not None:
        assert f" {s['path']}".encode() in to_server(e), f"{e['file']}: no request for {s['path']}"


@pytest.mark.parametrize("e", [e for e in entries() if not e["benign"]], ids=ids)
def test_mcp_http_matches_label(e: dict[str, Any]) -> None:
    req, resp = dechunked(to_server(e)), dechunked(to_client(e), dpkt.http.Response)
    low_req, low_resp = req.lower(), resp.lower()
    expected = set(e["expected"])
    assert any(has_method(req, m) for m in MCP_METHODS), f"{e['file']}: no MCP method in requests"
    if e["era"] == "2026-07-28":
        # Mcp-Method is a Streamable HTTP header: over legacy HTTP+SSE the 2.x SDK sends the _meta envelope only.
        assert (b"\r\nmcp-method: " in low_req) == (e["transport"] != "sse"), e["file"]
        assert has_method(req, "server/discover")
        assert b'"io.modelcontextprotocol/protocolversion":"2026-07-28"' in low_req
        assert not has_method(req, "initialize")
    elif e["era"] in ("2025", "2024-11-05"):
        assert has_method(req, "initialize") and has_method(req, "notifications/initialized")
        assert b"\r\nmcp-method: " not in low_req
        assert re.search(rb'"protocolVersion"\s*:\s*"' + e["protocol_version"].encode() + b'"', resp)
    if e["transport"] == "streamable_http_sse":
        if e["era"] != "2026-07-28":  # 2026-07-28 has no sessions
            assert b"\r\nmcp-session-id: " in low_resp and b"\r\nmcp-session-id: " in low_req
        assert b"content-type: text/event-stream" in low_resp
        # An SSE event without an `event:` line has the type "message" (the Rust SDK, rmcp, writes none).
        assert re.search(rb"event: message\r?\n(id: \S+\r?\n)?data: \{", resp) or (
            e["sdk"] == "rust-rmcp" and re.search(rb'\ndata: \{"jsonrpc":"2.0"', resp)
        ), e["file"]
    if e["era"] == "2026-07-28":
        assert b"\r\nmcp-session-id: " not in low_resp
    if e["transport"] == "streamable_http_json":
        assert b"content-type: application/json" in low_resp
        # stateless, or stateful with JSON answers (mcp-proxy's Streamable HTTP side)
        assert (b"\r\nmcp-session-id: " in low_resp) == ("mcp_session" in expected), e["file"]
    elif e["transport"] == "sse":
        assert re.search(rb"GET /\S*sse\S* HTTP/1.1", req)
        assert re.search(rb"event: endpoint\r?\ndata: /\S*session_?[iI]d=", resp)
    if e["auth"] == "none":
        assert b"\r\nauthorization: " not in low_req
    elif e["auth"] == "bearer":
        assert b"\r\nauthorization: bearer " in low_req
        assert b"HTTP/1.1 401" not in resp
    elif e["auth"] == "oauth_discovery":
        assert re.search(rb"HTTP/1.1 401[^\r]*\r\n(?:[^\r]+\r\n)*www-authenticate: bearer [^\r]*resource_metadata=",
                         resp, re.IGNORECASE)  # fmt: skip
        assert b"GET /.well-known/oauth-protected-resource" in req
        assert b"\r\nauthorization: bearer " in low_req  # the client came back with a token
    if "tool_poisoning" in expected:
        # An instruction tag, or one of the other indicators of the write-ups: an exfiltration URL, a secret-file
        # read, cross-tool shadowing, a side-channel parameter to fill, Unicode tag characters (raw or escaped).
        assert re.search(
            rb"<(important|system|secret|hidden|instructions?)>|\bto\s+https?://(webhook\.site|[0-9.]+:)"
            rb"|read ~/\.aws/credentials|side effect on the also present|in the `notes` parameter"
            rb"|\xf3\xa0[\x80\x81]|\\udb40\\udc",
            resp,
            re.IGNORECASE,
        ), e["file"]
        if b"<IMPORTANT>" in resp:  # the classic write-up: read a secret file, pass it as sidenote
            assert b"sidenote" in resp and b"~/.ssh" in resp, e["file"]
    if "rug_pull" in expected:
        lists = tool_lists(resp)
        assert len(lists) >= 2 and lists[0] != lists[-1], f"{e['file']}: tool list did not change"
        assert "<IMPORTANT>" not in json.dumps(lists[0]) and "<IMPORTANT>" in json.dumps(lists[-1])
    if "sensitive_file" in expected:
        assert any(p in req for p in (b".ssh/id_rsa", b".aws/credentials", b"/etc/shadow", b".env"))
    if "mcp_batch" in expected:
        assert re.search(rb'\r\n\r\n\[\{"jsonrpc"\s*:\s*"2.0"', req), f"{e['file']}: no JSON-RPC batch request"
        assert e["protocol_version"] == "2025-03-26"  # the only revision that allows batches
    if "mcp_subscriptions_listen" in expected:
        assert has_method(req, "subscriptions/listen") and b"\r\nmcp-method: subscriptions/listen" in low_req
        assert b"content-type: text/event-stream" in low_resp
        assert has_method(resp, "notifications/subscriptions/acknowledged")
        assert has_method(resp, "notifications/tools/list_changed")
    if "mcp_error_fingerprint" in expected:
        assert b"Not Acceptable: Client must accept both application/json and text/event-stream" in resp
        assert b"Session not found" in resp and b"HTTP/1.1 406" in resp
    if "command_injection" in expected:
        assert b"| sh" in req and b"$(" in req and b"`" in req and b"| nc " in req


@pytest.mark.parametrize("e", [e for e in entries() if e["benign"]], ids=ids)
def test_benign_has_no_mcp_protocol(e: dict[str, Any]) -> None:
    req, resp = to_server(e), to_client(e)
    both = (req + resp).lower()
    for marker in (b"\r\nmcp-session-id:", b"\r\nmcp-method:", b"\r\nmcp-protocol-version:",
                   b"io.modelcontextprotocol/", b"event: endpoint"):  # fmt: skip
        assert marker not in both, f"{e['file']}: {marker!r}"
    for m in MCP_METHODS:
        if m == "initialize" and e.get("protocol") == "lsp-http":
            # LSP opens with its own initialize (capabilities, clientInfo; serverInfo in the answer):
            # what tells it from MCP's is the missing protocolVersion, on both sides.
            assert has_method(req, m) and b"clientinfo" in both and b"serverinfo" in both, e["file"]
            assert b'"protocolversion"' not in both, e["file"]
            continue
        assert not has_method(req, m), f"{e['file']}: {m!r}"
    # The look-alikes really carry what makes them look like MCP (else the negative proves nothing).
    if e.get("protocol") == "a2a-jsonrpc":
        assert b"GET /.well-known/agent-card.json HTTP/1.1" in req and b'"capabilities"' in resp, e["file"]
        assert has_method(req, "message/send") or has_method(req, "message/stream"), e["file"]
        assert b'"jsonrpc"' in resp, e["file"]
        if has_method(req, "message/stream"):  # answered as SSE events without an event: line, like rmcp's
            assert b"content-type: text/event-stream" in resp.lower() and b'\ndata: {"id"' in resp, e["file"]
    elif e.get("protocol") == "dap":  # Content-Length framed JSON, initialize answered with capabilities
        assert re.search(rb'Content-Length: \d+\r\n\r\n\{[^\r\n]*"command":"initialize"', req), e["file"]
        assert b'"supportsConfigurationDoneRequest"' in resp, e["file"]
    elif e.get("protocol") == "lsp-websocket":  # client frames are masked; the server's answers are not
        assert b"\r\nupgrade: websocket" in req.lower() and b"HTTP/1.1 101" in resp, e["file"]
        assert b'"serverInfo"' in resp and b'"capabilities"' in resp and b'"protocolVersion"' not in resp, e["file"]
