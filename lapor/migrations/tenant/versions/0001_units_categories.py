"""Tenant schema: work units and complaint categories, seeded with the default categories.

Tenant migrations are replayed as SQL emitted once in Alembic's offline mode (see
lapor/platform/migrations.py): write them without reading data in Python.

Revision ID: t0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy: a migration must not change when the application's defaults do.
_SEED_CATEGORIES = (
    ("INFRASTRUKTUR", "Infrastruktur dan Pekerjaan Umum"),
    ("KESEHATAN", "Kesehatan"),
    ("PENDIDIKAN", "Pendidikan"),
    ("ADMINDUK", "Administrasi Kependudukan"),
    ("SOSIAL", "Sosial dan Bantuan Sosial"),
    ("LINGKUNGAN", "Lingkungan Hidup dan Kebersihan"),
    ("PERIZINAN", "Perizinan dan Investasi"),
    ("PERHUBUNGAN", "Perhubungan dan Transportasi"),
    ("AIR_BERSIH", "Air Bersih dan Sanitasi"),
    ("ENERGI", "Listrik dan Energi"),
    ("PERTANIAN", "Pertanian dan Ketahanan Pangan"),
    ("EKONOMI", "Ekonomi, UMKM dan Ketenagakerjaan"),
    ("KETERTIBAN", "Ketertiban Umum dan Keamanan"),
    ("KEPEGAWAIAN", "Kepegawaian dan Aparatur"),
    ("PUNGLI", "Pungutan Liar dan Penyalahgunaan Wewenang"),
    ("LAINNYA", "Lainnya"),
)


def upgrade() -> None:
    op.create_table(
        "unit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False, server_default="OPD"),
        sa.Column("parent_id", sa.BigInteger, sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "kind IN ('OPD', 'KECAMATAN', 'KELURAHAN', 'UPT', 'BIRO', 'OTHER')",
            name="unit_kind_check",
        ),
    )
    op.create_index("unit_parent_idx", "unit", ["parent_id"])
    category = op.create_table(
        "category",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("code", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.bulk_insert(
        category,
        [
            {"code": code, "name": name, "sort_order": index * 10}
            for index, (code, name) in enumerate(_SEED_CATEGORIES, start=1)
        ],
    )


def downgrade() -> None:
    op.drop_table("category")
    op.drop_table("unit")
