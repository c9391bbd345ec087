"""Delivery to one channel: webhook (HTTP POST, HMAC-signed), syslog (RFC 5424 over UDP, TCP or TLS), e-mail
(SMTP with STARTTLS). A failure is transient (retry later) or permanent (dead-letter at once)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import random
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import orjson

from .. import __version__
from ..errors import MCPeekerError
from .config import Channel, read_secret
from .events import Event
from .render import email, rfc5424, syslog_text, webhook_body

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
SIGNATURE_HEADER = "X-MCPeeker-Signature"
TIMESTAMP_HEADER = "X-MCPeeker-Timestamp"
DELIVERY_HEADER = "X-MCPeeker-Delivery"


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": the receiver recomputes it and rejects old timestamps (replays)."""
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    # Verified by default: against the channel's CA file, else the system store.
    return ssl.create_default_context(cafile=ca_file)


def _backoff(channel: Channel, attempt: int) -> None:
    # Full jitter, as the agent's outbox: several notifiers coming back do not retry in lock step.
    time.sleep(random.uniform(0, min(30.0, channel.backoff * (2**attempt))))


def _webhook_url(channel: Channel) -> tuple[str, str]:
    """The URL to POST to, and how messages name it: a URL from `url_file` (Slack and Teams webhook URLs are
    themselves secrets) is named by its scheme and host only, so no error, log or dead letter repeats it."""
    if not channel.url_file:
        return channel.url, channel.url
    try:
        url = read_secret(channel.url_file, f"channels.{channel.name}.url_file").decode().strip()
    except MCPeekerError as exc:
        raise DeliveryError(str(exc), permanent=True) from exc
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(
            f"channels.{channel.name}.url_file: {channel.url_file} holds no http(s) URL", permanent=True
        )
    return url, f"{parts.scheme}://{parts.hostname}/... (url_file)"


def post_json(
    channel: Channel, payload: Any, delivery_id: str, key: bytes | None = None, setting: str | None = None
) -> int:
    """POST one JSON body, retried with exponential backoff on transient failures; the HTTP status."""
    body = orjson.dumps(payload)
    if key is None and channel.key_file:
        try:
            key = read_secret(channel.key_file, setting or f"channels.{channel.name}.key_file")
        except MCPeekerError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
    url, where = _webhook_url(channel)
    context = _tls_context(channel.ca_file) if url.startswith("https:") else None
    attempt = 0
    while True:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"mcpeeker/{__version__}",
            DELIVERY_HEADER: delivery_id,  # the same on every retry and resend: receivers can drop duplicates
            TIMESTAMP_HEADER: timestamp,
        }
        if key is not None:
            headers[SIGNATURE_HEADER] = sign(key, timestamp, body)
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=channel.timeout, context=context) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            if exc.code not in RETRY_STATUS:
                raise DeliveryError(f"{where}: HTTP {exc.code} {detail}", permanent=True) from exc
            problem = f"HTTP {exc.code} {detail}"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            problem = str(getattr(exc, "reason", exc))
        attempt += 1
        if attempt > channel.retries:
            raise DeliveryError(f"{where}: {problem} (after {attempt} attempts)", permanent=False)
        _backoff(channel, attempt)


def _syslog_send(channel: Channel, frame: bytes) -> None:
    if channel.transport == "udp":
        with socket.socket(socket.AF_INET6 if ":" in channel.host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(frame, (channel.host, channel.port))
        return
    # TCP and TLS: octet-counting framing (RFC 6587 3.4.1, RFC 5425), so a message can never be split or merged.
    data = str(len(frame)).encode() + b" " + frame
    with socket.create_connection((channel.host, channel.port), timeout=channel.timeout) as raw:
        if channel.transport == "tls":
            context = _tls_context(channel.ca_file)
            with context.wrap_socket(raw, server_hostname=channel.server_name or channel.host) as tls:
                tls.sendall(data)
                try:
                    tls.unwrap()  # close_notify: the receiver has the whole frame
                except OSError:
                    pass
        else:
            raw.sendall(data)
            raw.shutdown(socket.SHUT_WR)


def send_syslog(channel: Channel, event: Event | None, digest: list[Event] | None = None) -> None:
    text = syslog_text(channel.format, event, digest)
    severity = max((e.severity for e in digest), key=_rank) if digest else (event.severity if event else "info")
    frame = rfc5424(text, severity, channel.facility, "digest" if digest else (event.kind if event else "-"))
    attempt = 0
    while True:
        try:
            _syslog_send(channel, frame)
            return
        except ssl.SSLCertVerificationError as exc:
            problem = f"TLS verification failed: {exc.verify_message or exc} (name the CA with ca_file)"
        except OSError as exc:
            problem = str(exc)
        attempt += 1
        if attempt > channel.retries:
            raise DeliveryError(f"syslog {channel.host}:{channel.port}/{channel.transport}: {problem}", permanent=False)
        _backoff(channel, attempt)


def _rank(severity: str) -> int:
    from .config import severity_rank

    return severity_rank(severity)


def send_email(channel: Channel, event: Event | None, digest: list[Event] | None = None) -> None:
    message = email(channel.sender, channel.recipients, event, digest)
    password = None
    if channel.username:
        if not channel.password_file:
            raise DeliveryError(f"channels.{channel.name}: username needs password_file", permanent=True)
        if not channel.starttls:
            raise DeliveryError(f"channels.{channel.name}: refusing to log in without STARTTLS", permanent=True)
        try:
            password = read_secret(channel.password_file, f"channels.{channel.name}.password_file").decode()
        except MCPeekerError as exc:
            raise DeliveryError(str(exc), permanent=True) from exc
    where = f"smtp {channel.host}:{channel.port}"
    attempt = 0
    while True:
        try:
            with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout) as smtp:
                smtp.ehlo()
                if channel.starttls:
                    smtp.starttls(context=_tls_context(channel.ca_file))
                    smtp.ehlo()
                if channel.username and password is not None:
                    smtp.login(channel.username, password)
                smtp.send_message(message)
            return
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: the server offers no STARTTLS: {exc}", permanent=True) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{where}: recipients refused: {exc.recipients}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            if 500 <= exc.smtp_code < 600:
                raise DeliveryError(f"{where}: {exc.smtp_code} {text}", permanent=True) from exc
            problem = f"{exc.smtp_code} {text}"
        except ssl.SSLCertVerificationError as exc:
            problem = f"TLS verification failed: {exc.verify_message or exc} (name the CA with ca_file)"
        except (OSError, smtplib.SMTPException) as exc:
            problem = str(exc)
        attempt += 1
        if attempt > channel.retries:
            raise DeliveryError(f"{where}: {problem}", permanent=False)
        _backoff(channel, attempt)


def deliver(channel: Channel, event: Event | None, digest: list[Event] | None = None, delivery_id: str = "") -> None:
    """Send one event (or a digest) to the channel; DeliveryError says whether trying again can help."""
    if channel.type == "webhook":
        post_json(channel, webhook_body(channel.format, event, digest), delivery_id)
    elif channel.type == "syslog":
        send_syslog(channel, event, digest)
    elif channel.type == "email":
        send_email(channel, event, digest)
    else:
        raise DeliveryError(f"channels.{channel.name}: unknown type {channel.type!r}", permanent=True)
