"""How a long-running service (`correlate --every`, `maintain --every`) rides out a cluster it cannot reach: each
failed attempt is said with its wait, the wait grows, and the return to work is said once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable


def service_backoff(failures: int) -> float:
    """0.5 s after the first failure, doubling up to 30 s: a node restart or a primary's re-election takes seconds
    to a minute, and a service must neither hammer a recovering cluster nor wait long once it is back."""
    return float(min(30.0, 0.5 * 2 ** min(failures - 1, 10)))


@dataclass
class Backoff:
    """Consecutive failed attempts of one service. `say(text, error)` writes a line of the service's log."""

    service: str
    say: Callable[[str, bool], None]
    failures: int = 0

    def failed(self, what: str, exc: BaseException) -> None:
        """Say what failed and wait before the next attempt."""
        self.failures += 1
        delay = service_backoff(self.failures)
        self.say(f"{self.service}: {what} (attempt {self.failures}, retrying in {delay:g}s): {exc}", True)
        time.sleep(delay)

    def succeeded(self, what: str) -> None:
        """After failures: say that the work goes on again, once."""
        if self.failures:
            self.say(f"{self.service}: {what} after {self.failures} failed attempt(s)", False)
            self.failures = 0
