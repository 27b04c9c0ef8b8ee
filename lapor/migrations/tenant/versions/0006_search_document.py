"""Search reads a stored tsvector through a GIN index (issue 9, item 3).

Before this, ``publicComplaints(filter: {search: ...})`` matched ``to_tsvector('simple', title ||
' ' || body)`` computed per row. An expression index on the same expression existed, but the
planner used it only when it could prove the query's expression identical (never in a generic
plan, where the ``' '`` is a parameter) and, for a word found in most rows, chose a sequential
scan that recomputed the vector for every row: 2 to 5 s of CPU per request with 30,000
complaints, for one anonymous rate-limit point.

Now the vector is computed once, when a row is written: ``search_document`` is a stored
generated column with the same text search configuration (``simple``) and no weights (the
search ranks nothing: results come in the list's own keyset order), and a GIN index on the
column serves ``search_document @@ query``. Matching reads stored vectors, never parses text.

Cost of the upgrade: adding a stored generated column rewrites the ``complaint`` table under an
ACCESS EXCLUSIVE lock (each schema in its own transaction, a few seconds per 100,000 rows), then
the GIN index is built. The old expression index is dropped: nothing uses it any more.

Revision ID: t0006
Revises: t0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "t0006"
down_revision: str | Sequence[str] | None = "t0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DOCUMENT = "to_tsvector('simple'::regconfig, title || ' ' || body)"


def upgrade() -> None:
    op.add_column(
        "complaint",
        sa.Column("search_document", TSVECTOR, sa.Computed(DOCUMENT, persisted=True), nullable=False),
    )
    op.create_index("complaint_search_document_idx", "complaint", ["search_document"], postgresql_using="gin")
    op.drop_index("complaint_search_idx", table_name="complaint")


def downgrade() -> None:
    op.create_index("complaint_search_idx", "complaint", [sa.text(DOCUMENT)], postgresql_using="gin")
    op.drop_index("complaint_search_document_idx", table_name="complaint")
    op.drop_column("complaint", "search_document")
