"""One event (or a digest of held-back events) in each channel's format.

Server names, tool names and summaries come from what was observed on the network or a host: they are data.
Each format escapes them by its own rules: JSON by the encoder; Slack mrkdwn's &, <, > (so a name cannot ping
@channel or forge a link) and only plain_text blocks; Teams' markdown; CEF header (\\ and |) and extension (\\, =,
newlines); LEEF (\\, |, the ^ delimiter, =); syslog plain text has its control characters escaped so a name cannot
start a second log line. E-mail headers are built from our own values only (kind, severity, an id we generated).
"""

from __future__ import annotations

import os
import re
import socket
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from .. import __version__
from ..timeutil import parse_iso
from .events import Event

TITLES = {
    "new_unauthorized": "New unauthorized MCP server",
    "severity_raised": "MCP finding severity raised",
    "reopened": "MCP finding reopened",
    "registry_expiring": "MCP registry entry expiring",
    "test": "MCPeeker test notification",
}
CEF_SEVERITY = {"info": 1, "low": 3, "medium": 5, "high": 8, "critical": 10}
SYSLOG_SEVERITY = {"info": 6, "low": 5, "medium": 4, "high": 3, "critical": 2}
MAX_TEXT = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def title(event: Event) -> str:
    head = TITLES.get(event.kind, event.kind)
    return f"{head} to {event.severity}" if event.kind == "severity_raised" else head


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """Control characters (newlines included) as visible escapes, bounded length."""
    text = text if len(text) <= limit else text[:limit] + "..."
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def digest_title(events: list[Event]) -> str:
    return f"{len(events)} MCPeeker notification(s) held back by the throttle"


# --- JSON, Slack, Teams -------------------------------------------------------------------------------------------
def _fields(event: Event) -> dict[str, Any]:
    return {
        "id": event.subject,
        "summary": event.summary,
        "severity": event.severity,
        "classification": event.classification,
        "status": event.status,
        "server_name": event.server_name,
        "tools": list(event.tools),
        "attacks": list(event.attacks),
        "destination": event.destination,
        "host": event.host,
        "reason": event.reason,
        "owner": event.owner,
        "expires": event.expires,
    }


def json_payload(event: Event) -> dict[str, Any]:
    subject = "registry_entry" if event.kind == "registry_expiring" else "finding"
    return {
        "source": "mcpeeker",
        "kind": event.kind,
        "title": title(event),
        "dedup_key": event.dedup_key,
        "at": event.at,
        subject: {k: v for k, v in _fields(event).items() if v not in ("", [])},
    }


def json_digest(events: list[Event]) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for event in events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    return {
        "source": "mcpeeker",
        "kind": "digest",
        "title": digest_title(events),
        "count": len(events),
        "by_kind": kinds,
        "items": [
            {"dedup_key": e.dedup_key, "kind": e.kind, "id": e.subject, "severity": e.severity, "host": e.host}
            for e in events[:100]
        ],
    }


def slack_escape(text: str) -> str:
    """Slack's own escaping of the three control characters of mrkdwn."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": clean(text) or "-", "emoji": False}


def slack_payload(event: Event) -> dict[str, Any]:
    facts = [("Severity", event.severity), ("Classification", event.classification), ("Id", event.subject)]
    facts += [("Server", event.server_name), ("Where", event.destination or event.host)]
    if event.tools:
        facts.append(("Tools", ", ".join(event.tools)))
    if event.reason:
        facts.append(("Reason", event.reason))
    return {
        # The notification text: escaped, since Slack interprets it as mrkdwn.
        "text": slack_escape(f"{title(event)}: {event.summary or event.subject}"),
        "blocks": [
            {"type": "header", "text": _plain(title(event))},
            {"type": "section", "text": _plain(event.summary or event.subject)},
            # plain_text fields: observed names are shown, never interpreted
            {"type": "section", "fields": [_plain(f"{k}: {v}") for k, v in facts if v][:10]},
        ],
    }


def slack_digest(events: list[Event]) -> dict[str, Any]:
    lines = [f"{e.kind} {e.severity} {e.subject}" for e in events[:30]]
    return {
        "text": slack_escape(digest_title(events)),
        "blocks": [
            {"type": "header", "text": _plain(digest_title(events))},
            {"type": "section", "text": _plain("\n".join(lines))},
        ],
    }


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")


def teams_escape(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", clean(text))


def _card(heading: str, text: str, facts: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "text": heading, "weight": "Bolder", "size": "Medium", "wrap": True},
                        {"type": "TextBlock", "text": teams_escape(text), "wrap": True},
                        {
                            "type": "FactSet",
                            "facts": [{"title": k, "value": teams_escape(v)} for k, v in facts if v],
                        },
                    ],
                },
            }
        ],
    }


def teams_payload(event: Event) -> dict[str, Any]:
    facts = [("Severity", event.severity), ("Classification", event.classification), ("Id", event.subject)]
    facts += [("Server", event.server_name), ("Where", event.destination or event.host)]
    facts += [("Tools", ", ".join(event.tools)), ("Reason", event.reason)]
    return _card(title(event), event.summary or event.subject, facts)


def teams_digest(events: list[Event]) -> dict[str, Any]:
    return _card(digest_title(events), "", [(e.kind, f"{e.severity} {e.subject}") for e in events[:30]])


def webhook_body(fmt: str, event: Event | None, digest: list[Event] | None = None) -> dict[str, Any]:
    if digest is not None:
        return {"slack": slack_digest, "teams": teams_digest}.get(fmt, json_digest)(digest)
    assert event is not None
    return {"slack": slack_payload, "teams": teams_payload}.get(fmt, json_payload)(event)


# --- syslog: RFC 5424 with plain, CEF or LEEF messages ------------------------------------------------------------
def cef_header(text: str) -> str:
    return clean(text, 128).replace("\\", "\\\\").replace("|", "\\|")


def cef_value(text: str) -> str:
    text = text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."
    text = text.replace("\\", "\\\\").replace("=", "\\=").replace("\r\n", "\n")
    return clean(text.replace("\n", "\\n").replace("\r", "\\r"))


def leef_header(text: str) -> str:
    return clean(text, 128).replace("\\", "\\\\").replace("|", "\\|")


def leef_value(text: str) -> str:
    text = text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."
    text = text.replace("\\", "\\\\").replace("^", "\\^").replace("=", "\\=").replace("\r\n", "\n")
    return clean(text.replace("\n", "\\n").replace("\r", "\\r"))


def _epoch_ms(at: str) -> int:
    try:
        return int(parse_iso(at).timestamp() * 1000)
    except (ValueError, TypeError):
        return int(time.time() * 1000)


def _attributes(event: Event) -> list[tuple[str, str, str]]:
    """(CEF key, LEEF key, value) of one event."""
    ip, _, port = event.destination.rpartition(":") if event.destination else ("", "", "")
    return [
        ("rt", "devTime", str(_epoch_ms(event.at))),
        ("cat", "cat", event.kind),
        ("externalId", "externalId", event.dedup_key),
        ("cs1Label", "", "finding"),
        ("cs1", "finding", event.subject),
        ("cs2Label", "", "server"),
        ("cs2", "server", event.server_name),
        ("cs3Label", "", "tools"),
        ("cs3", "tools", ",".join(event.tools)),
        ("cs4Label", "", "classification"),
        ("cs4", "classification", event.classification),
        ("cs5Label", "", "host"),
        ("cs5", "mcpHost", event.host),
        ("dst", "dst", ip),
        ("dpt", "dstPort", port),
        ("msg", "msg", event.summary),
    ]


def cef(event: Event) -> str:
    head = "|".join(
        [
            "CEF:0",
            "MCPeeker",
            "MCPeeker",
            cef_header(__version__),
            cef_header(event.kind),
            cef_header(title(event)),
            str(CEF_SEVERITY.get(event.severity, 1)),
        ]
    )
    ext = " ".join(f"{key}={cef_value(value)}" for key, _, value in _attributes(event) if value)
    return f"{head}|{ext}"


def leef(event: Event) -> str:
    head = f"LEEF:2.0|MCPeeker|MCPeeker|{leef_header(__version__)}|{leef_header(event.kind)}|^|"
    attrs = [("sev", str(CEF_SEVERITY.get(event.severity, 1)))]
    attrs += [(key, value) for _, key, value in _attributes(event) if key and value]
    return head + "^".join(f"{key}={leef_value(value)}" for key, value in attrs)


def plain(event: Event) -> str:
    parts = [f"mcpeeker {event.kind} severity={event.severity} id={event.subject}"]
    if event.server_name:
        parts.append(f"server={clean(event.server_name)!r}")
    if event.destination:
        parts.append(f"destination={clean(event.destination)}")
    parts.append(f"dedup_key={event.dedup_key}")
    parts.append(f"summary={clean(event.summary)!r}")
    return " ".join(parts)


def syslog_text(fmt: str, event: Event | None, digest: list[Event] | None = None) -> str:
    if digest is not None:
        kinds = ",".join(sorted({e.kind for e in digest}))
        ids = ",".join(e.subject for e in digest[:20])
        if fmt == "cef":
            return f"CEF:0|MCPeeker|MCPeeker|{cef_header(__version__)}|digest|{cef_header(digest_title(digest))}|3|cnt={len(digest)} cat={kinds} cs1Label=findings cs1={cef_value(ids)}"
        if fmt == "leef":
            return f"LEEF:2.0|MCPeeker|MCPeeker|{leef_header(__version__)}|digest|^|cnt={len(digest)}^cat={kinds}^findings={leef_value(ids)}"
        return f"mcpeeker digest count={len(digest)} kinds={kinds} ids={ids}"
    assert event is not None
    return {"cef": cef, "leef": leef}.get(fmt, plain)(event)


def rfc5424(text: str, severity: str, facility: int, msgid: str, now: datetime | None = None) -> bytes:
    """<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG (RFC 5424 section 6)."""
    pri = facility * 8 + SYSLOG_SEVERITY.get(severity, 6)
    stamp = (now or datetime.now().astimezone()).isoformat(timespec="milliseconds")
    host = re.sub(r"[^\x21-\x7e]", "", socket.gethostname())[:255] or "-"
    msgid = re.sub(r"[^\x21-\x7e]", "", msgid)[:32] or "-"
    return f"<{pri}>1 {stamp} {host} mcpeeker {_pid()} {msgid} - {text}".encode()


def _pid() -> int:
    return os.getpid()


# --- e-mail -------------------------------------------------------------------------------------------------------
def email(
    sender: str, recipients: tuple[str, ...], event: Event | None, digest: list[Event] | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="mcpeeker.local")
    if digest is not None:
        # Only our own values in headers: a count.
        message["Subject"] = f"[MCPeeker] {len(digest)} notification(s) held back by the throttle"
        body = [digest_title(digest), ""] + [f"- {e.kind} {e.severity} {e.subject}" for e in digest[:200]]
        message.set_content("\n".join(body) + "\n")
        return message
    assert event is not None
    safe_id = re.sub(r"[^A-Za-z0-9_.:-]", "", event.subject)[:64]
    severity = event.severity if event.severity in SYSLOG_SEVERITY else "unknown"
    heading = TITLES.get(event.kind, "MCPeeker notification")
    heading = f"{heading} to {severity}" if event.kind == "severity_raised" else heading
    message["Subject"] = f"[MCPeeker] {heading} ({severity}) {safe_id}"
    message["X-MCPeeker-Dedup-Key"] = re.sub(r"[^A-Za-z0-9_.:+-]", "", event.dedup_key)[:200]
    lines = [title(event), ""]
    for label, value in _fields(event).items():
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        if shown:
            lines.append(f"{label}: {clean(shown)}")
    message.set_content("\n".join(lines) + "\n")
    return message
