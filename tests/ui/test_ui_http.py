"""The review UI over plain HTTP: headers, cookies, CSRF, roles, triage, approvals, reports.

The UI runs on a real database (SQLite and PostgreSQL) with the gateway's real authn stage
and static API keys; only the proxy around it is left out (``test_in_the_gateway`` keeps
it in).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import sqlalchemy as sa
from aiohttp import ClientSession, DummyCookieJar

from gateway.approvals.store import ApprovalRequest
from gateway.runtime import GATEWAY
from gateway.ui.view import SECURITY_HEADERS
from reports.audit_store import iter_entries
from reports.incident import IncidentEvent
from tests.ui.conftest import UI, UiClient, csrf_in, key_of, seed_incidents, ui_config

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def assert_hardened(resp: Any) -> None:
    assert resp.headers["Content-Security-Policy"] == CSP
    for name, value in SECURITY_HEADERS.items():
        assert resp.headers[name] == value
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_headers_cookie_flags_and_redirects(make_ui):
    light = await make_ui()
    ui = light.ui
    resp, _ = await ui.get("/incidents")
    assert resp.status == 303 and resp.headers["Location"] == UI + "/login"
    assert_hardened(resp)
    resp, page = await ui.get("/login")
    assert resp.status == 200 and 'name="csrf"' in page
    assert_hardened(resp)
    cookie = resp.headers["Set-Cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", f"Path={UI}"):
        assert flag in cookie
    assert 'id="plain-http"' not in page  # loopback: Chromium keeps Secure cookies here
    for headers, warned in (({"Host": "gw.example.com"}, True),
                            ({"Host": "gw.example.com", "X-Forwarded-Proto": "https"}, False),
                            ({"Host": "[::1]:8080"}, False)):
        resp = await ui.client.get(UI + "/login", headers=headers)
        assert ('id="plain-http"' in await resp.text()) is warned, headers
    resp, css = await ui.get("/static/ui.css")
    assert resp.status == 200 and resp.content_type == "text/css" and ".badge" in css
    assert_hardened(resp)
    await ui.login("grace")
    resp, page = await ui.get("/incidents")
    assert resp.status == 200 and "<h1>Incidents</h1>" in page
    assert_hardened(resp)
    assert "<script" not in page and " style=" not in page  # nothing the CSP would block
    resp, page = await ui.get("/no/such/page")
    assert resp.status == 404 and "No such page." in page
    resp = await ui.client.get(UI, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == UI + "/"


async def test_every_post_needs_this_sessions_csrf_token(make_ui):
    light = await make_ui()
    ids = seed_incidents(light.incidents)
    ui = light.ui
    await ui.login("grace")
    _, page = await ui.get(f"/incidents/{ids['export']}")
    token = csrf_in(page)
    other = UiClient(ui.client)
    await other.login("grace")
    _, other_page = await other.get("/incidents")
    foreign = csrf_in(other_page)
    change = {"action": "status", "status": "closed"}
    for path in (f"/incidents/{ids['export']}/actions", "/logout", "/approvals/x/approve"):
        for form, cookie in ((change, ""), (change, None), (dict(change, csrf="forged"), None),
                             (dict(change, csrf=foreign), None), (dict(change, csrf=token), "")):
            resp, text = await ui.request("POST", path, form, cookie=cookie)
            assert resp.status == 403, (path, form, cookie)
            assert "security token is missing" in text
            assert_hardened(resp)
    assert light.incidents.get(ids["export"]).status == "open"
    resp, _ = await ui.get("/incidents")
    assert resp.status == 200  # still logged in: nothing above ended the session
    resp, _ = await ui.post(f"/incidents/{ids['export']}/actions", dict(change, csrf=token))
    assert resp.status == 303
    assert light.incidents.get(ids["export"]).status == "closed"


async def test_login_refusals_and_session_rotation(make_ui):
    light = await make_ui()
    ui = light.ui
    _, page = await ui.get("/login")
    anonymous_token = csrf_in(page)
    for form, status, message in (
            ({"api_key": "wrong-key-123"}, 401, "Invalid or missing credentials."),
            ({}, 401, "Invalid or missing credentials."),
            ({"api_key": "bad\nkey"}, 401, "Invalid or missing credentials."),
            ({"api_key": key_of("bob")}, 403, "Your roles give no access to the review UI.")):
        resp, text = await ui.post("/login", dict(form, csrf=anonymous_token))
        assert resp.status == status and message in text
        assert (await ui.get("/incidents"))[0].status == 303
    resp, _ = await ui.post("/login", {"csrf": "nope", "api_key": key_of("grace")})
    assert resp.status == 403
    resp, _ = await ui.post("/login", {"csrf": anonymous_token, "api_key": key_of("grace")})
    assert resp.status == 303 and resp.headers["Location"] == UI + "/"
    assert light.audit == [{"kind": "ui_login", "actor": "grace", "method": "api_key"}]
    resp, _ = await ui.post("/logout", {"csrf": anonymous_token})
    assert resp.status == 403  # the login form's token died with the anonymous session
    resp, _ = await ui.get("/login")
    assert resp.status == 303  # already logged in


async def test_logout_and_forged_cookies(make_ui):
    light = await make_ui()
    ui = light.ui
    await ui.login("grace")
    old = ui.cookie
    assert old is not None
    _, page = await ui.get("/incidents")
    resp, _ = await ui.post("/logout", {"csrf": csrf_in(page)})
    assert resp.status == 303 and resp.headers["Location"] == UI + "/login"
    assert "Max-Age=0" in resp.headers["Set-Cookie"] and ui.cookie is None
    assert light.audit[-1] == {"kind": "ui_logout", "actor": "grace"}
    resp, _ = await ui.request("GET", "/incidents", cookie=old)
    assert resp.status == 303  # the old cookie no longer opens anything
    await ui.login("dave")
    payload, mac = ui.cookie.split(".")
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    resp, _ = await ui.request("GET", "/incidents", cookie=f"{flipped}.{mac}")
    assert resp.status == 303


async def test_roles(make_ui):
    light = await make_ui()
    ids = seed_incidents(light.incidents)
    dave = light.ui
    await dave.login("dave")
    resp, page = await dave.get(f"/incidents/{ids['brute']}")
    assert resp.status == 200 and "Read-only access" in page
    assert 'id="form-status"' not in page and "/actions" not in page
    resp, text = await dave.post(f"/incidents/{ids['brute']}/actions",
                                 {"csrf": csrf_in(page), "action": "note", "note": "hi"})
    assert resp.status == 403 and "Your roles do not allow" in text
    assert [a["action"] for a in light.incidents.actions(ids["brute"])] == ["opened"]
    assert (await dave.get("/approvals"))[0].status == 403
    assert (await dave.get("/audit"))[0].status == 200
    carol = UiClient(dave.client)
    await carol.login("carol")
    assert (await carol.get("/incidents"))[0].status == 403
    assert (await carol.get("/audit"))[0].status == 403
    resp, _ = await carol.get("/")
    assert resp.headers["Location"] == UI + "/approvals"
    grace = UiClient(dave.client)
    await grace.login("grace")
    assert (await grace.get("/approvals"))[0].status == 403
    resp, page = await grace.get("/")
    assert resp.headers["Location"] == UI + "/incidents"


async def test_triage_is_stored_audited_and_checked(make_ui):
    light = await make_ui()
    ids = seed_incidents(light.incidents)
    ui = light.ui
    await ui.login("grace")
    item = f"/incidents/{ids['export']}"
    _, page = await ui.get(item)
    token = csrf_in(page)
    resp, _ = await ui.post(item + "/actions", {"csrf": token, "action": "status",
                                                "status": "investigating"})
    assert resp.status == 303 and resp.headers["Location"] == f"{UI}{item}?done=status"
    _, page = await ui.get(f"{item}?done=status")
    assert "Status changed." in page
    for form, status, message in (
            ({"action": "status", "status": "open"}, 409, "cannot go from investigating to open"),
            ({"action": "status", "status": "bogus"}, 400, "Choose a status from the list."),
            ({"action": "note", "note": "  "}, 400, "A note has 1 to 2000 characters."),
            ({"action": "closeout"}, 400, "Unknown action."),
            ({"action": "assign", "assignee": "x" * 121}, 400, "too long")):
        resp, text = await ui.post(item + "/actions", dict(form, csrf=token))
        assert resp.status == status and message in text, form
    for form in ({"action": "assign", "assignee": "grace"},
                 {"action": "note", "note": "Export was a test."}):
        assert (await ui.post(item + "/actions", dict(form, csrf=token)))[0].status == 303
    stored = light.incidents.get(ids["export"])
    assert stored.status == "investigating" and stored.assignee == "grace"
    assert [(a["actor"], a["action"], a["detail"]) for a in
            light.incidents.actions(stored.id)][1:] == [
        ("grace", "status", {"status": "investigating"}),
        ("grace", "assign", {"assignee": "grace"}),
        ("grace", "note", {"note": "Export was a test."})]
    assert [(e["kind"], e["via"]) for e in light.audit[1:]] == [
        ("incident_status", "ui"), ("incident_assign", "ui"), ("incident_note", "ui")]
    resp, text = await ui.post("/incidents/INC-20200101-NOPE/actions",
                               {"csrf": token, "action": "note", "note": "x"})
    assert resp.status == 404 and "No such incident." in text


async def test_filters(make_ui):
    light = await make_ui()
    ids = seed_incidents(light.incidents)
    await light.ui.login("grace")

    async def listed(query: str) -> set[str]:
        resp, page = await light.ui.get("/incidents?" + query)
        assert resp.status == 200
        return set(re.findall(r'data-id="(INC-[^"]+)"', page))

    assert await listed("") == set(ids.values())
    assert await listed("severity=critical&status=&kind=&category=&since=&until=") == {
        ids["leak"]}
    assert await listed("category=CN_MOBILE") == {ids["leak"], ids["export"]}
    assert await listed("kind=brute_force") == {ids["brute"]}
    assert await listed("since=2999-01-01T00:00") == set()
    assert await listed("until=2000-01-01T00:00") == set()
    assert await listed("since=2000-01-01T00:00&status=open") == set(ids.values())
    resp, page = await light.ui.get("/incidents?since=<b>soon</b>")
    assert resp.status == 400 and "not an ISO 8601 time" in page and "<b>soon" not in page


async def test_untrusted_text_is_escaped(make_ui):
    light = await make_ui()
    incident, _ = light.incidents.record(IncidentEvent(
        kind="manual", severity="low", rule="manual_report", dedup_key="x",
        summary="<script>alert(1)</script>", detail={"field": '"><img src=x>'}))
    light.incidents.change(incident.id, "grace", "note", {"note": "<iframe src=//evil>"})
    await light.ui.login("grace")
    for path in ("/incidents", f"/incidents/{incident.id}"):
        _, page = await light.ui.get(path)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script" not in page and "<img" not in page and "<iframe" not in page


async def test_approvals(make_ui):
    events: list[tuple[str, str, str]] = []

    async def on_event(kind: str, approval: Any, actor: str) -> None:
        events.append((kind, approval.id, actor))

    light = await make_ui(on_approval_event=on_event)

    def ask(reason: str) -> ApprovalRequest:
        return ApprovalRequest(method="GET", path="/api/projects/proj1/customers/export.csv",
                               query_fp="fp", reason=reason, max_records=300)

    bobs = await light.approvals.create("bob", "proj1", ask("quarterly <review>"))
    carols = await light.approvals.create("carol", "proj1", ask("mine"))
    foreign = await light.approvals.create("erin", "proj2", ask("other tenant"))
    ui = light.ui
    await ui.login("carol")
    resp, page = await ui.get("/approvals")
    assert resp.status == 200 and "quarterly &lt;review&gt;" in page
    assert bobs.id in page and carols.id in page and foreign.id not in page
    token = csrf_in(page)
    resp, text = await ui.post(f"/approvals/{carols.id}/approve", {"csrf": token})
    assert resp.status == 409 and "requesters cannot decide their own request" in text
    resp, text = await ui.post(f"/approvals/{foreign.id}/approve", {"csrf": token})
    assert resp.status == 409 and "approver is not responsible for this tenant" in text
    resp, text = await ui.post("/approvals/unknown-id/deny", {"csrf": token})
    assert resp.status == 404 and "no such approval" in text
    resp, _ = await ui.post(f"/approvals/{bobs.id}/approve", {"csrf": token, "comment": "ok"})
    assert resp.status == 303 and resp.headers["Location"] == UI + "/approvals?done=approved"
    approved = await light.approvals.get(bobs.id)
    assert approved.state == "approved" and approved.approvers == ("carol",)
    assert approved.decided_comment == "ok"
    root = UiClient(ui.client)
    await root.login("root")
    _, page = await root.get("/approvals")
    assert foreign.id in page and bobs.id not in page  # decided requests leave the list
    resp, _ = await root.post(f"/approvals/{foreign.id}/deny", {"csrf": csrf_in(page)})
    assert resp.status == 303
    assert (await light.approvals.get(foreign.id)).state == "denied"
    assert (await light.approvals.get(carols.id)).state == "pending"
    assert events == [("approved", bobs.id, "carol"), ("denied", foreign.id, "root")]


async def test_reports_through_the_render_hook(make_ui):
    calls: list[tuple[str, str, int]] = []

    def render(incident: Any, actions: list[dict[str, Any]], fmt: str,
               lang: str) -> tuple[bytes, str]:
        calls.append((fmt, lang, len(actions)))
        body = b"%PDF-1.7\n" if fmt == "pdf" else b"<!doctype html><p>report</p>"
        return body, "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"

    plain = await make_ui()
    ids = seed_incidents(plain.incidents)
    await plain.ui.login("dave")
    item = f"/incidents/{ids['leak']}"
    _, page = await plain.ui.get(item)
    assert "report.json" in page and "report.pdf" not in page
    resp, text = await plain.ui.get(item + "/report.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{ids["leak"]}.json"'
    assert orjson.loads(text)["incident"]["id"] == ids["leak"]
    assert (await plain.ui.get(item + "/report.pdf"))[0].status == 404
    assert plain.audit[-1] == {"kind": "incident_report", "incident": ids["leak"],
                               "actor": "dave", "format": "json", "via": "ui"}
    wired = await make_ui(render=render)
    await wired.ui.login("dave")
    _, page = await wired.ui.get(item)
    assert "report.pdf?lang=zh" in page and "report.html" in page
    resp = await wired.ui.client.get(UI + item + "/report.pdf?lang=zh",
                                     headers={"Cookie": f"dlpgw_ui={wired.ui.cookie}"})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    assert (await resp.read()).startswith(b"%PDF-")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{ids["leak"]}.pdf"'
    resp, _ = await wired.ui.get(item + "/report.html")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert (await wired.ui.get(item + "/report.html?lang=fr"))[0].status == 404
    assert (await wired.ui.get(item + "/report.docx"))[0].status == 404
    assert calls == [("pdf", "zh", 1), ("html", "en", 1)]


async def test_audit_status_page(make_ui):
    runs: list[int] = []

    async def tampered() -> dict[str, Any]:
        runs.append(1)
        return {"ok": False, "entries": 40, "checkpoints": 2, "first_seq": 1,
                "last_seq": 40, "first_bad_seq": 7,
                "problems": [{"seq": 7, "reason": "entry hash mismatch <x>"}]}

    async def broken() -> dict[str, Any]:
        raise OSError("disk")

    for options, status, expected in (
            ({}, 200, "Verification is not available on this gateway."),
            ({"verify_audit": tampered}, 200, "Tampered: the first bad entry is #7."),
            ({"verify_audit": broken}, 503, "Verification could not run (OSError)")):
        light = await make_ui(**options)
        await light.ui.login("dave")
        resp, page = await light.ui.get("/audit")
        assert resp.status == status and expected in page
        assert "Intact" not in page
    assert runs == [1]
    light = await make_ui(verify_audit=tampered)
    await light.ui.login("grace")
    for _ in range(3):
        _, page = await light.ui.get("/audit")
        assert "#7" in page and "entry hash mismatch &lt;x&gt;" in page
    assert runs == [1, 1]  # cached: one walk of the chain per 30 s, however often it is viewed


async def test_store_failure_is_a_visible_503(make_ui, monkeypatch):
    light = await make_ui()
    await light.ui.login("grace")

    def down(*args: Any) -> None:
        raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(light.incidents, "search", down)
    resp, page = await light.ui.get("/incidents")
    assert resp.status == 503 and "A store failed (OperationalError)" in page
    assert_hardened(resp)


async def test_in_the_gateway(start_gateway, tmp_path):
    """``create_app`` serves the UI before the proxy's catch-all, with the gateway's auth."""
    gateway = await start_gateway("http://127.0.0.1:9", config=ui_config(tmp_path))
    async with ClientSession(gateway.url, cookie_jar=DummyCookieJar()) as session:
        ui = UiClient(session)
        await ui.login("root")
        resp, page = await ui.get("/incidents")
        assert resp.status == 200 and "root" in page
        resp, page = await ui.get("/audit")
        assert resp.status == 200 and "Intact" in page
        api = await session.get("/_dlp/incidents", headers={"X-API-Key": key_of("root")})
        assert api.status == 200
    gw = gateway.app[GATEWAY]
    gw.audit_log.flush()
    kinds = [(e.kind, e.actor) for e in iter_entries(gw.database)]
    assert ("ui_login", "root") in kinds

