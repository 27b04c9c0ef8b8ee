"""Reading complaints: filtered keyset pages, and batch lookups for DataLoaders.

Every function takes a connection already inside the tenant transaction; none knows GraphQL.
Batch functions take many ids and answer in one statement, so a page of 50 costs what a page
of 5 does.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.errors import DomainError
from lapor.tenants.complaints.records import ComplaintRecord, EventRecord
from lapor.tenants.enums import Channel, ComplaintKind, ComplaintStatus
from lapor.tenants.tables import attachment, category, complaint, complaint_event, unit

MAX_PAGE = 100
DEFAULT_PAGE = 20
# Shown in the public feed: verified and onwards, never archived (spam, not a public service).
PUBLIC_STATUSES = (
    ComplaintStatus.VERIFIED,
    ComplaintStatus.IN_PROGRESS,
    ComplaintStatus.RESPONDED,
    ComplaintStatus.CLOSED,
)
_AGENCY_OWES = (ComplaintStatus.SUBMITTED, ComplaintStatus.VERIFIED, ComplaintStatus.IN_PROGRESS)
_NULLS_LAST = dt.datetime.max.replace(tzinfo=dt.UTC)


class ComplaintOrder(enum.StrEnum):
    SUBMITTED_AT_DESC = "SUBMITTED_AT_DESC"
    SUBMITTED_AT_ASC = "SUBMITTED_AT_ASC"
    DEADLINE_AT_ASC = "DEADLINE_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"


_ORDER_COLUMNS: dict[ComplaintOrder, tuple[sa.Column, bool]] = {
    ComplaintOrder.SUBMITTED_AT_DESC: (complaint.c.submitted_at, True),
    ComplaintOrder.SUBMITTED_AT_ASC: (complaint.c.submitted_at, False),
    ComplaintOrder.DEADLINE_AT_ASC: (complaint.c.deadline_at, False),
    ComplaintOrder.UPDATED_AT_DESC: (complaint.c.updated_at, True),
}


@dataclass(frozen=True)
class ComplaintFilter:
    statuses: tuple[ComplaintStatus, ...] = ()
    kinds: tuple[ComplaintKind, ...] = ()
    channels: tuple[Channel, ...] = ()
    category_ids: tuple[int, ...] = ()
    unit_ids: tuple[int, ...] = ()
    late: bool | None = None
    submitted_from: dt.datetime | None = None
    submitted_to: dt.datetime | None = None
    text: str | None = None


@dataclass(frozen=True)
class Page:
    records: list[ComplaintRecord]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise DomainError("INVALID_INPUT", f"first must be between 0 and {MAX_PAGE}", "first")
    return first


def _encode_cursor(order: ComplaintOrder, value: dt.datetime | None, row_id: int) -> str:
    payload = json.dumps([order.value, value.isoformat() if value else None, row_id])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: ComplaintOrder) -> tuple[dt.datetime | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, value, row_id = json.loads(base64.urlsafe_b64decode(padded))
        if kind != order.value or not isinstance(row_id, int):
            raise ValueError
        return (dt.datetime.fromisoformat(value) if value else None), row_id
    except (ValueError, TypeError, json.JSONDecodeError):
        raise DomainError(
            "INVALID_CURSOR", "the cursor is not valid for this list and ordering", "after"
        ) from None


def _conditions(flt: ComplaintFilter, now: dt.datetime) -> list[sa.ColumnElement[bool]]:
    c = complaint.c
    where: list[sa.ColumnElement[bool]] = []
    if flt.statuses:
        where.append(c.status.in_([s.value for s in flt.statuses]))
    if flt.kinds:
        where.append(c.kind.in_([k.value for k in flt.kinds]))
    if flt.channels:
        where.append(c.channel.in_([ch.value for ch in flt.channels]))
    if flt.category_ids:
        where.append(c.category_id.in_(flt.category_ids))
    if flt.unit_ids:
        where.append(c.unit_id.in_(flt.unit_ids))
    late = sa.and_(c.status.in_([s.value for s in _AGENCY_OWES]), c.deadline_at < now)
    if flt.late is True:
        where.append(late)
    elif flt.late is False:
        where.append(sa.not_(late))
    if flt.submitted_from:
        where.append(c.submitted_at >= flt.submitted_from)
    if flt.submitted_to:
        where.append(c.submitted_at < flt.submitted_to)
    if flt.text and flt.text.strip():
        where.append(_matches(flt.text.strip()))
    return where


# A search term is a few words a person typed. A longer one is no better search and a lot more
# work: every word is one more GIN lookup and one more operand per row checked.
MAX_SEARCH_CHARS = 200
MAX_SEARCH_WORDS = 12


def _matches(text: str) -> sa.ColumnElement[bool]:
    """``search_document @@ websearch_to_tsquery('simple', text)``: the stored vector (t0006),
    served by its GIN index, so a word found in every row costs a read of the index, never a
    ``to_tsvector`` per row. Same configuration the column is generated with (``simple``)."""
    if "\x00" in text:
        message = "Kata pencarian memuat karakter NUL. (The search contains a NUL character.)"
        raise DomainError("INVALID_INPUT", message, "search")
    if len(text) > MAX_SEARCH_CHARS or len(text.split()) > MAX_SEARCH_WORDS:
        raise DomainError(
            "INVALID_INPUT",
            f"Kata pencarian terlalu panjang: paling banyak {MAX_SEARCH_CHARS} karakter dan "
            f"{MAX_SEARCH_WORDS} kata. (The search is too long: at most {MAX_SEARCH_CHARS} characters "
            f"and {MAX_SEARCH_WORDS} words.)",
            "search",
        )
    query = sa.func.websearch_to_tsquery(sa.literal_column("'simple'::regconfig"), text)
    return complaint.c.search_document.op("@@")(query)


LISTED_COLUMNS = tuple(column for column in complaint.c if column.key != "search_document")
"""Every column a record needs: the stored search vector is for matching only and is as long as
the text itself, so pages never fetch it."""


async def list_complaints(
    conn: AsyncConnection,
    flt: ComplaintFilter,
    *,
    order: ComplaintOrder = ComplaintOrder.SUBMITTED_AT_DESC,
    first: int | None = None,
    after: str | None = None,
    unit_scope: int | None = None,
    public_only: bool = False,
    now: dt.datetime | None = None,
) -> Page:
    """One keyset page. ``unit_scope`` confines a unit officer; ``public_only`` is the public feed."""
    size = page_size(first)
    now = now or dt.datetime.now(dt.UTC)
    column, descending = _ORDER_COLUMNS[order]
    where = _conditions(flt, now)
    if unit_scope is not None:
        where.append(complaint.c.unit_id == unit_scope)
    if public_only:
        where += [
            complaint.c.status.in_([s.value for s in PUBLIC_STATUSES]),
            sa.not_(complaint.c.confidential),
        ]
    # NULL deadlines sort last; the cursor compares (coalesced value, id). A column that is never
    # NULL is ordered by itself: then its index hands rows over in order and the LIMIT stops the
    # scan, where a coalesce would sort every match first (a search for a word in every row
    # sorted the whole table).
    key = column if not column.nullable else sa.func.coalesce(column, sa.literal(_NULLS_LAST))
    if after:
        value, row_id = _decode_cursor(after, order)
        value = value or _NULLS_LAST
        pair, bound = sa.tuple_(key, complaint.c.id), sa.tuple_(sa.literal(value), sa.literal(row_id))
        where.append(pair < bound if descending else pair > bound)
    ordering = [key.desc(), complaint.c.id.desc()] if descending else [key.asc(), complaint.c.id.asc()]
    statement = sa.select(*LISTED_COLUMNS).where(*where).order_by(*ordering).limit(size + 1)
    rows = (await conn.execute(statement)).all()
    records = [ComplaintRecord.from_row(row) for row in rows[:size]]
    cursors = [_encode_cursor(order, getattr(r, column.name), r.id) for r in records]
    return Page(records, cursors, has_next_page=len(rows) > size, has_previous_page=after is not None)


async def count_complaints(
    conn: AsyncConnection,
    flt: ComplaintFilter,
    *,
    unit_scope: int | None = None,
    public_only: bool = False,
    cap: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """How many match the same conditions ``list_complaints`` applies. With ``cap``, counting
    stops after ``cap + 1`` rows (a result above ``cap`` reads as ``cap + 1``): an exact count of
    a huge result would read every matching row on each request."""
    where = _conditions(flt, now or dt.datetime.now(dt.UTC))
    if unit_scope is not None:
        where.append(complaint.c.unit_id == unit_scope)
    if public_only:
        where += [
            complaint.c.status.in_([s.value for s in PUBLIC_STATUSES]),
            sa.not_(complaint.c.confidential),
        ]
    if cap is None:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(complaint).where(*where)) or 0)
    matches = sa.select(sa.literal(1)).select_from(complaint).where(*where).limit(cap + 1).subquery()
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(matches)) or 0)


async def count_by_status(
    conn: AsyncConnection,
    flt: ComplaintFilter,
    statuses: Sequence[ComplaintStatus],
    *,
    unit_scope: int | None = None,
    cap: int,
    now: dt.datetime | None = None,
) -> dict[ComplaintStatus, int]:
    """Per status, how many match (each counted up to ``cap + 1``), in one statement: one capped
    subquery per status, each served by the status index (``complaint_unit_status_idx`` for a unit)."""
    where = _conditions(flt, now or dt.datetime.now(dt.UTC))
    if unit_scope is not None:
        where.append(complaint.c.unit_id == unit_scope)
    columns = []
    for status in statuses:
        matches = (
            sa.select(sa.literal(1))
            .select_from(complaint)
            .where(complaint.c.status == status.value, *where)
            .limit(cap + 1)
            .subquery()
        )
        columns.append(sa.select(sa.func.count()).select_from(matches).scalar_subquery().label(status.value))
    if not columns:
        return {}
    row = (await conn.execute(sa.select(*columns))).one()
    return {status: int(row._mapping[status.value]) for status in statuses}


async def complaint_by_tracking_id(conn: AsyncConnection, tracking_id: str) -> ComplaintRecord | None:
    row = (await conn.execute(sa.select(complaint).where(complaint.c.tracking_id == tracking_id))).first()
    return ComplaintRecord.from_row(row) if row else None


async def timelines(conn: AsyncConnection, complaint_ids: Sequence[int]) -> dict[int, list[EventRecord]]:
    rows = await conn.execute(
        sa.select(complaint_event)
        .where(complaint_event.c.complaint_id.in_(complaint_ids))
        .order_by(complaint_event.c.complaint_id, complaint_event.c.id)
    )
    grouped: dict[int, list[EventRecord]] = defaultdict(list)
    for row in rows:
        grouped[row.complaint_id].append(EventRecord.from_row(row))
    return grouped


async def last_events(conn: AsyncConnection, complaint_ids: Sequence[int]) -> dict[int, EventRecord]:
    rows = await conn.execute(
        sa.select(complaint_event)
        .ext(distinct_on(complaint_event.c.complaint_id))
        .where(complaint_event.c.complaint_id.in_(complaint_ids))
        .order_by(complaint_event.c.complaint_id, complaint_event.c.id.desc())
    )
    return {row.complaint_id: EventRecord.from_row(row) for row in rows}


async def rows_by_id(conn: AsyncConnection, table: sa.Table, ids: Sequence[int]) -> dict[int, sa.Row]:
    rows = await conn.execute(sa.select(table).where(table.c.id.in_(ids)))
    return {row.id: row for row in rows}


async def attachments_of(conn: AsyncConnection, complaint_ids: Sequence[int]) -> dict[int, list[sa.Row]]:
    rows = await conn.execute(
        sa.select(attachment).where(attachment.c.complaint_id.in_(complaint_ids)).order_by(attachment.c.id)
    )
    grouped: dict[int, list[sa.Row]] = defaultdict(list)
    for row in rows:
        grouped[row.complaint_id].append(row)
    return grouped


async def all_units(conn: AsyncConnection) -> list[sa.Row]:
    return list(await conn.execute(sa.select(unit).order_by(unit.c.name)))


async def all_categories(conn: AsyncConnection) -> list[sa.Row]:
    return list(await conn.execute(sa.select(category).order_by(category.c.sort_order, category.c.name)))
