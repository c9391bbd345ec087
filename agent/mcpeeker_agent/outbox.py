"""Ship reports to the collector (`mcpeeker collect`) through an on-disk outbox.

Every report is written to the outbox before anything is sent (temp file, fsync, rename, directory fsync: a
crash leaves a whole report or none), then the outbox is sent oldest first. A report leaves the outbox only
when the collector acknowledged it (2xx); transient failures (connection, timeout, 408, 429, 5xx) are retried
with exponential backoff and full jitter, then the rest waits for the next scan, in order. A report the
collector refuses as invalid (other 4xx) moves to outbox/rejected/ with the reason, so it cannot block the
reports behind it; an authentication refusal (401/403) keeps everything queued for when the token is fixed.

The agent holds only its enrollment token: never SIEM credentials. Resending is safe: the collector derives the
document ids from the report's bytes, which the outbox keeps unchanged.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import ssl
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPORTS_PATH = "/api/v1/reports"
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


def default_outbox() -> Path:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~")
    else:
        base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mcpeeker-agent" / "outbox"


def _fsync_dir(path: Path) -> None:
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    def __init__(self, directory: Path, max_reports: int = 2000) -> None:
        self.dir = directory
        self.max_reports = max_reports
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for tmp in self.dir.glob("*.tmp"):  # a crash mid-write: the report was never complete
            tmp.unlink(missing_ok=True)

    def put(self, line: bytes, scan_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_-]", "", scan_id)[:64] or "report"
        name = f"{time.time_ns():020d}-{safe}"
        tmp = self.dir / f"{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        final = self.dir / f"{name}.json"
        os.replace(tmp, final)
        _fsync_dir(self.dir)
        self._bound()
        return final

    def pending(self) -> list[Path]:
        return sorted(self.dir.glob("*.json"))

    def _bound(self) -> None:
        """Disk stays bounded through a long outage: beyond max_reports the oldest reports are dropped (a newer
        scan describes the same host)."""
        files = self.pending()
        for old in files[: max(0, len(files) - self.max_reports)]:
            old.unlink(missing_ok=True)
            print(
                f"mcpeeker-agent: outbox full ({self.max_reports} reports): dropped the oldest, {old.name}",
                file=sys.stderr,
            )

    def reject(self, path: Path, reason: str) -> Path:
        rejected = self.dir / "rejected"
        rejected.mkdir(exist_ok=True, mode=0o700)
        target = rejected / path.name
        os.replace(path, target)
        target.with_suffix(".reason").write_text(reason + "\n", encoding="utf-8")
        return target


class AuthRefused(Exception):
    """401/403: the token is wrong or revoked; nothing is sent until it is fixed."""


class Unavailable(Exception):
    """The collector could not be reached or answered with a transient error after the retries."""


@dataclass
class DrainResult:
    sent: int = 0
    rejected: int = 0
    left: int = 0
    error: str | None = None
    rejections: list[str] = field(default_factory=list)


def read_token(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the token file: {exc.strerror or exc}") from exc
    if not token or any(c.isspace() for c in token):
        raise ValueError(f"{path}: expected one enrollment token (from `mcpeeker collect token issue`)")
    if sys.platform != "win32" and mode & 0o077:
        print(f"mcpeeker-agent: warning: {path} is readable by other users; chmod 600 it", file=sys.stderr)
    return token


class Shipper:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        ca_certs: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        verify_tls: bool = True,
        timeout: float = 30.0,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"--ship {url!r}: expected the collector's URL, e.g. https://collector.example:8443")
        if parts.scheme == "http":
            print("mcpeeker-agent: warning: --ship over plain http sends the token unencrypted", file=sys.stderr)
        path = parts.path.rstrip("/")
        self.url = url if path.endswith(REPORTS_PATH) else url.rstrip("/") + REPORTS_PATH
        self.token = token
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.context: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.context = ssl.create_default_context(cafile=ca_certs)
            if not verify_tls:
                print(
                    "mcpeeker-agent: WARNING: TLS verification is OFF (--insecure): anyone on the path can read "
                    "the reports and the token",
                    file=sys.stderr,
                )
                self.context.check_hostname = False
                self.context.verify_mode = ssl.CERT_NONE
            if client_cert:
                self.context.load_cert_chain(client_cert, client_key)

    def _post(self, body: bytes) -> tuple[int, str]:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "User-Agent": "mcpeeker-agent",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as response:
                return response.status, response.read(4096).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(4096).decode("utf-8", "replace")

    def send(self, body: bytes) -> tuple[int, str]:
        """(status, answer) of the first non-transient answer; Unavailable after the retries, AuthRefused on 401/403."""
        attempt = 0
        while True:
            try:
                status, text = self._post(body)
                if status not in RETRY_STATUS:
                    if status in (401, 403):
                        raise AuthRefused(f"{self.url} refused the enrollment token ({status}): {text[:300]}")
                    return status, text
                problem = f"{status} {text[:200]}"
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, ssl.SSLCertVerificationError):
                    raise Unavailable(
                        f"{self.url}: TLS verification failed: {reason.verify_message or reason} "
                        "(pass the collector's CA with --ca-certs)"
                    ) from exc
                problem = str(reason)
            attempt += 1
            if attempt > self.retries:
                raise Unavailable(f"{self.url}: {problem}")
            # Full jitter: a fleet whose collector comes back does not retry in lock step.
            time.sleep(random.uniform(0, min(self.backoff_cap, self.backoff_base * (2**attempt))))

    def drain(self, outbox: Outbox) -> DrainResult:
        result = DrainResult()
        pending = outbox.pending()
        for n, path in enumerate(pending):
            try:
                body = path.read_bytes()
            except FileNotFoundError:
                continue
            try:
                status, text = self.send(body)
            except (AuthRefused, Unavailable) as exc:
                result.error = str(exc)
                result.left = len(pending) - n
                return result
            if 200 <= status < 300:
                path.unlink(missing_ok=True)
                result.sent += 1
            else:
                reason = f"{status} {text[:500]}"
                outbox.reject(path, reason)
                result.rejected += 1
                result.rejections.append(f"{path.name}: {reason}")
        return result
