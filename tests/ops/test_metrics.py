"""The metric set: bounded labels after hostile traffic, buckets, blind spots, build info."""

from __future__ import annotations

import asyncio
import platform
import re

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from gateway import __version__
from gateway.config import parse_config
from gateway.demo.crm import create_crm_app
from gateway.metrics import KNOWN_METHODS, GatewayMetrics
from gateway.runtime import GATEWAY
from tests.ops.conftest import (
    USERS,
    GatewayProcess,
    demo_like_config,
    drive_demo_traffic,
    free_port,
    total,
)

# The metric set of ../shared/CONVENTIONS.md, as exposed (counters with ``_total``).
CONVENTIONS = (
    "dlpgw_http_requests_total", "dlpgw_http_request_duration_seconds",
    "dlpgw_upstream_request_duration_seconds", "dlpgw_upstream_errors_total",
    "dlpgw_http_requests_in_flight", "dlpgw_pii_findings_total",
    "dlpgw_inspection_duration_seconds", "dlpgw_inspection_bytes_total",
    "dlpgw_inspection_skipped_total", "dlpgw_exports_blocked_total", "dlpgw_approvals_total",
    "dlpgw_policy_decisions_total", "dlpgw_bruteforce_blocks_total", "dlpgw_incidents_open",
    "dlpgw_incident_notifications_overdue", "dlpgw_audit_write_failures_total",
    "dlpgw_audit_checkpoint_timestamp_seconds",
    "dlpgw_policy_last_reload_success_timestamp_seconds", "dlpgw_build_info",
)
# Every label name in use, each with a bounded set of values. A new one needs review.
LABEL_NAMES = frozenset({
    "route", "method", "code", "upstream", "reason", "entity", "action", "format", "result",
    "direction", "decision", "rule", "state", "severity", "kind", "stage", "critical", "le",
    "version", "python", "auth",
})
IP = re.compile(r"\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F]{0,4}:[0-9a-fA-F]{0,4}:")
LONG_NUMBER = re.compile(r"\d{5,}")


def assert_bounded_labels(text: str, routes: set[str], upstreams: set[str]) -> None:
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for name, value in sample.labels.items():
                names.add(name)
                where = f"{sample.name}{{{name}={value!r}}}"
                assert not any(user in value.lower() for user in (*USERS, "mallory")), where
                assert not IP.search(value), where
                assert "/" not in value and "@" not in value and "?" not in value, where
                if name != "le":
                    assert not LONG_NUMBER.search(value), where
                if name == "route":
                    assert value in routes | {"unmatched"}, where
                if name == "upstream":
                    assert value in upstreams, where
                if name == "method":
                    assert value in KNOWN_METHODS | {"OTHER"}, where
                if name == "code":
                    assert re.fullmatch(r"[1-5]\d\d|aborted", value), where
    assert names <= LABEL_NAMES, sorted(names - LABEL_NAMES)


def sample_names(text: str) -> set[str]:
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def has_metric(names: set[str], metric: str) -> bool:
    return any(n == metric or n in (metric + "_bucket", metric + "_count") for n in names)


async def test_after_hostile_traffic_no_label_carries_a_user_an_ip_or_a_path(
        start_upstream, start_gateway, tmp_path):
    crm = await start_upstream(create_crm_app())
    data = demo_like_config(int(crm.rsplit(":", 1)[1]), free_port(), tmp_path / "state")
    config = parse_config(data, env={})
    gw = await start_gateway(crm, config=config)
    sent = await asyncio.to_thread(drive_demo_traffic, gw.url)
    async with aiohttp.ClientSession() as client, client.get(gw.url + "/_dlp/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    assert total(text, "dlpgw_http_requests_total") == sent
    assert total(text, "dlpgw_http_requests_total", method="OTHER") == 1
    assert total(text, "dlpgw_upstream_errors_total") >= 1
    assert total(text, "dlpgw_bruteforce_blocks_total") >= 1
    assert_bounded_labels(text, {r.name for r in config.routes}, set(config.upstreams))
    names = sample_names(text)
    assert [m for m in CONVENTIONS if not has_metric(names, m)] == []


def test_merged_worker_metrics_carry_no_user_ip_or_path_either(demo_gateway: GatewayProcess):
    text = demo_gateway.metrics()
    assert_bounded_labels(text, {"crm", "legacy"}, {"crm", "legacy"})
    names = sample_names(text)
    assert [m for m in CONVENTIONS if not has_metric(names, m)] == []


def test_latency_buckets_span_half_a_millisecond_to_ten_seconds():
    metrics = GatewayMetrics("1.2.3")
    metrics.duration.labels(route="r").observe(0.0002)
    metrics.upstream_duration.labels(upstream="u").observe(12.0)
    metrics.inspection_duration.labels(format="json").observe(0.003)
    text = metrics.render().decode()
    for name in ("dlpgw_http_request_duration_seconds", "dlpgw_upstream_request_duration_seconds",
                 "dlpgw_inspection_duration_seconds"):
        bounds = [float(m) for m in re.findall(rf'{name}_bucket{{.*?le="([^"]+)"', text)
                  if m != "+Inf"]
        assert min(bounds) == 0.0005 and max(bounds) == 10.0, name
    assert 'dlpgw_http_request_duration_seconds_bucket{le="0.0005",route="r"} 1.0' in text
    assert 'dlpgw_upstream_request_duration_seconds_bucket{le="10.0",upstream="u"} 0.0' in text
    build = f'dlpgw_build_info{{python="{platform.python_version()}",version="1.2.3"}} 1.0'
    assert build in text
    assert metrics.multiprocess_dir is None


def _upstream_with_phone() -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response([{"name": "李雷", "phone": "13812345678"}])

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


async def _get(url: str, method: str = "GET") -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as client, client.request(method, url) as resp:
        return resp.status, await resp.read()


async def test_a_route_configured_not_to_inspect_is_counted_as_a_blind_spot(start_upstream,
                                                                            start_gateway):
    url = await start_upstream(_upstream_with_phone())
    gw = await start_gateway(url, routes=[
        {"name": "raw", "prefix": "/raw", "upstream": "crm", "inspection": {"enabled": False}},
        {"name": "default", "prefix": "/", "upstream": "crm"}])
    status, body = await _get(gw.url + "/raw/customers")
    assert status == 200 and b"13812345678" in body
    status, body = await _get(gw.url + "/customers")
    assert status == 200 and b"13812345678" not in body
    text = gw.app[GATEWAY].metrics.render().decode()
    assert total(text, "dlpgw_inspection_skipped_total", reason="route_disabled") == 1
    assert total(text, "dlpgw_inspection_skipped_total") == 1


async def test_a_gateway_without_pii_mask_counts_every_body_it_passes(start_upstream,
                                                                      start_gateway):
    url = await start_upstream(_upstream_with_phone())
    gw = await start_gateway(url, stages=["metrics"])
    for _ in range(3):
        assert (await _get(gw.url + "/customers"))[0] == 200
    assert (await _get(gw.url + "/customers", "HEAD"))[0] == 200
    text = gw.app[GATEWAY].metrics.render().decode()
    assert total(text, "dlpgw_inspection_skipped_total", reason="stage_disabled") == 3
    inspecting = await start_gateway(url)
    assert (await _get(inspecting.url + "/customers"))[0] == 200
    text = inspecting.app[GATEWAY].metrics.render().decode()
    assert total(text, "dlpgw_inspection_skipped_total") == 0


async def test_build_info_names_the_running_version(start_upstream, start_gateway):
    gw = await start_gateway(await start_upstream(_upstream_with_phone()))
    text = gw.app[GATEWAY].metrics.render().decode()
    assert total(text, "dlpgw_build_info", version=__version__) == 1
