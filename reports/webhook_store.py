"""Webhook deliveries in the shared database: queue, claim, finish, dead letters.

A delivery is one (event, endpoint) pair; ``(event_key, target)`` is unique, so the same
event is queued once however often (and by however many gateways) it is noticed. Rows
stay ``pending`` until ``delivered`` or ``dead``; a claim pushes ``next_attempt_at`` one
lease ahead with a conditional update, so two workers never post the same attempt and a
worker that dies mid-delivery leaves the row to be retried after the lease.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from reports.database import Database

__all__ = ["Delivery", "QueuedEvent", "WebhookStore"]

_META = sa.MetaData()
DELIVERIES = sa.Table(
    "webhook_deliveries", _META,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("event_key", sa.String(160)),
    sa.Column("target", sa.String(64)), sa.Column("url", sa.Text),
    sa.Column("event", sa.String(40)), sa.Column("incident_id", sa.String(40)),
    sa.Column("body", sa.Text), sa.Column("state", sa.String(12)),
    sa.Column("attempts", sa.Integer), sa.Column("next_attempt_at", sa.Float),
    sa.Column("created_at", sa.Float), sa.Column("updated_at", sa.Float),
    sa.Column("last_status", sa.Integer), sa.Column("last_error", sa.String(200)),
)
DEAD_LETTERS = sa.Table(
    "webhook_dead_letters", _META,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("delivery_id", sa.Integer),
    sa.Column("url", sa.Text), sa.Column("event", sa.String(40)),
    sa.Column("incident_id", sa.String(40)), sa.Column("body", sa.Text),
    sa.Column("attempts", sa.Integer), sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.String(200)), sa.Column("failed_at", sa.Float),
)


def _target(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One event to announce: ``event_key`` identifies it across scans and restarts."""

    event_key: str
    event: str
    incident_id: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    url: str
    event_key: str
    event: str
    incident_id: str
    body: bytes
    attempts: int


class WebhookStore:
    """Synchronous; the dispatcher calls it from a worker thread."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(self, events: Sequence[QueuedEvent], urls: Sequence[str], now: float) -> int:
        """Queue every (event, url) pair not queued before; returns how many were new."""
        if not events or not urls:
            return 0
        keys = [e.event_key for e in events]
        with self._db.read() as conn:
            seen = {(r.event_key, r.target) for r in conn.execute(
                sa.select(DELIVERIES.c.event_key, DELIVERIES.c.target)
                .where(DELIVERIES.c.event_key.in_(keys)))}
        rows = [{"event_key": e.event_key, "target": _target(url), "url": url,
                 "event": e.event, "incident_id": e.incident_id, "body": e.body.decode(),
                 "state": "pending", "attempts": 0, "next_attempt_at": now,
                 "created_at": now, "updated_at": now}
                for e in events for url in urls if (e.event_key, _target(url)) not in seen]
        if not rows:
            return 0
        dialect = postgresql if self._db.is_postgresql else sqlite
        stmt = dialect.insert(DELIVERIES).on_conflict_do_nothing(
            index_elements=["event_key", "target"])
        with self._db.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def claim_due(self, now: float, limit: int, lease: float) -> list[Delivery]:
        c = DELIVERIES.c
        due = (sa.select(c.id, c.url, c.event_key, c.event, c.incident_id, c.body,
                         c.attempts, c.next_attempt_at)
               .where(c.state == "pending", c.next_attempt_at <= now)
               .order_by(c.next_attempt_at, c.id).limit(limit))
        claimed: list[Delivery] = []
        with self._db.begin() as conn:
            for row in conn.execute(due).all():
                taken = conn.execute(
                    DELIVERIES.update()
                    .where(c.id == row.id, c.state == "pending",
                           c.next_attempt_at == row.next_attempt_at)
                    .values(next_attempt_at=now + lease, updated_at=now))
                if taken.rowcount == 1:
                    claimed.append(Delivery(row.id, row.url, row.event_key, row.event,
                                            row.incident_id, row.body.encode(), row.attempts))
        return claimed

    def finish(self, delivery: Delivery, status: int | None, error: str | None,
               retry_at: float | None, now: float) -> str:
        """Record one attempt: ``delivered``, ``retry`` (at ``retry_at``) or ``dead``."""
        attempts = delivery.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "updated_at": now,
                                  "last_status": status, "last_error": error}
        if error is None:
            outcome = "delivered"
            values["state"] = "delivered"
        elif retry_at is not None:
            outcome = "retry"
            values["next_attempt_at"] = retry_at
        else:
            outcome = "dead"
            values["state"] = "dead"
        with self._db.begin() as conn:
            conn.execute(DELIVERIES.update().where(DELIVERIES.c.id == delivery.id)
                         .values(**values))
            if outcome == "dead":
                conn.execute(DEAD_LETTERS.insert().values(
                    delivery_id=delivery.id, url=delivery.url, event=delivery.event,
                    incident_id=delivery.incident_id, body=delivery.body.decode(),
                    attempts=attempts, last_status=status, last_error=error, failed_at=now))
        return outcome

    def next_due(self) -> float | None:
        stmt = sa.select(sa.func.min(DELIVERIES.c.next_attempt_at)).where(
            DELIVERIES.c.state == "pending")
        with self._db.read() as conn:
            value = conn.execute(stmt).scalar()
        return float(value) if value is not None else None

    def deliveries(self, incident_id: str | None = None) -> list[dict[str, Any]]:
        stmt = sa.select(DELIVERIES).order_by(DELIVERIES.c.id)
        if incident_id is not None:
            stmt = stmt.where(DELIVERIES.c.incident_id == incident_id)
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def dead_letters(self) -> list[dict[str, Any]]:
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(
                sa.select(DEAD_LETTERS).order_by(DEAD_LETTERS.c.id))]
