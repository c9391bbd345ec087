"""`mcpeeker notify test CHANNEL | run | outbox` as a person runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcpeeker.settings import Settings

from .conftest import Hook
from .test_correlate_hook import command, env, ingest_hosts

pytestmark = pytest.mark.opensearch


def run(settings: Settings, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(settings, "notify", *args), capture_output=True, text=True, env=env(settings, state))


def test_notify_test_run_and_outbox(os_settings: Settings, hook: Hook, tmp_path: Path) -> None:
    config = tmp_path / "notify.yaml"
    config.write_text(f"enabled: true\nchannels:\n  soc: {{type: webhook, url: '{hook.url}', retries: 0}}\n")
    state = tmp_path / "state"
    result = run(os_settings, state, "test", "soc", "--notify-config", str(config))
    assert result.returncode == 0 and "test notification delivered" in result.stdout, result.stderr
    assert hook.wait(1)[0]["json"]["kind"] == "test"
    unknown = run(os_settings, state, "test", "pager", "--notify-config", str(config))
    assert unknown.returncode == 2 and "no channel 'pager' (channels: soc)" in unknown.stderr

    # A receiver that refuses: `run` dead-letters (exit 1), `outbox` shows why, --requeue-dead retries it.
    ingest_hosts(os_settings, tmp_path, 1)
    assert (
        subprocess.run(
            command(os_settings, "correlate", "--once"), capture_output=True, env=env(os_settings, state)
        ).returncode
        == 0
    )
    hook.mode = "reject"
    refused = run(os_settings, state, "run", "--notify-config", str(config))
    assert refused.returncode == 1 and "1 dead-lettered" in refused.stderr and "HTTP 400" in refused.stderr
    listing = run(os_settings, state, "outbox", "--notify-config", str(config))
    assert listing.returncode == 0 and "dead" in listing.stdout and "HTTP 400" in listing.stdout
    hook.mode = "ok"
    assert run(os_settings, state, "outbox", "--requeue-dead", "soc", "--notify-config", str(config)).returncode == 0
    again = run(os_settings, state, "run", "--notify-config", str(config))
    assert again.returncode == 0 and "1 sent" in again.stderr
    assert [r["json"]["kind"] for r in hook.requests] == ["test", "new_unauthorized", "new_unauthorized"]


def test_notify_run_without_channels_names_the_file(os_settings: Settings, tmp_path: Path) -> None:
    config = tmp_path / "notify.yaml"
    config.write_text("enabled: true\n")
    result = run(os_settings, tmp_path / "state", "run", "--notify-config", str(config))
    assert result.returncode == 2 and f"{config}: no channels configured" in result.stderr
