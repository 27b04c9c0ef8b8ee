"""Tenant settings: small per-tenant choices that are not time limits, starting with the status a
complaint takes when it arrives by transfer (``transfer_arrival_status``: SUBMITTED or VERIFIED).

A key/value table rather than a column per choice: tenants rarely set these, new keys need no
migration over 700 schemas, and code reading a key supplies the default when it is absent.

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0003"
down_revision: str | Sequence[str] | None = "t0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_setting",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("tenant_setting")
