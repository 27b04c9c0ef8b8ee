"""National complaint index: one PII-free row per complaint per tenant that held it, and the
transfer ledger.

Tenant transactions run as the tenant's role, which has no privileges on ``public``. They write
their index rows through ``lapor_index_complaint``, a SECURITY DEFINER function that takes the
tenant from the transaction's role (``current_setting('role')``), which a tenant role cannot set
to another tenant's: a tenant can only ever write its own rows.

Revision ID: p0004
Revises: p0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0004"
down_revision: str | Sequence[str] | None = "p0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "kind", "channel", "status", "category_code", "region_code", "priority", "origin_tenant",
    "submitted_at", "verified_at", "assigned_at", "first_response_at", "closed_at", "closed_how", "outcome",
    "deadline_at", "reopen_count",
)  # fmt: skip
_TIMESTAMPS = {"submitted_at", "verified_at", "assigned_at", "first_response_at", "closed_at", "deadline_at"}


def _ts(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "national_complaint",
        sa.Column("tenant_slug", sa.Text, primary_key=True),
        sa.Column("tracking_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("category_code", sa.Text, nullable=True),
        sa.Column("region_code", sa.Text, nullable=True),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("origin_tenant", sa.Text, nullable=True),
        _ts("submitted_at", nullable=False),
        _ts("verified_at"),
        _ts("assigned_at"),
        _ts("first_response_at"),
        _ts("closed_at"),
        sa.Column("closed_how", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        _ts("deadline_at"),
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
        _ts("updated_at", nullable=False),
        schema="public",
    )
    op.create_index("national_complaint_tracking_idx", "national_complaint", ["tracking_id"], schema="public")
    op.create_index(
        "national_complaint_submitted_idx",
        "national_complaint",
        ["submitted_at", "tenant_slug"],
        schema="public",
    )
    op.create_table(
        "transfer",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tracking_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("source_tenant", sa.Text, nullable=False),
        sa.Column("target_tenant", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('FORWARD', 'ESCALATE', 'DELEGATE')", name="transfer_kind_check"),
        schema="public",
    )
    op.create_index("transfer_tracking_idx", "transfer", ["tracking_id"], schema="public")
    op.create_index("transfer_source_idx", "transfer", ["source_tenant", "at"], schema="public")
    op.create_index("transfer_target_idx", "transfer", ["target_tenant", "at"], schema="public")

    values = ", ".join(
        f"(p->>'{c}')::timestamptz"
        if c in _TIMESTAMPS
        else ("(p->>'reopen_count')::int" if c == "reopen_count" else f"p->>'{c}'")
        for c in _COLUMNS
    )
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS)
    op.execute(
        f"""
CREATE FUNCTION public.lapor_index_complaint(p jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE holder text;
BEGIN
  SELECT t.slug INTO holder FROM public.tenant t WHERE t.role_name = current_setting('role');
  IF holder IS NULL THEN
    RAISE EXCEPTION USING MESSAGE = 'only a tenant transaction may write the national index',
      ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO public.national_complaint (tenant_slug, tracking_id, {", ".join(_COLUMNS)}, updated_at)
  VALUES (holder, p->>'tracking_id', {values}, now())
  ON CONFLICT (tenant_slug, tracking_id) DO UPDATE SET {updates}, updated_at = now();
END $$
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION public.lapor_index_complaint(jsonb)")
    op.drop_table("transfer", schema="public")
    op.drop_table("national_complaint", schema="public")
