"""Tenant registry: tenants and their custom domains.

Revision ID: p0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("slug", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("parent_id", sa.BigInteger, sa.ForeignKey("public.tenant.id"), nullable=True),
        sa.Column("region_code", sa.Text, nullable=True),
        sa.Column("time_zone", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="ACTIVE"),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("schema_name", sa.Text, nullable=False, unique=True),
        sa.Column("role_name", sa.Text, nullable=False, unique=True),
        sa.Column("cluster", sa.Text, nullable=False, server_default="main"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "kind IN ('NATIONAL', 'MINISTRY', 'PROVINCE', 'REGENCY', 'CITY')",
            name="tenant_kind_check",
        ),
        sa.CheckConstraint("status IN ('ACTIVE', 'SUSPENDED')", name="tenant_status_check"),
        schema="public",
    )
    op.create_index("tenant_parent_idx", "tenant", ["parent_id"], schema="public")
    op.create_index(
        "tenant_one_national_idx",
        "tenant",
        ["kind"],
        unique=True,
        schema="public",
        postgresql_where=sa.text("kind = 'NATIONAL'"),
    )
    op.create_table(
        "tenant_domain",
        sa.Column("host", sa.Text, primary_key=True),
        sa.Column(
            "tenant_id",
            sa.BigInteger,
            sa.ForeignKey("public.tenant.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="public",
    )
    op.create_index("tenant_domain_tenant_idx", "tenant_domain", ["tenant_id"], schema="public")


def downgrade() -> None:
    op.drop_table("tenant_domain", schema="public")
    op.drop_table("tenant", schema="public")
