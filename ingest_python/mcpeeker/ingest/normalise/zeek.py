"""Zeek logs (`mcp`, `http`, `conn`, `ssl`, `dns`, `notice`, `mcp_remote`) -> evidence documents. Mappings are tables.

`mcp_remote.log` (zeek/scripts/mcp/remote.zeek) is a sighting of a public remote MCP service: context evidence with
`mcpeeker.remote` (service, host, how seen, dedicated), like Suricata's mcp-remote.rules alerts, never an MCP server
instance (a DNS sighting's responder is the resolver, a CONNECT's the proxy)."""

from __future__ import annotations

from typing import cast

from ... import catalogue
from .. import privacy
from .common import Begin, Context, Data, Doc, NormaliseError, RecordFn, Table, as_float, compiled, dispatcher
from .common import epoch_to_iso, network_bytes, parse_iso, put, protocol, record_type, sni_domain
from .common import destination_key, split_url, starter, tables

_TABLES = tables("zeek")  # mappings.txt
CONN_ID: Table = _TABLES["CONN_ID"]  # the rows every Zeek table starts with
CONN, HTTP, SSL, DNS, NOTICE, MCP = (
    CONN_ID + _TABLES[name] for name in ("CONN", "HTTP", "SSL", "DNS", "NOTICE", "MCP")
)


# Zeek notice -> (evidence type, attack type), from the detection catalogue (detections/, docs/detections.md).
# Notes not listed there are supporting context.
MCP_NOTICES: dict[str, tuple[str, str | None]] = catalogue.implementations("zeek")


def _timestamp(data: Data) -> tuple[str, float]:
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


def _starter(dataset: str, kind: str, ev_type: str, ev_kind: str) -> Begin:
    return starter(
        _timestamp, module="zeek", dataset=f"zeek.{dataset}", kind=kind, evidence_type=ev_type, evidence_kind=ev_kind
    )


_CONN_DOC, _CONN = _starter("conn", "event", "context", "flow"), compiled(CONN)
_HTTP_DOC, _HTTP = _starter("http", "event", "context", "http"), compiled(HTTP)
_SSL_DOC, _SSL = _starter("ssl", "event", "context", "tls"), compiled(SSL)
_DNS_DOC, _DNS = _starter("dns", "event", "context", "dns"), compiled(DNS)
_MCP_DOC, _MCP = _starter("mcp", "event", "network", "mcp_message"), compiled(MCP)
_NOTICE_DOCS = {
    ev: _starter("notice", "alert", ev, "notice") for ev in {"context", *(t for t, _ in MCP_NOTICES.values())}
}
_NOTICE = compiled(NOTICE)
_REMOTE_DOC, _REMOTE = _starter("mcp_remote", "event", "context", "remote_mcp"), compiled(CONN_ID)


def _user(doc: Doc, data: Data, ctx: Context) -> None:
    # Basic-auth user names are personal data: keyed hash only. Passwords are never read.
    name = data.get("username")
    if isinstance(name, str) and name:
        put(doc, ("user", "id"), privacy.keyed_hash(cast(bytes, ctx.site_key), name))  # Context requires a key
        put(doc, ("mcpeeker", "key_id"), ctx.key_id)  # which site key: the hash stays findable after a rotation


def notice(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    note = data.get("note")
    ev_type, attack = MCP_NOTICES.get(note, ("context", None)) if isinstance(note, str) else ("context", None)
    doc, epoch = _NOTICE_DOCS[ev_type](data, file, line)
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
        destination_key(doc)
    return doc, epoch


def mcp(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _MCP_DOC(data, file, line)
    _MCP(doc, data)
    put(doc, ("network", "protocol"), "mcp")
    mcp_doc = doc.get("mcp", {})
    if mcp_doc.get("method", {}).get("name") == "tools/call" and "name" in mcp_doc:
        put(doc, ("gen_ai", "tool", "name"), mcp_doc["name"])
    tools = mcp_doc.get("tools")
    if tools and "names" in tools and "count" not in tools:
        tools["count"] = len(tools["names"])
    destination_key(doc)  # the responder of the connection is the MCP server, whatever the message direction
    return doc, epoch


def mcp_remote(data: Data, ctx: Context, file: str, line: int) -> tuple[Doc, float]:
    doc, epoch = _REMOTE_DOC(data, file, line)
    _REMOTE(doc, data)
    service, indicator, seen = data.get("service"), data.get("indicator"), data.get("seen")
    for name, value in (("service", service), ("indicator", indicator), ("seen", seen)):
        if not isinstance(value, str) or not value:
            raise NormaliseError(f"field {name!r}: missing or not a string")
    dedicated = data.get("dedicated")
    if not isinstance(dedicated, bool):
        raise NormaliseError("field 'dedicated': missing or not a boolean")
    # An Intel::URL indicator is host + path as HTTP::build_url writes it (no scheme); a DOMAIN is the host.
    host, slash, path = cast(str, indicator).partition("/")
    doc["mcpeeker"]["evidence"]["reason"] = "remote_mcp_service"
    doc["mcpeeker"]["remote"] = {"service": service, "host": host.lower(), "seen": seen, "dedicated": dedicated}
    put(doc, ("destination", "domain"), host.lower())
    if slash:
        put(doc, ("url", "domain"), host.lower())
        put(doc, ("url", "path"), privacy.redact_url("/" + path))
    where = data.get("where")
    if isinstance(where, str):
        put(doc, ("event", "action"), where)  # the Intel location: DNS::IN_REQUEST, SSL::IN_SERVER_NAME ...
    return doc, epoch


ZEEK: dict[str, RecordFn] = {
    "conn": record_type(_CONN_DOC, _CONN, network_bytes),
    "http": record_type(_HTTP_DOC, _HTTP, protocol("http"), split_url, _user),
    "ssl": record_type(_SSL_DOC, _SSL, protocol("tls"), sni_domain),
    "dns": record_type(_DNS_DOC, _DNS, protocol("dns")),
    "notice": notice,
    "mcp": mcp,
    "mcp_remote": mcp_remote,
}

normalise_zeek = dispatcher("zeek", ZEEK, "Zeek log type")
