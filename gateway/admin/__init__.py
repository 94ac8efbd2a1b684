"""Admin endpoints under the admin prefix (never forwarded upstream)."""

from gateway.admin.routes import add_admin_routes

__all__ = ["add_admin_routes"]
