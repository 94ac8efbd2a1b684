"""Identity asserted in headers by a trusted front proxy (an SSO or auth proxy).

The headers (``X-Forwarded-User``, ``X-Forwarded-Roles``, ``X-Forwarded-Tenants`` by
default; roles and tenants comma or space separated) are believed only when the TCP
peer — ``client_ip``, the socket address, never ``X-Forwarded-For`` — is inside one of
``proxy_cidrs``. From any other peer they are a spoofing attempt: ignored, removed from
the request even when ``forward_credentials`` is on (the upstream might trust them
too), counted in :attr:`TrustedHeaderAuthenticator.spoof_attempts`, flagged in the
exchange's verdicts and logged with the peer IP and the header *names* only.
"""

from __future__ import annotations

import ipaddress
import logging

from gateway.authn.authenticator import AuthError, check_user, drop_headers, split_names
from gateway.authn.settings import TrustedHeaderSettings
from gateway.exchange import Exchange, Principal

__all__ = ["TrustedHeaderAuthenticator"]

log = logging.getLogger("dlpgw.authn.trusted_header")


class TrustedHeaderAuthenticator:
    method = "trusted_header"

    def __init__(self, settings: TrustedHeaderSettings) -> None:
        self._user = settings.user_header
        self._roles = settings.roles_header
        self._tenants = settings.tenants_header
        self._networks = tuple(settings.proxy_cidrs)
        self.spoof_attempts = 0

    @property
    def header_names(self) -> tuple[str, str, str]:
        return self._user, self._roles, self._tenants

    def is_trusted_peer(self, client_ip: str) -> bool:
        try:
            address = ipaddress.ip_address(client_ip.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def _present(self, ex: Exchange) -> tuple[str, ...]:
        return tuple(name for name in self.header_names if name in ex.request.headers)

    async def authenticate(self, ex: Exchange) -> Principal | None:
        present = self._present(ex)
        if not present:
            return None
        if not self.is_trusted_peer(ex.request.client_ip):
            self._spoofed(ex, present)
            return None
        headers = ex.request.headers
        if any(len(headers.getall(name)) > 1 for name in present):
            raise AuthError("ambiguous_identity_header", "invalid_request")
        try:
            user = check_user(headers.get(self._user))
            roles = split_names(headers.get(self._roles))
            tenants = split_names(headers.get(self._tenants))
        except ValueError:
            raise AuthError("bad_identity_header", "invalid_request") from None
        return Principal(user=user, roles=roles, tenants=tenants, auth_method=self.method)

    def _spoofed(self, ex: Exchange, present: tuple[str, ...]) -> None:
        self.spoof_attempts += 1
        log.warning("identity header(s) %s from untrusted peer %s ignored (request %s)",
                    ", ".join(present), ex.request.client_ip, ex.request_id)
        ex.verdicts.append({"stage": "authn", "decision": "ignore",
                            "code": "untrusted_identity_header", "headers": list(present)})
        drop_headers(ex, present)

    def strip(self, ex: Exchange, forward: bool) -> None:
        present = self._present(ex)
        if not present:
            return
        if not self.is_trusted_peer(ex.request.client_ip):
            self._spoofed(ex, present)
        elif not forward:
            drop_headers(ex, present)

    def challenge(self, realm: str, error: str | None) -> str | None:
        return None
