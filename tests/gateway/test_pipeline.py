"""Pipeline order, denial, fail-closed behaviour; stages tested without a server."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from gateway.exchange import Exchange
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Pipeline
from gateway.runtime import GATEWAY
from tests.conftest import make_exchange


class Recorder:
    def __init__(self, name: str, log: list[str], *, critical: bool = True,
                 deny: bool = False, fail: str | None = None, observer: bool = False) -> None:
        self.name = name
        self.critical = critical
        self.observer = observer
        self._log = log
        self._deny = deny
        self._fail = fail

    async def on_request(self, ex: Exchange) -> None:
        self._log.append(f"{self.name}.req")
        if self._fail == "request":
            raise RuntimeError("boom 13812345678")
        if self._deny:
            ex.deny(403, "no", code="nope", stage=self.name)

    async def on_response(self, ex: Exchange) -> None:
        self._log.append(f"{self.name}.resp")
        if self._fail == "response":
            raise RuntimeError("boom")


def make_pipeline(stages, calls, incidents=None):
    async def forward(ex: Exchange) -> None:
        calls.append("upstream")
        ex.deny(200, "fake upstream", code="ok")

    class Sink:
        async def report(self, event):
            (incidents if incidents is not None else []).append((event.kind, event.detail))

    return Pipeline(stages, forward, GatewayMetrics("test"), Sink())


async def test_order_then_reverse_order():
    log: list[str] = []
    pipeline = make_pipeline([Recorder(n, log) for n in "abc"], log)
    await pipeline.handle(make_exchange())
    assert log == ["a.req", "b.req", "c.req", "upstream", "c.resp", "b.resp", "a.resp"]


async def test_deny_stops_and_only_entered_stages_see_the_response():
    log: list[str] = []
    stages = [Recorder("a", log), Recorder("b", log, deny=True), Recorder("c", log)]
    ex = make_exchange()
    await make_pipeline(stages, log).handle(ex)
    assert log == ["a.req", "b.req", "b.resp", "a.resp"]
    assert ex.status == 403
    assert ex.denial is not None and ex.denial.stage == "b"


async def test_critical_stage_failure_denies_503_and_records_an_incident(caplog):
    log: list[str] = []
    incidents: list = []
    stages = [Recorder("a", log), Recorder("b", log, fail="request"), Recorder("c", log)]
    ex = make_exchange()
    await make_pipeline(stages, log, incidents).handle(ex)
    assert "upstream" not in log
    assert ex.status == 503
    assert ex.denial is not None and ex.denial.code == "stage_failed"
    assert incidents == [("fail_closed", {"stage": "b", "hook": "on_request",
                                            "error": "RuntimeError"})]
    assert "13812345678" not in caplog.text
    assert "RuntimeError" in caplog.text


async def test_critical_failure_on_response_replaces_the_upstream_answer():
    log: list[str] = []
    stages = [Recorder("a", log), Recorder("b", log, fail="response")]
    ex = make_exchange()
    await make_pipeline(stages, log).handle(ex)
    assert ex.status == 503
    assert log[-1] == "a.resp"


async def test_non_critical_failure_is_counted_and_ignored():
    log: list[str] = []
    metrics = GatewayMetrics("test")
    stages = [Recorder("a", log, critical=False, fail="request"), Recorder("b", log)]

    async def forward(ex: Exchange) -> None:
        log.append("upstream")

    ex = make_exchange()
    await Pipeline(stages, forward, metrics, None).handle(ex)
    assert "upstream" in log
    assert 'dlpgw_stage_errors_total{critical="False",stage="a"} 1.0' in metrics.render().decode()


async def test_front_door_rejections_meet_only_observers():
    log: list[str] = []
    stages = [Recorder("obs", log, observer=True), Recorder("authz", log)]
    ex = make_exchange()
    ex.deny(404, "no route", code="no_route", stage="ingress")
    await make_pipeline(stages, log).handle(ex)
    assert log == ["obs.req", "obs.resp"]
    assert ex.status == 404


async def test_raising_stage_in_a_live_gateway_never_calls_the_upstream(
    start_upstream, start_gateway
):
    calls = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(text="should not be seen")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    gw = await start_gateway(await start_upstream(app))
    pipeline = gw.app[GATEWAY].pipeline
    pipeline.stages = (*pipeline.stages, Recorder("exploding", [], fail="request"))
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/x") as resp:
        assert resp.status == 503
        body = await resp.json()
    assert body["error"] == "stage_failed"
    assert body["request_id"] == resp.headers["X-Request-Id"]
    assert calls == []


@pytest.mark.parametrize("stages", [["metrics"], ["audit"], ["metrics", "audit"], []])
async def test_configured_stage_list_is_respected(start_gateway, stages, unused_tcp_port):
    gw = await start_gateway(f"http://127.0.0.1:{unused_tcp_port}", stages=stages)
    assert [s.name for s in gw.app[GATEWAY].pipeline.stages] == stages
