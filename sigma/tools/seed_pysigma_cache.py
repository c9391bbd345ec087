"""Seed pySigma's on-disk caches so `sigma check` runs offline, with our log source known.

pySigma (>= 1.0) and pySigma-validators-sigmahq download MITRE ATT&CK/D3FEND and SigmaHQ taxonomy data
on first use and keep it in ~/.cache/pysigma. This writes that cache from pysigma-offline-data.json.gz
(see build_offline_data.py) plus our own taxonomy (sigma/taxonomy/*.yaml).

    python sigma/tools/seed_pysigma_cache.py [--home DIR]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
from pathlib import Path

import diskcache
import yaml

HERE = Path(__file__).resolve().parent
SIGMA_DIR = HERE.parent
DATA = HERE / "pysigma-offline-data.json.gz"


def load_data() -> dict:
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    data = copy.deepcopy(data)
    # Keys newer pySigma reads that the older bundled release did not have.
    for key in ("mitre_attack_datasources", "mitre_attack_mitigations", "mitre_attack_software", "mitre_attack_intrusion_sets"):
        data["mitre_attack"].setdefault(key, {})
    for key in ("mitre_d3fend_tactics", "mitre_d3fend_techniques", "mitre_d3fend_artifacts"):
        data["mitre_d3fend"].setdefault(key, {})
    for path in sorted((SIGMA_DIR / "taxonomy").glob("*.yaml")):
        tax = yaml.safe_load(path.read_text(encoding="utf-8"))
        ls = tax["logsource"]
        key = f"{ls.get('product')}_{ls.get('category')}_{ls.get('service')}"
        data["sigmahq_taxonomy"]["sigmahq_taxonomy_fieldsname"][key] = sorted(tax["fields"], key=str.casefold)
        data["sigmahq_taxonomy"]["sigmahq_taxonomy_redundant_fields"][key] = []
        data["sigmahq_filename"]["sigmahq_filename_pattern"][key] = tax["prefix"]
    return data


def seed(home: Path) -> Path:
    from sigma.validators.sigmahq.data.base import _JSONDisk

    base = home / ".cache" / "pysigma"
    data = load_data()
    for name in ("mitre_attack", "mitre_d3fend"):
        with diskcache.Cache(str(base / name)) as cache:
            cache.set(f"{name}_data", data[name])
    with diskcache.Cache(str(base / "sigmahq"), disk=_JSONDisk) as cache:
        for prefix in ("sigmahq_filename", "sigmahq_taxonomy", "sigmahq_eventid", "sigmahq_provider"):
            cache.set(f"{prefix}_default", data[prefix])
    return base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path.home(), help="home directory whose ~/.cache to seed")
    print(f"seeded {seed(parser.parse_args().home)}")


if __name__ == "__main__":
    main()
