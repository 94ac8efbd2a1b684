"""Verify the whole audit chain and every checkpoint signature.

What is found, by the ``seq`` it is reported at:
- an entry whose content changed: its recomputed hash differs from the stored one;
- a deleted entry: the gap in ``seq`` (the first missing number);
- entries swapped or replaced: ``prev_hash`` no longer matches the previous entry;
- a forged or altered checkpoint: its Ed25519 signature fails, or its key is not trusted;
- a chain rewritten consistently after a point: the signed head hash no longer matches;
- deleted oldest entries: no signed ``prune`` checkpoint anchors the first one left.
Entries after the last checkpoint can be truncated undetectably by someone with write
access to the database; checkpoints every minute bound that window.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from reports.audit_chain import (
    GENESIS,
    Checkpoint,
    canonical,
    entry_body,
    entry_hash,
    verify_checkpoint,
)
from reports.audit_store import StoredEntry, iter_entries, load_checkpoints, read_head
from reports.database import Database

__all__ = ["Problem", "VerifyReport", "verify_chain"]


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    reason: str


@dataclass(slots=True)
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad(self) -> Problem | None:
        return min(self.problems, key=lambda p: p.seq) if self.problems else None

    def to_dict(self) -> dict[str, object]:
        bad = self.first_bad
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints,
                "first_seq": self.first_seq, "last_seq": self.last_seq,
                "first_bad_seq": bad.seq if bad else None,
                "problems": [{"seq": p.seq, "reason": p.reason}
                             for p in sorted(self.problems, key=lambda p: p.seq)]}


class _Walk:
    """State while walking the entries in ``seq`` order."""

    def __init__(self, report: VerifyReport, signed: dict[int, list[Checkpoint]]) -> None:
        self.report = report
        self.signed = signed
        self.prev_seq: int | None = None
        self.prev_hash = GENESIS

    def problem(self, seq: int, reason: str) -> None:
        self.report.problems.append(Problem(seq, reason))

    def start(self, entry: StoredEntry) -> None:
        if entry.seq == 1:
            if entry.prev_hash != GENESIS:
                self.problem(1, "the first entry does not start from the genesis hash")
            return
        anchors = [cp for cp in self.signed.get(entry.seq - 1, []) if cp.reason == "prune"]
        if not anchors:
            earlier = [s for s, cps in self.signed.items() if s < entry.seq - 1
                       and any(cp.reason == "prune" for cp in cps)]
            missing = max(earlier, default=0) + 1
            self.problem(missing, f"entries {missing}..{entry.seq - 1} are missing and no "
                                  "signed prune checkpoint covers them")
        elif all(cp.head_hash != entry.prev_hash for cp in anchors):
            self.problem(entry.seq, "does not continue from the signed prune checkpoint")

    def step(self, entry: StoredEntry) -> None:
        if self.prev_seq is None:
            self.start(entry)
        elif entry.seq != self.prev_seq + 1:
            self.problem(self.prev_seq + 1, f"entries {self.prev_seq + 1}..{entry.seq - 1} "
                                            "are missing (deleted)")
        elif entry.prev_hash != self.prev_hash:
            self.problem(entry.seq, f"prev_hash does not match the hash of entry "
                                    f"{self.prev_seq} (entries reordered or replaced)")
        self.check_content(entry)
        for cp in self.signed.get(entry.seq, []):
            if cp.head_hash != entry.hash:
                self.problem(entry.seq, f"signed checkpoint ({cp.reason}, {cp.at}) does not "
                                        "match this entry's hash (chain rewritten)")
        self.prev_seq, self.prev_hash = entry.seq, entry.hash

    def check_content(self, entry: StoredEntry) -> None:
        try:
            payload = canonical(orjson.loads(entry.payload))
        except orjson.JSONDecodeError:
            self.problem(entry.seq, "payload is not valid JSON (entry changed)")
            return
        if payload != entry.payload.encode():
            self.problem(entry.seq, "payload is not in canonical form (entry changed)")
            return
        body = entry_body(entry.seq, entry.at, entry.kind, entry.actor, payload)
        if entry_hash(entry.prev_hash, body) != entry.hash:
            self.problem(entry.seq, "hash does not match the entry's content (entry changed)")


def _signed(report: VerifyReport, checkpoints: list[Checkpoint],
            keys: dict[str, Ed25519PublicKey]) -> dict[int, list[Checkpoint]]:
    signed: dict[int, list[Checkpoint]] = defaultdict(list)
    for cp in checkpoints:
        why = verify_checkpoint(cp, keys)
        if why is not None:
            report.problems.append(Problem(cp.seq, f"{why} ({cp.reason}, {cp.at})"))
        else:
            signed[cp.seq].append(cp)
    return signed


def _tail(walk: _Walk, head_seq: int) -> None:
    last = walk.prev_seq
    covered = max(walk.signed, default=0)
    if last is None:
        if head_seq and not any(cp.reason == "prune" for cp in walk.signed.get(head_seq, [])):
            walk.problem(1, f"no entries left but the head is at {head_seq} and no signed "
                            "prune checkpoint covers them")
        return
    if covered > last:
        walk.problem(last + 1, f"a signed checkpoint covers entry {covered} but the last "
                               f"entry is {last} (entries deleted at the end)")
    if head_seq != last:
        walk.problem(min(head_seq, last) + 1, f"the head row says {head_seq} but the last "
                                              f"entry is {last}")


def verify_chain(db: Database, keys: dict[str, Ed25519PublicKey]) -> VerifyReport:
    """Walk every entry and checkpoint; ``keys`` maps key ids to trusted public keys."""
    report = VerifyReport()
    checkpoints = load_checkpoints(db)
    report.checkpoints = len(checkpoints)
    walk = _Walk(report, _signed(report, checkpoints, keys))
    head_seq, _ = read_head(db)
    for entry in iter_entries(db):
        if report.first_seq is None:
            report.first_seq = entry.seq
        walk.step(entry)
        report.entries += 1
    report.last_seq = walk.prev_seq
    if report.last_seq is not None and report.last_seq > head_seq:
        head_seq, _ = read_head(db)  # entries appended while walking
    _tail(walk, head_seq)
    return report
