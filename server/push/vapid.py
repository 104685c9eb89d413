"""The VAPID key pair (RFC 8292): generated once into ``DATA/secrets/vapid_private.pem`` (mode 0600).

The public half, as the base64url uncompressed P-256 point, is what a browser passes as
``applicationServerKey`` to ``pushManager.subscribe``. Replacing the key invalidates every
subscription (push services refuse a JWT signed by another key), so it is never rotated silently.
"""

from __future__ import annotations

import base64
import contextlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid

FILE_NAME = "vapid_private.pem"
_lock = threading.Lock()
_cache: dict[str, VapidKeys] = {}


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Strict base64url (padding optional); raises ValueError."""
    if not isinstance(text, str) or not text or len(text) > 1024:
        raise ValueError("not a base64url string")
    stripped = text.rstrip("=")
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in stripped):
        raise ValueError("not a base64url string")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


@dataclass(frozen=True)
class VapidKeys:
    path: Path
    vapid: Vapid  # py_vapid signer, shared (signing is stateless)
    public_key: str  # base64url uncompressed point: the applicationServerKey


def key_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "secrets" / FILE_NAME


def _write_new(path: Path) -> None:
    """Create the key file atomically; if another thread/process won the race, keep theirs."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # fails if the file exists: never overwrite a key
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_or_create_vapid(data_dir: Path | str) -> VapidKeys:
    """The key pair of this data dir, generated on first use."""
    path = key_path(data_dir).resolve()
    with _lock:
        cached = _cache.get(str(path))
        if cached is not None:
            return cached
        if not path.exists():
            _write_new(path)
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
            raise SystemExit(f"{path} is not a P-256 private key")
        public = private.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        keys = VapidKeys(path=path, vapid=Vapid(private_key=private), public_key=b64u(public))
        _cache[str(path)] = keys
        return keys
