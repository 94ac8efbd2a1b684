"""What detection reports: findings that never carry the raw value."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Finding", "ScanReport", "Span"]


class Span(NamedTuple):
    """A detected value inside one string (offsets into that string).

    A named tuple: the scanner builds thousands per request, and a tuple is several
    times cheaper to create than a frozen dataclass.
    """

    entity: str
    start: int
    end: int
    score: float
    source: str
    rule: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value, as it may be logged: no raw PII, only a preview and a fingerprint.

    ``location`` is a JSON pointer (``/0/phone``), ``row 3, column phone`` for tables,
    or empty for plain text (then ``start``/``end`` are character offsets).
    """

    entity: str
    location: str
    start: int
    end: int
    score: float
    source: str
    rule: str
    preview: str
    fingerprint: str


@dataclass(slots=True)
class ScanReport:
    """Per-document totals; keeps at most ``max_findings`` detailed findings."""

    max_findings: int = 64
    findings: list[Finding] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    records: int = 0
    values_scanned: int = 0
    bytes_scanned: int = 0
    truncated: bool = False

    def add(self, finding: Finding) -> None:
        self.counts[finding.entity] += 1
        if len(self.findings) < self.max_findings:
            self.findings.append(finding)
        else:
            self.truncated = True

    @property
    def total(self) -> int:
        return sum(self.counts.values())
