"""Each channel against its real receiver: webhook (HMAC verified; JSON, Slack, Teams), rsyslog over UDP, TCP and
TLS (plain, CEF, LEEF), aiosmtpd with STARTTLS. A hostile server name stays data in every format."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest

from mcpeeker.notify.channels import DeliveryError, deliver
from mcpeeker.notify.config import Channel, parse
from mcpeeker.notify.events import Event

from .conftest import Hook, Mailbox, Rsyslog

# Everything a format could trip on: CEF/LEEF separators and escapes, a new syslog line, Slack mentions and links,
# Teams markdown, an e-mail header injection.
HOSTILE = 'evil|srv=1\\x ^tab\tend\n<!channel> <https://evil.example|click> *bold* & "q"\r\nBcc: victim@example.com'
EXPECTED = HOSTILE.replace("\t", "\\t").replace("\r\n", "\n")


def event(kind: str = "new_unauthorized", severity: str = "critical") -> Event:
    return Event(
        kind=kind,
        subject="f0123456789abcdef",
        revision="1",
        severity=severity,
        classification="unauthorized",
        host="host-1",
        at="2026-12-06T08:00:00.000Z",
        summary=f"Unregistered MCP server '{HOSTILE}' on host host-1",
        server_name=HOSTILE,
        tools=("read_file", HOSTILE),
        destination="10.20.0.3:8000",
    )


def channel(tmp_path: Path, **raw: Any) -> Channel:
    """A channel as configs/notify.yaml declares it (through the same parser)."""
    raw.setdefault("retries", 1)
    raw.setdefault("backoff", 0.01)
    return parse({"channels": {"c": raw}}, str(tmp_path / "notify.yaml")).channels["c"]


def key_file(tmp_path: Path, key: bytes) -> str:
    path = tmp_path / "hook.key"
    path.write_bytes(key + b"\n")
    path.chmod(0o600)
    return str(path)


def unescape(text: str, specials: str) -> str:
    """Undo backslash escapes of `specials` (and \\n, \\r) as a CEF/LEEF parser does."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "r": "\r"}.get(nxt, nxt) if nxt in specials + "nr\\" else "\\" + nxt)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def split_unescaped(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    parts, current, i = [], "", 0
    while i < len(text):
        if len(parts) == maxsplit:
            return parts + [text[i:]]
        if text[i] == "\\" and i + 1 < len(text):
            current += text[i : i + 2]
            i += 2
            continue
        if text[i] == sep:
            parts.append(current)
            current = ""
        else:
            current += text[i]
        i += 1
    return parts + [current]


# --- webhook ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "slack", "teams"])
def test_webhook_payloads_are_signed_and_escape_names(tmp_path: Path, hook: Hook, fmt: str) -> None:
    chan = channel(tmp_path, type="webhook", url=hook.url, format=fmt, key_file=key_file(tmp_path, hook.key))
    deliver(chan, event(), delivery_id="f0123456789abcdef:new_unauthorized:1")
    [request] = hook.wait(1)
    assert request["signed"], "the receiver's HMAC check failed"
    assert request["delivery"] == "f0123456789abcdef:new_unauthorized:1"
    body = request["json"]
    if fmt == "json":
        # JSON carries the name unchanged: the encoder escapes it, the receiver gets the exact bytes back.
        assert body["kind"] == "new_unauthorized" and body["finding"]["server_name"] == HOSTILE
    elif fmt == "slack":
        assert "<!channel>" not in body["text"] and "<https://" not in body["text"]
        assert "&lt;!channel&gt;" in body["text"]
        for block in body["blocks"]:
            texts = [block["text"]] if "text" in block else block["fields"]
            assert all(t["type"] == "plain_text" for t in texts)  # never interpreted as mrkdwn
    else:
        card = body["attachments"][0]["content"]
        server = next(f["value"] for f in card["body"][2]["facts"] if f["title"] == "Server")
        assert "\\*bold\\*" in server and "\\<https://evil" in server and "\\|click\\>" in server


def test_webhook_unsigned_body_is_rejected_by_the_check(tmp_path: Path, hook: Hook) -> None:
    other = tmp_path / "other"
    other.mkdir()
    chan = channel(tmp_path, type="webhook", url=hook.url, key_file=key_file(other, b"not-the-receivers-key"))
    deliver(chan, event(), delivery_id="x")
    assert hook.wait(1)[0]["signed"] is False


def test_webhook_failures_transient_and_permanent(tmp_path: Path, hook: Hook) -> None:
    hook.mode = "unavailable"
    chan = channel(tmp_path, type="webhook", url=hook.url, retries=2)
    with pytest.raises(DeliveryError) as transient:
        deliver(chan, event(), delivery_id="x")
    assert not transient.value.permanent and "HTTP 503" in str(transient.value)
    assert len(hook.requests) == 3  # the first try and two retries with backoff
    assert hook.requests[2]["at"] > hook.requests[0]["at"]
    hook.mode = "reject"
    with pytest.raises(DeliveryError) as permanent:
        deliver(chan, event(), delivery_id="x")
    assert permanent.value.permanent and "HTTP 400" in str(permanent.value)


def test_webhook_key_file_must_be_private(tmp_path: Path, hook: Hook) -> None:
    path = Path(key_file(tmp_path, hook.key))
    path.chmod(0o644)
    chan = channel(tmp_path, type="webhook", url=hook.url, key_file=str(path))
    with pytest.raises(DeliveryError) as error:
        deliver(chan, event(), delivery_id="x")
    assert error.value.permanent and "channels.c.key_file" in str(error.value) and "chmod 600" in str(error.value)


# --- syslog -----------------------------------------------------------------------------------------------------------
def _port(receiver: Rsyslog, transport: str) -> int:
    return {"udp": receiver.udp, "tcp": receiver.tcp, "tls": receiver.tls}[transport]


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_syslog_rfc5424_to_rsyslog(tmp_path: Path, rsyslog: Rsyslog, pki: dict[str, Path], transport: str) -> None:
    before = len(rsyslog.lines(transport))
    for fmt in ("plain", "cef", "leef"):
        chan = channel(
            tmp_path,
            type="syslog",
            host="127.0.0.1",
            port=_port(rsyslog, transport),
            transport=transport,
            format=fmt,
            ca_file=str(pki["ca"]),
        )
        deliver(chan, event())
    lines = rsyslog.wait_lines(transport, before + 3)[before:]
    assert len(lines) == 3, lines  # a newline in the name did not start a second log line
    by_format = {}
    for line in lines:
        version, app, msgid, severity, message = line.split("|", 4)
        assert (version, app, msgid, severity) == ("1", "mcpeeker", "new_unauthorized", "2")  # RFC 5424, critical
        by_format["cef" if message.startswith("CEF:") else "leef" if message.startswith("LEEF:") else "plain"] = message
    cef = by_format["cef"]
    header = split_unescaped(cef, "|", 7)  # a CEF reader splits the header on its first 7 unescaped pipes
    assert header[:7] == [
        "CEF:0",
        "MCPeeker",
        "MCPeeker",
        "0.1.0",
        "new_unauthorized",
        "New unauthorized MCP server",
        "10",
    ]
    server = header[7].split(" cs2=", 1)[1].split(" cs3Label=", 1)[0]
    # The reader gets the name back: CRLF as a CEF newline, the tab as a visible escape, all else exact.
    assert unescape(server, "=") == EXPECTED
    leef = by_format["leef"]
    head = split_unescaped(leef, "|", 6)
    assert head[:6] == ["LEEF:2.0", "MCPeeker", "MCPeeker", "0.1.0", "new_unauthorized", "^"]
    attrs = dict(a.split("=", 1) for a in split_unescaped(head[6], "^") if "=" in a)
    assert attrs["sev"] == "10" and unescape(attrs["server"], "^=") == EXPECTED
    assert (
        "\\n<!channel>" in by_format["plain"] and "dedup_key=f0123456789abcdef:new_unauthorized:1" in by_format["plain"]
    )


def test_syslog_tls_is_verified(tmp_path: Path, rsyslog: Rsyslog) -> None:
    chan = channel(tmp_path, type="syslog", host="127.0.0.1", port=rsyslog.tls, transport="tls", retries=0)
    with pytest.raises(DeliveryError) as error:
        deliver(chan, event())  # the system store does not hold the test CA
    assert "TLS verification failed" in str(error.value)


# --- e-mail -----------------------------------------------------------------------------------------------------------
def test_email_over_starttls(tmp_path: Path, smtp: Mailbox, pki: dict[str, Path]) -> None:
    chan = channel(
        tmp_path,
        type="email",
        host="127.0.0.1",
        port=smtp.port,
        **{"from": "mcpeeker@example.com", "to": ["soc@example.com"]},
        ca_file=str(pki["ca"]),
    )
    deliver(chan, event())
    [mail] = smtp.wait(1)
    assert mail["tls"] and mail["to"] == ["soc@example.com"]
    message = email.message_from_bytes(mail["data"], policy=email.policy.default)
    assert message["Subject"] == "[MCPeeker] New unauthorized MCP server (critical) f0123456789abcdef"
    assert message["Bcc"] is None and "victim" not in str(message["To"])  # the name built no header
    body = message.get_content()
    server_line = next(line for line in body.splitlines() if line.startswith("server_name: "))
    assert "\\r\\nBcc: victim@example.com" in server_line  # on one line, visibly escaped


def test_email_without_ca_is_not_sent(tmp_path: Path, smtp: Mailbox) -> None:
    chan = channel(
        tmp_path, type="email", host="127.0.0.1", port=smtp.port, retries=0, **{"from": "a@b.c", "to": ["d@e.f"]}
    )
    with pytest.raises(DeliveryError) as error:
        deliver(chan, event())
    assert "TLS verification failed" in str(error.value) and smtp.messages == []


def test_digests_in_each_channel(
    tmp_path: Path, hook: Hook, rsyslog: Rsyslog, smtp: Mailbox, pki: dict[str, Path]
) -> None:
    held = [event(), event("severity_raised", "high")]
    deliver(channel(tmp_path, type="webhook", url=hook.url, format="slack"), None, digest=held, delivery_id="digest:x")
    slack = hook.wait(1)[0]["json"]
    assert slack["text"] == "2 MCPeeker notification(s) held back by the throttle"
    assert "new_unauthorized critical f0123456789abcdef" in slack["blocks"][1]["text"]["text"]
    before = len(rsyslog.lines("tcp"))
    for fmt in ("cef", "leef"):
        chan = channel(tmp_path, type="syslog", host="127.0.0.1", port=rsyslog.tcp, transport="tcp", format=fmt)
        deliver(chan, None, digest=held)
    cef, leef = (line.split("|", 4) for line in rsyslog.wait_lines("tcp", before + 2)[before:])
    assert cef[2] == "digest" and cef[4].startswith("CEF:0|MCPeeker|MCPeeker|0.1.0|digest|") and "cnt=2" in cef[4]
    assert leef[4].startswith("LEEF:2.0|MCPeeker|MCPeeker|0.1.0|digest|^|cnt=2^")
    mail = channel(
        tmp_path,
        type="email",
        host="127.0.0.1",
        port=smtp.port,
        ca_file=str(pki["ca"]),
        **{"from": "a@b.c", "to": ["d@e.f"]},
    )
    deliver(mail, None, digest=held)
    message = email.message_from_bytes(smtp.wait(1)[0]["data"], policy=email.policy.default)
    assert message["Subject"] == "[MCPeeker] 2 notification(s) held back by the throttle"
    assert "- severity_raised high f0123456789abcdef" in message.get_content()


def test_webhook_url_from_a_file_is_never_repeated(tmp_path: Path, hook: Hook) -> None:
    secret_url = tmp_path / "slack.url"
    secret_url.write_text(hook.url + "/T000/B000/secret-token-123\n")
    secret_url.chmod(0o600)
    chan = channel(tmp_path, type="webhook", url_file="slack.url", format="slack")  # relative to notify.yaml
    deliver(chan, event(), delivery_id="x")
    assert hook.wait(1)[0]["path"] == "/hook/T000/B000/secret-token-123"
    hook.mode = "reject"
    with pytest.raises(DeliveryError) as error:
        deliver(chan, event(), delivery_id="x")
    assert "http://127.0.0.1/... (url_file): HTTP 400" in str(error.value) and "secret-token" not in str(error.value)
