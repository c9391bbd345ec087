"""`mcpeeker keys rotate`: a new current key in the site or audit key ring, recorded in the audit chain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import audit
from ..errors import ConfigError
from ..roles import Actor
from ..settings import Settings
from . import keys

Ring = Literal["site", "audit"]


@dataclass(frozen=True)
class Rotation:
    which: Ring
    path: Path
    old: keys.KeyRing
    new: keys.KeyRing
    signer: keys.Key
    record: dict[str, Any]


def ring_file(settings: Settings, which: Ring) -> Path:
    """The key file of a ring; an inline key (settings or environment) cannot be rotated in place."""
    path = settings.site_key_file if which == "site" else settings.audit_key_file
    inline = settings.site_key if which == "site" else settings.audit_key
    setting = (
        "privacy.site_key_file / MCPEEKER_SITE_KEY_FILE"
        if which == "site"
        else "audit.key_file / MCPEEKER_AUDIT_KEY_FILE"
    )
    if inline or not path:
        raise ConfigError(
            f"rotating the {which} key needs a key file ({setting}), not an inline key; `mcpeeker init` writes one"
        )
    return Path(path)


def rotate(settings: Settings, client: Any, actor: Actor, which: Ring) -> Rotation:
    path = ring_file(settings, which)
    old_ring = keys.read_ring(path)
    new_ring = keys.rotated(old_ring)
    signer = settings.audit_keys().current  # the audit key in use now signs the rotation record
    # The key file first, then the record; a failed record puts the old file back, so both change or neither.
    keys.save_ring(new_ring, path, which)
    try:
        record = audit.record_rotation(settings, client, actor, which, old_ring.current, new_ring.current, signer)
    except BaseException:
        keys.save_ring(old_ring, path, which)
        raise
    return Rotation(which, path, old_ring, new_ring, signer, record)
