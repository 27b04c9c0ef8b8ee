"""The tables every tenant schema holds: one ``MetaData`` shared by all tenants.

Tables here carry no schema: the tenant transaction's ``SET LOCAL search_path`` decides which
schema a statement touches, so the compiled-statement cache is shared by all 700+ tenants and
memory does not grow per tenant. The ``tenant`` Alembic track creates them; a test checks that
the migrations and this ``MetaData`` agree.
"""

from __future__ import annotations

import sqlalchemy as sa

tenant_metadata = sa.MetaData()

UNIT_KINDS = ("OPD", "KECAMATAN", "KELURAHAN", "UPT", "BIRO", "OTHER")

unit = sa.Table(
    "unit",
    tenant_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("code", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, server_default="OPD"),
    sa.Column("parent_id", sa.BigInteger, sa.ForeignKey("unit.id"), nullable=True),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(f"kind IN {UNIT_KINDS!r}", name="unit_kind_check"),
    sa.Index("unit_parent_idx", "parent_id"),
)

category = sa.Table(
    "category",
    tenant_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("code", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# The default categories a new tenant starts with are seeded by the first tenant migration.
