"""Working-day calendar and national time limits: holiday and deadline_policy tables.

The holidays of 2026 (SKB 3 Menteri) are seeded from the CSV shipped in the package; later years
arrive with `lapor holidays import FILE`.

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "p0002"
down_revision: str | Sequence[str] | None = "p0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEED = Path(__file__).resolve().parents[3] / "data" / "holidays-id-2026.csv"

# LAPOR!'s published procedure: verify and dispose within 3 working days, first follow-up within
# 5 of disposition, reporter's reply window 10 after a response, completion within 60.
_POLICY = (
    ("VERIFY", 3, "Verification and disposition after submission"),
    ("FIRST_RESPONSE", 5, "First follow-up after disposition to a unit"),
    ("REPLY_WINDOW", 10, "Reporter's reply window after a response"),
    ("COMPLETION", 60, "Completion after submission"),
)


def upgrade() -> None:
    holiday = op.create_table(
        "holiday",
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.CheckConstraint("kind IN ('NATIONAL_HOLIDAY', 'JOINT_LEAVE')", name="holiday_kind_check"),
        schema="public",
    )
    policy = op.create_table(
        "deadline_policy",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("working_days", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.CheckConstraint("working_days > 0", name="deadline_policy_positive"),
        schema="public",
    )
    lines = [line for line in _SEED.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    op.bulk_insert(
        holiday,
        [
            {"date": dt.date.fromisoformat(row["date"]), "kind": row["kind"], "name": row["name"]}
            for row in csv.DictReader(lines)
        ],
    )
    op.bulk_insert(
        policy, [{"key": key, "working_days": days, "description": text} for key, days, text in _POLICY]
    )


def downgrade() -> None:
    op.drop_table("deadline_policy", schema="public")
    op.drop_table("holiday", schema="public")
