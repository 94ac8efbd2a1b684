"""Authentication: credentials in, ``ex.principal`` out; the credentials stay here.

Reads: ``Authorization: Bearer``, the API-key header, the trusted identity headers and
the socket peer IP, for the configured methods in their configured order; method, path
and route to recognise public paths.
Writes: ``ex.principal`` and an ``allow`` verdict naming the method; refusals are counted
in ``dlpgw_authn_failures_total{auth,reason}`` (fixed reason codes, never a subject). Removes the
credential headers from ``ex.request.headers`` before forwarding unless
``auth.forward_credentials``; identity headers from an untrusted peer are always removed
and flagged with an ``ignore`` verdict. On a public path nothing is authenticated:
``ex.principal`` stays ``None`` and ``ex.metadata["authn"]`` is ``"public"``.
Denies: 401 ``unauthenticated`` when no method finds a credential; 401
``invalid_credentials`` when the first credential found is invalid (expired, revoked,
bad signature …: the specific reason goes to the log and to a ``reject`` verdict, not
to the client). There is no fall-through to a later method after an invalid one. The
401 carries one ``WWW-Authenticate`` challenge per challengeable method.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.authn.apikeys import ApiKeyAuthenticator
from gateway.authn.authenticator import Authenticator, AuthError
from gateway.authn.jwt_auth import JwtAuthenticator
from gateway.authn.settings import AuthSettings
from gateway.authn.trusted_header import TrustedHeaderAuthenticator
from gateway.exchange import Exchange, Principal
from gateway.metrics import GatewayMetrics

__all__ = ["AuthnStage", "build_authenticators"]

log = logging.getLogger("dlpgw.authn")


def build_authenticators(settings: AuthSettings,
                         state_path: Callable[[str], Path]) -> list[Authenticator]:
    """One authenticator per configured method, in order (loads keys, opens the store)."""
    built: list[Authenticator] = []
    for method in settings.methods:
        if method == "jwt" and settings.jwt is not None:
            built.append(JwtAuthenticator.from_settings(settings.jwt))
        elif method == "api_key" and settings.api_keys is not None:
            store = settings.api_keys.store_path
            built.append(ApiKeyAuthenticator.from_settings(
                settings.api_keys, state_path(store) if store else None))
        elif method == "trusted_header" and settings.trusted_header is not None:
            built.append(TrustedHeaderAuthenticator(settings.trusted_header))
    return built


class AuthnStage:
    name = "authn"
    critical = True

    def __init__(self, settings: AuthSettings, authenticators: Sequence[Authenticator],
                 metrics: GatewayMetrics | None = None) -> None:
        self._settings = settings
        self._authenticators = tuple(authenticators)
        self._metrics = metrics

    @classmethod
    def from_settings(cls, settings: AuthSettings | None,
                      state_path: Callable[[str], Path],
                      metrics: GatewayMetrics | None = None) -> AuthnStage:
        if settings is None:
            raise ValueError("stages: authn is enabled but the auth section is missing")
        return cls(settings, build_authenticators(settings, state_path), metrics)

    async def on_request(self, ex: Exchange) -> None:
        request = ex.request
        if any(public.matches(request.method, request.path, ex.route)
               for public in self._settings.public_paths):
            ex.metadata["authn"] = "public"
            self._strip(ex)
            return
        for authenticator in self._authenticators:
            try:
                principal = await authenticator.authenticate(ex)
            except AuthError as err:
                self._reject(ex, authenticator, err)
                return
            if principal is not None:
                ex.principal = principal
                ex.verdicts.append({"stage": self.name, "decision": "allow",
                                    "method": authenticator.method})
                self._strip(ex)
                return
        self._count("none", "no_credentials")
        self._deny(ex, "unauthenticated", "authentication required", None)

    def _count(self, method: str, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.authn_failures.labels(auth=method, reason=reason).inc()

    async def on_response(self, ex: Exchange) -> None:
        return None

    async def identify(self, ex: Exchange) -> Principal | None:
        """Who the credentials on ``ex`` name, or None (used by the admin API)."""
        for authenticator in self._authenticators:
            try:
                principal = await authenticator.authenticate(ex)
            except AuthError:
                return None
            if principal is not None:
                return principal
        return None

    def _strip(self, ex: Exchange) -> None:
        for authenticator in self._authenticators:
            authenticator.strip(ex, self._settings.forward_credentials)

    def _reject(self, ex: Exchange, failed: Authenticator, err: AuthError) -> None:
        log.info("authentication failed: method=%s reason=%s subject=%s (request %s)",
                 failed.method, err.reason, err.subject or "-", ex.request_id)
        ex.verdicts.append({"stage": self.name, "decision": "reject",
                            "method": failed.method, "reason": err.reason})
        self._count(failed.method, err.reason)
        self._deny(ex, "invalid_credentials", "invalid or expired credentials",
                   (failed, err.challenge_error))

    def _deny(self, ex: Exchange, code: str, reason: str,
              failed: tuple[Authenticator, str] | None) -> None:
        ex.deny(401, reason, code=code, stage=self.name)
        assert ex.response is not None
        for authenticator in self._authenticators:
            error = failed[1] if failed is not None and failed[0] is authenticator else None
            challenge = authenticator.challenge(self._settings.realm, error)
            if challenge is not None:
                ex.response.headers.add("WWW-Authenticate", challenge)
