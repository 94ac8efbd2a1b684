"""Whole-record results, reused when the same record comes back (a CRM lists the same
customers page after page).

A record's masked cells are a pure function of its own keys and values, the caller's
roles and field rights, and one thing outside it: the batch deny-list (values from the
hinted cells of *every* record in the batch, searched for in this record's other
cells). So an entry keeps, besides the masked cells and the spans to report, the
record's own deny-list values (to rebuild the batch deny-list without resolving again)
and the raw deny-list hits in its other cells (the *probe*). It is reused only if the
current batch's deny-list finds exactly the same hits there (with the very same
deny-list, known by its automaton's serial number, they are the same without looking);
otherwise the record is masked afresh. Reports come out the same either way: findings
are rebuilt from the stored spans, with this record's locations.

Not used when a watermark rewrites masked cells (the mark is per export).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from detectors.finding import Span

if TYPE_CHECKING:
    import ahocorasick

    from detectors.masker import Cell

__all__ = [
    "PROBE_SEPARATOR",
    "RecordKey",
    "RecordResult",
    "probe_hits",
    "record_key",
    "weigh_record",
]

PROBE_SEPARATOR = "\x00"
_KEY_VALUE = operator.itemgetter(0, 1)
RecordKey = tuple[object, ...]
Hit = tuple[int, tuple[str, int]]


class RecordResult(NamedTuple):
    """``serial`` names the deny-list automaton ``hits`` were found with (0: none)."""

    outputs: tuple[str, ...]
    events: tuple[tuple[int, Span], ...]
    deny: tuple[tuple[str, str], ...]
    probe: tuple[int, ...]
    hits: tuple[Hit, ...]
    serial: int


def record_key(context: tuple[object, ...], record: Sequence[Cell]) -> RecordKey:
    """``context`` (roles, field rights) and the record's keys and values, not locations."""
    return (*context, *map(_KEY_VALUE, record))


def probe_hits(record: Sequence[Cell], probe: Sequence[int],
               automaton: Callable[[], ahocorasick.Automaton | None]) -> tuple[Hit, ...]:
    """Raw deny-list hits over the probed cells joined by a NUL no deny value holds."""
    found = automaton() if probe else None
    if found is None:
        return ()
    text = PROBE_SEPARATOR.join([record[index].value for index in probe])
    return tuple(found.iter(text))


def weigh_record(key: RecordKey, result: RecordResult) -> int:
    """Rough bytes of an entry: its strings twice (in and out, UCS-2 for CJK), the
    tuples and their slots."""
    chars = sum(len(value) for value in result.outputs)
    return (4 * chars + 150 * len(result.outputs)
            + 120 * (len(result.events) + len(result.deny)) + 300)
