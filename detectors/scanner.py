"""The fast path: one multi-pattern pass over a value, then validation of each hit.

A cheap trigger (four digits in a row, an ``@``, a digit-dot-digit, or ``+`` and a
digit) finds where identifiers may be; a value without one costs a single C-level regex
search. Only the ASCII tokens that hold a trigger are searched. In a token, candidate
starts are the positions where the shared left boundary holds and the character can
begin some pattern; there only the patterns that can begin with that character are
tried, highest score first, and a validator runs only when its hit could still win.
Checksums and context decide, and the best valid hit wins (highest score, then
longest, then table order).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from detectors.finding import Span
from detectors.patterns import BEFORE, CONTEXT_WORDS, IdentifierPattern, context_ok

__all__ = ["TRIGGER", "PatternScanner", "first_chars", "token_bounds"]

TRIGGER = re.compile(r"[0-9]{4}|@|[0-9]\.[0-9]|\+[0-9]")
_TOKEN = frozenset(string.ascii_letters + string.digits + "+()._%@#-")
_JOINABLE = frozenset(string.digits + "()+")
_ALNUM = frozenset(string.ascii_letters + string.digits)
_MAX_TOKEN = 128
_TOKEN_RUN = re.compile(
    r"[A-Za-z0-9+()._%@#-]+"
    r"(?:(?:(?<=[0-9()+])[ ](?=[A-Za-z0-9])|(?<=[A-Za-z0-9])[ ](?=[0-9()+]))"
    r"[A-Za-z0-9+()._%@#-]+)*"
)
_Plan = tuple[re.Pattern[str], tuple[IdentifierPattern, ...]]


def _joins(left: str, right: str) -> bool:
    """A single space joins digit groups (``138 1234``, ``GB82 WEST 1234``)."""
    return (left in _JOINABLE and right in _ALNUM) or (left in _ALNUM and right in _JOINABLE)


def token_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` to the ASCII token around it (at most 128 more each side).

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


def first_chars(regex: str) -> frozenset[str] | None:
    """The ASCII characters a match of ``regex`` can begin with; None if not sure.

    Lookarounds are skipped (they consume nothing). Anything the analysis does not
    know (a class with categories or negation, non-ASCII, flags, backreferences) gives
    None, and the scanner then tries every pattern everywhere, as the joined
    alternation does.
    """
    try:
        parser: Any = getattr(re, "_parser")  # noqa: B009 - a private module, read only
        parsed = parser.parse(regex)
        if parsed.state.flags & re.IGNORECASE:
            return None
        found, nullable = _first(parsed.data)
    except Exception:
        return None
    return None if nullable else frozenset(found)


class _UnsureError(Exception):
    """The analysis cannot bound what a pattern starts with."""


def _first(items: Any) -> tuple[set[str], bool]:
    """First characters of a parsed sequence, and whether it can match empty."""
    out: set[str] = set()
    for op, arg in items:
        if str(op) in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        found, nullable = _FIRST[str(op)](arg)
        out |= found
        if not nullable:
            return out, False
    return out, True


def _literal(code: int) -> tuple[set[str], bool]:
    if code >= 128:
        raise _UnsureError
    return {chr(code)}, False


def _in(items: Any) -> tuple[set[str], bool]:
    chars: set[str] = set()
    for kind, value in items:
        if str(kind) == "LITERAL":
            chars |= _literal(value)[0]
        elif str(kind) == "RANGE" and value[1] < 128:
            chars.update(map(chr, range(value[0], value[1] + 1)))
        else:
            raise _UnsureError
    return chars, False


def _repeat(arg: Any) -> tuple[set[str], bool]:
    found, nullable = _first(arg[2])
    return found, nullable or arg[0] == 0


def _subpattern(arg: Any) -> tuple[set[str], bool]:
    if arg[1] & re.IGNORECASE:
        raise _UnsureError
    return _first(arg[3])


def _branch(arg: Any) -> tuple[set[str], bool]:
    results = [_first(branch) for branch in arg[1]]
    return set().union(*(found for found, _ in results)), any(empty for _, empty in results)


_FIRST: dict[str, Callable[[Any], tuple[set[str], bool]]] = {
    "LITERAL": _literal, "IN": _in, "MAX_REPEAT": _repeat, "MIN_REPEAT": _repeat,
    "SUBPATTERN": _subpattern, "BRANCH": _branch,
}


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
        self._context = {k: tuple(w.lower() for w in v) for k, v in context_words.items()}
        self._by_first, self._starts = self._plan()

    def _plan(self) -> tuple[dict[str, _Plan] | None, re.Pattern[str] | None]:
        """Per first character: the patterns that can start with it, best score first,
        and one regex that tries them all at once (each in a capturing lookahead, so a
        single C-level match gives every pattern's own first match). None if unknown."""
        by_first: dict[str, list[IdentifierPattern]] = {}
        for pattern in sorted(self.patterns, key=lambda p: -p.score):
            chars = first_chars(pattern.core) if pattern.regex.startswith(BEFORE) else None
            if chars is None or re.compile(pattern.regex).groups:
                return None, None
            for char in chars:
                by_first.setdefault(char, []).append(pattern)
        if not by_first:
            return None, None
        plans = {char: (re.compile("".join(f"(?:(?=({p.regex}))|)" for p in group)),
                        tuple(group))
                 for char, group in by_first.items()}
        lead = "".join(sorted(re.escape(c) for c in by_first))
        return plans, re.compile(f"{BEFORE}(?=[{lead}])")

    def scan(self, text: str, context: str = "") -> list[Span]:
        """Validated identifier spans in ``text``, left to right, never overlapping.

        ``context`` (e.g. the field name) counts as nearby context for weak patterns.
        """
        spans: list[Span] = []
        if TRIGGER.search(text) is None or not self._compiled:
            return spans
        pos = 0
        for token in _TOKEN_RUN.finditer(text):
            lo, hi = token.span()
            if hi <= pos:
                continue
            if hi - lo > _MAX_TOKEN:
                pos = self._scan_long(text, lo, hi, pos, (context, spans))
            elif self._triggered(text, lo, hi, pos):
                pos = max(pos, self._scan_window(text, max(lo, pos), hi, context, spans))
        return spans

    @staticmethod
    def _triggered(text: str, lo: int, hi: int, pos: int) -> bool:
        """Some trigger in the token ``[lo, hi)`` ends after ``pos``."""
        if pos <= lo:
            return TRIGGER.search(text, lo, hi) is not None
        return any(t.end() > pos for t in TRIGGER.finditer(text, lo, hi))

    def _scan_long(self, text: str, lo: int, hi: int, pos: int,
                   where: tuple[str, list[Span]]) -> int:
        """A token over 128 characters: windows of 128 around each trigger, as ever."""
        for trigger in TRIGGER.finditer(text, lo, hi):
            if trigger.end() <= pos:
                continue
            start, end = token_bounds(text, trigger.start(), trigger.end())
            pos = max(pos, self._scan_window(text, max(start, pos), end, *where))
        return pos

    def _scan_window(self, text: str, lo: int, hi: int, context: str,
                     spans: list[Span]) -> int:
        """Scan candidates that start in ``[lo, hi)``; return where scanning may resume."""
        if self._starts is None:
            return self._scan_window_slow(text, lo, hi, context, spans)
        pos = lo
        while pos < hi:
            start = self._starts.search(text, pos, hi)
            if start is None:
                return pos
            best = self._best_at(text, start.start(), hi, context)
            if best is None:
                pos = start.start() + 1
                continue
            spans.append(best)
            pos = best.end
        return pos

    def _best_at(self, text: str, start: int, hi: int, context: str) -> Span | None:
        """The best valid hit at ``start``, if ``start`` is a candidate of ``[.., hi)``.

        A candidate, as for the joined alternation, is a start where some pattern
        matches inside the window; the hit itself may run past it.
        """
        assert self._by_first is not None
        regex, group = self._by_first[text[start]]
        hits = regex.match(text, start)
        assert hits is not None
        best: tuple[float, int, IdentifierPattern] | None = None
        inside = False
        for pattern, value in zip(group, hits.groups(), strict=True):
            if not value:
                continue
            end = start + len(value)
            inside = inside or end <= hi
            if best is not None and (pattern.score, end) <= best[:2]:
                continue
            if not pattern.validator(value):
                continue
            if pattern.needs_context and not self._has_context(pattern, text, (start, end),
                                                               context):
                continue
            best = (pattern.score, end, pattern)
        if best is None:
            return None
        if not inside:
            truncated = regex.match(text, start, hi)
            if truncated is None or not any(truncated.groups()):
                return None
        score, end, pattern = best
        return Span(pattern.entity, start, end, score, "pattern", pattern.name)

    def _scan_window_slow(self, text: str, lo: int, hi: int, context: str,
                          spans: list[Span]) -> int:
        pos = lo
        while pos < hi:
            match = self._candidates.search(text, pos, hi)
            if match is None:
                return pos
            best: Span | None = None
            for pattern, regex in self._compiled:
                hit = regex.match(text, match.start())
                if hit is None or hit.end() == match.start() or not pattern.validator(
                        hit.group(0)) or (pattern.needs_context and not self._has_context(
                        pattern, text, hit.span(), context)):
                    continue
                span = Span(pattern.entity, match.start(), hit.end(), pattern.score,
                            "pattern", pattern.name)
                if best is None or (span.score, span.end) > (best.score, best.end):
                    best = span
            if best is None:
                pos = match.start() + 1
                continue
            spans.append(best)
            pos = best.end
        return pos

    def _has_context(
        self, pattern: IdentifierPattern, text: str, hit: tuple[int, int], context: str
    ) -> bool:
        words = self._context.get(pattern.entity, ())
        if context:
            lowered = context.lower()
            if any(w in lowered for w in words):
                return True
        return context_ok(pattern.name, text, hit[0], hit[1], words)
