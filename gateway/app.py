"""Application factory: explicit wiring of config, upstreams, stages and admin routes."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from multidict import CIMultiDict

from detectors.fingerprint import Fingerprinter
from detectors.selftest import self_test
from gateway import __version__
from gateway.admin.incidents import IncidentApiOptions, add_incident_routes
from gateway.admin.policy_reload import add_policy_reload_route
from gateway.admin.routes import add_admin_routes
from gateway.approvals.api import (
    ApprovalApiOptions,
    Authenticate,
    EventHook,
    add_approval_routes,
)
from gateway.approvals.store import Approval, ApprovalStore
from gateway.audit_wiring import open_audit_log, prune_periodically
from gateway.body import DecodeLimits
from gateway.config import Config
from gateway.counters_redis import open_counters
from gateway.detection import build_engine, derive_key
from gateway.exchange import Exchange, Principal, RequestData
from gateway.handler import ProxyHandler
from gateway.incident_wiring import (
    incident_hooks,
    refresh_incident_gauges,
    report_renderer,
    webhook_dispatcher,
)
from gateway.metrics import GatewayMetrics
from gateway.paths import split_target
from gateway.pipeline import Pipeline
from gateway.policy_config import PolicyConfig
from gateway.policy_store import PolicyStore
from gateway.policy_watch import PolicyWatcher
from gateway.routing import Router
from gateway.runtime import GATEWAY, Gateway
from gateway.stages.authn import AuthnStage
from gateway.stages.registry import StageDeps, default_stages
from gateway.state_gauges import refresh_approval_gauges
from gateway.ui import add_ui_routes
from gateway.ui.wiring import ui_deps, ui_options
from gateway.upstream import Upstreams
from policies.access import AccessPolicy, PolicyError, default_policy_files
from reports.database import open_database
from reports.incident import Incident
from reports.incident_store import IncidentStore
from reports.recorder import IncidentRecorder

__all__ = ["POLICY_WATCHER", "build_gateway", "create_app", "load_policy"]

POLICY_WATCHER = web.AppKey("policy_watcher", PolicyWatcher)

log = logging.getLogger("dlpgw.app")




def load_policy(config: PolicyConfig) -> AccessPolicy:
    """The access policy from the configured files (default: the packaged demo policy)."""
    files = default_policy_files()
    try:
        return AccessPolicy.from_files(config.model or files.model,
                                       config.policy or files.policy,
                                       config.grouping or files.grouping)
    except PolicyError as exc:
        raise ValueError(f"policy: {exc}") from None


def _master_key(config: Config) -> bytes:
    if config.secrets.hmac_key:
        return config.secrets.hmac_key.encode()
    log.warning(
        "secrets.hmac_key is not set: using a random key, so fingerprints and pseudonyms "
        "change on restart"
    )
    return secrets.token_bytes(32)


def build_gateway(config: Config) -> Gateway:
    metrics = GatewayMetrics(__version__)
    upstreams = Upstreams(
        config.upstreams,
        metrics,
        DecodeLimits(
            max_decoded_bytes=config.limits.decoded_body_bytes,
            max_ratio=config.limits.max_decode_ratio,
        ),
    )
    master = _master_key(config)
    engine = build_engine(config, master)
    policy = load_policy(config.policy)
    metrics.policy_reload.set_to_current_time()
    fingerprinter = Fingerprinter(derive_key(master, "fingerprint"))
    database = open_database(config.database_url())
    if "store_path" in config.exports.model_fields_set:
        log.warning("exports.store_path is deprecated and ignored: approvals live in the "
                    "shared database (store.url)")
    approvals = ApprovalStore(database)
    counters = open_counters(config.store)
    audit_log = open_audit_log(config, metrics, database)
    incidents = IncidentStore(database, window=config.incidents.dedup_window_seconds,
                              regimes=config.incidents.regimes())
    webhooks = webhook_dispatcher(config, database, incidents, metrics)
    recorder = IncidentRecorder(incidents, incident_hooks(metrics, webhooks, audit_log))
    deps = StageDeps(metrics=metrics, audit_log=audit_log, fingerprinter=fingerprinter,
                     engine=engine, policy=policy, approvals=approvals, incidents=recorder,
                     counters=counters,
                     database=database, watermark_secret=derive_key(master, "watermark"))
    router = Router(config.routes)
    stages = default_stages(config, deps)

    routes = {route.name: route for route in config.routes}

    async def forward(ex: Exchange) -> None:
        await upstreams.forward(ex, routes[ex.route])

    pipeline = Pipeline(stages, forward, metrics, recorder)
    metrics.declare_stages((stage.name, stage.critical) for stage in stages)
    return Gateway(config, metrics, upstreams, audit_log, pipeline, router, engine, policy,
                   approvals, fingerprinter, database, incidents, recorder, counters=counters,
                   webhooks=webhooks)


def _on_sighup(callback: Callable[[], object]) -> bool:
    """Reload on SIGHUP where the loop can take signals (the main thread, POSIX)."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, callback)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        log.debug("SIGHUP reload is not available in this thread")
        return False
    return True


def _identifier(gw: Gateway) -> Authenticate:
    """Admin API callers authenticate like gateway traffic (the authn stage's methods)."""
    authn = next((s for s in gw.pipeline.stages if isinstance(s, AuthnStage)), None)

    async def identify(request: web.Request) -> Principal | None:
        if authn is None:
            return None
        raw_path, query = split_target(request.raw_path)
        data = RequestData(method=request.method, path=raw_path, query_string=query,
                           headers=CIMultiDict(request.headers),
                           client_ip=request.remote or "")
        return await authn.identify(Exchange(request_id=os.urandom(8).hex(), request=data))

    return identify


def _approval_event(gw: Gateway) -> EventHook:
    async def record(kind: str, approval: Approval, actor: str) -> None:
        gw.metrics.approvals.labels(state=kind).inc()
        await gw.audit_log.append_durable({"kind": f"approval_{kind}", "actor": actor,
                                           "approval": approval.id,
                                           "requester": approval.requester,
                                           "tenant": approval.tenant, "state": approval.state})

    return record


async def _sweep_approvals(gw: Gateway, interval: float = 60.0) -> None:
    while True:
        await asyncio.sleep(interval)
        expired = await gw.approvals.expire_stale()
        if expired:
            gw.metrics.approvals.labels(state="expired").inc(expired)


def _created_hook(gw: Gateway) -> Callable[[Incident], None] | None:
    recorded = gw.recorder.hooks.on_recorded
    if recorded is None:
        return None

    def created(incident: Incident) -> None:
        recorded(incident, True, 1)

    return created


def create_app(config: Config, gateway: Gateway | None = None) -> web.Application:
    gw = gateway or build_gateway(config)
    app = web.Application(client_max_size=config.limits.request_body_bytes)
    app[GATEWAY] = gw
    watcher = app[POLICY_WATCHER] = (
        PolicyWatcher.shared(gw.policy, gw.metrics, PolicyStore(gw.database),
                             config.store.policy_poll_seconds)
        if config.store.policy_in_database() else PolicyWatcher(gw.policy, gw.metrics))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        gw.selftest_failures = await asyncio.to_thread(self_test, gw.engine)
        if gw.selftest_failures:
            log.error("detector self-test failed for %s: not ready",
                      ", ".join(gw.selftest_failures))
        # The dictionaries loaded at start-up never die: keep the cyclic GC from
        # walking them again and again while requests allocate.
        gc.collect()
        gc.freeze()
        await gw.upstreams.start()
        pruner = asyncio.create_task(prune_periodically(gw.audit_log, config))
        watching = asyncio.create_task(watcher.run())
        sighup = _on_sighup(lambda: watcher.reload("SIGHUP"))
        sweeper = asyncio.create_task(_sweep_approvals(gw))
        gauges = asyncio.create_task(refresh_incident_gauges(gw.incidents, gw.metrics))
        approval_gauges = asyncio.create_task(refresh_approval_gauges(gw.approvals, gw.metrics))
        webhooks = asyncio.create_task(gw.webhooks.run()) if gw.webhooks else None
        yield
        gauges.cancel()
        approval_gauges.cancel()
        for stage in gw.pipeline.stages:
            closer = getattr(stage, "aclose", None)
            if closer is not None:
                await closer()
        await gw.recorder.close()
        if webhooks is not None and gw.webhooks is not None:
            webhooks.cancel()
            await asyncio.gather(webhooks, return_exceptions=True)
            await gw.webhooks.close()
        sweeper.cancel()
        if sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        watching.cancel()
        pruner.cancel()
        await gw.upstreams.close()
        await asyncio.to_thread(gw.audit_log.close)
        gw.approvals.close()
        await gw.counters.close()
        gw.database.close()

    app.cleanup_ctx.append(lifecycle)
    add_approval_routes(app, config.admin.prefix, gw.approvals, _identifier(gw),
                        ApprovalApiOptions(fingerprint=gw.fingerprinter.fp,
                                           on_event=_approval_event(gw),
                                           tenant_patterns=config.policy.tenant_patterns))
    add_policy_reload_route(app, config.admin.prefix, watcher, _identifier(gw), gw.audit_log)
    incident_options = IncidentApiOptions(render=report_renderer(config, gw.database),
                                          audit=gw.audit_log.append_durable,
                                          on_created=_created_hook(gw))
    add_incident_routes(app, config.admin.prefix, gw.incidents, _identifier(gw),
                        incident_options)
    add_ui_routes(app, config.admin.prefix, ui_deps(gw),
                  ui_options(gw, incident_options.render, _approval_event(gw)))
    add_admin_routes(app, config.admin.prefix)
    handler = ProxyHandler(gw.pipeline, gw.router, gw.upstreams, config, gw.metrics)
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    return app
