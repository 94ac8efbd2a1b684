"""Incident reports: canonical JSON, HTML in both languages, deadline statuses, the audit
checkpoint, escaping, and the report over the admin API."""

from __future__ import annotations

import re

import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from markupsafe import escape

from gateway.admin.incidents import IncidentApiOptions, add_incident_routes
from gateway.exchange import Principal
from reports.audit_chain import Signer
from reports.audit_log import AuditLog
from reports.database import open_database
from reports.deadlines import Regimes
from reports.incident import IncidentEvent
from reports.incident_store import IncidentStore
from reports.render import ReportRenderer, load_strings, notification_status

T0 = 1_800_000_000.0
HOUR = 3600.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def leak(**kw) -> IncidentEvent:
    base = dict(
        kind="leak_detected", severity="high", rule="pii_mask.no_pii_route",
        dedup_key="leak:crm:/api/orders", summary="identifiers in a response declared PII-free",
        route="crm", upstream="crm", tenant="proj1", actor="hmac:3f9a0c21d4e5b6a7",
        client_ip="10.0.0.8", request_id="a1b2c3d4", record_count=1200, subject_count=5000,
        categories={"CN_RESIDENT_ID": 1200, "CN_MOBILE": 1200}, masked=False, breach=True,
        evidence={"response_sha256": "9f2c" * 16}, containment="route switched to masking",
        detail={"field_paths": "$.items[*].id_number"})
    base.update(kw)
    return IncidentEvent(**base)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'r.db'}")
    yield database
    database.close()


@pytest.fixture
def store(db, clock) -> IncidentStore:
    return IncidentStore(db, clock=clock, regimes=Regimes(cac_large_subjects=1000))


def triaged(store: IncidentStore, clock: Clock):
    incident, _ = store.record(leak())
    clock.now += 60
    store.change(incident.id, "grace", "assign", {"assignee": "grace"})
    store.change(incident.id, "grace", "note", {"note": "<script>alert(1)</script> & more"})
    store.change(incident.id, "grace", "notified", {"regime": "PIPL", "reference": "R-42"})
    return store.get(incident.id)


@pytest.mark.parametrize(("row", "now", "expected"), [
    ({"required": False, "sent_at": None, "deadline": T0}, T0 + 1, "not_required"),
    ({"required": True, "sent_at": T0 - 5, "deadline": T0}, T0 + 1, "sent"),
    ({"required": True, "sent_at": None, "deadline": T0}, T0 + 1, "overdue"),
    ({"required": True, "sent_at": None, "deadline": T0}, T0 - 1, "pending"),
])
def test_notification_status(row, now, expected):
    assert notification_status(row, now) == expected


def test_both_languages_have_the_same_strings():
    strings = load_strings()
    assert set(strings) == {"en", "zh"}
    assert set(strings["en"]) == set(strings["zh"])
    assert all(v.strip() for lang in strings.values() for v in lang.values())


def test_json_is_the_record_with_its_actions_and_the_checkpoint(database_url, clock):
    db = open_database(database_url)
    try:
        store = IncidentStore(db, clock=clock)
        incident = triaged(store, clock)
        audit = AuditLog(db, Signer(Ed25519PrivateKey.generate()))
        audit.append_durable_sync({"kind": "incident_reported", "incident": incident.id})
        audit.append_durable_sync({"kind": "incident_note", "incident": incident.id})
        audit.checkpoint("manual")
        audit.close()
        body, content_type = ReportRenderer(db, clock=clock)(
            incident, store.actions(incident.id), "json", "en")
        doc = orjson.loads(body)
        assert content_type == "application/json"
        assert doc["incident"] == incident.to_json()
        assert [a["action"] for a in doc["actions"]] == ["opened", "assign", "note", "notified"]
        checkpoint = doc["audit_checkpoint"]
        assert checkpoint["seq"] >= 2 and len(checkpoint["head_hash"]) == 64
        html, _ = ReportRenderer(db, clock=clock)(incident, doc["actions"], "html", "en")
        assert checkpoint["head_hash"].encode() in html
        assert checkpoint["signature"].encode() in html
    finally:
        db.close()


def test_html_statuses_sections_and_escaping(store, clock, db):
    incident = triaged(store, clock)
    clock.now = T0 + 5 * HOUR  # PIPL sent, CAC (4 h) overdue, GDPR (72 h) pending
    html = ReportRenderer(db, clock=clock)(
        incident, store.actions(incident.id), "html", "en")[0].decode()
    rows = re.findall(r"<td>(PIPL|CAC|GDPR)</td>.*?class=\"st-(\w+)\"", html, re.S)
    assert rows == [("PIPL", "sent"), ("CAC", "overdue"), ("GDPR", "pending")]
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    strings = load_strings()["en"]
    for key in ("s_summary", "s_data", "s_timeline", "s_containment", "s_evidence",
                "s_notifications", "s_assessment", "s_signoff", "cp_none"):
        assert str(escape(strings[key])) in html, key
    for value in ("hmac:3f9a0c21d4e5b6a7", "9f2c" * 16, "route switched to masking",
                  "CN_RESIDENT_ID", "R-42", "较大 (large)", "$.items[*].id_number"):
        assert value in html, value


def test_chinese_html(store, clock, db):
    incident = triaged(store, clock)
    clock.now = T0 + 5 * HOUR
    html = ReportRenderer(db, clock=clock)(
        incident, store.actions(incident.id), "html", "zh")[0].decode()
    assert '<html lang="zh-CN">' in html
    for text in ("个人信息安全事件报告", "通知时限", "已发送", "已逾期", "待发送", "负责人签署",
                 "响应中检测到泄露", "较大", "暂无已签名的审计日志检查点"):
        assert text in html, text
    assert "较大 (large)" not in html


def test_near_miss_has_no_notification_duty(store, clock, db):
    incident, _ = store.record(leak(kind="export_blocked", breach=False, masked=True,
                                    dedup_key="export:x"))
    html = ReportRenderer(db, clock=clock)(incident, [], "html", "en")[0].decode()
    assert load_strings()["en"]["n_none"] in html
    assert 'class="st-' not in html


def test_bad_format_or_language(store, clock, db):
    incident = triaged(store, clock)
    renderer = ReportRenderer(db)
    with pytest.raises(ValueError):
        renderer(incident, [], "docx", "en")
    with pytest.raises(ValueError):
        renderer(incident, [], "html", "fr")


async def test_reports_over_the_admin_api(aiohttp_client, store, clock, db):
    incident = triaged(store, clock)

    async def grace(request: web.Request) -> Principal | None:
        return Principal("grace", ("compliance",), ("*",))

    app = web.Application()
    add_incident_routes(app, "/_dlp/", store, grace,
                        IncidentApiOptions(render=ReportRenderer(db, clock=clock)))
    client = await aiohttp_client(app)
    url = f"/_dlp/incidents/{incident.id}/report"
    resp = await client.get(url, params={"format": "pdf", "lang": "zh"})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    assert (await resp.read()).startswith(b"%PDF-")
    assert incident.id in resp.headers["Content-Disposition"]
    resp = await client.get(url, params={"format": "html", "lang": "en"})
    assert resp.status == 200 and resp.content_type == "text/html"
    assert incident.id in await resp.text()


def test_close_out_is_reported(store, clock, db):
    incident = triaged(store, clock)
    store.change(incident.id, "grace", "closeout",
                 {"cause": "release shipped an unmasked field", "rectification": "CI check"})
    incident = store.get(incident.id)
    html = ReportRenderer(db, clock=clock)(incident, [], "html", "zh")[0].decode()
    assert "release shipped an unmasked field" in html and "结案时间" in html
    assert load_strings()["zh"]["no_closeout"] not in html
