"""Export approvals and the shared access policy in the shared database.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STATES = "'pending', 'approved', 'denied', 'revoked', 'expired', 'used'"


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("requester", sa.Text, nullable=False),
        sa.Column("tenant", sa.Text),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("query_fp", sa.Text, nullable=False),
        sa.Column("max_records", sa.BigInteger, nullable=False),
        sa.Column("unmask", sa.Text, nullable=False, server_default="[]"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ticket", sa.Text),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("approvals_needed", sa.Integer, nullable=False, server_default="1"),
        sa.Column("approvers", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("uses_left", sa.Integer, nullable=False, server_default="1"),
        sa.Column("decided_comment", sa.Text),
        sa.CheckConstraint(f"state IN ({_STATES})", name="approvals_state_known"),
    )
    op.create_index("approvals_state", "approvals", ["state", "expires_at"])
    op.create_index("approvals_tenant", "approvals", ["tenant"])
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("model_text", sa.Text, nullable=False),
        sa.Column("policy_text", sa.Text, nullable=False),
        sa.Column("grouping_text", sa.Text),
        sa.Column("pushed_at", sa.Float, nullable=False),
        sa.Column("pushed_by", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_versions")
    op.drop_table("approvals")
