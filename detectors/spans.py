"""Combining spans: overlaps merged, and deny-list hits kept only on word boundaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from detectors.finding import Span

if TYPE_CHECKING:
    import ahocorasick

__all__ = ["deny_spans", "merge_spans"]


def merge_spans(spans: list[Span]) -> list[Span]:
    """Overlapping spans become one span over their union (the longest one names it)."""
    if len(spans) < 2:
        return spans
    ordered = sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))
    merged = [ordered[0]]
    for span in ordered[1:]:
        last = merged[-1]
        if span.start >= last.end:
            merged.append(span)
            continue
        if span.end > last.end:
            lead = last if last.end - last.start >= span.end - span.start else span
            merged[-1] = Span(lead.entity, last.start, span.end, max(last.score, span.score),
                              lead.source, lead.rule)
    return merged


def _boundary_ok(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start else ""
    after = text[end] if end < len(text) else ""
    first, last = text[start], text[end - 1]
    if first.isascii() and first.isalnum() and before.isascii() and before.isalnum():
        return False
    return not (last.isascii() and last.isalnum() and after.isascii() and after.isalnum())


def deny_spans(value: str, automaton: ahocorasick.Automaton) -> list[Span]:
    """Where the batch deny-list occurs in ``value``, not inside a longer ASCII word."""
    spans = []
    for end, (entity, length) in automaton.iter(value):
        start = end + 1 - length
        if _boundary_ok(value, start, end + 1):
            spans.append(Span(entity, start, end + 1, 1.0, "record", "deny-list"))
    return spans
