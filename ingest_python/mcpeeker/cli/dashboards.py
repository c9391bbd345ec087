"""`mcpeeker dashboards install|export` (the import API client and the export are in mcpeeker.dashboards)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from ..dashboards import export, install
from ..kibana_objects import build, load_spec, to_ndjson
from ..settings import add_connection_arguments, resolve

console = Console(stderr=True)


def cmd_install(args: argparse.Namespace) -> int:
    settings = resolve(args)
    flavour, base_url = (
        ("kibana", args.kibana_url) if args.kibana_url else ("opensearch-dashboards", args.dashboards_url)
    )
    if args.file:
        ndjson = Path(args.file).read_text(encoding="utf-8")
    else:
        ndjson = to_ndjson(build(load_spec(args.spec), flavour, settings.index_prefix))
    result = install(base_url, flavour, ndjson, settings, args.space)
    for error in result.errors:
        console.print(f"[red]error[/] {error.get('type')}/{error.get('id')}: {json.dumps(error.get('error'))}")
    if not result.success:
        console.print(
            f"[red]import incomplete:[/] {result.success_count} objects imported, {len(result.errors)} failed"
        )
        return 1
    console.print(f"[green]imported[/] {result.success_count} saved objects into {base_url}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    for path in export(Path(args.out), args.spec, args.index_prefix or ""):
        print(path)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dashboards", help="install or export the Kibana / OpenSearch Dashboards content")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    inst = actions.add_parser("install", help="import the saved objects through the saved-objects import API")
    target = inst.add_mutually_exclusive_group(required=True)
    target.add_argument("--kibana-url", help="Kibana 8.x base URL (data views, kbn-xsrf)")
    target.add_argument("--dashboards-url", help="OpenSearch Dashboards 2.x base URL (index patterns, osd-xsrf)")
    inst.add_argument("--space", help="Kibana space id (default space when omitted)")
    inst.add_argument("--file", type=Path, help="import this NDJSON instead of generating it from the spec")
    inst.add_argument("--spec", type=Path, help="dashboard spec (default dashboards/kibana/spec.yaml)")
    add_connection_arguments(inst)
    inst.set_defaults(func=cmd_install)

    exp = actions.add_parser("export", help="write both NDJSON files (Kibana, OpenSearch Dashboards) from the spec")
    exp.add_argument("--out", required=True, help="directory to write into")
    exp.add_argument("--spec", type=Path, help="dashboard spec (default dashboards/kibana/spec.yaml)")
    exp.add_argument("--index-prefix", help="prefix for the index-pattern titles (default none)")
    exp.set_defaults(func=cmd_export)
