"""OAuth 2: signing keys, clients, staff users and memberships, codes and refresh tokens.

Revision ID: p0003
Revises: p0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "p0003"
down_revision: str | Sequence[str] | None = "p0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.func.now() if default else None
    )


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("kid", sa.Text, primary_key=True),
        sa.Column("algorithm", sa.Text, nullable=False),
        sa.Column("public_jwk", JSONB, nullable=False),
        sa.Column("private_encrypted", sa.LargeBinary, nullable=False),
        _ts("created_at", nullable=False, default=True),
        _ts("retired_at"),
        schema="public",
    )
    op.create_table(
        "oauth_client",
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.BigInteger, sa.ForeignKey("public.tenant.id"), nullable=True),
        sa.Column("national", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("secret_hash", sa.Text, nullable=True),
        sa.Column("grant_types", ARRAY(sa.Text), nullable=False),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False),
        sa.Column("redirect_uris", ARRAY(sa.Text), nullable=False, server_default="{}"),
        _ts("created_at", nullable=False, default=True),
        _ts("revoked_at"),
        sa.CheckConstraint("national OR tenant_id IS NOT NULL", name="oauth_client_audience_check"),
        schema="public",
    )
    op.create_table(
        "staff_user",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("email", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        _ts("created_at", nullable=False, default=True),
        _ts("disabled_at"),
        _ts("last_login_at"),
        schema="public",
    )
    op.create_table(
        "membership",
        sa.Column(
            "user_id",
            sa.BigInteger,
            sa.ForeignKey("public.staff_user.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "tenant_id",
            sa.BigInteger,
            sa.ForeignKey("public.tenant.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("unit_id", sa.BigInteger, nullable=True),
        _ts("created_at", nullable=False, default=True),
        sa.CheckConstraint(
            "role IN ('TENANT_ADMIN', 'TRIAGE_OFFICER', 'UNIT_OFFICER', 'VIEWER', 'NATIONAL_ANALYST', 'OMBUDSMAN')",
            name="membership_role_check",
        ),
        sa.CheckConstraint("role <> 'UNIT_OFFICER' OR unit_id IS NOT NULL", name="membership_unit_check"),
        schema="public",
    )
    op.create_table(
        "authorization_code",
        sa.Column("code_hash", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, sa.ForeignKey("public.oauth_client.client_id"), nullable=False),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("public.staff_user.id"), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("code_challenge", sa.Text, nullable=False),
        sa.Column("code_challenge_method", sa.Text, nullable=False),
        _ts("auth_time", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("used_at"),
        schema="public",
    )
    op.create_table(
        "refresh_token",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("family_id", sa.Text, nullable=False),
        sa.Column("client_id", sa.Text, sa.ForeignKey("public.oauth_client.client_id"), nullable=False),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("public.staff_user.id"), nullable=True),
        sa.Column("scope", sa.Text, nullable=False),
        _ts("issued_at", nullable=False, default=True),
        _ts("expires_at", nullable=False),
        _ts("rotated_at"),
        _ts("revoked_at"),
        schema="public",
    )
    op.create_index("refresh_token_family_idx", "refresh_token", ["family_id"], schema="public")


def downgrade() -> None:
    for table in (
        "refresh_token",
        "authorization_code",
        "membership",
        "staff_user",
        "oauth_client",
        "signing_key",
    ):
        op.drop_table(table, schema="public")
