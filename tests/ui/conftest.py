"""A real gateway with API-key users for the review UI, served from its own thread.

The browser tests drive Chromium synchronously, so the gateway runs on an event loop in
a background thread (the test thread would otherwise block the server it is waiting for).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway.approvals.store import ApprovalStore
from gateway.config import Config
from gateway.exchange import Exchange, Principal, RequestData
from gateway.runtime import GATEWAY, Gateway
from gateway.stages.authn import AuthnStage
from gateway.ui import UiDeps, UiOptions, add_ui_routes
from reports.database import Database, open_database
from reports.incident import IncidentEvent
from reports.incident_store import IncidentStore
from tests.conftest import make_config

T = TypeVar("T")
UI = "/_dlp/ui"
USERS = {  # user: (roles, tenants)
    "grace": (["compliance"], ["*"]),
    "dave": (["auditor"], []),
    "carol": (["approver"], ["proj1"]),
    "bob": (["customer_manager"], ["proj1"]),
    "root": (["admin"], []),
}


def key_of(user: str) -> str:
    return f"ui-test-key-{user}"


def ui_config(tmp_path: Path, **overrides: Any) -> Config:
    static = [{"name": f"key-{user}", "user": user, "roles": roles, "tenants": tenants,
               "key": key_of(user), "demo": True} for user, (roles, tenants) in USERS.items()]
    auth = {"methods": ["api_key"],
            "api_keys": {"store_path": None, "pepper": "ui-test-pepper-0123456789",
                         "static": static}}
    return make_config({"crm": "http://127.0.0.1:9"}, tmp_path, auth=auth,
                       stages=["metrics", "audit", "authn"], **overrides)


def seed_incidents(store: IncidentStore) -> dict[str, str]:
    """Three incidents of different kinds; returns their ids by a short name."""
    events = {
        "export": IncidentEvent(kind="export_blocked", severity="high",
                                rule="records_over_limit", dedup_key="ui:export",
                                summary="CSV export of 300 customers blocked", route="crm",
                                tenant="proj1", actor="u_3f9a1c", record_count=300,
                                subject_count=300, categories={"CN_MOBILE": 300,
                                                               "CN_RESIDENT_ID": 300}),
        "brute": IncidentEvent(kind="brute_force", severity="medium", rule="login_failures",
                               dedup_key="ui:brute", summary="Password guessing on /login",
                               route="crm", client_ip="203.0.113.7"),
        "leak": IncidentEvent(kind="leak_detected", severity="critical",
                              rule="no_pii_route", dedup_key="ui:leak", breach=True,
                              summary="<b>Phone numbers</b> in a no-PII response",
                              route="crm", subject_count=12, record_count=12,
                              masked=False, categories={"CN_MOBILE": 12}),
    }
    return {name: store.record(event)[0].id for name, event in events.items()}


class ThreadedGateway:
    """``create_app`` on 127.0.0.1 in a thread with its own loop; ``call`` runs a coroutine."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app, access_log=None)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""

    @property
    def gw(self) -> Gateway:
        return self.app[GATEWAY]

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def start(self) -> None:
        self._thread.start()
        self.call(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self.call(site.start())
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.call(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def api(self, method: str, path: str, user: str, body: Any = None) -> Any:
        """One JSON admin API call as ``user`` (API key header), from the test thread."""
        async def run() -> Any:
            async with aiohttp.ClientSession() as session, session.request(
                    method, self.url + path, headers={"X-API-Key": key_of(user)},
                    data=None if body is None else orjson.dumps(body)) as resp:
                assert resp.status < 300, await resp.text()
                return await resp.json()
        return asyncio.run(run())


class UiClient:
    """An HTTP client that keeps the UI cookie itself (aiohttp's jar drops Secure cookies
    on http://) and reads CSRF tokens out of the pages."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cookie: str | None = None

    async def request(self, method: str, path: str, form: dict[str, str] | None = None,
                      cookie: str | None = None) -> tuple[Any, str]:
        value = cookie if cookie is not None else self.cookie
        headers = {"Cookie": f"dlpgw_ui={value}"} if value else {}
        resp = await self.client.request(method, UI + path, data=form, headers=headers,
                                         allow_redirects=False)
        text = await resp.text()
        morsel = resp.cookies.get("dlpgw_ui")
        if morsel is not None:
            self.cookie = morsel.value or None
        return resp, text

    async def get(self, path: str) -> tuple[Any, str]:
        return await self.request("GET", path)

    async def post(self, path: str, form: dict[str, str]) -> tuple[Any, str]:
        return await self.request("POST", path, form)

    async def login(self, user: str) -> Any:
        _, page = await self.get("/login")
        resp, _ = await self.post("/login", {"csrf": csrf_in(page), "api_key": key_of(user)})
        assert resp.status == 303, resp.status
        return resp


def csrf_in(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


class LightUi:
    """The UI alone on a real database and the real authn stage, without the proxy."""

    def __init__(self, client: UiClient, db: Database, audit: list[dict[str, Any]]) -> None:
        self.ui = client
        self.db = db
        self.incidents = IncidentStore(db)
        self.approvals = ApprovalStore(db)
        self.audit = audit


@pytest.fixture
async def make_ui(aiohttp_client: Any, tmp_path: Path,
                  database_url: str) -> AsyncIterator[Callable[..., Awaitable[LightUi]]]:
    """``await make_ui(**UiOptions fields)``: a fresh UI app; the database is shared."""
    db = open_database(database_url)
    config = ui_config(tmp_path)
    assert config.auth is not None
    stage = AuthnStage.from_settings(config.auth, config.state_path)

    async def identify(data: RequestData) -> Principal | None:
        return await stage.identify(Exchange(request_id="ui-test", request=data))

    async def make(**options: Any) -> LightUi:
        audit: list[dict[str, Any]] = []

        async def record(entry: dict[str, Any]) -> int:
            audit.append(entry)
            return len(audit)

        options.setdefault("audit", record)
        light = LightUi(UiClient(None), db, audit)
        app = web.Application()
        add_ui_routes(app, "/_dlp/", UiDeps(light.incidents, light.approvals, identify,
                                            b"ui-test-master-key-0123456789"),
                      UiOptions(**options))
        light.ui.client = await aiohttp_client(app, cookie_jar=aiohttp.DummyCookieJar())
        return light

    yield make
    db.close()
