"""`--explain`: a developer sees, in plain words, exactly what a scan would send (nothing is sent)."""

from __future__ import annotations

import json
from typing import Any


def explain(report: dict[str, Any], options: Any, key_source: str) -> str:
    lines = [
        "mcpeeker-agent --explain: this is what one scan would send. Nothing was sent or written.",
        "",
        "Privacy:",
        f"  - host_id {report['host_id'][:16]}… is an HMAC of this machine's id with the site key ({key_source});",
        "    the machine id and host name themselves are not sent.",
        "  - user names are sent only as keyed hashes (process.user_id); home directories appear as ~.",
        "  - from config files: server names, commands, arguments (secret-looking ones replaced by REDACTED),",
        "    URLs (credentials and token query values REDACTED), env var NAMES and header NAMES.",
        "    Env and header VALUES are never sent; a value that looks like a committed secret is reported",
        "    only as its kind and a keyed fingerprint.",
        "  - snippets are at most 1 KB and are built from the fields above, never copied from the file.",
        "  - project directories: the scanned home as ~, another user's home as ~<keyed hash>, plus a keyed id.",
        "  - scripts of listening Python/Node processes are read here (256 KB at most) for MCP SDK imports;",
        "    only the fixed indicator names are sent, never the script's content.",
        "",
        f"Scanned homes: {', '.join('~' if i == 0 else str(h) for i, h in enumerate(options.homes))}; OS layout: {options.os_name};"
        f" processes: {'yes' if options.processes else 'no'}; listeners: {'yes' if options.listeners else 'no'};"
        f" probe: {'yes (127.0.0.1 only)' if options.probe else 'no'}",
        f"Host addresses sent: {', '.join(report['host'].get('ips', [])) or '(none)'}",
        f"Listening ports sent: {', '.join(map(str, report['host'].get('listening_ports', []))) or '(none)'}",
        "",
        f"Evidence ({len(report['evidence'])} items, local score {report['local_score']}):",
    ]
    for ev in report["evidence"]:
        lines.append(f"  [{ev['type']}] score {ev['score']}: {ev.get('reason', '')}")
        cfg = ev.get("config")
        if cfg:
            lines.append(
                f"      file {ev.get('file', {}).get('path')} ({cfg.get('client')}, {cfg.get('scope')}, {cfg.get('change')})"
            )
            if cfg.get("project"):
                lines.append(f"      project {cfg['project']} (keyed project id {cfg.get('project_id')})")
            if cfg.get("env_names"):
                lines.append(f"      env names: {', '.join(cfg['env_names'])}")
            for s in cfg.get("secrets", []):
                lines.append(
                    f"      committed secret in {s['field']}: kind {s['kind']}, fingerprint {s['fingerprint']} (value not sent)"
                )
        found = (ev.get("process") or {}).get("sdk")
        if found:
            lines.append(
                f"      script {found['script']} was read on this host (its content is not sent): "
                f"{', '.join(found['indicators'])}, confidence {found['confidence']}"
            )
        if ev.get("risk"):
            lines.append(f"      risk: {', '.join(ev['risk'])}")
    if report.get("errors"):
        lines.append("")
        lines.append(f"Problems ({len(report['errors'])}), sent as errors[]:")
        lines += [f"  {e['where']}: {e['error']}" for e in report["errors"]]
    lines += ["", "The exact report (one NDJSON line when sent):", json.dumps(report, indent=2, ensure_ascii=False), ""]
    return "\n".join(lines)
