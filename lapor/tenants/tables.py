"""The tables every tenant schema holds: one ``MetaData`` shared by all tenants.

Tables here carry no schema: the tenant transaction's ``SET LOCAL search_path`` decides which
schema a statement touches, so the compiled-statement cache is shared by all 700+ tenants and
memory does not grow per tenant. The ``tenant`` Alembic track creates them; a test checks that
the migrations and this ``MetaData`` agree.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

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

_now = sa.func.now


def _timestamp(name: str, *, nullable: bool = True, default: bool = False) -> sa.Column:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=nullable, server_default=_now() if default else None
    )


reporter = sa.Table(
    "reporter",
    tenant_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("name_encrypted", sa.LargeBinary, nullable=True),
    sa.Column("contact_encrypted", sa.LargeBinary, nullable=True),
    _timestamp("created_at", nullable=False, default=True),
    sa.Index("reporter_fingerprint_idx", "fingerprint"),
)

routing_rule = sa.Table(
    "routing_rule",
    tenant_metadata,
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
    _timestamp("created_at", nullable=False, default=True),
    _timestamp("updated_at", nullable=False, default=True),
    sa.CheckConstraint(
        "action IN ('ASSIGN_UNIT', 'SET_PRIORITY', 'TRANSFER_TO_TENANT')", name="routing_rule_action_check"
    ),
    sa.Index("routing_rule_position_idx", "position"),
)

complaint = sa.Table(
    "complaint",
    tenant_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tracking_id", sa.Text, nullable=False, unique=True),
    sa.Column("access_code_hash", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("external_ref", sa.Text, nullable=True),
    # The OAuth client that filed it (t0005): a channel submission's idempotency key is the
    # client's own (client, channel, reference), never the tenant's.
    sa.Column("submitted_by_client", sa.Text, nullable=True),
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
    _timestamp("deadline_at"),
    # The deadline the worker last marked as missed (t0004): a new deadline can be marked again.
    _timestamp("late_marked_deadline"),
    _timestamp("submitted_at", nullable=False, default=True),
    _timestamp("verified_at"),
    _timestamp("assigned_at"),
    _timestamp("first_response_at"),
    _timestamp("responded_at"),
    _timestamp("closed_at"),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.Column("closed_how", sa.Text, nullable=True),
    sa.Column("rating", sa.SmallInteger, nullable=True),
    sa.Column("rating_comment", sa.Text, nullable=True),
    sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("support_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("archive_reason", sa.Text, nullable=True),
    sa.Column("origin_tenant", sa.Text, nullable=True),
    _timestamp("updated_at", nullable=False, default=True),
    # The day the reported event happened, as the reporter says (t0007); never in the future.
    sa.Column("incident_date", sa.Date, nullable=True),
    # Written by PostgreSQL from title and body (t0006); never inserted; list pages leave it out.
    sa.Column(
        "search_document",
        TSVECTOR,
        sa.Computed("to_tsvector('simple'::regconfig, title || ' ' || body)", persisted=True),
        nullable=False,
    ),
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
    sa.UniqueConstraint(
        "submitted_by_client", "channel", "external_ref", name="complaint_client_reference_key"
    ),
    sa.Index("complaint_status_idx", "status", "submitted_at"),
    sa.Index("complaint_unit_idx", "unit_id", "submitted_at"),
    # A unit officer's queue counts per status (t0007): without it each capped count per status
    # read the whole status through complaint_status_idx and filtered the unit (29 ms at 50,000).
    sa.Index("complaint_unit_status_idx", "unit_id", "status"),
    sa.Index("complaint_category_idx", "category_id"),
    sa.Index("complaint_submitted_idx", "submitted_at"),
    sa.Index("complaint_deadline_idx", "deadline_at"),
    # Search reads the stored vector through this index (t0006), never recomputes it per row.
    sa.Index("complaint_search_document_idx", "search_document", postgresql_using="gin"),
)

complaint_event = sa.Table(
    "complaint_event",
    tenant_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaint.id"), nullable=False),
    _timestamp("at", nullable=False, default=True),
    sa.Column("actor_kind", sa.Text, nullable=False),
    sa.Column("actor_name", sa.Text, nullable=True),
    sa.Column("unit_id", sa.BigInteger, sa.ForeignKey("unit.id"), nullable=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("from_status", sa.Text, nullable=True),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index("complaint_event_complaint_idx", "complaint_id", "id"),
)

support = sa.Table(
    "support",
    tenant_metadata,
    sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaint.id"), primary_key=True),
    sa.Column("fingerprint", sa.Text, primary_key=True),
    _timestamp("created_at", nullable=False, default=True),
)

attachment = sa.Table(
    "attachment",
    tenant_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaint.id"), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    _timestamp("created_at", nullable=False, default=True),
    sa.Index("attachment_complaint_idx", "complaint_id"),
)

tenant_policy = sa.Table(
    "tenant_policy",
    tenant_metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("working_days", sa.Integer, nullable=False),
    sa.CheckConstraint("working_days > 0", name="tenant_policy_positive"),
)

tenant_setting = sa.Table(
    "tenant_setting",
    tenant_metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    _timestamp("updated_at", nullable=False, default=True),
)

audit_event = sa.Table(
    "audit_event",
    tenant_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    _timestamp("at", nullable=False, default=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("entity", sa.Text, nullable=False),
    sa.Column("entity_id", sa.BigInteger, nullable=True),
    sa.Column("details", JSONB, nullable=False, server_default="{}"),
    sa.Index("audit_event_entity_idx", "entity", "entity_id"),
)
