"""Record-aware masking of one document (or one streamed batch of it).

Pass 1 resolves every hinted cell (``phone``, ``姓名``…) to an entity and collects the
values into a deny-list. Pass 2 masks: hinted cells whole, other cells by the pattern
scanner, and free-text cells also by the deny-list (notes repeat the customer's own
name and number) and by the free-text recognizers (names, addresses).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ahocorasick

from detectors.finding import Finding, ScanReport, Span
from detectors.hints import FREE_TEXT

if TYPE_CHECKING:
    from detectors.engine import DetectionEngine

__all__ = ["Cell", "DocumentMasker", "merge_spans"]

_CJK = re.compile(r"[\u3400-\u9fff]")
_NON_DIGIT = re.compile(r"\D")
_DIGIT_ENTITIES = frozenset({"CN_MOBILE", "CN_LANDLINE", "PHONE_NUMBER", "CN_RESIDENT_ID",
                             "CN_BANK_CARD", "CREDIT_CARD", "BANK_ACCOUNT", "US_SSN",
                             "ID_NUMBER"})


@dataclass(frozen=True, slots=True)
class Cell:
    key: str | None
    value: str
    location: str


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


class DocumentMasker:
    """Masks for one caller and fills one :class:`ScanReport`.

    ``roles`` choose the masking rule of each entity; ``unmask`` lists the entities the
    access policy lets this caller see in clear (field rights), which are then kept.
    """

    def __init__(self, engine: DetectionEngine, roles: Sequence[str], report: ScanReport,
                 unmask: frozenset[str] = frozenset()) -> None:
        self._engine = engine
        self._roles = tuple(roles)
        self._unmask = unmask
        self.report = report
        self._deny: dict[str, str] = {}

    def mask_text(self, text: str, location: str = "") -> str:
        return self.mask_batch([[Cell(None, text, location)]])[0][0]

    def mask_batch(self, records: Sequence[Sequence[Cell]]) -> list[list[str]]:
        """Mask one batch; the deny-list is scoped to the batch, so streams stay bounded."""
        self._deny = {}
        resolved = [[self._resolve(cell) for cell in record] for record in records]
        automaton = self._automaton()
        out: list[list[str]] = []
        for record, entities in zip(records, resolved, strict=True):
            self.report.records += 1
            out.append([self._mask_cell(cell, entity, automaton)
                        for cell, entity in zip(record, entities, strict=True)])
        return out

    def _resolve(self, cell: Cell) -> str | None:
        hint = self._engine.hints.lookup(cell.key)
        if hint is None or hint.entity == FREE_TEXT:
            return FREE_TEXT if hint is not None else None
        entity = self._engine.resolve(hint.entity, cell.value)
        if entity is not None and entity != "SECRET":
            self._remember(entity, cell.value.strip())
        return entity

    def _remember(self, entity: str, value: str) -> None:
        if len(value) >= 2:
            self._deny.setdefault(value, entity)
        if entity in _DIGIT_ENTITIES:
            digits = _NON_DIGIT.sub("", value)
            if len(digits) >= 7:
                self._deny.setdefault(digits, entity)

    def _automaton(self) -> ahocorasick.Automaton | None:
        if not self._deny:
            return None
        automaton = ahocorasick.Automaton()
        for value, entity in self._deny.items():
            automaton.add_word(value, (entity, len(value)))
        automaton.make_automaton()
        return automaton

    def _mask_cell(self, cell: Cell, entity: str | None,
                   automaton: ahocorasick.Automaton | None) -> str:
        value = cell.value
        self.report.values_scanned += 1
        self.report.bytes_scanned += len(value)
        if entity is not None and entity != FREE_TEXT:
            spans = [Span(entity, 0, len(value), 1.0, "hint", "field")]
        else:
            free = entity == FREE_TEXT or self._engine.is_free_text(value)
            found = self._engine.value_spans(value, cell.key or "", free)
            if automaton is not None and len(value) >= 2:
                spans = merge_spans([*found, *self._deny_spans(value, automaton)])
            else:
                spans = merge_spans(list(found))
        if not spans:
            return value
        return self._apply(cell, spans)

    @staticmethod
    def _deny_spans(value: str, automaton: ahocorasick.Automaton) -> list[Span]:
        spans = []
        for end, (entity, length) in automaton.iter(value):
            start = end + 1 - length
            if _boundary_ok(value, start, end + 1):
                spans.append(Span(entity, start, end + 1, 1.0, "record", "deny-list"))
        return spans

    def _apply(self, cell: Cell, spans: list[Span]) -> str:
        value = cell.value
        pieces: list[str] = []
        cursor = 0
        for span in spans:
            raw = value[span.start : span.end]
            if span.entity in self._unmask:
                masked = raw
                self.report.kept[span.entity] += 1
            else:
                masked = self._engine.mask(span.entity, raw, self._roles)
            pieces.append(value[cursor : span.start])
            pieces.append(masked)
            cursor = span.end
            self._record(cell, span, raw)
        pieces.append(value[cursor:])
        return "".join(pieces)

    def _record(self, cell: Cell, span: Span, raw: str) -> None:
        report = self.report
        if len(report.findings) >= report.max_findings:
            report.counts[span.entity] += 1
            report.truncated = True
            return
        report.add(Finding(
            entity=span.entity, location=cell.location, start=span.start, end=span.end,
            score=span.score, source=span.source, rule=span.rule,
            preview=self._engine.mask(span.entity, raw, ()),
            fingerprint=self._engine.fingerprint(raw),
        ))
