"""Application factory: explicit wiring of config, upstreams, stages and admin routes."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from detectors.fingerprint import Fingerprinter
from detectors.selftest import self_test
from gateway import __version__
from gateway.admin.routes import add_admin_routes
from gateway.body import DecodeLimits
from gateway.config import Config
from gateway.detection import build_engine, derive_key
from gateway.exchange import Exchange
from gateway.handler import ProxyHandler
from gateway.metrics import GatewayMetrics
from gateway.pipeline import Pipeline
from gateway.policy_config import PolicyConfig
from gateway.policy_watch import PolicyWatcher
from gateway.routing import Router
from gateway.runtime import GATEWAY, Gateway
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
    deps = StageDeps(metrics=metrics, request_log=request_log,
                     fingerprinter=Fingerprinter(derive_key(master, "fingerprint")),
                     engine=engine, policy=policy)
    router = Router(config.routes)
    stages = default_stages(config, deps)

    routes = {route.name: route for route in config.routes}

    async def forward(ex: Exchange) -> None:
        await upstreams.forward(ex, routes[ex.route])

    pipeline = Pipeline(stages, forward, metrics, _record_incident)
    return Gateway(config, metrics, upstreams, request_log, pipeline, router, engine, policy)


def _on_sighup(callback: Callable[[], object]) -> bool:
    """Reload on SIGHUP where the loop can take signals (the main thread, POSIX)."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, callback)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        log.debug("SIGHUP reload is not available in this thread")
        return False
    return True


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
        yield
        if sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        watching.cancel()
        flusher.cancel()
        await gw.upstreams.close()
        gw.request_log.close()

    app.cleanup_ctx.append(lifecycle)
    add_admin_routes(app, config.admin.prefix)
    handler = ProxyHandler(gw.pipeline, gw.router, gw.upstreams, config, gw.metrics)
    app.router.add_route("*", "/{tail:.*}", handler.handle)
    return app
