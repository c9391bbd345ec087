"""How long a long-running service (`correlate --every`, `maintain --every`) waits after a failed attempt."""

from __future__ import annotations


def service_backoff(failures: int) -> float:
    """0.5 s after the first failure, doubling up to 30 s: a node restart or a primary's re-election takes seconds
    to a minute, and a service must neither hammer a recovering cluster nor wait long once it is back."""
    return float(min(30.0, 0.5 * 2 ** min(failures - 1, 10)))
