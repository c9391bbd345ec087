"""Notifications: findings that notify (new unauthorized server, severity raised, reopened, registry entry expiring)
over webhook, syslog and e-mail, through a persistent outbox. See docs/notify.md."""

from __future__ import annotations

from .config import NotifyConfig, load
from .engine import NotifyResult, notify_due, run_cycle, test_channel

__all__ = ["NotifyConfig", "NotifyResult", "load", "notify_due", "run_cycle", "test_channel"]
