"""One correlator at a time: a lease document in the state index, taken and renewed with optimistic concurrency.

The lease (`lease:correlator` in `{prefix}mcp-state`) names its owner and when it expires. A correlator takes it
when there is none, when it has expired, or when it already owns it; every write is conditional on the
`_seq_no`/`_primary_term` it read (or `op_type=create` for the first), so of two correlators racing for it exactly
one wins and the other sees a 409 conflict. The owner renews it every cycle and from a heartbeat thread (a third of
the period) so a long cycle does not lose it; a correlator killed with SIGKILL stops renewing and another takes
over once the lease expires, i.e. within one lease period. A clean stop deletes it (conditionally) for an
immediate hand-over.

Expiry times are the owner's wall clock: hosts running correlators need clocks in sync to well within a period.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from ..settings import Settings
from ..timeutil import iso, utcnow

log = logging.getLogger(__name__)

LEASE_ID = "lease:correlator"


@dataclass(frozen=True)
class LeaseState:
    held: bool  # True: this process owns the lease now
    owner: str  # who owns it (this process when held); "" when nobody
    expires_at: float  # epoch seconds; 0 when nobody holds it


def new_owner() -> str:
    """host:pid:random, so two processes (or a restarted one with a reused pid) never share an identity."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _conflict(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 409


class Lease:
    def __init__(
        self,
        client: Any,
        settings: Settings,
        period: float,
        *,
        owner: str | None = None,
        name: str = LEASE_ID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if period <= 0:
            raise ValueError("the lease period must be positive")
        self.client = client
        self.index = settings.index("mcp-state")
        self.period = period
        self.owner = owner or new_owner()
        self.name = name
        self.clock = clock
        self._lock = threading.Lock()
        self._held_until = 0.0
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    def _read(self) -> tuple[dict[str, Any] | None, int, int]:
        doc = self.client.get(index=self.index, id=self.name, ignore=[404])
        if not doc.get("found"):
            return None, -1, -1
        return dict(doc["_source"].get("value") or {}), int(doc["_seq_no"]), int(doc["_primary_term"])

    def _body(self, now: float, acquired_at: float) -> dict[str, Any]:
        value = {
            "owner": self.owner,
            "expires_at": now + self.period,
            "acquired_at": acquired_at,
            "period": self.period,
        }
        return {"@timestamp": iso(utcnow()), "name": self.name, "value": value}

    def acquire(self) -> LeaseState:
        """Take or renew the lease if it is free, expired or ours; otherwise report who holds it."""
        with self._lock:
            current, seq_no, term = self._read()
            now = self.clock()
            if current is not None:
                owner = str(current.get("owner", ""))
                expires = float(current.get("expires_at", 0.0))
                if owner != self.owner and expires > now:
                    self._held_until = 0.0
                    return LeaseState(False, owner, expires)
                acquired_at = float(current.get("acquired_at", now)) if owner == self.owner else now
                params: dict[str, Any] = {"if_seq_no": seq_no, "if_primary_term": term}
            else:
                acquired_at = now
                params = {"op_type": "create"}
            body = self._body(now, acquired_at)
            try:
                self.client.index(index=self.index, id=self.name, body=body, params=params)
            except Exception as exc:
                if not _conflict(exc):
                    raise
                # Someone else wrote it between our read and our write: they won this round.
                self._held_until = 0.0
                latest, _, _ = self._read()
                latest = latest or {}
                return LeaseState(False, str(latest.get("owner", "")), float(latest.get("expires_at", 0.0)))
            self._held_until = body["value"]["expires_at"]
            return LeaseState(True, self.owner, self._held_until)

    @property
    def held(self) -> bool:
        """Ours and not expired by our own clock (a renewal that failed leaves it to lapse)."""
        return self._held_until > self.clock()

    def release(self) -> None:
        """Give the lease up (only if still ours), so a waiting correlator takes over at its next poll."""
        self.stop_heartbeat()
        with self._lock:
            current, seq_no, term = self._read()
            if current is None or current.get("owner") != self.owner:
                return
            try:
                self.client.delete(
                    index=self.index, id=self.name, params={"if_seq_no": seq_no, "if_primary_term": term}
                )
            except Exception as exc:
                if not _conflict(exc):
                    raise
            self._held_until = 0.0

    def start_heartbeat(self) -> None:
        """Renew every third of the period while held, so a cycle longer than the period keeps the lease."""
        if self._heartbeat is not None:
            return
        self._stop.clear()
        self._heartbeat = threading.Thread(target=self._beat, name="mcpeeker-lease", daemon=True)
        self._heartbeat.start()

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=5.0)
            self._heartbeat = None

    def _beat(self) -> None:
        while not self._stop.wait(self.period / 3):
            try:
                state = self.acquire()
            except Exception as exc:  # noqa: BLE001 - a transient error: the next beat (or cycle) tries again
                log.warning("lease renewal failed: %s", exc)
                continue
            if not state.held:
                log.warning("lease lost to %s", state.owner)
