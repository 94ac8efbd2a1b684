"""Traces of approved exports (their watermarks) and per-user daily record totals.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_traces",
        sa.Column("watermark_id", sa.String(40), primary_key=True),
        sa.Column("approval_id", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("tenant", sa.Text),
        sa.Column("route", sa.String(120), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("export_traces_approval", "export_traces", ["approval_id"])
    op.create_index("export_traces_created", "export_traces", ["created_at"])
    op.create_table(
        "volume_daily",
        sa.Column("user_fp", sa.String(64), primary_key=True),
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("records", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("volume_daily")
    op.drop_table("export_traces")
