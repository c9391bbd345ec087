"""`mcpeeker notify run | test CHANNEL | outbox`."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..client import make_client
from ..errors import MCPeekerError
from ..notify import NotifyResult, load, run_cycle, test_channel
from ..notify.channels import DeliveryError
from ..notify.engine import outbox_root
from ..notify.outbox import Outbox
from ..roles import authorize
from ..settings import add_connection_arguments, resolve

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def print_result(result: NotifyResult, out: Console = err_console) -> None:
    """One line per cycle (also printed by `correlate` after its own line), then any delivery error."""
    held = sum(c.held for c in result.channels.values())
    digests = sum(c.digests for c in result.channels.values())
    pending = sum(c.pending for c in result.channels.values())
    out.print(
        f"notify: {result.findings_read} finding(s) read, {result.events} event(s), {result.suppressed} suppressed, "
        f"{result.enqueued} queued, {result.duplicates} duplicate(s) dropped, {result.sent} sent, {held} held, "
        f"{digests} digest(s), {result.dead_lettered} dead-lettered, {pending} waiting, "
        f"{result.forgotten} memory entr(y/ies) of gone findings dropped, {result.seconds:.2f}s",
        highlight=False,
    )
    for channel in result.channels.values():
        for error in channel.errors:
            out.print(f"[yellow]notify:[/] {escape(error)}", highlight=False)


def cmd_run(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "notify.run")
    config = load(args.notify_config)
    if not config.channels:
        raise MCPeekerError(f"{config.source}: no channels configured")
    result = run_cycle(settings, make_client(settings), config)
    print_result(result)
    return 1 if result.dead_lettered else 0


def cmd_test(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "notify.test")
    config = load(args.notify_config)
    try:
        test_channel(config, args.channel)
    except DeliveryError as exc:
        raise MCPeekerError(f"channel {args.channel}: {exc}") from exc
    console.print(f"channel {escape(args.channel)}: test notification delivered", highlight=False)
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    settings = resolve(args)
    authorize(settings, "notify.outbox")
    if args.requeue_dead:
        authorize(settings, "notify.requeue")  # a write: the admin's, like testing channels
    config = load(args.notify_config)
    outbox = Outbox(outbox_root(settings), config.dedup_window)
    if args.requeue_dead:
        with outbox.locked():
            moved = outbox.requeue_dead(args.requeue_dead)
        console.print(f"{moved} dead letter(s) of {escape(args.requeue_dead)} queued again", highlight=False)
        return 0
    table = Table(title=f"notification outbox {outbox.root}")
    for column in ("channel", "state", "dedup key", "attempts", "reason / last error"):
        table.add_column(column, overflow="fold")
    for channel in outbox.channels():
        for state, paths in (
            ("waiting", outbox.pending(channel)),
            ("held", outbox.held(channel)),
            ("dead", outbox.dead(channel)),
        ):
            for path in paths:
                message = outbox.read(path)
                if message is None:
                    continue
                reason = path.with_suffix(".reason")
                why = reason.read_text().strip() if state == "dead" and reason.exists() else message.last_error
                table.add_row(channel, state, message.event.dedup_key, str(message.attempts), escape(why))
    console.print(table)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("notify", help="notifications: run a cycle, test a channel, show the outbox")
    actions = parser.add_subparsers(dest="notify_command", metavar="ACTION")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--notify-config", help="notification config (default: the site's notify.yaml)")
        add_connection_arguments(sub)

    run = actions.add_parser("run", help="derive, queue and deliver notifications once")
    common(run)
    run.set_defaults(func=cmd_run)
    test = actions.add_parser("test", help="send a test notification to one channel")
    test.add_argument("channel")
    common(test)
    test.set_defaults(func=cmd_test)
    outbox = actions.add_parser("outbox", help="messages waiting, held by the throttle, or dead-lettered")
    outbox.add_argument("--requeue-dead", metavar="CHANNEL", help="queue this channel's dead letters again")
    common(outbox)
    outbox.set_defaults(func=cmd_outbox)
