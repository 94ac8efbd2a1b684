"""Webhooks against real aiohttp receivers on 127.0.0.1, on SQLite and PostgreSQL: signature,
retries with backoff, dead letters, deadline events once per incident and regime, and the
gateway's wiring."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import orjson
import pytest
from aiohttp import web
from pydantic import ValidationError

from gateway.incident_config import WebhookConfig
from gateway.runtime import GATEWAY
from reports.database import open_database
from reports.deadlines import Regimes
from reports.incident import IncidentEvent
from reports.incident_store import IncidentStore
from reports.webhook_store import WebhookStore
from reports.webhooks import WebhookDispatcher, WebhookSettings, verify_signature

SECRET = b"webhook-secret-0123456789"
T0 = 1_800_000_000.0
HOUR = 3600.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Receiver:
    """Answers with the scripted statuses (then 200) and keeps what it got."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        self.arrived.set()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        return app

    async def wait_for(self, count: int) -> None:
        async def enough() -> None:
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), 20)


def breach(key: str = "leak:1", **kw) -> IncidentEvent:
    base = dict(kind="leak_detected", severity="high", rule="pii_mask.no_pii_route",
                dedup_key=key, summary="ids in a PII-free route", route="crm",
                actor="hmac:3f9a0c21d4e5b6a7", client_ip="10.9.8.7",
                categories={"CN_RESIDENT_ID": 40, "CN_MOBILE": 40}, record_count=40,
                subject_count=5000, masked=False, breach=True)
    base.update(kw)
    return IncidentEvent(**base)


@pytest.fixture
def stores(database_url):
    db = open_database(database_url)
    clock = Clock()
    yield IncidentStore(db, clock=clock, regimes=Regimes(cac_large_subjects=1000)), \
        WebhookStore(db), clock
    db.close()


def dispatcher(stores, urls, results=None, clock=None, **settings) -> WebhookDispatcher:
    incidents, webhooks, _ = stores
    options = dict(max_attempts=5, backoff_seconds=0.01, backoff_max_seconds=0.05,
                   timeout_seconds=5.0, scan_interval_seconds=0.2)
    options.update(settings)
    on_result = results.append if results is not None else None
    return WebhookDispatcher(webhooks, incidents, WebhookSettings(tuple(urls), SECRET, **options),
                             on_result=on_result, clock=clock or time.time)


async def until(check) -> None:
    """Poll a database condition for up to 20 s (the dispatcher runs in the background)."""
    for _ in range(1000):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in 20 s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_signed_payload_without_pii(stores, start_upstream):
    incidents, _, _ = stores
    receiver = Receiver()
    url = await start_upstream(receiver.app()) + "/hook"
    incident, _ = incidents.record(breach())
    hooks = dispatcher(stores, [url])
    try:
        assert await hooks.scan() == 1
        assert await hooks.scan() == 0
        assert await hooks.deliver_due() == 1
    finally:
        await hooks.close()
    headers, body = receiver.got[0]
    stamp, signature = headers["X-DLP-Timestamp"], headers["X-DLP-Signature"]
    assert signature.startswith("sha256=")
    assert verify_signature(SECRET, stamp, body, signature, now=time.time())
    assert not verify_signature(b"another-secret-0123456", stamp, body, signature,
                                now=time.time())
    assert not verify_signature(SECRET, stamp, body + b" ", signature, now=time.time())
    assert not verify_signature(SECRET, stamp, body, signature, now=time.time() + 3600)
    payload = orjson.loads(body)
    assert payload["event"] == headers["X-DLP-Event"] == "incident.created"
    assert payload["event_id"] == headers["X-DLP-Delivery"] == f"{incident.id}:incident.created"
    assert payload["link"] == f"/_dlp/ui/incidents/{incident.id}"
    assert payload["incident"]["id"] == incident.id
    assert payload["incident"]["subject_count"] == 5000
    assert {c["entity"] for c in payload["incident"]["categories"]} == {"CN_RESIDENT_ID",
                                                                       "CN_MOBILE"}
    assert [d["regime"] for d in payload["incident"]["deadlines"]] == ["PIPL", "CAC", "GDPR"]
    for absent in (b"hmac:3f9a0c21d4e5b6a7", b"10.9.8.7", b"ids in a PII-free route"):
        assert absent not in body


async def test_two_failures_then_success_takes_three_attempts(stores, start_upstream):
    incidents, webhooks, _ = stores
    receiver = Receiver([500, 500])
    url = await start_upstream(receiver.app()) + "/hook"
    incident, _ = incidents.record(breach())
    results: list[str] = []
    hooks = dispatcher(stores, [url], results)
    task = asyncio.create_task(hooks.run())
    try:
        await receiver.wait_for(3)
        await until(lambda: webhooks.deliveries(incident.id)[0]["state"] == "delivered")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await hooks.close()
    row = webhooks.deliveries(incident.id)[0]
    assert row["attempts"] == 3 and row["last_status"] == 200
    assert results == ["retry", "retry", "delivered"]
    assert len({h["X-DLP-Delivery"] for h, _ in receiver.got}) == 1
    assert all(verify_signature(SECRET, h["X-DLP-Timestamp"], body, h["X-DLP-Signature"],
                                now=time.time()) for h, body in receiver.got)
    assert webhooks.dead_letters() == []


async def test_a_dead_receiver_ends_in_a_dead_letter(stores):
    incidents, webhooks, _ = stores
    url = f"http://127.0.0.1:{free_port()}/hook"
    incident, _ = incidents.record(breach())
    results: list[str] = []
    hooks = dispatcher(stores, [url], results, max_attempts=3)
    task = asyncio.create_task(hooks.run())
    try:
        await until(lambda: bool(webhooks.dead_letters()))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await hooks.close()
    [dead] = webhooks.dead_letters()
    assert (dead["incident_id"], dead["url"], dead["attempts"]) == (incident.id, url, 3)
    assert dead["event"] == "incident.created" and dead["last_error"]
    assert orjson.loads(dead["body"])["incident"]["id"] == incident.id
    assert webhooks.deliveries(incident.id)[0]["state"] == "dead"
    assert results == ["retry", "retry", "dead_letter"]


async def test_deadline_events_fire_once_per_incident_and_regime(stores):
    incidents, webhooks, store_clock = stores
    urls = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
    clock = Clock()
    hooks = dispatcher(stores, urls, clock=clock, deadline_lead_seconds=HOUR)
    replica = dispatcher(stores, urls, clock=clock, deadline_lead_seconds=HOUR)
    incident, _ = incidents.record(breach())  # PIPL 1 h, CAC 4 h, GDPR 72 h from T0
    near_miss, _ = incidents.record(breach("export:1", kind="export_blocked", breach=False))

    def keys() -> list[str]:
        return sorted({r["event_key"].split(":", 1)[1] for r in webhooks.deliveries(incident.id)})

    clock.now = T0 + 0.5 * HOUR
    assert await hooks.scan() == 3 * 2  # 2 created + PIPL approaching, to both endpoints
    assert await hooks.scan() == 0
    assert await replica.scan() == 0
    assert keys() == ["incident.created", "incident.deadline_approaching:PIPL"]
    clock.now = T0 + 1.5 * HOUR
    assert await replica.scan() == 2  # PIPL overdue
    clock.now = T0 + 3.5 * HOUR
    assert await hooks.scan() == 2  # CAC approaching
    store_clock.now = clock.now
    incidents.change(incident.id, "grace", "notified", {"regime": "CAC", "reference": "c-1"})
    clock.now = T0 + 5 * HOUR
    assert await hooks.scan() == 0  # CAC was sent in time: never overdue
    clock.now = T0 + 71.5 * HOUR
    assert await hooks.scan() == 2  # GDPR approaching
    incidents.change(incident.id, "grace", "status", {"status": "closed"})
    clock.now = T0 + 80 * HOUR
    assert await hooks.scan() == 0  # closed: no overdue for GDPR
    assert keys() == ["incident.created", "incident.deadline_approaching:CAC",
                      "incident.deadline_approaching:GDPR",
                      "incident.deadline_approaching:PIPL", "incident.deadline_overdue:PIPL"]
    assert {r["event"] for r in webhooks.deliveries(near_miss.id)} == {"incident.created"}
    await hooks.close()
    await replica.close()


def test_webhook_config_requires_a_secret_and_http_urls():
    with pytest.raises(ValidationError):
        WebhookConfig(urls=["https://hooks.example/x"])
    with pytest.raises(ValidationError):
        WebhookConfig(urls=["https://hooks.example/x"], secret="short")
    with pytest.raises(ValidationError):
        WebhookConfig(urls=["ftp://hooks.example/x"], secret="s" * 20)
    assert WebhookConfig().urls == []


async def test_the_gateway_announces_a_recorded_incident(start_upstream, start_gateway):
    receiver = Receiver()
    url = await start_upstream(receiver.app()) + "/hook"
    upstream = await start_upstream(web.Application())
    gw = await start_gateway(upstream, incidents={"webhooks": {
        "urls": [url], "secret": SECRET.decode(), "scan_interval_seconds": 600}})
    recorder = gw.app[GATEWAY].recorder
    await recorder.report(IncidentEvent(kind="fail_closed", severity="high", rule="test",
                                        dedup_key="fail_closed:test", summary="store down"))
    await receiver.wait_for(1)  # the recorder's hook woke the dispatcher (scan is 10 min)
    headers, body = receiver.got[0]
    assert verify_signature(SECRET, headers["X-DLP-Timestamp"], body,
                            headers["X-DLP-Signature"], now=time.time())
    assert orjson.loads(body)["incident"]["kind"] == "fail_closed"

    async def counted() -> bool:
        async with aiohttp.ClientSession() as http, http.get(gw.url + "/_dlp/metrics") as resp:
            return 'dlpgw_webhook_deliveries_total{result="delivered"} 1.0' in await resp.text()

    for _ in range(100):
        if await counted():
            break
        await asyncio.sleep(0.05)
    assert await counted()
