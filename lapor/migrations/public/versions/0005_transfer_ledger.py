"""Transfer ledger access for tenant transactions: write a row as the source or target tenant,
read the rows a tenant took part in.

A transfer runs in one transaction that enters the source tenant, then the target tenant
(``SET LOCAL ROLE`` each time); neither role may touch ``public``. The ledger row is written
through ``lapor_record_transfer``, a SECURITY DEFINER function that accepts it only when the
transaction's current role (``current_setting('role')``) is the role of the source or the target
tenant named in the row, the same binding ``lapor_index_complaint`` uses: no tenant can record a
transfer between two others. ``lapor_tenant_transfers`` reads a keyset page of the caller's own
rows (incoming, outgoing or both), so the ``transfers`` query runs inside the tenant transaction
with both walls up and still cannot see another tenant's transfers.

Revision ID: p0005
Revises: p0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "p0005"
down_revision: str | Sequence[str] | None = "p0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CALLER = """
  SELECT t.slug INTO caller FROM public.tenant t WHERE t.role_name = current_setting('role');
  IF caller IS NULL THEN
    RAISE EXCEPTION USING MESSAGE = 'only a tenant transaction may use the transfer ledger',
      ERRCODE = 'insufficient_privilege';
  END IF;"""


def upgrade() -> None:
    op.create_check_constraint(
        "transfer_not_to_itself", "transfer", "source_tenant <> target_tenant", schema="public"
    )
    op.execute(
        f"""
CREATE FUNCTION public.lapor_record_transfer(p jsonb) RETURNS public.transfer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE caller text; written public.transfer;
BEGIN{_CALLER}
  IF caller NOT IN (p->>'source_tenant', p->>'target_tenant') THEN
    RAISE EXCEPTION USING MESSAGE = 'only the source or the target tenant may record a transfer',
      ERRCODE = 'insufficient_privilege';
  END IF;
  INSERT INTO public.transfer (tracking_id, kind, source_tenant, target_tenant, actor, reason)
  VALUES (p->>'tracking_id', p->>'kind', p->>'source_tenant', p->>'target_tenant', p->>'actor',
          p->>'reason')
  RETURNING * INTO written;
  RETURN written;
END $$
"""
    )
    # Newest first, keyset on (at, id); each side reads its own index, then the two are merged.
    op.execute(
        f"""
CREATE FUNCTION public.lapor_tenant_transfers(
  direction text, before_at timestamptz, before_id bigint, lim integer
) RETURNS SETOF public.transfer
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE caller text;
BEGIN{_CALLER}
  RETURN QUERY
  SELECT found.* FROM (
    (SELECT x.* FROM public.transfer x
      WHERE direction IN ('OUTGOING', 'ALL') AND x.source_tenant = caller
        AND (before_at IS NULL OR (x.at, x.id) < (before_at, before_id))
      ORDER BY x.at DESC, x.id DESC LIMIT lim)
    UNION ALL
    (SELECT x.* FROM public.transfer x
      WHERE direction IN ('INCOMING', 'ALL') AND x.target_tenant = caller
        AND (before_at IS NULL OR (x.at, x.id) < (before_at, before_id))
      ORDER BY x.at DESC, x.id DESC LIMIT lim)
  ) found
  ORDER BY found.at DESC, found.id DESC LIMIT lim;
END $$
"""
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION public.lapor_tenant_transfers(text, timestamptz, bigint, integer)")
    op.execute("DROP FUNCTION public.lapor_record_transfer(jsonb)")
    op.drop_constraint("transfer_not_to_itself", "transfer", schema="public")
