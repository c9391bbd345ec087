"""Rebuild pysigma-offline-data.json.gz: the reference data pySigma's validators normally download at run
time (MITRE ATT&CK / D3FEND ids, SigmaHQ taxonomy and filename conventions), so `sigma check` works on
machines without general internet access (our CI reaches only package registries).

The data comes from the last releases that shipped it inside the wheel; fetch them with pip:
    pip download --no-deps pysigma==0.11.23 pysigma-validators-sigmahq==0.10.1 -d /tmp/oldsig
    python sigma/tools/build_offline_data.py /tmp/oldsig
"""

from __future__ import annotations

import gzip
import json
import sys
import types
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "pysigma-offline-data.json.gz"


def _module(wheel: Path, member: str) -> types.ModuleType:
    with zipfile.ZipFile(wheel) as zf:
        source = zf.read(member).decode()
    module = types.ModuleType(member)
    exec(compile(source, member, "exec"), module.__dict__)  # noqa: S102 - trusted release wheel data module
    return module


def _key(ls) -> str:
    return f"{ls.product}_{ls.category}_{ls.service}"


def build(wheels: Path) -> dict:
    core = next(wheels.glob("pysigma-0.11*.whl"))
    hq = next(wheels.glob("pysigma_validators_sigmahq-0.10*.whl"))
    attack = _module(core, "sigma/data/mitre_attack.py")
    d3fend = _module(core, "sigma/data/mitre_d3fend.py")
    data = _module(hq, "sigma/validators/sigmahq/sigmahq_data.py")
    return {
        "mitre_attack": {k: getattr(attack, k) for k in dir(attack) if k.startswith("mitre_attack_")},
        "mitre_d3fend": {k: getattr(d3fend, k) for k in dir(d3fend) if k.startswith("mitre_d3fend_")},
        "sigmahq_filename": {"sigmahq_filename_version": data.file_pattern_version,
                             "sigmahq_filename_pattern": {_key(k): v for k, v in data.ref_sigmahq_logsource_filepattern.items()}},
        "sigmahq_taxonomy": {"sigmahq_taxonomy_version": data.taxonomy_version,
                             "sigmahq_taxonomy_fieldsname": {_key(k): v for k, v in data.ref_sigmahq_fieldsname.items()},
                             "sigmahq_taxonomy_redundant_fields": {_key(k): v for k, v in data.ref_sigmahq_redundant_field.items()},
                             "sigmahq_taxonomy_logsource_definition": {_key(k): v for k, v in data.ref_sigmahq_logsource_definition.items()}},
        "sigmahq_eventid": {"sigmahq_category_no_eventid_version": data.windows_version,
                            "sigmahq_category_no_eventid": list(data.ref_windows_no_eventid)},
        "sigmahq_provider": {"sigmahq_provider_version": data.windows_version,
                             "sigmahq_provider_name": {_key(k): v for k, v in data.ref_windows_provider_name.items()}},
    }


if __name__ == "__main__":
    result = build(Path(sys.argv[1]))
    with gzip.open(OUT, "wt", encoding="utf-8") as handle:
        json.dump(result, handle, sort_keys=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
