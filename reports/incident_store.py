"""Incidents in the shared database: deduplicate, open, triage, close; every change logged.

Events with the same ``dedup_key`` inside ``window`` seconds of the incident's last event
extend it (counter, last-seen time, the largest counts and severity) instead of opening a
new one, so a 100,000-try attack is one incident. An open incident holds its key in the
unique ``open_key`` column; two replicas racing to open the same incident collide on it
and the loser retries as an extension. Each status change, assignment, note and
notification is an ``incident_events`` row (the action log).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from reports.categories import category_of
from reports.database import Database
from reports.deadlines import Regimes, cac_grade, gdpr_risk, notification_plan, overdue
from reports.incident import CLOSED, SEVERITIES, TRANSITIONS, Incident, IncidentEvent

__all__ = ["IncidentError", "IncidentQuery", "IncidentStore"]

_meta = sa.MetaData()
INCIDENTS = sa.Table(
    "incidents", _meta,
    sa.Column("id", sa.String(40), primary_key=True), sa.Column("kind", sa.String(40)),
    sa.Column("status", sa.String(20)), sa.Column("severity", sa.String(10)),
    sa.Column("tenant", sa.String(120)), sa.Column("assignee", sa.String(120)),
    sa.Column("dedup_key", sa.String(200)), sa.Column("open_key", sa.String(200)),
    sa.Column("event_count", sa.BigInteger), sa.Column("created_at", sa.Float),
    sa.Column("updated_at", sa.Float), sa.Column("last_seen_at", sa.Float),
    sa.Column("categories", sa.Text), sa.Column("doc", sa.Text),
)
EVENTS = sa.Table(
    "incident_events", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(40)), sa.Column("at", sa.Float),
    sa.Column("actor", sa.String(120)), sa.Column("action", sa.String(40)),
    sa.Column("detail", sa.Text),
)
_MAX_REQUEST_IDS = 20


class IncidentError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    status: str | None = None
    severity: str | None = None
    category: str | None = None
    kind: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    offset: int = 0


def _new_id(now: float) -> str:
    day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    return f"INC-{day}-{secrets.token_hex(4).upper()}"


def _categories(counts: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for entity, count in sorted(counts.items()):
        cat = category_of(entity)
        rows.append({"entity": entity, "count": count, "c_class": cat.c_class,
                     "pipl_sensitive": cat.pipl_sensitive})
    return rows


def _worse(a: str, b: str) -> str:
    return a if SEVERITIES.index(a) >= SEVERITIES.index(b) else b


class IncidentStore:
    """Synchronous; the recorder and the admin API call it from a worker thread."""

    def __init__(self, db: Database, *, window: float = 3600.0,
                 regimes: Regimes | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._window = window
        self._regimes = regimes or Regimes()
        self._clock = clock

    def record(self, event: IncidentEvent, count: int = 1) -> tuple[Incident, bool]:
        """Open an incident or extend the open one; returns it and whether it is new."""
        for _ in range(3):
            try:
                return self._record_once(event, count)
            except sa.exc.IntegrityError:
                continue
        raise IncidentError("conflict", "could not record the incident after retries")

    def _record_once(self, event: IncidentEvent, count: int) -> tuple[Incident, bool]:
        now = self._clock()
        with self._db.begin() as conn:
            query = sa.select(INCIDENTS.c.doc).where(INCIDENTS.c.open_key == event.dedup_key)
            if self._db.is_postgresql:
                query = query.with_for_update()
            row = conn.execute(query).first()
            current = Incident.from_json(orjson.loads(row.doc)) if row else None
            if current and current.is_open and current.last_seen_at >= now - self._window:
                merged = self._merge(current, event, count, now)
                self._save(conn, merged, open_key=event.dedup_key)
                return merged, False
            if current:
                conn.execute(INCIDENTS.update().where(INCIDENTS.c.id == current.id)
                             .values(open_key=None))
            incident = self._open(event, count, now)
            self._save(conn, incident, open_key=event.dedup_key, insert=True)
            self._log(conn, incident.id, "system", "opened",
                      {"kind": event.kind, "rule": event.rule, "severity": event.severity})
            return incident, True

    def _open(self, event: IncidentEvent, count: int, now: float) -> Incident:
        categories = _categories(event.categories)
        risk = gdpr_risk(categories, event.masked)
        times: dict[str, float | None] = {
            "started": now, "detected": now, "aware": now if event.breach else None,
            "reported": None, "contained": now if event.containment else None, "closed": None}
        incident = Incident(
            id=_new_id(now), kind=event.kind, status="open", severity=event.severity,
            rule=event.rule, summary=event.summary, dedup_key=event.dedup_key,
            created_at=now, updated_at=now, last_seen_at=now, event_count=count,
            route=event.route, upstream=event.upstream, tenant=event.tenant,
            actor=event.actor, client_ip=event.client_ip, categories=categories,
            record_count=event.record_count, subject_count=event.subject_count,
            masked=event.masked, breach=event.breach,
            cac_grade=cac_grade(event.subject_count, self._regimes), gdpr_risk=risk,
            times=times, detail=dict(event.detail),
            containment=([{"at": now, "action": event.containment, "by": "gateway"}]
                         if event.containment else []),
            evidence=[{"kind": k, "digest": v} for k, v in sorted(event.evidence.items())],
            request_ids=[event.request_id] if event.request_id else [],
        )
        if event.breach:
            incident.notifications = notification_plan(now, event.subject_count, risk,
                                                       self._regimes)
        return incident

    def _merge(self, cur: Incident, event: IncidentEvent, count: int, now: float) -> Incident:
        counts = {c["entity"]: c["count"] for c in cur.categories}
        for entity, n in event.categories.items():
            counts[entity] = max(counts.get(entity, 0), n)
        ids = cur.request_ids
        if event.request_id and len(ids) < _MAX_REQUEST_IDS:
            ids = [*ids, event.request_id]
        return replace(
            cur, event_count=cur.event_count + count, last_seen_at=now, updated_at=now,
            severity=_worse(cur.severity, event.severity), categories=_categories(counts),
            record_count=max(cur.record_count, event.record_count),
            subject_count=max(cur.subject_count, event.subject_count), request_ids=ids,
        )

    def _save(self, conn: Connection, incident: Incident, *, open_key: str | None,
              insert: bool = False) -> None:
        values = {
            "kind": incident.kind, "status": incident.status, "severity": incident.severity,
            "tenant": incident.tenant, "assignee": incident.assignee,
            "dedup_key": incident.dedup_key, "open_key": open_key,
            "event_count": incident.event_count, "created_at": incident.created_at,
            "updated_at": incident.updated_at, "last_seen_at": incident.last_seen_at,
            "categories": "," + ",".join(c["entity"] for c in incident.categories) + ",",
            "doc": orjson.dumps(incident.to_json()).decode(),
        }
        if insert:
            conn.execute(INCIDENTS.insert().values(id=incident.id, **values))
        else:
            conn.execute(INCIDENTS.update().where(INCIDENTS.c.id == incident.id)
                         .values(**values))

    def _log(self, conn: Connection, incident_id: str, actor: str, action: str,
             detail: dict[str, Any]) -> None:
        conn.execute(EVENTS.insert().values(
            incident_id=incident_id, at=self._clock(), actor=actor, action=action,
            detail=orjson.dumps(detail).decode()))

    def get(self, incident_id: str) -> Incident | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(INCIDENTS.c.doc)
                               .where(INCIDENTS.c.id == incident_id)).first()
        return Incident.from_json(orjson.loads(row.doc)) if row else None

    def search(self, q: IncidentQuery) -> list[Incident]:
        c = INCIDENTS.c
        stmt = sa.select(c.doc).order_by(c.created_at.desc(), c.id)
        for column, value in ((c.status, q.status), (c.severity, q.severity),
                              (c.kind, q.kind)):
            if value:
                stmt = stmt.where(column == value)
        if q.category:
            stmt = stmt.where(c.categories.contains("," + q.category + ",", autoescape=True))
        if q.since is not None:
            stmt = stmt.where(c.last_seen_at >= q.since)
        if q.until is not None:
            stmt = stmt.where(c.created_at < q.until)
        stmt = stmt.limit(max(1, min(q.limit, 1000))).offset(max(0, q.offset))
        with self._db.read() as conn:
            return [Incident.from_json(orjson.loads(r.doc)) for r in conn.execute(stmt)]

    def actions(self, incident_id: str) -> list[dict[str, Any]]:
        stmt = (sa.select(EVENTS.c.at, EVENTS.c.actor, EVENTS.c.action, EVENTS.c.detail)
                .where(EVENTS.c.incident_id == incident_id).order_by(EVENTS.c.id))
        with self._db.read() as conn:
            return [{"at": r.at, "actor": r.actor, "action": r.action,
                     "detail": orjson.loads(r.detail)} for r in conn.execute(stmt)]

    def change(self, incident_id: str, actor: str, action: str,
               detail: dict[str, Any]) -> Incident:
        """Apply one triage action (status, assign, note, contain, notified, closeout)."""
        with self._db.begin() as conn:
            query = sa.select(INCIDENTS.c.doc, INCIDENTS.c.open_key).where(
                INCIDENTS.c.id == incident_id)
            if self._db.is_postgresql:
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                raise IncidentError("not_found", f"no incident {incident_id}")
            incident = Incident.from_json(orjson.loads(row.doc))
            if action == "aware":
                self._become_aware(incident)
            else:
                _apply(incident, action, detail, self._clock(), actor)
            open_key = None if incident.status in CLOSED else row.open_key
            self._save(conn, incident, open_key=open_key)
            self._log(conn, incident_id, actor, action, detail)
            return incident

    def _become_aware(self, incident: Incident) -> None:
        """A near miss turned out to be a breach: the notification clocks start now."""
        if incident.breach:
            return
        now = self._clock()
        incident.breach = True
        incident.updated_at = now
        incident.times["aware"] = now
        incident.notifications = notification_plan(
            now, incident.subject_count, incident.gdpr_risk or "medium", self._regimes)

    def open_counts(self) -> dict[str, int]:
        c = INCIDENTS.c
        stmt = (sa.select(c.severity, sa.func.count()).where(c.status.not_in(CLOSED))
                .group_by(c.severity))
        counts = dict.fromkeys(SEVERITIES, 0)
        with self._db.read() as conn:
            for severity, n in conn.execute(stmt):
                counts[severity] = n
        return counts

    def overdue_notifications(self) -> int:
        now = self._clock()
        c = INCIDENTS.c
        stmt = sa.select(c.doc).where(c.status.not_in(CLOSED))
        total = 0
        with self._db.read() as conn:
            for row in conn.execute(stmt):
                total += overdue(orjson.loads(row.doc).get("notifications", []), now)
        return total


def _apply(incident: Incident, action: str, detail: dict[str, Any], now: float,
           actor: str) -> None:
    incident.updated_at = now
    if action == "status":
        _set_status(incident, str(detail.get("status")), now)
    elif action == "assign":
        incident.assignee = str(detail.get("assignee") or "") or None
    elif action == "contain":
        incident.containment.append({"at": now, "action": str(detail.get("measure")),
                                     "by": actor})
        incident.times["contained"] = incident.times.get("contained") or now
    elif action == "notified":
        _mark_notified(incident, str(detail.get("regime")), detail.get("reference"), now)
    elif action == "closeout":
        incident.closeout = {"cause": detail.get("cause"),
                             "rectification": detail.get("rectification"), "at": now}
    elif action != "note":
        raise IncidentError("invalid_action", f"unknown action {action!r}")


def _set_status(incident: Incident, status: str, now: float) -> None:
    if status not in TRANSITIONS.get(incident.status, frozenset()):
        raise IncidentError("invalid_transition",
                            f"cannot go from {incident.status} to {status}")
    incident.status = status
    if status == "contained":
        incident.times["contained"] = incident.times.get("contained") or now
    if status in CLOSED:
        incident.times["closed"] = now


def _mark_notified(incident: Incident, regime: str, reference: Any, now: float) -> None:
    for row in incident.notifications:
        if row["regime"] == regime:
            row["sent_at"] = now
            row["reference"] = str(reference) if reference else None
            incident.times["reported"] = incident.times.get("reported") or now
            return
    raise IncidentError("invalid_regime", f"no {regime} notification on this incident")
