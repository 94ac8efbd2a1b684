"""Append-only JSON-lines request log (one line per request, never a body)."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson

__all__ = ["RequestLog"]

log = logging.getLogger("dlpgw.audit")


class RequestLog:
    """Buffered writer; ``flush`` is called periodically and on close.

    Writes go to an OS-buffered file, so an append costs a memory copy on the event
    loop; ``flush`` pushes the buffer to the kernel, ``sync`` to the disk.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("ab", buffering=256 * 1024)
        self._lock = threading.Lock()
        self.failures = 0

    def append(self, entry: dict[str, Any]) -> bool:
        try:
            line = orjson.dumps(entry) + b"\n"
            with self._lock:
                self._file.write(line)
        except (OSError, TypeError, ValueError) as exc:
            self.failures += 1
            log.error("request log write failed: %s", type(exc).__name__)
            return False
        return True

    def writable(self) -> bool:
        return not self._file.closed and os.access(self.path, os.W_OK)

    def flush(self, sync: bool = False) -> None:
        with self._lock:
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                self._file.close()
