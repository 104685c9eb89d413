"""The lock file of published form versions: ``forms/definitions/published.lock``.

It maps each published definition file to the sha256 of its *content*: the canonical JSON
(sorted keys, no whitespace) of the definition without ``accept_until``. Retiring a version
(setting ``accept_until``) is a lifecycle decision about a version, not a change to it, so it is the
only edit a published file may receive; anything else changes the hash and fails the check.
Re-formatting a file does not change its content hash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .schema_tools import sha256_hex

LOCK_NAME = "published.lock"
MUTABLE_KEYS = ("accept_until",)

_ABOUT = ("Published form versions: sha256 of each file's canonical JSON without accept_until. "
          "Published versions are immutable; do not edit by hand: use `caseflow forms publish`.")


def content_hash(definition: dict[str, Any]) -> str:
    return sha256_hex({k: v for k, v in definition.items() if k not in MUTABLE_KEYS})


def read_lock(directory: Path) -> dict[str, str]:
    path = Path(directory) / LOCK_NAME
    if not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    files = raw.get("files", {}) if isinstance(raw, dict) else {}
    return {str(k): str(v) for k, v in files.items()}


def write_lock(directory: Path, files: dict[str, str]) -> None:
    path = Path(directory) / LOCK_NAME
    body = {"about": _ABOUT, "algorithm": "sha256-canonical-json",
            "files": dict(sorted(files.items()))}
    tmp = path.with_suffix(".lock.tmp")
    tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def dump_definition(definition: dict[str, Any]) -> str:
    """How definition files are written by the authoring commands (2-space JSON, UTF-8, newline)."""
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
