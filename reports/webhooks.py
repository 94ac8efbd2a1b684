"""Signed webhooks on incident creation and on notification deadlines, delivered in the background.

Events: ``incident.created``; ``incident.deadline_approaching`` (a required notification
is due within the lead time, once per incident and regime); ``incident.deadline_overdue``
(past due and not sent, once per incident and regime). The payload holds the incident's
id, kind, severity, categories, counts, deadlines and a link path to the review UI,
never raw PII (nor the actor, client IP or free-text summary).

Each request carries ``X-DLP-Timestamp`` (Unix seconds) and
``X-DLP-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``. A receiver
recomputes the HMAC over the raw body, compares in constant time and rejects timestamps
more than a few minutes old (``verify_signature`` does exactly that). ``X-DLP-Delivery``
is the event's id: the same event may arrive more than once (at-least-once), never
with a different id.

Deliveries live in the database (``reports.webhook_store``): a background task scans for
due events, posts them with aiohttp off the request path, retries non-2xx answers and
connection errors with exponential backoff, and after the last attempt moves the row to
the dead letters. Every attempt is counted through ``on_result`` (``delivered``,
``retry``, ``dead_letter``; ``store_failed`` when the database is unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from reports.incident import CLOSED, STATUSES, Incident
from reports.incident_store import IncidentQuery, IncidentStore
from reports.render import format_time, notification_status
from reports.webhook_store import Delivery, QueuedEvent, WebhookStore

__all__ = ["WebhookDispatcher", "WebhookSettings", "sign", "verify_signature",
           "webhook_payload"]

log = logging.getLogger("dlpgw.webhooks")

_OPEN = tuple(s for s in STATUSES if s not in CLOSED)
_BATCH = 20
_PAGE = 500
_RESULTS = {"delivered": "delivered", "retry": "retry", "dead": "dead_letter"}


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    urls: tuple[str, ...]
    secret: bytes
    max_attempts: int = 6
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 900.0
    timeout_seconds: float = 10.0
    deadline_lead_seconds: float = 3600.0
    scan_interval_seconds: float = 30.0
    link_prefix: str = "/_dlp/ui/incidents/"

    def backoff(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failed attempt."""
        return float(min(self.backoff_max_seconds,
                         self.backoff_seconds * 2 ** max(0, attempts - 1)))


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, signature: str, *,  # noqa: PLR0913 - the four signed parts plus the clock and tolerance
                     now: float, tolerance: float = 300.0) -> bool:
    """What a receiver does: constant-time HMAC check and a bounded clock skew."""
    try:
        skew = abs(now - int(timestamp))
    except ValueError:
        return False
    return skew <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def webhook_payload(incident: Incident, event: str, now: float, *, regime: str | None = None,
                    link_prefix: str = "/_dlp/ui/incidents/") -> dict[str, Any]:
    inc = incident
    return {
        "event": event,
        "event_id": _event_key(inc.id, event, regime),
        "occurred_at": format_time(now),
        "regime": regime,
        "link": link_prefix + inc.id,
        "incident": {
            "id": inc.id, "kind": inc.kind, "status": inc.status, "severity": inc.severity,
            "rule": inc.rule, "route": inc.route, "tenant": inc.tenant,
            "created_at": format_time(inc.created_at),
            "categories": [{k: c[k] for k in ("entity", "c_class", "pipl_sensitive", "count")}
                           for c in inc.categories],
            "record_count": inc.record_count, "subject_count": inc.subject_count,
            "event_count": inc.event_count, "breach": inc.breach, "masked": inc.masked,
            "cac_grade": inc.cac_grade, "gdpr_risk": inc.gdpr_risk,
            "deadlines": [{"regime": n["regime"], "deadline": format_time(n["deadline"]),
                           "required": n["required"], "status": notification_status(n, now)}
                          for n in inc.notifications],
        },
    }


def _event_key(incident_id: str, event: str, regime: str | None) -> str:
    return f"{incident_id}:{event}" + (f":{regime}" if regime else "")


class WebhookDispatcher:
    """Finds events to announce and delivers them; ``run()`` is the background task."""

    def __init__(self, store: WebhookStore, incidents: IncidentStore,
                 settings: WebhookSettings, *,
                 on_result: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._incidents = incidents
        self._settings = settings
        self._on_result = on_result
        self._clock = clock
        self._wake = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    def nudge(self) -> None:
        """Scan now (an incident was just opened); call on the event loop."""
        self._wake.set()

    def incident_recorded(self, incident: Incident, created: bool, count: int) -> None:
        if created:
            self.nudge()

    def _count(self, result: str) -> None:
        if self._on_result is not None:
            self._on_result(result)

    def _event(self, incident: Incident, event: str, now: float,
               regime: str | None = None) -> QueuedEvent:
        body = orjson.dumps(webhook_payload(incident, event, now, regime=regime,
                                            link_prefix=self._settings.link_prefix))
        return QueuedEvent(_event_key(incident.id, event, regime), event, incident.id, body)

    def _open_incidents(self) -> list[Incident]:
        found: list[Incident] = []
        for status in _OPEN:
            offset = 0
            while True:
                page = self._incidents.search(IncidentQuery(status=status, limit=_PAGE,
                                                            offset=offset))
                found.extend(page)
                if len(page) < _PAGE:
                    break
                offset += _PAGE
        return found

    def _candidates(self, now: float) -> list[QueuedEvent]:
        since = now - max(3600.0, 4 * self._settings.scan_interval_seconds)
        events = [self._event(inc, "incident.created", now)
                  for inc in self._incidents.search(IncidentQuery(since=since, limit=1000))
                  if inc.created_at >= since]
        lead = self._settings.deadline_lead_seconds
        for inc in self._open_incidents():
            for row in inc.notifications:
                status = notification_status(row, now)
                if status == "overdue":
                    events.append(self._event(inc, "incident.deadline_overdue", now,
                                              row["regime"]))
                elif status == "pending" and row["deadline"] - lead <= now:
                    events.append(self._event(inc, "incident.deadline_approaching", now,
                                              row["regime"]))
        return events

    def _scan_sync(self) -> int:
        now = self._clock()
        return self._store.enqueue(self._candidates(now), self._settings.urls, now)

    async def scan(self) -> int:
        """Queue every event not queued before; returns how many deliveries are new."""
        return await asyncio.to_thread(self._scan_sync)

    async def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.timeout_seconds))
        timestamp = str(int(self._clock()))
        headers = {"Content-Type": "application/json", "User-Agent": "dlp-gateway-webhooks",
                   "X-DLP-Event": delivery.event, "X-DLP-Delivery": delivery.event_key,
                   "X-DLP-Timestamp": timestamp,
                   "X-DLP-Signature": sign(self._settings.secret, timestamp, delivery.body)}
        try:
            async with self._session.post(delivery.url, data=delivery.body, headers=headers,
                                          allow_redirects=False) as resp:
                if 200 <= resp.status < 300:
                    return resp.status, None
                return resp.status, f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, type(exc).__name__

    def _finish(self, delivery: Delivery, status: int | None, error: str | None) -> str:
        now = self._clock()
        attempts = delivery.attempts + 1
        retry_at = (now + self._settings.backoff(attempts)
                    if attempts < self._settings.max_attempts else None)
        outcome = self._store.finish(delivery, status, error, retry_at, now)
        if outcome == "dead":
            log.error("webhook %s for %s to a configured endpoint failed %d times: "
                      "dead-lettered (%s)", delivery.event, delivery.incident_id, attempts,
                      error)
        elif outcome == "retry":
            log.warning("webhook %s for %s failed (%s): retry %d of %d", delivery.event,
                        delivery.incident_id, error, attempts, self._settings.max_attempts)
        return outcome

    async def deliver_due(self) -> int:
        """Post one batch of due deliveries; returns how many were attempted."""
        lease = self._settings.timeout_seconds + 30.0
        due = await asyncio.to_thread(self._store.claim_due, self._clock(), _BATCH, lease)
        results = await asyncio.gather(*(self._post(d) for d in due))
        for delivery, (status, error) in zip(due, results, strict=True):
            outcome = await asyncio.to_thread(self._finish, delivery, status, error)
            self._count(_RESULTS[outcome])
        return len(due)

    async def _step(self, next_scan: float) -> float:
        now = self._clock()
        if now >= next_scan or self._wake.is_set():
            self._wake.clear()
            await self.scan()
            next_scan = now + self._settings.scan_interval_seconds
        if await self.deliver_due() == _BATCH:
            return next_scan
        due = await asyncio.to_thread(self._store.next_due)
        wait = min(next_scan, due if due is not None else math.inf) - self._clock()
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
        return next_scan

    async def run(self) -> None:
        next_scan = 0.0
        while True:
            try:
                next_scan = await self._step(next_scan)
            except Exception as exc:
                log.error("webhook queue unavailable: %s", type(exc).__name__)
                self._count("store_failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(),
                                           min(5.0, self._settings.scan_interval_seconds))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
