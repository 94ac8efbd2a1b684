"""Export approvals: a SQLite store and the admin HTTP API that drives it."""

from gateway.approvals.api import ApprovalApiOptions, add_approval_routes, sorted_query
from gateway.approvals.store import (
    Approval,
    ApprovalError,
    ApprovalRequest,
    ApprovalStore,
    ApprovalUse,
)

__all__ = [
    "Approval",
    "ApprovalApiOptions",
    "ApprovalError",
    "ApprovalRequest",
    "ApprovalStore",
    "ApprovalUse",
    "add_approval_routes",
    "sorted_query",
]
