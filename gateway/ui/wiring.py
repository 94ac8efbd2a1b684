"""Builds the UI's dependencies from a running gateway (used by ``create_app``)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from typing import Any

from gateway.approvals.api import EventHook
from gateway.config import Config
from gateway.exchange import Exchange, Principal, RequestData
from gateway.runtime import Gateway
from gateway.stages.authn import AuthnStage
from gateway.ui.options import Identify, RenderHook, UiDeps, UiOptions, VerifyHook
from reports.audit_verify import verify_chain

__all__ = ["ui_deps", "ui_options"]

log = logging.getLogger("dlpgw.ui")


def _master_key(config: Config) -> bytes:
    if config.secrets.hmac_key:
        return config.secrets.hmac_key.encode()
    log.warning("secrets.hmac_key is not set: review UI sessions end when the gateway restarts")
    return secrets.token_bytes(32)


def _identify(gw: Gateway) -> Identify:
    """The authn stage's own check (API key, bearer token, trusted header), or nobody."""
    authn = next((s for s in gw.pipeline.stages if isinstance(s, AuthnStage)), None)

    async def identify(data: RequestData) -> Principal | None:
        if authn is None:
            return None
        return await authn.identify(Exchange(request_id=os.urandom(8).hex(), request=data))

    return identify


def ui_deps(gw: Gateway) -> UiDeps:
    return UiDeps(incidents=gw.incidents, approvals=gw.approvals, identify=_identify(gw),
                  master_key=_master_key(gw.config))


def _verifier(gw: Gateway) -> VerifyHook:
    """The whole chain checked against this gateway's own signing key."""
    signer = gw.audit_log.signer

    async def verify() -> dict[str, Any]:
        keys = {signer.key_id: signer.public_key}
        report = await asyncio.to_thread(verify_chain, gw.database, keys)
        return report.to_dict()

    return verify


def ui_options(gw: Gateway, render: RenderHook | None,
               on_approval_event: EventHook | None) -> UiOptions:
    auth = gw.config.auth
    header = auth.api_keys.header if auth is not None and auth.api_keys is not None else (
        "X-API-Key")
    return UiOptions(render=render, audit=gw.audit_log.append_durable,
                     on_approval_event=on_approval_event, verify_audit=_verifier(gw),
                     api_key_header=header)
