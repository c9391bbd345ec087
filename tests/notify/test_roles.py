"""Who may do what with notifications (configs/roles.yaml): analysts run a cycle and read the outbox; testing a
channel and re-queueing dead letters stay with the admin; developers do none of it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mcpeeker.roles import PermissionDenied, authorize
from mcpeeker.settings import Settings

ACTIONS = ("notify.run", "notify.outbox", "notify.test", "notify.requeue")
ALLOWED = {
    "admin": set(ACTIONS),
    "analyst": {"notify.run", "notify.outbox"},
    "developer": set(),
}


@pytest.mark.parametrize("identity", sorted(ALLOWED))
def test_notify_actions_per_role(identity: str) -> None:
    settings = replace(Settings(), identity=identity)
    for action in ACTIONS:
        if action in ALLOWED[identity]:
            assert authorize(settings, action).role == identity
        else:
            with pytest.raises(PermissionDenied, match=f"may not {action}"):
                authorize(settings, action)


def test_an_analyst_reads_the_outbox_but_may_not_requeue(tmp_path: Path) -> None:
    """Refused before any file or cluster is touched: no node is needed for the refusals."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(Path.home()),
        "MCPEEKER_STATE_DIR": str(tmp_path),
    }

    def notify(identity: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mcpeeker.cli", "notify", *args, "--url", "http://127.0.0.1:9"],
            capture_output=True,
            text=True,
            env={**env, "MCPEEKER_IDENTITY": identity},
            timeout=60,
        )

    requeue = notify("analyst", "outbox", "--requeue-dead", "soc")
    assert requeue.returncode == 2 and "may not notify.requeue" in requeue.stderr
    channel = notify("analyst", "test", "soc")
    assert channel.returncode == 2 and "may not notify.test" in channel.stderr
    outbox = notify("developer", "outbox")
    assert outbox.returncode == 2 and "may not notify.outbox" in outbox.stderr
    assert not list(tmp_path.iterdir()), "a refused command wrote nothing"
