"""Tables in the ``public`` schema: what every tenant shares (the registry, for now).

The ``public`` Alembic track creates these; this ``MetaData`` is what queries are written against.
"""

from __future__ import annotations

import sqlalchemy as sa

public_metadata = sa.MetaData(schema="public")

TENANT_KINDS = ("NATIONAL", "MINISTRY", "PROVINCE", "REGENCY", "CITY")
TENANT_STATUSES = ("ACTIVE", "SUSPENDED")

tenant = sa.Table(
    "tenant",
    public_metadata,
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
    sa.CheckConstraint(f"kind IN {TENANT_KINDS!r}", name="tenant_kind_check"),
    sa.CheckConstraint(f"status IN {TENANT_STATUSES!r}", name="tenant_status_check"),
    sa.Index("tenant_parent_idx", "parent_id"),
    sa.Index(
        "tenant_one_national_idx",
        "kind",
        unique=True,
        postgresql_where=sa.text("kind = 'NATIONAL'"),
    ),
)

tenant_domain = sa.Table(
    "tenant_domain",
    public_metadata,
    sa.Column("host", sa.Text, primary_key=True),
    sa.Column(
        "tenant_id",
        sa.BigInteger,
        sa.ForeignKey("public.tenant.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("tenant_domain_tenant_idx", "tenant_id"),
)

holiday = sa.Table(
    "holiday",
    public_metadata,
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.CheckConstraint("kind IN ('NATIONAL_HOLIDAY', 'JOINT_LEAVE')", name="holiday_kind_check"),
)

deadline_policy = sa.Table(
    "deadline_policy",
    public_metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("working_days", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.CheckConstraint("working_days > 0", name="deadline_policy_positive"),
)
