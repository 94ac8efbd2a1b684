"""The audit chain's cryptography: canonical entries, SHA-256 links, Ed25519 checkpoints.

An entry's hash is ``SHA-256(prev_hash + canonical)``, where ``prev_hash`` is the previous
entry's hash as 64 lower-case hex characters (64 zeros before the first entry) and
``canonical`` is the entry ``{"actor", "at", "kind", "payload", "seq"}`` serialised by
orjson with sorted keys and no whitespace. A checkpoint signs ``seq``, the head hash at
that ``seq``, its time, reason and key id with Ed25519, so a signed head cannot be moved
without the private key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "GENESIS",
    "Checkpoint",
    "Signer",
    "canonical",
    "checkpoint_message",
    "entry_body",
    "entry_hash",
    "format_time",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_pem",
    "verify_checkpoint",
]

GENESIS = "0" * 64
_DOMAIN = b"dlpgw-audit-checkpoint-v1\n"
_SORTED = orjson.OPT_SORT_KEYS


def canonical(value: Any) -> bytes:
    """Compact JSON with sorted keys (orjson); the one encoding that is hashed."""
    return orjson.dumps(value, option=_SORTED)


def format_time(epoch: float) -> str:
    """UTC, fixed width, so that string order is time order: ``2025-01-31T08:00:00.000000Z``."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def entry_body(seq: int, at: str, kind: str, actor: str | None, payload: bytes) -> bytes:
    """``canonical({"actor", "at", "kind", "payload", "seq"})``, payload already canonical."""
    return b"".join((
        b'{"actor":', orjson.dumps(actor), b',"at":', orjson.dumps(at),
        b',"kind":', orjson.dumps(kind), b',"payload":', payload,
        b',"seq":', str(seq).encode(), b"}",
    ))


def entry_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + body).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: the chain's hash after entry ``seq`` was ``head_hash``."""

    seq: int
    head_hash: str
    at: str
    reason: str
    key_id: str
    signature: str = ""


def checkpoint_message(cp: Checkpoint) -> bytes:
    return _DOMAIN + canonical({"at": cp.at, "head_hash": cp.head_hash, "key_id": cp.key_id,
                                "reason": cp.reason, "seq": cp.seq})


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class Signer:
    """Signs checkpoints with one Ed25519 private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def checkpoint(self, seq: int, head_hash: str, at: str, reason: str) -> Checkpoint:
        unsigned = Checkpoint(seq, head_hash, at, reason, self.key_id)
        signature = self._key.sign(checkpoint_message(unsigned))
        return Checkpoint(seq, head_hash, at, reason, self.key_id,
                          base64.b64encode(signature).decode("ascii"))


def verify_checkpoint(cp: Checkpoint, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """``None`` when the signature holds; otherwise why not."""
    public_key = keys.get(cp.key_id)
    if public_key is None:
        return f"checkpoint signed by an unknown key (key id {cp.key_id})"
    try:
        signature = base64.b64decode(cp.signature, validate=True)
        public_key.verify(signature, checkpoint_message(cp))
    except (InvalidSignature, ValueError):
        return "checkpoint signature is invalid"
    return None


def generate_key(path: Path, *, overwrite: bool = False) -> Ed25519PrivateKey:
    """A new private key written as PKCS#8 PEM, readable by the owner only (0600).

    The file appears complete or not at all (written aside, then linked into place), so
    several workers starting at once agree on one key: the losers get ``FileExistsError``.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.replace(aside, path)
        else:
            os.link(aside, path)
    finally:
        aside.unlink(missing_ok=True)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key PEM, or the public half of a private key PEM."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key
