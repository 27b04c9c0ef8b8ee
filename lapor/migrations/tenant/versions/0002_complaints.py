"""Complaints: reporters, complaints, their append-only timeline, routing rules, supports,
attachment metadata, tenant time-limit overrides and an audit log.

Revision ID: t0002
Revises: t0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "t0002"
down_revision: str | Sequence[str] | None = "t0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, *, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.func.now() if default else None
    )


def upgrade() -> None:
    op.create_table(
        "reporter",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("name_encrypted", sa.LargeBinary, nullable=True),
        sa.Column("contact_encrypted", sa.LargeBinary, nullable=True),
        _ts("created_at", nullable=False, default=True),
    )
    op.create_index("reporter_fingerprint_idx", "reporter", ["fingerprint"])

    op.create_table(
        "routing_rule",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("match_kinds", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("match_channels", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("match_category_ids", ARRAY(sa.BigInteger), nullable=False, server_default="{}"),
        sa.Column("match_keywords", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("match_region_prefixes", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("unit_id", sa.BigInteger, sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("priority", sa.Text, nullable=True),
        sa.Column("target_tenant", sa.Text, nullable=True),
        sa.Column("auto_apply", sa.Boolean, nullable=False, server_default=sa.false()),
        _ts("created_at", nullable=False, default=True),
        _ts("updated_at", nullable=False, default=True),
        sa.CheckConstraint(
            "action IN ('ASSIGN_UNIT', 'SET_PRIORITY', 'TRANSFER_TO_TENANT')",
            name="routing_rule_action_check",
        ),
    )
    op.create_index("routing_rule_position_idx", "routing_rule", ["position"])

    op.create_table(
        "complaint",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tracking_id", sa.Text, nullable=False, unique=True),
        sa.Column("access_code_hash", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("external_ref", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("category_id", sa.BigInteger, sa.ForeignKey("category.id"), nullable=True),
        sa.Column("unit_id", sa.BigInteger, sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("priority", sa.Text, nullable=False, server_default="NORMAL"),
        sa.Column("region_code", sa.Text, nullable=True),
        sa.Column("location", sa.Text, nullable=True),
        sa.Column("anonymous", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("confidential", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reporter_id", sa.BigInteger, sa.ForeignKey("reporter.id"), nullable=True),
        sa.Column(
            "proposed_rule_id",
            sa.BigInteger,
            sa.ForeignKey("routing_rule.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("deadline_kind", sa.Text, nullable=True),
        _ts("deadline_at"),
        _ts("submitted_at", nullable=False, default=True),
        _ts("verified_at"),
        _ts("assigned_at"),
        _ts("first_response_at"),
        _ts("responded_at"),
        _ts("closed_at"),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("closed_how", sa.Text, nullable=True),
        sa.Column("rating", sa.SmallInteger, nullable=True),
        sa.Column("rating_comment", sa.Text, nullable=True),
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("support_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("archive_reason", sa.Text, nullable=True),
        sa.Column("origin_tenant", sa.Text, nullable=True),
        _ts("updated_at", nullable=False, default=True),
        sa.CheckConstraint(
            "kind IN ('COMPLAINT', 'ASPIRATION', 'INFORMATION_REQUEST')", name="complaint_kind_check"
        ),
        sa.CheckConstraint(
            "channel IN ('WEB', 'MOBILE', 'SMS', 'WHATSAPP', 'SOCIAL', 'EMAIL', 'WALK_IN', 'TRANSFER')",
            name="complaint_channel_check",
        ),
        sa.CheckConstraint(
            "status IN ('SUBMITTED', 'NEEDS_INFO', 'VERIFIED', 'IN_PROGRESS', 'RESPONDED', 'CLOSED', "
            "'ARCHIVED', 'TRANSFERRED')",
            name="complaint_status_check",
        ),
        sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="complaint_rating_check"),
        sa.UniqueConstraint("channel", "external_ref", name="complaint_channel_external_ref_key"),
    )
    op.create_index("complaint_status_idx", "complaint", ["status", "submitted_at"])
    op.create_index("complaint_unit_idx", "complaint", ["unit_id", "submitted_at"])
    op.create_index("complaint_category_idx", "complaint", ["category_id"])
    op.create_index("complaint_submitted_idx", "complaint", ["submitted_at"])
    op.create_index("complaint_deadline_idx", "complaint", ["deadline_at"])
    op.create_index(
        "complaint_search_idx",
        "complaint",
        [sa.text("to_tsvector('simple'::regconfig, title || ' ' || body)")],
        postgresql_using="gin",
    )
    op.execute("CREATE SEQUENCE complaint_tracking_seq")

    op.create_table(
        "complaint_event",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaint.id"), nullable=False),
        _ts("at", nullable=False, default=True),
        sa.Column("actor_kind", sa.Text, nullable=False),
        sa.Column("actor_name", sa.Text, nullable=True),
        sa.Column("unit_id", sa.BigInteger, sa.ForeignKey("unit.id"), nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("from_status", sa.Text, nullable=True),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
    )
    op.create_index("complaint_event_complaint_idx", "complaint_event", ["complaint_id", "id"])

    op.create_table(
        "support",
        sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaint.id"), primary_key=True),
        sa.Column("fingerprint", sa.Text, primary_key=True),
        _ts("created_at", nullable=False, default=True),
    )
    op.create_table(
        "attachment",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaint.id"), nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        _ts("created_at", nullable=False, default=True),
    )
    op.create_index("attachment_complaint_idx", "attachment", ["complaint_id"])
    op.create_table(
        "tenant_policy",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("working_days", sa.Integer, nullable=False),
        sa.CheckConstraint("working_days > 0", name="tenant_policy_positive"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        _ts("at", nullable=False, default=True),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("entity", sa.Text, nullable=False),
        sa.Column("entity_id", sa.BigInteger, nullable=True),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("audit_event_entity_idx", "audit_event", ["entity", "entity_id"])

    # The timeline and the audit log are append-only for everyone, whatever the grants say.
    # (No percent signs here: offline-emitted SQL escapes them.)
    op.execute(
        "CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only', "
        "ERRCODE = 'insufficient_privilege'; END $$"
    )
    for table in ("complaint_event", "audit_event"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION forbid_change()"
        )


def downgrade() -> None:
    for table in ("audit_event", "tenant_policy", "attachment", "support", "complaint_event"):
        op.drop_table(table)
    op.execute("DROP FUNCTION forbid_change()")
    op.execute("DROP SEQUENCE complaint_tracking_seq")
    op.drop_table("complaint")
    op.drop_table("routing_rule")
    op.drop_table("reporter")
