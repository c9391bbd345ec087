"""Zeek logs (`mcp`, `http`, `conn`, `ssl`, `dns`, `notice`) -> evidence documents. Mappings are tables."""

from __future__ import annotations

from typing import Callable

from ... import catalogue
from .. import privacy
from .common import (
    dispatcher,
    Context,
    Doc,
    NormaliseError,
    Table,
    as_bool,
    as_float,
    as_int,
    as_ip,
    as_port,
    as_str,
    as_str_list,
    base_doc,
    compiled,
    doc_start,
    epoch_to_iso,
    first_str,
    id_str,
    lower_str,
    net_instance_key,
    parse_iso,
    put,
    redacted_text,
    redacted_url,
)

CONN_ID: Table = (
    ("uid", ("zeek", "uid"), as_str),
    ("id.orig_h", ("source", "ip"), as_ip),
    ("id.orig_p", ("source", "port"), as_port),
    ("id.resp_h", ("destination", "ip"), as_ip),
    ("id.resp_p", ("destination", "port"), as_port),
    ("community_id", ("network", "community_id"), as_str),
)

CONN: Table = CONN_ID + (
    ("proto", ("network", "transport"), lower_str),
    ("service", ("network", "protocol"), lower_str),
    ("duration", ("zeek", "conn", "duration"), as_float),
    ("conn_state", ("zeek", "conn", "state"), as_str),
    ("history", ("zeek", "conn", "history"), as_str),
    ("orig_bytes", ("source", "bytes"), as_int),
    ("resp_bytes", ("destination", "bytes"), as_int),
)

HTTP: Table = CONN_ID + (
    ("method", ("http", "request", "method"), as_str),
    ("host", ("url", "domain"), as_str),
    ("uri", ("url", "original"), redacted_url),
    ("referrer", ("http", "request", "referrer"), redacted_url),
    ("version", ("http", "version"), as_str),
    ("user_agent", ("user_agent", "original"), as_str),
    ("request_body_len", ("http", "request", "body", "bytes"), as_int),
    ("response_body_len", ("http", "response", "body", "bytes"), as_int),
    ("status_code", ("http", "response", "status_code"), as_int),
    ("status_msg", ("http", "response", "status_msg"), as_str),
    ("orig_mime_types", ("http", "request", "mime_type"), first_str),
    ("resp_mime_types", ("http", "response", "mime_type"), first_str),
    ("tags", ("tags",), as_str_list),
)

SSL: Table = CONN_ID + (
    ("version", ("tls", "version"), as_str),
    ("cipher", ("tls", "cipher"), as_str),
    ("curve", ("tls", "curve"), as_str),
    ("server_name", ("tls", "client", "server_name"), as_str),
    ("established", ("tls", "established"), as_bool),
    ("resumed", ("tls", "resumed"), as_bool),
    ("next_protocol", ("tls", "next_protocol"), as_str),
    ("subject", ("tls", "server", "subject"), as_str),
    ("issuer", ("tls", "server", "issuer"), as_str),
    ("ja3", ("tls", "client", "ja3"), as_str),
    ("ja3s", ("tls", "server", "ja3s"), as_str),
)

DNS: Table = CONN_ID + (
    ("proto", ("network", "transport"), lower_str),
    ("trans_id", ("dns", "id"), as_int),
    ("query", ("dns", "question", "name"), as_str),
    ("qtype_name", ("dns", "question", "type"), as_str),
    ("rcode_name", ("dns", "response_code"), as_str),
    ("answers", ("dns", "answers"), as_str_list),
)

NOTICE: Table = CONN_ID + (
    ("note", ("zeek", "notice", "note"), as_str),
    ("msg", ("zeek", "notice", "msg"), redacted_text),
    ("sub", ("zeek", "notice", "sub"), redacted_text),
    ("src", ("source", "ip"), as_ip),
    ("dst", ("destination", "ip"), as_ip),
    ("p", ("destination", "port"), as_port),
    ("proto", ("network", "transport"), lower_str),
    ("actions", ("event", "action"), as_str_list),
)

# mcp.log written by zeek/scripts/mcp/main.zeek (MCP::Info). Names follow the data model.
MCP: Table = CONN_ID + (
    ("direction", ("mcp", "direction"), as_str),
    ("sender", ("mcp", "sender"), as_str),
    ("transport", ("mcp", "transport"), as_str),
    ("spec_era", ("mcp", "spec_era"), as_str),
    ("method", ("mcp", "method", "name"), as_str),
    ("mcp_name", ("mcp", "name"), as_str),
    ("jsonrpc_id", ("jsonrpc", "request", "id"), id_str),
    ("session_id", ("mcp", "session", "id"), as_str),
    ("protocol_version", ("mcp", "protocol", "version"), as_str),
    ("client_name", ("mcp", "client", "name"), as_str),
    ("client_version", ("mcp", "client", "version"), as_str),
    ("server_name", ("mcp", "server", "name"), as_str),
    ("server_version", ("mcp", "server", "version"), as_str),
    ("tool_names", ("mcp", "tools", "names"), as_str_list),
    ("tools_count", ("mcp", "tools", "count"), as_int),
    ("tools_hash", ("mcp", "tools", "hash"), as_str),
    ("long_descriptions", ("mcp", "tools", "long_descriptions"), as_str_list),
    ("resource_uri", ("mcp", "resource", "uri"), redacted_url),
    ("http_method", ("http", "request", "method"), as_str),
    ("path", ("url", "path"), redacted_url),
    ("status_code", ("http", "response", "status_code"), as_int),
    ("error_code", ("mcp", "error", "code"), as_int),
    ("error_message", ("mcp", "error", "message"), redacted_text),
    ("auth_present", ("mcp", "auth", "present"), as_bool),
    ("auth_scheme", ("mcp", "auth", "scheme"), as_str),
    ("batch", ("mcp", "batch"), as_bool),
)

# Zeek notice -> (evidence type, attack type), from the detection catalogue (detections/, docs/detections.md).
# Notes not listed there are supporting context.
MCP_NOTICES: dict[str, tuple[str, str | None]] = catalogue.implementations("zeek")


def _timestamp(data: dict) -> tuple[str, float]:
    ts = data.get("ts")
    if ts.__class__ is float:  # the usual case: epoch seconds
        return epoch_to_iso(ts), ts
    if ts is None:
        raise NormaliseError("field 'ts': missing")
    if isinstance(ts, str) and "T" in ts:  # LogAscii::json_timestamps = JSON::TS_ISO8601
        return parse_iso(ts, "ts")
    try:
        epoch = as_float(ts)
    except ValueError as exc:
        raise NormaliseError(f"field 'ts': {exc}") from None
    return epoch_to_iso(epoch), epoch


def _starter(dataset: str, kind: str, ev_type: str, ev_kind: str) -> Callable[[dict, str, int], tuple[Doc, float]]:
    start = doc_start(module="zeek", dataset=f"zeek.{dataset}", kind=kind, evidence_type=ev_type, evidence_kind=ev_kind)

    def doc(data: dict, file: str, line: int) -> tuple[Doc, float]:
        iso, epoch = _timestamp(data)
        return start(iso, file, line), epoch

    return doc


def _doc(data: dict, *, dataset: str, kind: str, ev_type: str, ev_kind: str, file: str, line: int) -> tuple[Doc, float]:
    iso, epoch = _timestamp(data)
    doc = base_doc(
        timestamp=iso,
        module="zeek",
        dataset=f"zeek.{dataset}",
        kind=kind,
        evidence_type=ev_type,
        evidence_kind=ev_kind,
        file=file,
        line=line,
    )
    return doc, epoch


_CONN_DOC, _CONN = _starter("conn", "event", "context", "flow"), compiled(CONN)
_HTTP_DOC, _HTTP = _starter("http", "event", "context", "http"), compiled(HTTP)
_SSL_DOC, _SSL = _starter("ssl", "event", "context", "tls"), compiled(SSL)
_DNS_DOC, _DNS = _starter("dns", "event", "context", "dns"), compiled(DNS)
_MCP_DOC, _MCP = _starter("mcp", "event", "network", "mcp_message"), compiled(MCP)
_NOTICE = compiled(NOTICE)


def _user(doc: Doc, data: dict, ctx: Context) -> None:
    # Basic-auth user names are personal data: keyed hash only. Passwords are never read.
    name = data.get("username")
    if isinstance(name, str) and name:
        put(doc, ("user", "id"), privacy.keyed_hash(ctx.site_key, name))
        put(doc, ("mcpeeker", "key_id"), ctx.key_id)  # which site key: the hash stays findable after a rotation


def _url_path(doc: Doc) -> None:
    url = doc.get("url")
    if url and "original" in url:
        path, _, query = url["original"].partition("?")
        url["path"] = path
        if query:
            url["query"] = query


def conn(data: dict, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _CONN_DOC(data, file, line)
    _CONN(doc, data)
    src, dst = doc.get("source"), doc.get("destination")
    src = src.get("bytes") if src else None
    dst = dst.get("bytes") if dst else None
    if src is not None or dst is not None:
        put(doc, ("network", "bytes"), (src or 0) + (dst or 0))
    return doc, epoch


def http(data: dict, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _HTTP_DOC(data, file, line)
    _HTTP(doc, data)
    put(doc, ("network", "protocol"), "http")
    _url_path(doc)
    _user(doc, data, ctx)
    return doc, epoch


def ssl(data: dict, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _SSL_DOC(data, file, line)
    _SSL(doc, data)
    put(doc, ("network", "protocol"), "tls")
    sni = doc.get("tls", {}).get("client", {}).get("server_name")
    if sni:
        put(doc, ("destination", "domain"), sni)
    return doc, epoch


def dns(data: dict, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _DNS_DOC(data, file, line)
    _DNS(doc, data)
    put(doc, ("network", "protocol"), "dns")
    return doc, epoch


def notice(data: dict, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    note = data.get("note")
    ev_type, attack = MCP_NOTICES.get(note, ("context", None)) if isinstance(note, str) else ("context", None)
    doc, epoch = _doc(data, dataset="notice", kind="alert", ev_type=ev_type, ev_kind="notice", file=file, line=line)
    _NOTICE(doc, data)
    if isinstance(note, str):
        put(doc, ("rule", "name"), note)
        put(doc, ("rule", "ruleset"), "zeek-notice")
    if attack:
        put(doc, ("mcpeeker", "attack", "type"), attack)
    text = " ".join(v for v in (data.get("msg"), data.get("sub")) if isinstance(v, str))
    if text:
        put(doc, ("mcpeeker", "snippet"), privacy.snippet(text))
    if ev_type != "context":
        dest = doc.get("destination", {})
        key = net_instance_key(dest.get("ip"), dest.get("port"))
        if key:
            put(doc, ("mcpeeker", "instance", "key"), key)
    return doc, epoch


def mcp(data: dict, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _MCP_DOC(data, file, line)
    _MCP(doc, data)
    put(doc, ("network", "protocol"), "mcp")
    mcp_doc = doc.get("mcp", {})
    if mcp_doc.get("method", {}).get("name") == "tools/call" and "name" in mcp_doc:
        put(doc, ("gen_ai", "tool", "name"), mcp_doc["name"])
    tools = mcp_doc.get("tools")
    if tools and "names" in tools and "count" not in tools:
        tools["count"] = len(tools["names"])
    # The responder of the connection is the MCP server, whatever the message direction.
    dest = doc.get("destination", {})
    key = net_instance_key(dest.get("ip"), dest.get("port"))
    if key:
        put(doc, ("mcpeeker", "instance", "key"), key)
    return doc, epoch


ZEEK: dict[str, Callable[[dict, Context, str, int], tuple[Doc, float]]] = {
    "conn": conn,
    "http": http,
    "ssl": ssl,
    "dns": dns,
    "notice": notice,
    "mcp": mcp,
}


normalise_zeek = dispatcher("zeek", ZEEK, "Zeek log type")
