"""The deadline worker's memory: ``complaint.late_marked_deadline``, the deadline the worker last
marked as missed (with a MARK_LATE timeline event).

Why the deadline itself rather than a flag: a complaint gets a new deadline at every step
(disposition, response, dispute), and each one it misses deserves its own mark. Comparing this
column with ``deadline_at`` says whether the current deadline has been marked, with no reset to
forget when the deadline changes. Nullable without a default, so adding it rewrites nothing and
the migration stays instant on every schema.

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0004"
down_revision: str | Sequence[str] | None = "t0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("complaint", sa.Column("late_marked_deadline", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("complaint", "late_marked_deadline")
