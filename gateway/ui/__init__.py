"""The server-rendered review UI for compliance staff, admins, approvers and auditors."""

from gateway.ui.options import UiDeps, UiOptions
from gateway.ui.routes import add_ui_routes
from gateway.ui.session import SessionPolicy

__all__ = ["SessionPolicy", "UiDeps", "UiOptions", "add_ui_routes"]
