"""The detection engine: built once from settings, shared by every request.

It owns the fast pattern scanner, the field-hint table, the free-text recognizers
(Chinese names and addresses; English NER when a spaCy pipeline is configured), any
user recognizers (Presidio ``EntityRecognizer`` instances), the masking operators and
the masking policy. Per document, :meth:`masker` returns a :class:`DocumentMasker`.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import ahocorasick
from presidio_analyzer import EntityRecognizer
from presidio_anonymizer.operators import Operator

from detectors.finding import ScanReport, Span
from detectors.fingerprint import Fingerprinter
from detectors.hints import HintTable
from detectors.intl_patterns import INTL_PATTERNS
from detectors.masker import DocumentMasker, MarkHook
from detectors.memo import DocumentCache, Memo
from detectors.operators import MaskingRules, build_operators
from detectors.patterns import IDENTIFIER_PATTERNS
from detectors.record_memo import RecordKey, RecordResult, weigh_record
from detectors.resolve import resolve_hinted
from detectors.scanner import PatternScanner

__all__ = ["DetectionEngine", "DetectionSettings", "TextRecognizer"]

_AUTOMATA = 2
_PROSE = re.compile(r"[\u3400-\u9fff]|[A-Za-z]{2,}\s+[A-Za-z]{2,}")


def _weigh_spans(key: tuple[str, str], spans: tuple[Span, ...]) -> int:
    """Rough bytes of a memo entry: string data (UCS-2 for CJK), tuples, dict slot."""
    return 2 * len(key[1]) + 200 + 120 * len(spans)


def _weigh_masked(key: tuple[str, str, tuple[str, ...]], masked: str) -> int:
    return 2 * (len(key[1]) + len(masked)) + 250


def _weigh_resolved(key: tuple[str, str], entity: str) -> int:
    return 2 * len(key[1]) + 150


class TextRecognizer(Protocol):
    """A free-text recognizer the engine calls directly (no Presidio overhead)."""

    entity: str

    def applies(self, text: str) -> bool: ...

    def find(self, text: str) -> list[tuple[int, int, float]]: ...


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    entities: frozenset[str] | None = None
    extra_hints: dict[str, str] = field(default_factory=dict)
    operator_keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    min_free_text: int = 6
    memo_size: int = 100_000
    memo_bytes: int = 32 * 1024 * 1024
    document_cache_bytes: int = 64 * 1024 * 1024


class DetectionEngine:
    def __init__(
        self,
        settings: DetectionSettings,
        policy: MaskingRules,
        fingerprinter: Fingerprinter,
        text_recognizers: Sequence[TextRecognizer] = (),
        user_recognizers: Sequence[EntityRecognizer] = (),
    ) -> None:
        self.settings = settings
        self._min_free_text = settings.min_free_text
        self.policy = policy
        self.scanner = PatternScanner(INTL_PATTERNS + IDENTIFIER_PATTERNS,
                                      enabled=settings.entities)
        self.hints = HintTable(settings.extra_hints)
        self.operators: dict[str, Operator] = build_operators()
        self._fingerprinter = fingerprinter
        self._text = tuple(
            r for r in text_recognizers
            if settings.entities is None or r.entity in settings.entities
        )
        self._user = tuple(user_recognizers)
        self.text_entities = frozenset(r.entity for r in self._text)
        # Two generations each, so a generation gets half of its memo's share.
        share = settings.memo_bytes // 8
        self._spans: Memo[tuple[str, str], tuple[Span, ...]] = Memo(
            settings.memo_size, share, _weigh_spans)
        self._masked: Memo[tuple[str, str, tuple[str, ...]], str] = Memo(
            settings.memo_size, share // 2, _weigh_masked)
        self._resolved: Memo[tuple[str, str], str] = Memo(
            settings.memo_size, share // 2, _weigh_resolved)
        self.records: Memo[RecordKey, RecordResult] = Memo(
            settings.memo_size, 2 * share, weigh_record)
        self._automata: dict[tuple[tuple[str, str], ...],
                             tuple[ahocorasick.Automaton, int]] = {}
        self._serials = itertools.count(1)
        self._automata_lock = threading.Lock()
        self.documents = DocumentCache(settings.document_cache_bytes)
        self._bound: dict[tuple[str, tuple[str, ...]], tuple[Operator, dict[str, Any]]] = {}

    def masker(self, roles: Sequence[str], report: ScanReport | None = None,
               unmask: frozenset[str] = frozenset(),
               mark: MarkHook | None = None) -> DocumentMasker:
        return DocumentMasker(self, roles, report or ScanReport(), unmask, mark)

    def deny_automaton(self, deny: tuple[tuple[str, str], ...],
                       ) -> tuple[ahocorasick.Automaton, int]:
        """An automaton over a batch deny-list, and its serial number (the same serial
        means the same deny-list). The last few are kept: a repeated page has the same
        deny-list, and building one costs ~1 µs per value."""
        with self._automata_lock:
            found = self._automata.get(deny)
        if found is None:
            automaton = ahocorasick.Automaton()
            for value, entity in deny:
                automaton.add_word(value, (entity, len(value)))
            automaton.make_automaton()
            with self._automata_lock:
                while len(self._automata) >= _AUTOMATA:
                    del self._automata[next(iter(self._automata))]
                found = self._automata[deny] = (automaton, next(self._serials))
        return found

    def fingerprint(self, raw: str) -> str:
        return self._fingerprinter.fp(raw)

    def is_free_text(self, value: str) -> bool:
        return len(value) >= self._min_free_text and _PROSE.search(value) is not None

    def resolve(self, hint: str, value: str) -> str | None:
        """The entity of a hinted value (memoised; ``""`` stands for "does not fit")."""
        key = (hint, value)
        entity = self._resolved.get(key)
        if entity is None:
            entity = resolve_hinted(hint, value) or ""
            self._resolved.put(key, entity)
        return entity or None

    def value_spans(self, value: str, context: str, free_text: bool) -> tuple[Span, ...]:
        """Pattern spans, plus recognizer spans for free text; memoised per value."""
        key = ("\x00" + context if free_text else context, value)
        spans = self._spans.get(key)
        if spans is None:
            found = self.scanner.scan(value, context)
            if free_text:
                found = found + self.free_text_spans(value)
            spans = tuple(found)
            self._spans.put(key, spans)
        return spans

    def free_text_spans(self, text: str) -> list[Span]:
        spans = [
            Span(r.entity, start, end, score, "ner", type(r).__name__)
            for r in self._text if r.applies(text)
            for start, end, score in r.find(text)
        ]
        for recognizer in self._user:
            name: str = str(getattr(recognizer, "name", type(recognizer).__name__))
            # Pattern and deny-list recognizers need no NLP artifacts.
            for result in recognizer.analyze(text, recognizer.supported_entities,
                                             cast(Any, None)):
                spans.append(Span(result.entity_type, result.start, result.end, result.score,
                                  "user", name))
        return spans

    def mask(self, entity: str, raw: str, roles: tuple[str, ...]) -> str:
        memo_key = (entity, raw, roles)
        masked = self._masked.get(memo_key)
        if masked is None:
            masked = self._mask(entity, raw, roles)
            self._masked.put(memo_key, masked)
        return masked

    def _mask(self, entity: str, raw: str, roles: tuple[str, ...]) -> str:
        key = (entity, roles)
        bound = self._bound.get(key)
        if bound is None:
            spec = self.policy.rule(entity, roles)
            operator = self.operators.get(spec.operator)
            if operator is None:
                raise KeyError(f"unknown masking operator {spec.operator!r}")
            params = {"entity_type": entity, **spec.params,
                      **self.settings.operator_keys.get(spec.operator, {})}
            operator.validate(params)
            bound = self._bound[key] = (operator, params)
        return str(bound[0].operate(raw, bound[1]))
