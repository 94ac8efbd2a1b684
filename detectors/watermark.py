"""Per-export watermarks hidden in masked values, and how to read them back.

Every run of mask characters the masker produced (``110105********4803``) is rewritten,
position by position, as the plain ``*`` or a look-alike glyph (``∗``, U+2217). The
choice is bit ``i`` of HMAC-SHA256(export key, context of the run), where the context is
what stays visible around the run: up to four word characters before it, its length, up
to four after it. Whoever holds the key can recompute the expected glyphs from any copy
of the text: rows may be cut out, reordered, or moved between CSV, XLSX and JSON. Only
mask positions change, so no clear value is altered and nothing hidden is revealed.

Reading: :func:`read_marks` collects the runs of a text (plain or look-alike), and
:func:`score` counts how many glyphs agree with one export's key. A file that did not
come from that export agrees on each glyph with probability 1/2, so the chance of ``a``
agreements out of ``n`` is bounded by ``exp(-n·KL(a/n ‖ 1/2))`` (Chernoff).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["ALT_GLYPHS", "GLYPH", "Evidence", "Mark", "Watermark", "alt_glyph", "export_key",
           "read_marks", "score"]

GLYPH = "*"
ALT_GLYPHS = ("\u2217", "\ufe61", "\uff0a")
_RUN = re.compile("[" + re.escape(GLYPH + "".join(ALT_GLYPHS)) + "]+")
_PLAIN_RUN = re.compile(re.escape(GLYPH) + "+")
_CONTEXT = 4
_MAX_BITS = 256
_WORDISH = frozenset("-@._")


def export_key(secret: bytes, watermark_id: str) -> bytes:
    """The key of one export, derived from the gateway's watermark secret."""
    return hmac.new(secret, b"watermark:" + watermark_id.encode(), hashlib.sha256).digest()


def alt_glyph(charset: str | None) -> str | None:
    """The look-alike glyph the body's charset can encode, or None (then no mark)."""
    if not charset:
        return ALT_GLYPHS[0]
    for glyph in ALT_GLYPHS:
        try:
            glyph.encode(charset)
        except UnicodeEncodeError:
            continue
        except LookupError:
            return ALT_GLYPHS[0]
        return glyph
    return None


def _wordish(char: str) -> bool:
    return char.isalnum() or char in _WORDISH


def _context(text: str, start: int, end: int) -> tuple[str, str]:
    before = start
    while before > 0 and start - before < _CONTEXT and _wordish(text[before - 1]):
        before -= 1
    after = end
    while after < len(text) and after - end < _CONTEXT and _wordish(text[after]):
        after += 1
    return text[before:start], text[end:after]


def _expected(key: bytes, before: str, length: int, after: str) -> int:
    """Bit ``i`` (least significant first) says whether position ``i`` is a look-alike."""
    message = f"{before}\x1f{length}\x1f{after}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest, "little") & ((1 << min(length, _MAX_BITS)) - 1)


class Watermark:
    """Marks the mask runs of one export; ``mark`` is the masker's per-cell hook."""

    def __init__(self, key: bytes, glyph: str = ALT_GLYPHS[0]) -> None:
        self._key = key
        self._glyph = glyph

    def mark(self, text: str, regions: Sequence[tuple[int, int]]) -> str:
        """``text`` with every plain run lying inside one of ``regions`` rewritten."""
        if GLYPH not in text:
            return text
        out: list[str] = []
        cursor = 0
        for run in _PLAIN_RUN.finditer(text):
            start, end = run.span()
            if not any(low <= start and end <= high for low, high in regions):
                continue
            before, after = _context(text, start, end)
            bits = _expected(self._key, before, end - start, after)
            out.append(text[cursor:start])
            out.extend(self._glyph if bits >> i & 1 else GLYPH for i in range(end - start))
            cursor = end
        if not out:
            return text
        out.append(text[cursor:])
        return "".join(out)


@dataclass(frozen=True, slots=True)
class Mark:
    """One run as found in a text: its context and which positions are look-alikes."""

    before: str
    length: int
    after: str
    observed: int


def read_marks(text: str) -> set[Mark]:
    """Every run of plain or look-alike mask glyphs in ``text`` (duplicates folded)."""
    marks: set[Mark] = set()
    for run in _RUN.finditer(text):
        start, end = run.span()
        before, after = _context(text, start, end)
        observed = 0
        for i, char in enumerate(run.group()[:_MAX_BITS]):
            if char != GLYPH:
                observed |= 1 << i
        marks.add(Mark(before, end - start, after, observed))
    return marks


@dataclass(frozen=True, slots=True)
class Evidence:
    """How well a set of marks fits one export key."""

    agree: int
    total: int
    alt_seen: bool

    @property
    def fraction(self) -> float:
        return self.agree / self.total if self.total else 0.0

    @property
    def log_p(self) -> float:
        """Natural log of the chance bound that an unrelated file agrees this well."""
        q = self.fraction
        if self.total == 0 or q <= 0.5:
            return 0.0
        kl = q * math.log(2 * q) + (1 - q) * math.log(2 * (1 - q)) if q < 1 else math.log(2)
        return -self.total * kl


def score(key: bytes, marks: Iterable[Mark]) -> Evidence:
    agree = total = 0
    alt_seen = False
    for mark in marks:
        bits = min(mark.length, _MAX_BITS)
        expected = _expected(key, mark.before, mark.length, mark.after)
        agree += bits - (expected ^ mark.observed).bit_count()
        total += bits
        alt_seen = alt_seen or mark.observed != 0
    return Evidence(agree, total, alt_seen)
