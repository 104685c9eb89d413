"""File-system primitives of the embedded store, and the TinyDB storage of its shard files.

Everything here is about getting bytes onto the disk so that a crash (process kill or power
loss) leaves either the old or the new content, never a mixture:

* ``atomic_write``: write a temp file in the same directory, fsync it, ``os.replace`` it over the
  target, then fsync the directory so the rename itself is durable.
* ``AtomicJSONStorage``: a TinyDB ``Storage`` that writes with that protocol (TinyDB's own
  ``JSONStorage`` rewrites the file in place and can leave it unreadable after a kill).
* ``open_shard``: open a shard file with TinyDB itself (documents keyed by their string id).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from .fastjson import loads

TMP_PREFIX = ".tmp-"


def fsync_dir(path: str) -> None:
    """Make the directory entry changes (create, rename, unlink) in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically and durably (see the module docstring).

    With ``sync_dir=False`` the caller promises to ``fsync_dir`` before relying on the rename
    (used to batch many shard writes behind one directory fsync)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(directory)


def remove_orphan_temps(directories: Iterable[str]) -> list[str]:
    """Delete temp files left by a crash in the middle of ``atomic_write``; returns their paths."""
    removed = []
    for d in directories:
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            continue
        for name in names:
            if name.startswith(TMP_PREFIX):
                p = os.path.join(d, name)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)
                    removed.append(p)
    return removed


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file.

    ``read`` parses the file (``None`` when absent or empty: an empty database). ``write`` dumps
    the whole database and replaces the file atomically. ``write_text`` does the same with JSON
    the caller has already serialised (the store builds shard files from the JSON text it keeps
    in memory, which avoids a parse/dump round trip). ``access_mode="r"`` makes writes fail.
    """

    def __init__(self, path: str, create_dirs: bool = False, access_mode: str = "r+",
                 sync_dir: bool = True, **json_kwargs: Any):
        self.path = os.path.abspath(path)
        self.access_mode = access_mode
        self.sync_dir = sync_dir
        self.json_kwargs = json_kwargs
        if create_dirs:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        if not raw:
            return None
        return loads(raw)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self.write_text(json.dumps(data, **self.json_kwargs))

    def write_text(self, text: str) -> None:
        if self.access_mode == "r":
            raise OSError(f"{self.path} is opened read-only")
        atomic_write(self.path, text.encode("utf-8"), sync_dir=self.sync_dir)

    def close(self) -> None:  # no handle is kept open
        pass


class StrIdTable(Table):
    """A TinyDB table whose document ids are the store's string ids (TinyDB defaults to ints)."""

    document_id_class = str  # type: ignore[assignment]


class ShardDB(TinyDB):
    table_class = StrIdTable


def open_shard(path: str) -> TinyDB:
    """Open one shard file with TinyDB, read-only: ``open_shard(p).table("cases").get(doc_id="c-1")``
    returns ``{"version": .., "seq": .., "deleted": .., "data": {...}}``."""
    return ShardDB(path, storage=AtomicJSONStorage, access_mode="r")
