"""Search reads a stored tsvector through a GIN index (issue 9, item 3).

Placeholder revision, filled by the search-bounds work.

Revision ID: t0006
Revises: t0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "t0006"
down_revision: str | Sequence[str] | None = "t0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
