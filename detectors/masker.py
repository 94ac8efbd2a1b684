"""Record-aware masking of one document (or one streamed batch of it).

Pass 1 resolves every hinted cell (``phone``, ``姓名``…) to an entity and collects the
values into a deny-list. Pass 2 masks: hinted cells whole, other cells by the pattern
scanner, and free-text cells also by the deny-list (notes repeat the customer's own
name and number) and by the free-text recognizers (names, addresses).
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import ahocorasick

from detectors.finding import Finding, ScanReport, Span
from detectors.hints import FREE_TEXT
from detectors.record_memo import PROBE_SEPARATOR, RecordResult, probe_hits, record_key
from detectors.scanner import TRIGGER
from detectors.spans import deny_spans, merge_spans

if TYPE_CHECKING:
    from detectors.engine import DetectionEngine

__all__ = ["Cell", "DocumentMasker", "Locate", "MarkHook", "merge_spans"]

MarkHook = Callable[[str, Sequence[tuple[int, int]]], str]
Locate = Callable[[int, int], str]

_UNSEEN = "\x00unseen"
_VALUE = operator.itemgetter(1)
_NON_DIGIT = re.compile(r"\D")
_DIGIT_ENTITIES = frozenset({"CN_MOBILE", "CN_LANDLINE", "PHONE_NUMBER", "CN_RESIDENT_ID",
                             "CN_BANK_CARD", "CREDIT_CARD", "BANK_ACCOUNT", "US_SSN",
                             "ID_NUMBER"})


class Cell(NamedTuple):
    """One value and the field name that hints at it; ``location`` names it in findings."""

    key: str | None
    value: str
    location: str


class DocumentMasker:
    """Masks for one caller and fills one :class:`ScanReport`.

    ``roles`` choose the masking rule of each entity; ``unmask`` lists the entities the
    access policy lets this caller see in clear (field rights), which are then kept.
    ``mark`` (an export watermark) rewrites each masked cell, given the output offsets
    of the masked pieces. ``remember_records`` lets whole records be reused from the
    engine's record memo; a stream of unique rows turns it off (nothing to reuse).
    """

    def __init__(self, engine: DetectionEngine, roles: Sequence[str], report: ScanReport,
                 unmask: frozenset[str] = frozenset(), mark: MarkHook | None = None) -> None:
        self._engine = engine
        self._roles = tuple(roles)
        self._unmask = unmask
        self._mark = mark
        self.report = report
        self._deny: dict[str, str] = {}
        self._hints: dict[str | None, str | None] = {}
        self._automaton: ahocorasick.Automaton | None = None
        self._context = (self._roles, unmask)
        self.remember_records = True
        self._serial = 0
        self._nul = False
        self._contrib: list[tuple[str, str]] | None = None
        self._events: list[tuple[int, Span]] | None = None
        self._index = 0
        self._row = 0
        self._locate: Locate | None = None
        self._counted: list[str] = []  # entities past max_findings, counted per batch

    def mask_text(self, text: str, location: str = "") -> str:
        return self.mask_batch([[Cell(None, text, location)]])[0][0]

    def mask_batch(self, records: Sequence[Sequence[Cell]],
                   locate: Locate | None = None) -> list[list[str]]:
        """Mask one batch; the deny-list is scoped to the batch, so streams stay bounded.

        Records seen before come from the engine's record memo when the batch's
        deny-list finds the same hits in them (see :mod:`detectors.record_memo`).
        ``locate(record, cell)`` names a finding's place instead of ``Cell.location``,
        so a format need not build a location string for every cell.
        """
        self._locate = locate
        self._deny = {}
        self._automaton = None
        self._serial = 0
        self._nul = False
        if self._mark is None and self.remember_records:
            out = self._mask_memoised(records)
        else:
            resolved = [[self._resolve(cell) for cell in record] for record in records]
            out = []
            for row, (record, entities) in enumerate(zip(records, resolved, strict=True)):
                self._row = row
                out.append(self._mask_record(record, entities))
        report = self.report
        report.counts.update(self._counted)
        self._counted.clear()
        report.records += len(records)
        report.values_scanned += sum(map(len, records))
        report.bytes_scanned += sum(map(len, map(_VALUE, itertools.chain.from_iterable(records))))
        return out

    def _mask_memoised(self, records: Sequence[Sequence[Cell]]) -> list[list[str]]:
        memo = self._engine.records
        keys = [record_key(self._context, record) for record in records]
        found = [memo.get(key) for key in keys]
        resolved: list[list[str | None] | None] = []
        denies: list[tuple[tuple[str, str], ...]] = []
        for record, hit in zip(records, found, strict=True):
            self._contrib = []
            if hit is None:
                resolved.append([self._resolve(cell) for cell in record])
            else:
                resolved.append(None)
                remember = self._deny.setdefault  # stored only when free of NUL
                for value, entity in hit.deny:
                    remember(value, entity)
            denies.append(hit.deny if hit is not None else tuple(self._contrib))
        self._contrib = None
        out: list[list[str]] = []
        for row, (record, key, hit, entities, deny) in enumerate(
                zip(records, keys, found, resolved, denies, strict=True)):
            self._row = row
            if hit is not None and not self._nul and self._same_hits(record, hit):
                out.append(list(hit.outputs))
                self._replay(record, hit.events)
                continue
            if entities is None:
                entities = [self._entity(cell) for cell in record]
            self._events = []
            out.append(self._mask_record(record, entities))
            probe = tuple(i for i, (cell, entity) in enumerate(zip(record, entities, strict=True))
                          if (entity is None or entity == FREE_TEXT) and len(cell.value) >= 2)
            if not self._nul:
                hits = probe_hits(record, probe, self._deny_automaton)
                memo.put(key, RecordResult(tuple(out[-1]), tuple(self._events), deny, probe,
                                           hits, self._serial if probe else 0))
            self._events = None
        return out

    def _same_hits(self, record: Sequence[Cell], hit: RecordResult) -> bool:
        """The batch deny-list finds what it found when ``hit`` was stored."""
        if not hit.probe:
            return True
        self._deny_automaton()
        if self._serial == hit.serial:
            return True
        return probe_hits(record, hit.probe, self._deny_automaton) == hit.hits

    def _mask_record(self, record: Sequence[Cell], entities: Sequence[str | None]) -> list[str]:
        row: list[str] = []
        for index, (cell, entity) in enumerate(zip(record, entities, strict=True)):
            self._index = index
            row.append(self._mask_cell(cell, entity))
        return row

    def _replay(self, record: Sequence[Cell], events: Sequence[tuple[int, Span]]) -> None:
        """Report a reused record's spans as :meth:`_record` would have."""
        report = self.report
        if self._unmask:
            report.kept.update(span.entity for _, span in events
                               if span.entity in self._unmask)
        done = 0
        for index, span in events:
            if len(report.findings) >= report.max_findings:
                break
            cell = record[index]
            self._index = index
            self._record(cell, span, cell.value[span.start : span.end])
            done += 1
        if done < len(events):
            self._counted.extend([span.entity for _, span in events[done:]])
            report.truncated = True

    def _entity(self, cell: Cell) -> str | None:
        """The entity of a hinted cell, ``FREE_TEXT``, or None (not hinted, or no fit)."""
        hint = self._hints.get(cell.key, _UNSEEN)
        if hint is _UNSEEN:
            found = self._engine.hints.lookup(cell.key)
            hint = self._hints[cell.key] = found.entity if found is not None else None
        if hint is None or hint == FREE_TEXT:
            return hint
        return self._engine.resolve(hint, cell.value)

    def _resolve(self, cell: Cell) -> str | None:
        """:meth:`_entity`, and a hinted value joins the batch deny-list."""
        entity = self._entity(cell)
        if entity is not None and entity not in (FREE_TEXT, "SECRET"):
            value = cell.value.strip()
            if len(value) >= 2:
                self._deny_value(value, entity)
            if entity in _DIGIT_ENTITIES:
                digits = _NON_DIGIT.sub("", value)
                if len(digits) >= 7:
                    self._deny_value(digits, entity)
        return entity

    def _deny_value(self, value: str, entity: str) -> None:
        self._deny.setdefault(value, entity)
        self._nul = self._nul or PROBE_SEPARATOR in value
        if self._contrib is not None:
            self._contrib.append((value, entity))

    def _deny_automaton(self) -> ahocorasick.Automaton | None:
        """The batch's deny-list as an automaton, built when a cell first needs it."""
        if self._automaton is None and self._deny:
            self._automaton, self._serial = self._engine.deny_automaton(
                tuple(self._deny.items()))
        return self._automaton

    def _mask_cell(self, cell: Cell, entity: str | None) -> str:
        """Hinted cells whole; others by pattern (a value without a trigger needs no
        scan), by the free-text recognizers if prose, and by the deny-list."""
        value = cell.value
        if entity is not None and entity != FREE_TEXT:
            return self._mask_whole(cell, entity)
        engine = self._engine
        if entity == FREE_TEXT or engine.is_free_text(value):
            found = engine.value_spans(value, cell.key or "", True)
        elif TRIGGER.search(value) is None:
            found = ()
        else:
            found = engine.value_spans(value, cell.key or "", False)
        automaton = self._deny_automaton() if len(value) >= 2 else None
        if automaton is not None:
            denied = deny_spans(value, automaton)
            if denied:
                return self._apply(cell, merge_spans([*found, *denied]))
        if not found:
            return value
        return self._apply(cell, merge_spans(list(found)))

    def _mask_whole(self, cell: Cell, entity: str) -> str:
        value = cell.value
        report = self.report
        if entity in self._unmask:
            masked = value
            report.kept[entity] += 1
        else:
            masked = self._engine.mask(entity, value, self._roles)
            if self._mark is not None:
                masked = self._mark(masked, [(0, len(masked))])
        if self._events is None and len(report.findings) >= report.max_findings:
            report.counts[entity] += 1
            report.truncated = True
        else:
            self._record(cell, Span(entity, 0, len(value), 1.0, "hint", "field"), value)
        return masked

    def _apply(self, cell: Cell, spans: list[Span]) -> str:
        value = cell.value
        pieces: list[str] = []
        regions: list[tuple[int, int]] = []
        cursor = 0
        for span in spans:
            raw = value[span.start : span.end]
            pieces.append(value[cursor : span.start])
            if span.entity in self._unmask:
                masked = raw
                self.report.kept[span.entity] += 1
            else:
                masked = self._engine.mask(span.entity, raw, self._roles)
                if self._mark is not None:
                    start = sum(map(len, pieces))
                    regions.append((start, start + len(masked)))
            pieces.append(masked)
            cursor = span.end
            self._record(cell, span, raw)
        pieces.append(value[cursor:])
        if regions and self._mark is not None:
            return self._mark("".join(pieces), regions)
        return "".join(pieces)

    def _record(self, cell: Cell, span: Span, raw: str) -> None:
        if self._events is not None:
            self._events.append((self._index, span))
        report = self.report
        if len(report.findings) >= report.max_findings:
            report.counts[span.entity] += 1
            report.truncated = True
            return
        report.add(Finding(
            entity=span.entity, start=span.start, end=span.end,
            location=cell.location if self._locate is None else self._locate(
                self._row, self._index),
            score=span.score, source=span.source, rule=span.rule,
            preview=self._engine.mask(span.entity, raw, ()),
            fingerprint=self._engine.fingerprint(raw),
        ))
