"""Channel submissions belong to the OAuth client that sent them (issue 9, item 1).

Before this, a gateway's ``(channel, external_ref)`` was the idempotency key of the whole tenant
and the access code was derived from it alone: anyone who sent the same channel and reference
got the earlier complaint back, with its access code. Now such a submission needs a client token
with ``complaints:submit`` and the key is the client's own: ``submitted_by_client`` holds the
OAuth client id, and the unique constraint is on (client, channel, reference). Another client
sending the same reference files its own complaint.

Rows filed before this revision keep ``submitted_by_client`` NULL. PostgreSQL treats NULLs as
distinct in a unique constraint, so no later submission ever matches them: a gateway's retry of
a message sent before the upgrade files a new complaint instead of returning the old one (and
its code). The column is nullable without a default, so adding it rewrites nothing; building the
new unique index reads the table once per schema.

The downgrade restores the old constraint and fails (naming it) if two clients have since used
the same (channel, reference).

Revision ID: t0005
Revises: t0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0005"
down_revision: str | Sequence[str] | None = "t0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("complaint", sa.Column("submitted_by_client", sa.Text, nullable=True))
    op.drop_constraint("complaint_channel_external_ref_key", "complaint", type_="unique")
    op.create_unique_constraint(
        "complaint_client_reference_key", "complaint", ["submitted_by_client", "channel", "external_ref"]
    )


def downgrade() -> None:
    op.drop_constraint("complaint_client_reference_key", "complaint", type_="unique")
    op.create_unique_constraint("complaint_channel_external_ref_key", "complaint", ["channel", "external_ref"])
    op.drop_column("complaint", "submitted_by_client")
