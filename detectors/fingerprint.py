"""Keyed HMAC-SHA256 fingerprints: stable, non-reversible references to values."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["Fingerprinter"]


class Fingerprinter:
    """``fp(value)`` is the same for the same key and value, and reveals nothing else."""

    def __init__(self, key: bytes, length: int = 16) -> None:
        if len(key) < 16:
            raise ValueError("fingerprint key must be at least 16 bytes")
        self._key = key
        self._length = length

    def fp(self, value: str | bytes) -> str:
        data = value.encode("utf-8") if isinstance(value, str) else value
        return "hmac:" + hmac.new(self._key, data, hashlib.sha256).hexdigest()[: self._length]
