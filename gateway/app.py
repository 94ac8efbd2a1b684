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
from gateway.admin.policy_reload import add_policy_reload_route
from gateway.admin.routes import add_admin_routes
from gateway.approvals.api import ApprovalApiOptions, Authenticate, add_approval_routes
from gateway.approvals.store import Approval, ApprovalStore
from gateway.body import DecodeLimits
from gateway.config import Config
from gateway.detection import build_engine, derive_key
from gateway.exchange import Exchange, Principal, RequestData
from gateway.handler import ProxyHandler
from gateway.metrics import GatewayMetrics
from gateway.paths import split_target
from gateway.pipeline import Pipeline
from gateway.policy_config import PolicyConfig
from gateway.policy_watch import PolicyWatcher
from gateway.routing import Router
from gateway.runtime import GATEWAY, Gateway
from gateway.stages.authn import AuthnStage
from gateway.stages.registry import StageDeps, default_stages
from gateway.upstream import Upstreams
from policies.access import AccessPolicy, PolicyError, default_policy_files
from reports.request_log import RequestLog

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


def _record_incident(kind: str, ex: Exchange, detail: dict[str, str]) -> None:
    # The incident store arrives with the leak-response work; until then, log it.
    log.error("incident %s: %s (request %s)", kind, detail, ex.request_id)


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
    request_log = RequestLog(config.state_path(config.audit.path))
    master = _master_key(config)
    engine = build_engine(config, master)
    policy = load_policy(config.policy)
    metrics.policy_reload.set_to_current_time()
    approvals = ApprovalStore.open(config.state_path(config.exports.store_path))
    fingerprinter = Fingerprinter(derive_key(master, "fingerprint"))
    deps = StageDeps(metrics=metrics, request_log=request_log, fingerprinter=fingerprinter,
                     engine=engine, policy=policy, approvals=approvals)
    router = Router(config.routes)
    stages = default_stages(config, deps)

    routes = {route.name: route for route in config.routes}

    async def forward(ex: Exchange) -> None:
        await upstreams.forward(ex, routes[ex.route])

    pipeline = Pipeline(stages, forward, metrics, _record_incident)
    return Gateway(config, metrics, upstreams, request_log, pipeline, router, engine, policy,
                   approvals, fingerprinter)


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


def _approval_event(gw: Gateway) -> Callable[[str, Approval, str], None]:
    def record(kind: str, approval: Approval, actor: str) -> None:
        gw.metrics.approvals.labels(state=kind).inc()
        gw.request_log.append({"event": f"approval_{kind}", "approval": approval.id,
                               "actor": actor, "requester": approval.requester,
                               "tenant": approval.tenant, "state": approval.state})

    return record


async def _sweep_approvals(gw: Gateway, interval: float = 60.0) -> None:
    while True:
        await asyncio.sleep(interval)
        expired = await gw.approvals.expire_stale()
        if expired:
            gw.metrics.approvals.labels(state="expired").inc(expired)


async def _flush_periodically(request_log: RequestLog, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        request_log.flush()


def create_app(config: Config, gateway: Gateway | None = None) -> web.Application:
    gw = gateway or build_gateway(config)
    app = web.Application(client_max_size=config.limits.request_body_bytes)
    app[GATEWAY] = gw
    watcher = app[POLICY_WATCHER] = PolicyWatcher(gw.policy, gw.metrics)

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
        flusher = asyncio.create_task(_flush_periodically(gw.request_log, 1.0))
        watching = asyncio.create_task(watcher.run())
        sighup = _on_sighup(lambda: watcher.reload("SIGHUP"))
        sweeper = asyncio.create_task(_sweep_approvals(gw))
        yield
        sweeper.cancel()
        if sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        watching.cancel()
        flusher.cancel()
        await gw.upstreams.close()
        gw.request_log.close()
        gw.approvals.close()

    app.cleanup_ctx.append(lifecycle)
    add_approval_routes(app, config.admin.prefix, gw.approvals, _identifier(gw),
                        ApprovalApiOptions(fingerprint=gw.fingerprinter.fp,
                                           on_event=_approval_event(gw),
                                           tenant_patterns=config.policy.tenant_patterns))
    add_policy_reload_route(app, config.admin.prefix, watcher, _identifier(gw), gw.request_log)
    add_admin_routes(app, config.admin.prefix)
    handler = ProxyHandler(gw.pipeline, gw.router, gw.upstreams, config, gw.metrics)
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    return app
