"""`mcpeeker init` and `mcpeeker keys …`: the command line of mcpeeker.site (the logic lives in site/init.py, keys.py, rotate.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from .. import audit
from ..errors import ConfigError
from ..roles import authorize, with_as
from ..settings import Settings, add_connection_arguments, config_path, resolve
from ..site.init import DEFAULT_DIR, init_site
from ..site.rotate import Ring, ring_file
from ..site.rotate import rotate as rotate_ring

console = Console(soft_wrap=True, highlight=False)


def cmd_init(args: argparse.Namespace) -> int:
    result = init_site(args.directory, force=args.force, url=args.url, index_prefix=args.index_prefix)
    for path in result.written:
        mode = f" (mode {path.stat().st_mode & 0o777:04o})" if path.parent.name == "keys" else ""
        console.print(f"wrote {path}{mode}")
    for path in result.kept:
        console.print(f"kept  {path} (exists; --force replaces it)")
    settings = result.directory / "mcpeeker.yaml"
    console.print(f"site key {result.key_ids['site']}, audit key {result.key_ids['audit']}")
    hint = "" if settings == Path("/etc/mcpeeker/mcpeeker.yaml") else f"export MCPEEKER_CONFIG={settings}; "
    console.print(
        f"next: edit {settings} (cluster URL, CA), then `{hint}mcpeeker setup`. Give agents a copy of "
        f"{result.directory / 'keys/site.key'} (mode 0600); keep keys/audit.key on SIEM hosts only."
    )
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    return with_as(resolve(args), getattr(args, "as_identity", None))


def cmd_rotate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    actor = authorize(settings, "keys.rotate")
    which: Ring = "audit" if args.audit else "site"
    ring_file(settings, which)  # an inline key: stop before connecting
    from ..client import make_client

    done = rotate_ring(settings, make_client(settings), actor, which)
    console.print(
        f"{which} key ring {done.path}: new current key {done.new.current.id}; kept "
        f"{', '.join(k.id for k in done.old.keys)} for lookups"
    )
    console.print(f"audit record {done.record['seq']} ({audit.ROTATE_ACTION}) signed with {done.signer.id}")
    if which == "site":
        console.print(
            "give agents the new key file; documents carry mcpeeker.key_id, `mcpeeker keys lookup` finds a value under every key"
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    settings = resolve(args)
    console.print(f"settings: {config_path(getattr(args, 'config_file', None))}")
    for which, loader in (("site", settings.site_keys), ("audit", settings.audit_keys)):
        try:
            ring = loader()
        except ConfigError as exc:
            console.print(f"{which}: [red]{exc}[/]")
            continue
        ids = ", ".join(f"{k.id}{' (current)' if k is ring.current else ''}" for k in ring.keys)
        console.print(f"{which}: {ring.source}: {ids}")
    return 0


LOOKUP_KINDS = {"host": "", "network-user": "", "agent-user": "user:", "raw": ""}


def cmd_lookup(args: argparse.Namespace) -> int:
    """The keyed hash of a value under every site key, so a search finds it across rotations."""
    ring = resolve(args).site_keys()
    value = LOOKUP_KINDS[args.kind] + args.value
    for kid, digest in ring.hashes(value).items():
        console.print(f"{kid}{' (current)' if kid == ring.current.id else '          '}  {digest}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    init = subparsers.add_parser("init", help="write an editable config set and generate the site and audit keys")
    init.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR, help=f"where (default {DEFAULT_DIR})")
    init.add_argument(
        "--force", action="store_true", help="replace existing keys and config files (old hashes become unjoinable)"
    )
    init.add_argument("--url", default="http://127.0.0.1:9200", help="cluster URL to write into the settings")
    init.add_argument("--index-prefix", default="", help="index prefix to write into the settings")
    init.set_defaults(func=cmd_init)

    parser = subparsers.add_parser("keys", help="the site and audit key rings: list, rotate, look a value up")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rotate = actions.add_parser(
        "rotate", help="add a new current key (old keys stay for lookups); recorded in the audit chain"
    )
    rotate.add_argument("--audit", action="store_true", help="rotate the audit key instead of the site key")
    rotate.add_argument("--as", dest="as_identity", help="act as this identity (needs keys.rotate: admin)")
    add_connection_arguments(rotate)
    rotate.set_defaults(func=cmd_rotate)
    listing = actions.add_parser("list", help="key ids of both rings (never the keys)")
    add_connection_arguments(listing)
    listing.set_defaults(func=cmd_list)
    lookup = actions.add_parser("lookup", help="a value's keyed hash under every site key (search all of them)")
    lookup.add_argument("value", help="machine id, user name, …")
    lookup.add_argument(
        "--kind",
        choices=sorted(LOOKUP_KINDS),
        default="host",
        help="host ids and network user names hash the value itself; agent user ids hash 'user:NAME'",
    )
    add_connection_arguments(lookup)
    lookup.set_defaults(func=cmd_lookup)
