"""National views: a monthly rollup of the national index kept exact through a change journal,
a sticky "missed a deadline" flag per index row, and the access audit of cross-tenant reads.

Why a rollup: aggregating the 1,000,000 rows of ``national_complaint`` takes about 600 ms on the
reference machine (and a median over them seconds), far from the 100 ms target (DESIGN.md P5).
Counters per grain (tenant, kind, category, channel, all) and span (Jakarta month, quarter,
year) answer it from a few thousand rows instead: twelve rolling months of 700 tenants are 4,200.

Why a journal rather than a trigger that updates the rollup: every complaint change of a
tenant in a month would update the same rollup row, and the national (kind, month) rows are
shared by every tenant: writers would queue on those row locks until commit. Instead an AFTER
trigger appends the row's old state (sign -1) and new state (sign +1) to
``national_journal``, an append-only heap nobody contends on. Readers add the journal to the
rollup in the same statement, so figures are exact at every moment; the application folds the
journal into the rollup from time to time (``lapor.tenants.national.rollup``). The counters
themselves are computed by the application from the journal's state columns, so this migration
holds no figure definitions; it seeds the journal with every existing row.

Why ``missed_deadline``: the index keeps only the current deadline. A BEFORE UPDATE trigger sets
the flag, for good, when a row that was waiting on the agency (SUBMITTED, VERIFIED, IN_PROGRESS)
changes after its deadline passed: the step came late, or the clock was reset (a reassignment)
to hide it. The on-time rate reads it.

Revision ID: p0006
Revises: p0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "p0006"
down_revision: str | Sequence[str] | None = "p0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = (
    "received", "verified", "in_progress", "responded", "closed", "archived", "transferred",
    "followed_up", "resolved", "on_time", "due", "owed", "owed_unmissed",
)  # fmt: skip
BUCKETS = 48
"""Histogram of hours to first response: bucket ``floor(4 * log2(1 + hours))``, the last open."""

_OWED = "('SUBMITTED', 'VERIFIED', 'IN_PROGRESS')"
_DUE = "coalesce(deadline_at, 'infinity'::timestamptz)"
_PENDING_INCLUDE = (
    "submitted_at", "tenant_slug", "kind", "category_code", "channel", "missed_deadline", "deadline_at", "status",
)  # fmt: skip
_STATE = (
    "tenant_slug", "submitted_at", "kind", "category_code", "channel", "status", "verified_at", "outcome",
    "missed_deadline", "first_response_at",
)  # fmt: skip
"""The columns the rollup depends on: a change to anything else (deadline, priority) is no news."""


def _snapshot(row: str, sign: int) -> str:
    return (
        f"INSERT INTO public.national_journal (tenant_slug, month, kind, category_code, channel, status, "
        f"verified, outcome, missed, bucket, sign) VALUES ({row}.tenant_slug, "
        f"public.lapor_report_month({row}.submitted_at), {row}.kind, {row}.category_code, {row}.channel, "
        f"{row}.status, {row}.verified_at IS NOT NULL, {row}.outcome, {row}.missed_deadline, "
        f"public.lapor_response_bucket({row}.submitted_at, {row}.first_response_at), {sign});"
    )


def upgrade() -> None:
    op.add_column(
        "national_complaint",
        sa.Column("missed_deadline", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="public",
    )
    # Reporting months are Jakarta (WIB) months: the national calendar KemenPAN-RB reports in.
    op.execute(
        """
CREATE FUNCTION public.lapor_report_month(at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_trunc('month', at AT TIME ZONE 'Asia/Jakarta')::date $$
"""
    )
    op.execute(
        f"""
CREATE FUNCTION public.lapor_response_bucket(submitted timestamptz, responded timestamptz) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN responded IS NULL THEN NULL ELSE least({BUCKETS - 1},
     floor(4 * ln(1 + greatest(0, date_part('epoch', responded - submitted)) / 3600.0) / ln(2)))::smallint END $$
"""
    )
    op.create_table(
        "national_journal",
        sa.Column("tenant_slug", sa.Text, nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("category_code", sa.Text, nullable=True),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("missed", sa.Boolean, nullable=False),
        sa.Column("bucket", sa.SmallInteger, nullable=True),
        sa.Column("sign", sa.SmallInteger, nullable=False),
        schema="public",
    )
    op.create_table(
        "national_rollup",
        sa.Column("grain", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("span", sa.Text, nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        *(sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in COUNTERS),
        *(sa.Column(f"h{i:02d}", sa.Integer, nullable=False, server_default="0") for i in range(BUCKETS)),
        sa.CheckConstraint("grain IN ('ALL', 'TENANT', 'KIND', 'CATEGORY', 'CHANNEL')", name="rollup_grain"),
        sa.CheckConstraint("span IN ('M', 'Q', 'Y')", name="rollup_span"),
        # A period is a few ranges of (span, month) within one grain: whole years, quarters, months.
        sa.PrimaryKeyConstraint("grain", "span", "month", "key", name="national_rollup_pkey"),
        schema="public",
    )
    # Folds update rollup rows in place: room on each page keeps those updates on the page (HOT).
    op.execute("ALTER TABLE public.national_rollup SET (fillfactor = 70)")
    # Every fold leaves the rows it moved dead: vacuum the journal after each, whatever its size,
    # so readers scanning it stay fast.
    op.execute(
        "ALTER TABLE public.national_journal SET (autovacuum_vacuum_threshold = 500, "
        "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_insert_threshold = 5000, "
        "autovacuum_vacuum_insert_scale_factor = 0)"
    )
    op.execute(
        f"""
CREATE FUNCTION public.lapor_national_missed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status IN {_OWED} AND OLD.deadline_at < now() THEN
    NEW.missed_deadline := true;
  END IF;
  RETURN NEW;
END $$
"""
    )
    op.execute(
        f"""
CREATE FUNCTION public.lapor_national_journal() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND ROW({", ".join("OLD." + c for c in _STATE)})
      IS NOT DISTINCT FROM ROW({", ".join("NEW." + c for c in _STATE)}) THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {_snapshot("OLD", -1)}
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_snapshot("NEW", 1)}
  END IF;
  RETURN NULL;
END $$
"""
    )
    op.execute(
        "CREATE TRIGGER national_complaint_missed BEFORE UPDATE ON public.national_complaint "
        "FOR EACH ROW EXECUTE FUNCTION public.lapor_national_missed()"
    )
    op.execute(
        "CREATE TRIGGER national_complaint_journal AFTER INSERT OR UPDATE OR DELETE ON public.national_complaint "
        "FOR EACH ROW EXECUTE FUNCTION public.lapor_national_journal()"
    )
    # Rows indexed before this revision enter the rollup through the journal like any change.
    op.execute(
        "INSERT INTO public.national_journal (tenant_slug, month, kind, category_code, channel, status, "
        "verified, outcome, missed, bucket, sign) SELECT tenant_slug, public.lapor_report_month(submitted_at), "
        "kind, category_code, channel, status, verified_at IS NOT NULL, outcome, missed_deadline, "
        "public.lapor_response_bucket(submitted_at, first_response_at), 1 FROM public.national_complaint"
    )
    # Lateness changes with the clock, not with writes: the rollup counts the rows the agency owes
    # a step on, and readers subtract those not yet due, found here by their deadline (none:
    # never due), with every column they group by. Few rows: deadlines are days away. The plain
    # columns behind the expression and the predicate are included too: without them PostgreSQL
    # will not answer from the index alone (6 ms instead of 126 ms over 1,000,000 rows).
    op.create_index(
        "national_complaint_owed_idx",
        "national_complaint",
        [sa.text(_DUE)],
        schema="public",
        postgresql_where=sa.text(f"status IN {_OWED}"),
        postgresql_include=list(_PENDING_INCLUDE),
    )
    # A province's or a tenant's own figures read its rows directly.
    op.create_index(
        "national_complaint_tenant_submitted_idx",
        "national_complaint",
        ["tenant_slug", "submitted_at"],
        schema="public",
    )
    op.create_table(
        "access_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, nullable=True),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("tenant_slug", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("params", JSONB, nullable=False, server_default="{}"),
        schema="public",
    )
    op.create_index("access_audit_at_idx", "access_audit", ["at"], schema="public")
    op.create_index("access_audit_client_idx", "access_audit", ["client_id", "at"], schema="public")


def downgrade() -> None:
    op.drop_table("access_audit", schema="public")
    op.drop_index("national_complaint_tenant_submitted_idx", "national_complaint", schema="public")
    op.drop_index("national_complaint_owed_idx", "national_complaint", schema="public")
    op.execute("DROP TRIGGER national_complaint_journal ON public.national_complaint")
    op.execute("DROP TRIGGER national_complaint_missed ON public.national_complaint")
    op.execute("DROP FUNCTION public.lapor_national_journal()")
    op.execute("DROP FUNCTION public.lapor_national_missed()")
    op.drop_table("national_rollup", schema="public")
    op.drop_table("national_journal", schema="public")
    op.execute("DROP FUNCTION public.lapor_response_bucket(timestamptz, timestamptz)")
    op.execute("DROP FUNCTION public.lapor_report_month(timestamptz)")
    op.drop_column("national_complaint", "missed_deadline", schema="public")
