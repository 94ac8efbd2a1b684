"""The fast path: one multi-pattern pass over a value, then validation of each hit.

A cheap trigger (four digits in a row, an ``@``, a digit-dot-digit, or ``+`` and a
digit) finds where identifiers may be; only the ASCII token around each trigger is searched with the
joined alternation of every pattern, which proposes candidate start positions. At each
candidate every pattern is tried, checksums and context decide, and the best valid hit
wins (highest score, then longest). Values without a trigger cost one regex search.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence

from detectors.finding import Span
from detectors.patterns import CONTEXT_WORDS, IdentifierPattern, context_ok

__all__ = ["PatternScanner", "token_bounds"]

_TRIGGER = re.compile(r"[0-9]{4}|@|[0-9]\.[0-9]|\+[0-9]")
_TOKEN = frozenset(string.ascii_letters + string.digits + "+()._%@#-")
_JOINABLE = frozenset(string.digits + "()+")
_ALNUM = frozenset(string.ascii_letters + string.digits)
_MAX_TOKEN = 128


def _joins(left: str, right: str) -> bool:
    """A single space joins digit groups (``138 1234``, ``GB82 WEST 1234``)."""
    return (left in _JOINABLE and right in _ALNUM) or (left in _ALNUM and right in _JOINABLE)


def token_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` to the ASCII token around it.

    Every identifier is made of ASCII letters, digits and ``+()._%@#-``, with single
    spaces only between digit groups, so a hit can never cross a CJK character or a
    word gap: the token is the only place a candidate search needs to look.
    """
    lo, hi, n = start, end, len(text)
    floor, ceiling = max(0, start - _MAX_TOKEN), min(n, end + _MAX_TOKEN)
    while lo > floor and (text[lo - 1] in _TOKEN or (
            text[lo - 1] == " " and lo >= 2 and _joins(text[lo - 2], text[lo]))):
        lo -= 1
    while hi < ceiling and (text[hi] in _TOKEN or (
            text[hi] == " " and hi + 1 < n and _joins(text[hi - 1], text[hi + 1]))):
        hi += 1
    return lo, hi


class PatternScanner:
    def __init__(
        self,
        patterns: Sequence[IdentifierPattern],
        context_words: Mapping[str, Sequence[str]] = CONTEXT_WORDS,
        enabled: Iterable[str] | None = None,
    ) -> None:
        allowed = set(enabled) if enabled is not None else None
        self.patterns = tuple(p for p in patterns if allowed is None or p.entity in allowed)
        self.entities = tuple(dict.fromkeys(p.entity for p in self.patterns))
        self._compiled = tuple((p, re.compile(p.regex)) for p in self.patterns)
        self._candidates = re.compile("|".join(f"(?:{p.regex})" for p in self.patterns))
        self._context = {k: tuple(v) for k, v in context_words.items()}

    def scan(self, text: str, context: str = "") -> list[Span]:
        """Validated identifier spans in ``text``, left to right, never overlapping.

        ``context`` (e.g. the field name) counts as nearby context for weak patterns.
        """
        spans: list[Span] = []
        pos = 0
        for trigger in _TRIGGER.finditer(text):
            if trigger.end() <= pos:
                continue
            lo, hi = token_bounds(text, trigger.start(), trigger.end())
            pos = max(pos, self._scan_window(text, max(lo, pos), hi, context, spans))
        return spans

    def _scan_window(self, text: str, lo: int, hi: int, context: str,
                     spans: list[Span]) -> int:
        """Scan candidates that start in ``[lo, hi)``; return where scanning may resume."""
        pos = lo
        while pos < hi:
            match = self._candidates.search(text, pos, hi)
            if match is None:
                return pos
            best = self._best_at(text, match.start(), context)
            if best is None:
                pos = match.start() + 1
                continue
            spans.append(best)
            pos = best.end
        return pos

    def _best_at(self, text: str, start: int, context: str) -> Span | None:
        best: Span | None = None
        for pattern, regex in self._compiled:
            hit = regex.match(text, start)
            if hit is None or hit.end() == start:
                continue
            value = hit.group(0)
            if not pattern.validator(value):
                continue
            if pattern.needs_context and not self._has_context(pattern, text, hit, context):
                continue
            span = Span(pattern.entity, start, hit.end(), pattern.score, "pattern", pattern.name)
            if best is None or (span.score, span.end) > (best.score, best.end):
                best = span
        return best

    def _has_context(
        self, pattern: IdentifierPattern, text: str, hit: re.Match[str], context: str
    ) -> bool:
        words = self._context.get(pattern.entity, ())
        if context and any(w.lower() in context.lower() for w in words):
            return True
        return context_ok(pattern.name, text, hit.start(), hit.end(), words)
