"""Choose a route by host and path prefix (longest prefix wins, host-specific first)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config import RouteConfig

__all__ = ["Router", "prefix_matches"]


def prefix_matches(prefix: str, path: str) -> bool:
    """``/api`` matches ``/api`` and ``/api/x`` but not ``/apix``."""
    if prefix in ("/", path):
        return True
    base = prefix.rstrip("/")
    return path.startswith(base + "/")


class Router:
    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self._routes = sorted(
            routes, key=lambda r: (r.host is None, -len(r.prefix.rstrip("/")))
        )

    def match(self, host: str, path: str) -> RouteConfig | None:
        hostname = host.rsplit(":", 1)[0].lower() if host and not host.startswith("[") else host
        for route in self._routes:
            if route.host is not None and route.host.lower() != hostname:
                continue
            if prefix_matches(route.prefix, path):
                return route
        return None
