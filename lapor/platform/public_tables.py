"""Tables in the ``public`` schema: what every tenant shares (the registry, for now).

The ``public`` Alembic track creates these; this ``MetaData`` is what queries are written against.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

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

signing_key = sa.Table(
    "signing_key",
    public_metadata,
    sa.Column("kid", sa.Text, primary_key=True),
    sa.Column("algorithm", sa.Text, nullable=False),
    sa.Column("public_jwk", JSONB, nullable=False),
    sa.Column("private_encrypted", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
)

oauth_client = sa.Table(
    "oauth_client",
    public_metadata,
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.BigInteger, sa.ForeignKey("public.tenant.id"), nullable=True),
    sa.Column("national", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("secret_hash", sa.Text, nullable=True),
    sa.Column("grant_types", ARRAY(sa.Text), nullable=False),
    sa.Column("scopes", ARRAY(sa.Text), nullable=False),
    sa.Column("redirect_uris", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

staff_user = sa.Table(
    "staff_user",
    public_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("email", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
)

membership = sa.Table(
    "membership",
    public_metadata,
    sa.Column(
        "user_id", sa.BigInteger, sa.ForeignKey("public.staff_user.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "tenant_id", sa.BigInteger, sa.ForeignKey("public.tenant.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("unit_id", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

authorization_code = sa.Table(
    "authorization_code",
    public_metadata,
    sa.Column("code_hash", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("public.oauth_client.client_id"), nullable=False),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("public.staff_user.id"), nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("code_challenge", sa.Text, nullable=False),
    sa.Column("code_challenge_method", sa.Text, nullable=False),
    sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
)

refresh_token = sa.Table(
    "refresh_token",
    public_metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("family_id", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text, sa.ForeignKey("public.oauth_client.client_id"), nullable=False),
    sa.Column("user_id", sa.BigInteger, sa.ForeignKey("public.staff_user.id"), nullable=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("refresh_token_family_idx", "family_id"),
)

national_complaint = sa.Table(
    "national_complaint",
    public_metadata,
    sa.Column("tenant_slug", sa.Text, primary_key=True),
    sa.Column("tracking_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("category_code", sa.Text, nullable=True),
    sa.Column("region_code", sa.Text, nullable=True),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("origin_tenant", sa.Text, nullable=True),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("closed_how", sa.Text, nullable=True),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("missed_deadline", sa.Boolean, nullable=False, server_default=sa.false()),
)

# The national views' rollup (migration p0006): a trigger journals every index change, the
# application folds the journal into monthly counters. Columns as lapor.tenants.national.rollup.
national_journal = sa.Table(
    "national_journal",
    public_metadata,
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
)

ROLLUP_COUNTERS = (
    "received", "verified", "in_progress", "responded", "closed", "archived", "transferred",
    "followed_up", "resolved", "on_time", "due", "owed", "owed_unmissed",
)  # fmt: skip
RESPONSE_BUCKETS = 48

national_rollup = sa.Table(
    "national_rollup",
    public_metadata,
    sa.Column("grain", sa.Text, nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("span", sa.Text, nullable=False),
    sa.Column("month", sa.Date, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in ROLLUP_COUNTERS),
    *(
        sa.Column(f"h{i:02d}", sa.Integer, nullable=False, server_default="0")
        for i in range(RESPONSE_BUCKETS)
    ),
    sa.PrimaryKeyConstraint("grain", "span", "month", "key", name="national_rollup_pkey"),
)

access_audit = sa.Table(
    "access_audit",
    public_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("client_id", sa.Text, nullable=True),
    sa.Column("subject", sa.Text, nullable=True),
    sa.Column("tenant_slug", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("params", JSONB, nullable=False, server_default="{}"),
)

transfer = sa.Table(
    "transfer",
    public_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tracking_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("source_tenant", sa.Text, nullable=False),
    sa.Column("target_tenant", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
