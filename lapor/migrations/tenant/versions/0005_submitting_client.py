"""Channel submissions belong to the OAuth client that sent them (issue 9, item 1).

Placeholder revision, filled by the submission-security work.

Revision ID: t0005
Revises: t0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "t0005"
down_revision: str | Sequence[str] | None = "t0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
