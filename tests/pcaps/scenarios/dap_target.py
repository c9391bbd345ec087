"""Debuggee for the benign Debug Adapter Protocol scenario: a small report job run under
`python -m debugpy --listen HOST:PORT --wait-for-client dap_target.py` (a remote-attach setup)."""

from __future__ import annotations


def summarize(durations: list[float]) -> dict[str, float]:
    total = sum(durations)
    mean = total / len(durations)  # the client sets its breakpoint on this line
    return {"total": total, "mean": round(mean, 2), "max": max(durations)}


if __name__ == "__main__":
    print(summarize([12.5, 9.0, 14.25, 11.0]))
