"""The catalogue of public remote MCP endpoints (detections/remote/endpoints.yaml): load, check, merge, render.

Which host names and URL paths belong to a public MCP service (mcp.notion.com, api.githubcopilot.com/mcp ...),
whether the host is dedicated to MCP (a DNS answer, TLS SNI or proxy CONNECT to it is evidence) or shared with
ordinary traffic (only a URL path tells), and where each entry comes from. The sensors' files are rendered here
and written by scripts/catalogue.py (`make catalogue`): the Suricata datasets (base64 lines, Suricata's format
for `type string`), the shared-path pcre of the HTTP rule and the Zeek Intel file. `mcpeeker catalogue update FILE`
merges a newer list through `merge()`.

Stdlib and PyYAML only (jsonschema is imported where the schema is checked), so scripts/catalogue.py can load this
file before the package is installed.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

# A site's own entries name this source; they need no `sources` entry and `update` never removes them.
LOCAL_SOURCE = "local"
# Zeek Intel meta.source of every item generated from the catalogue: how the MCP hook tells them from threat intel.
INTEL_SOURCE = "mcpeeker-remote-mcp"
DATASET_DEDICATED = "mcpeeker-remote-mcp-dedicated"
DATASET_SHARED = "mcpeeker-remote-mcp-shared"

HEADER = """\
# Public remote MCP services: which host names and URL paths belong to an MCP service, for the network sensors
# (Suricata datasets, Zeek Intel items) and the ingest side. Validated by schemas/remote-endpoints.schema.json and
# tests/remote/test_endpoints.py; `make catalogue` regenerates the sensor files from it, and
# `mcpeeker catalogue update FILE` merges a newer list a site downloads.
#
# Every entry names its source (a key of `sources`); nothing here is guessed. `transport` follows the URL the
# source lists (a path ending in /sse is the legacy HTTP+SSE transport, anything else Streamable HTTP).
# `dedicated: true`: the host name serves MCP only (mcp.<vendor>, *-mcp.<vendor>), so DNS, TLS SNI or a proxy
# CONNECT to it is evidence. `dedicated: false`: a shared API or web host (api.githubcopilot.com, hf.co,
# *.googleapis.com) where only the URL path (cleartext or TLS-inspected HTTP, a proxy's URL log) tells MCP apart.
"""


class RemoteCatalogueError(ValueError):
    """A catalogue file that cannot be used; the message names the file and the entry or field."""


@dataclass(frozen=True)
class Source:
    url: str
    description: str
    file: str = ""
    commit: str = ""


@dataclass(frozen=True)
class Endpoint:
    service: str
    name: str
    vendor: str
    host: str
    paths: tuple[str, ...]
    transport: tuple[str, ...]
    auth: tuple[str, ...]
    dedicated: bool
    source: str
    note: str = ""

    def urls(self) -> list[str]:
        """host + path as Zeek's HTTP::build_url writes it (no scheme): the Intel::URL indicators."""
        return [self.host + p for p in self.paths]


@dataclass(frozen=True)
class RemoteCatalogue:
    sources: dict[str, Source]
    endpoints: tuple[Endpoint, ...]

    def by_host(self) -> dict[str, Endpoint]:
        return {e.host: e for e in self.endpoints}

    def dedicated(self) -> list[Endpoint]:
        return [e for e in self.endpoints if e.dedicated]

    def shared(self) -> list[Endpoint]:
        return [e for e in self.endpoints if not e.dedicated]


@dataclass
class MergeReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_local: list[str] = field(default_factory=list)


def schema_path() -> Path:
    """The schema beside the data: the checkout's schemas/ (scripts, tests) or the package data (installed)."""
    here = Path(__file__).resolve()
    for root in (here.parents[2], here.parent / "_data"):
        candidate = root / "schemas" / "remote-endpoints.schema.json"
        if candidate.is_file():
            return candidate
    raise RemoteCatalogueError("schemas/remote-endpoints.schema.json not found beside the package")


def _mcp_label(host: str) -> bool:
    return any("mcp" in label for label in host.split("."))


def check(data: Any, where: str, schema: bool = True) -> RemoteCatalogue:
    """Parse a loaded document: JSON Schema (when `schema`), then what a schema cannot say."""
    if schema:
        import jsonschema

        validator = jsonschema.Draft202012Validator(json.loads(schema_path().read_text(encoding="utf-8")))
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            err = errors[0]
            at = "/".join(str(p) for p in err.absolute_path) or "(top level)"
            raise RemoteCatalogueError(f"{where}: {at}: {err.message}")
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), list):
        raise RemoteCatalogueError(f"{where}: expected a mapping with `sources` and `endpoints`")
    try:
        sources = {k: Source(**v) for k, v in (data.get("sources") or {}).items()}
    except TypeError as exc:
        raise RemoteCatalogueError(f"{where}: sources: {exc}") from None
    endpoints: list[Endpoint] = []
    hosts: dict[str, int] = {}
    services: dict[str, int] = {}
    for i, raw in enumerate(data["endpoints"]):
        if not isinstance(raw, dict):
            raise RemoteCatalogueError(f"{where}: endpoints[{i}]: expected a mapping")
        at = f"{where}: endpoints[{i}] ({raw.get('host', '?')})"
        missing = [k for k in ("service", "name", "vendor", "host", "paths", "transport", "auth", "dedicated", "source")
                   if k not in raw]  # fmt: skip
        if missing:
            raise RemoteCatalogueError(f"{at}: missing {', '.join(missing)}")
        ep = Endpoint(
            service=raw["service"],
            name=raw["name"],
            vendor=raw["vendor"],
            host=raw["host"],
            paths=tuple(raw["paths"]),
            transport=tuple(raw["transport"]),
            auth=tuple(raw["auth"]),
            dedicated=bool(raw["dedicated"]),
            source=raw["source"],
            note=raw.get("note", ""),
        )
        if ep.host in hosts:
            raise RemoteCatalogueError(
                f"{at}: host also in endpoints[{hosts[ep.host]}]; merge the paths into one entry"
            )
        if ep.service in services:
            raise RemoteCatalogueError(f"{at}: service {ep.service!r} also in endpoints[{services[ep.service]}]")
        hosts[ep.host], services[ep.service] = i, i
        if ep.source != LOCAL_SOURCE and ep.source not in sources:
            raise RemoteCatalogueError(f"{at}: source {ep.source!r} is not in `sources`")
        if ep.dedicated and not _mcp_label(ep.host):
            # A host without "mcp" in its name is almost always shared; say why in `note` if it is not.
            if not ep.note:
                raise RemoteCatalogueError(f"{at}: dedicated, but no label of the host names MCP; add a `note`")
        if not ep.dedicated:
            bad = [p for p in ep.paths if not _SHARED_PATH.search(p)]
            if bad:
                raise RemoteCatalogueError(
                    f"{at}: shared host, so every path needs a segment 'mcp' or 'sse' (the HTTP rule keys on it): {bad}"
                )
        endpoints.append(ep)
    return RemoteCatalogue(sources, tuple(endpoints))


def load(path: Path, schema: bool = True) -> RemoteCatalogue:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise RemoteCatalogueError(f"{path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise RemoteCatalogueError(f"{path}:{line}: not YAML: {getattr(exc, 'problem', exc)}") from exc
    return check(data, str(path), schema=schema)


# --- merge ---------------------------------------------------------------------------------------------------------


def merge(current: RemoteCatalogue, newer: RemoteCatalogue) -> tuple[RemoteCatalogue, MergeReport]:
    """The newer list replaces the published entries (matched by host); the site's own (`source: local`) stay
    unless the newer list now covers their host. Sources are the union, newer first."""
    report = MergeReport()
    old = current.by_host()
    new_hosts = newer.by_host()
    out: list[Endpoint] = []
    for ep in newer.endpoints:
        before = old.get(ep.host)
        if before is None:
            report.added.append(ep.host)
        elif before != ep:
            report.changed.append(ep.host)
        out.append(ep)
    for ep in current.endpoints:
        if ep.host in new_hosts:
            continue
        if ep.source == LOCAL_SOURCE:
            report.kept_local.append(ep.host)
            out.append(ep)
        else:
            report.removed.append(ep.host)
    services = [e.service for e in out]
    clash = sorted({s for s in services if services.count(s) > 1})
    if clash:
        raise RemoteCatalogueError(f"merged catalogue would name service(s) {clash} on two hosts")
    sources = {**current.sources, **newer.sources}
    used = {e.source for e in out}
    return RemoteCatalogue({k: v for k, v in sources.items() if k in used}, tuple(out)), report


def to_document(cat: RemoteCatalogue) -> dict[str, Any]:
    def source(s: Source) -> dict[str, str]:
        return {k: v for k, v in asdict(s).items() if v}

    def endpoint(e: Endpoint) -> dict[str, Any]:
        d: dict[str, Any] = {
            "service": e.service,
            "name": e.name,
            "vendor": e.vendor,
            "host": e.host,
            "paths": list(e.paths),
            "transport": list(e.transport),
            "auth": list(e.auth),
            "dedicated": e.dedicated,
            "source": e.source,
        }
        if e.note:
            d["note"] = e.note
        return d

    return {
        "version": 1,
        "sources": {k: source(v) for k, v in cat.sources.items()},
        "endpoints": [endpoint(e) for e in cat.endpoints],
    }


class _Dumper(yaml.SafeDumper):
    """Lists of strings in flow style ([/sse]), one entry per block: the file stays diffable."""


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = all(isinstance(v, str) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(list, _list)


def dump(cat: RemoteCatalogue) -> str:
    body = yaml.dump(to_document(cat), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
    return HEADER + "\n" + body


# --- sensor files --------------------------------------------------------------------------------------------------


def dataset_text(endpoints: Iterable[Endpoint]) -> str:
    """A Suricata `type string` dataset: one base64-encoded host name per line (Suricata 7's load format)."""
    hosts = sorted({e.host for e in endpoints})
    return "".join(base64.b64encode(h.encode()).decode() + "\n" for h in hosts)


# The http.uri pcre of the shared-host rule (suricata/mcp-remote.rules): a path segment `mcp` or `sse`, then the end,
# a '/' or a query. check() holds every shared path of the catalogue to it, so the rule never needs editing when
# a site adds a shared host to the dataset.
SHARED_PATH_PCRE = r"/(?:^|\/)(?:mcp|sse)(?:[\/?]|$)/"
_SHARED_PATH = re.compile(r"(?:^|/)(?:mcp|sse)(?:[/?]|$)")


INTEL_HEADER = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n"


def intel_text(cat: RemoteCatalogue) -> str:
    """The Zeek Intel file: Intel::DOMAIN for dedicated hosts, Intel::URL (host + path) for every known path of a
    shared host. meta.desc is `<service> dedicated|shared` (the notice reads the service id from it)."""
    rows = []
    for e in sorted(cat.endpoints, key=lambda x: x.host):
        url = cat.sources[e.source].url if e.source in cat.sources else "-"
        if e.dedicated:
            rows.append((e.host, "Intel::DOMAIN", f"{e.service} dedicated", url))
        else:
            rows.extend((u, "Intel::URL", f"{e.service} shared", url) for u in e.urls())
    return INTEL_HEADER + "".join(f"{i}\t{t}\t{INTEL_SOURCE}\t{d}\t{u}\n" for i, t, d, u in rows)


# File names the sensors load: the Suricata datasets sit beside mcp-remote.rules (Suricata resolves a relative
# `load` against the rule file's directory), the Intel file beside zeek/scripts/mcp/remote.zeek.
DATASET_FILES = {DATASET_DEDICATED: "mcp-remote-dedicated.lst", DATASET_SHARED: "mcp-remote-shared.lst"}
INTEL_FILE = "remote-endpoints.intel"


def sensor_files(cat: RemoteCatalogue) -> dict[str, str]:
    """File name -> text of the data files a site refreshes after an update (the rules themselves do not change)."""
    return {
        DATASET_FILES[DATASET_DEDICATED]: dataset_text(cat.dedicated()),
        DATASET_FILES[DATASET_SHARED]: dataset_text(cat.shared()),
        INTEL_FILE: intel_text(cat),
    }


ZEEK_TABLE_FILE = "remote-endpoints.zeek"


def _zeek_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def zeek_table_text(cat: RemoteCatalogue) -> str:
    """zeek/scripts/mcp/remote-endpoints.zeek: host -> "<service> dedicated|shared <path> ...", the ``&redef``
    table remote.zeek inserts into the Intel framework (a site adds one with ``redef MCP::remote_endpoints +=``).
    Laid out as zeek-format lays it out (a long entry breaks after ``=``), so the file stays format-clean."""
    lines = [
        "##! Public remote MCP endpoints, generated from detections/remote/endpoints.yaml",
        "##! by scripts/catalogue.py (``make catalogue``): edit the catalogue and",
        "##! regenerate; do not edit this file. The table stays ``&redef``.",
        "",
        "module MCP;",
        "",
        "export {",
        '\t## Host name -> "<service> dedicated|shared <MCP path> ...".',
        "\tconst remote_endpoints: table[string] of string = {",
    ]
    for e in sorted(cat.endpoints, key=lambda x: x.host):
        value = " ".join([e.service, "dedicated" if e.dedicated else "shared", *sorted(e.paths)])
        line = f"\t\t[{_zeek_string(e.host)}] = {_zeek_string(value)},"
        rest = f"\t\t    {_zeek_string(value)},"
        # zeek-format: 80 columns, a tab as 4; it breaks after '=' only where that makes the value fit.
        if len(line.expandtabs(4)) > 80 and len(rest.expandtabs(4)) <= 80:
            line = f"\t\t[{_zeek_string(e.host)}] =\n{rest}"
        lines.append(line)
    lines += ["\t} &redef;", "}", ""]
    return "\n".join(lines)


# --- matching (the ingest side) ------------------------------------------------------------------------------------


def catalogue_path() -> Path:
    """detections/remote/endpoints.yaml of the checkout, or of the package data in an installed wheel."""
    here = Path(__file__).resolve()
    for root in (here.parents[2], here.parent / "_data"):
        candidate = root / "detections" / "remote" / "endpoints.yaml"
        if candidate.is_file():
            return candidate
    raise RemoteCatalogueError("detections/remote/endpoints.yaml not found beside the package")


def _host_name(host: str) -> str:
    """Lower case, without a port or the root's trailing dot: how the catalogue writes names."""
    host = host.strip().lower()
    if host.startswith("[") or host.count(":") > 1:  # an IPv6 literal is never a catalogue name
        return ""
    return host.partition(":")[0].rstrip(".")


class Matcher:
    """Which catalogue service a host name, or a host and URL path, belongs to."""

    def __init__(self, cat: RemoteCatalogue) -> None:
        self._hosts = cat.by_host()
        self._services = {e.service: e for e in cat.endpoints}

    def service(self, service_id: str) -> Endpoint | None:
        """The catalogue entry of a service id (findings name the service, the registry may name its host)."""
        return self._services.get(service_id)

    def host(self, name: str) -> Endpoint | None:
        """A dedicated host (DNS, SNI, CONNECT): the name alone is evidence. Shared hosts never match here."""
        ep = self._hosts.get(_host_name(name))
        return ep if ep is not None and ep.dedicated else None

    def url(self, host: str, path: str) -> Endpoint | None:
        """A request URL: any path of a dedicated host, an MCP path (segment mcp or sse) of a shared one."""
        ep = self._hosts.get(_host_name(host))
        if ep is None:
            return None
        return ep if ep.dedicated or _SHARED_PATH.search(path.partition("?")[0]) else None


_DEFAULT: list[Matcher] = []


def default_matcher() -> Matcher:
    """The matcher over the shipped catalogue, loaded once (schema checks skipped: the tests hold the file)."""
    if not _DEFAULT:
        _DEFAULT.append(Matcher(load(catalogue_path(), schema=False)))
    return _DEFAULT[0]
