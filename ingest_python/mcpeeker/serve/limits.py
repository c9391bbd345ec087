"""Per-key request budgets over a sliding minute (client addresses, identities), kept in memory."""

from __future__ import annotations

import threading
import time
from collections import deque

MAX_KEYS = 10_000  # quiet keys are forgotten rather than the table growing without bound


class MinuteBudget:
    """At most `per_minute` events per key in any 60 seconds."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        if len(self._seen) > MAX_KEYS:
            self._seen = {k: q for k, q in self._seen.items() if q and q[-1] > now - 60}
        recent = self._seen.setdefault(key, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        return recent

    def exhausted(self, key: str) -> bool:
        """True when `key` used its budget (nothing is counted)."""
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.per_minute

    def spend(self, key: str) -> bool:
        """Count one event for `key`; False (and nothing counted) when its budget is used up."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent(key, now)
            if len(recent) >= self.per_minute:
                return False
            recent.append(now)
            return True
