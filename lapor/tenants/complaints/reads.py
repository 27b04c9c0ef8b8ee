"""The one read path of complaints: who may read what, confined and audited, as audience views.

Writes were always checked in the domain services; reads used to be checked in the GraphQL
layer (scope checks, unit confinement, the Ombudsman's audit, the audited reporter identity,
which fields each audience sees), so a second adapter would have had to copy all of it. Every
adapter now asks ``ComplaintReads`` and renders the views it returns (``views.py``):

* ``list`` / ``get`` / ``counts`` / ``count``: staff, scope ``complaints:read``; a unit officer
  (``actor.unit_id``) only ever meets its unit's complaints, exactly as if the others did not
  exist; an audited actor's reads are written to the tenant's audit log, once per read;
* ``reporters``: the identity behind non-anonymous complaints, scope ``reporters:read``, every
  identity revealed written to the audit log;
* ``public_feed`` / ``public_count`` / ``public_complaint``: anyone; verified, non-confidential
  complaints only, with no reporter data;
* ``track``: the reporter, with the tracking id and access code, wherever the complaint is now.

The database is reached through ``Transaction`` (anything with ``async run(work)``: the GraphQL
request's shared transaction, a page request's), so audit rows commit with the read they log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.errors import DomainError
from lapor.platform.secrets import Secrets
from lapor.tenants.actors import Actor
from lapor.tenants.complaints import audits, queries
from lapor.tenants.complaints.queries import PUBLIC_STATUSES, ComplaintFilter, ComplaintOrder
from lapor.tenants.complaints.records import ComplaintRecord, EventRecord
from lapor.tenants.complaints.reporters import identities
from lapor.tenants.complaints.views import (
    AttachmentView,
    PublicComplaintView,
    ReporterView,
    StaffComplaintView,
    StaffEventView,
    StatusCount,
    StatusCounts,
    TotalCount,
    TrackedEventView,
    TrackingView,
    ViewPage,
)
from lapor.tenants.enums import ComplaintKind, ComplaintStatus
from lapor.tenants.records import Tenant
from lapor.tenants.tables import complaint_event, unit

if TYPE_CHECKING:
    from lapor.tenants.transfers.service import Tracked

T = TypeVar("T")

READ_SCOPE = "complaints:read"
"""Reads the tenant's complaints (staff; the Ombudsman's national token, audited)."""
IDENTITY_SCOPE = "reporters:read"
"""Reads who reported a non-anonymous complaint; every identity revealed is audited."""
COUNT_CAP = 10_000
"""Counts stop here (``TotalCount.capped``): past it, an exact figure costs a scan of every
matching row per request, and a queue or a pager has nothing to do with the difference."""


class Transaction(Protocol):
    """The reader's database: ``work`` runs on a connection inside the tenant's transaction."""

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T: ...


class Tracker(Protocol):
    """Finds a complaint for its reporter wherever it is now (the transfer service)."""

    async def track(self, host: Tenant, tracking_id: str, access_code: str) -> Tracked: ...


@dataclass(frozen=True)
class PublicFilter:
    """What the public feed can be narrowed by (nothing that is not shown in it)."""

    kinds: tuple[ComplaintKind, ...] = ()
    category_ids: tuple[int, ...] = ()
    text: str | None = None

    def as_filter(self) -> ComplaintFilter:
        return ComplaintFilter(kinds=self.kinds, category_ids=self.category_ids, text=self.text)


def authorize(actor: Actor | None, scope: str, *, subject: str = "operation") -> Actor:
    """The caller, who must hold ``scope``: ``UNAUTHENTICATED`` without one, ``FORBIDDEN``
    without the scope. ``subject`` names what was asked in the refusal (a field, an object, a
    page), so each adapter's message says what the caller touched."""
    if actor is None:
        raise DomainError("UNAUTHENTICATED", "this operation needs an access token (OAuth 2 bearer)")
    if scope not in actor.scopes:
        raise DomainError("FORBIDDEN", f"this {subject} needs the scope {scope!r}")
    return actor


def normalized(tracking_id: str) -> str:
    """Tracking ids are read case-insensitively and without surrounding blanks."""
    return tracking_id.strip().upper()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _total(counted: int) -> TotalCount:
    return TotalCount(count=min(counted, COUNT_CAP), capped=counted > COUNT_CAP)


def _confined(actor: Actor, record: ComplaintRecord | None) -> ComplaintRecord | None:
    """A unit officer meets only its unit's complaints; any other is as if it did not exist."""
    if record is None or (actor.unit_id is not None and record.unit_id != actor.unit_id):
        return None
    return record


def _is_public(record: ComplaintRecord | None) -> bool:
    return record is not None and record.status in PUBLIC_STATUSES and not record.confidential


class ComplaintReads:
    """Reads for one request (or one page render): bound to its transaction and tenant."""

    def __init__(self, db: Transaction, tenant: Tenant, secrets: Secrets, tracker: Tracker) -> None:
        self.db = db
        self.tenant = tenant
        self.secrets = secrets
        self.tracker = tracker

    # --- staff ---------------------------------------------------------------------------

    async def list(
        self,
        actor: Actor | None,
        flt: ComplaintFilter | None = None,
        *,
        order: ComplaintOrder = ComplaintOrder.SUBMITTED_AT_DESC,
        first: int | None = None,
        after: str | None = None,
        with_total: bool = False,
    ) -> ViewPage[StaffComplaintView]:
        """One keyset page of the complaints ``actor`` may read (its unit's, for a unit officer),
        each returned complaint audited for an audited actor; ``with_total`` counts the match."""
        reader = authorize(actor, READ_SCOPE)
        flt = flt or ComplaintFilter()
        now = _now()

        async def work(conn: AsyncConnection) -> tuple[queries.Page, TotalCount | None]:
            page = await queries.list_complaints(
                conn, flt, order=order, first=first, after=after, unit_scope=reader.unit_id, now=now
            )
            total = await self._count(conn, reader, flt, now) if with_total else None
            await audits.write(
                conn, audits.complaint_reads(reader, ((r.id, r.tracking_id) for r in page.records))
            )
            return page, total

        page, total = await self.db.run(work)
        return ViewPage(
            items=tuple(StaffComplaintView.of(r, reader, now) for r in page.records),
            cursors=tuple(page.cursors),
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            total=total,
        )

    async def count(self, actor: Actor | None, flt: ComplaintFilter | None = None) -> TotalCount:
        """How many complaints ``list`` would page through (capped at ``COUNT_CAP``)."""
        reader = authorize(actor, READ_SCOPE)
        return await self.db.run(lambda conn: self._count(conn, reader, flt or ComplaintFilter(), _now()))

    async def _count(
        self, conn: AsyncConnection, reader: Actor, flt: ComplaintFilter, now: dt.datetime
    ) -> TotalCount:
        counted = await queries.count_complaints(conn, flt, unit_scope=reader.unit_id, cap=COUNT_CAP, now=now)
        total = _total(counted)
        await audits.write(
            conn, audits.complaint_count(reader, "list", {"total": total.count, "capped": total.capped})
        )
        return total

    async def get(
        self, actor: Actor | None, tracking_id: str, *, subject: str = "operation"
    ) -> StaffComplaintView | None:
        """One complaint by tracking id, or ``None`` (unknown, or outside a unit officer's unit)."""
        reader = authorize(actor, READ_SCOPE, subject=subject)
        wanted = normalized(tracking_id)

        async def work(conn: AsyncConnection) -> ComplaintRecord | None:
            record = _confined(reader, await queries.complaint_by_tracking_id(conn, wanted))
            if record is not None:
                await audits.write(conn, audits.complaint_reads(reader, [(record.id, record.tracking_id)]))
            return record

        record = await self.db.run(work)
        return StaffComplaintView.of(record, reader) if record else None

    async def counts(self, actor: Actor | None, flt: ComplaintFilter | None = None) -> StatusCounts:
        """Per status (those of ``flt``, else every one), how many complaints ``actor`` may read
        match: the numbers of a staff queue's tabs. Each capped at ``COUNT_CAP``."""
        reader = authorize(actor, READ_SCOPE)
        flt = flt or ComplaintFilter()
        # A status asked for twice is one tab (and one column: a repeated label breaks the row).
        statuses = tuple(dict.fromkeys(flt.statuses)) or tuple(ComplaintStatus)
        rest = dataclasses.replace(flt, statuses=())

        async def work(conn: AsyncConnection) -> dict[ComplaintStatus, int]:
            found = await queries.count_by_status(
                conn, rest, statuses, unit_scope=reader.unit_id, cap=COUNT_CAP, now=_now()
            )
            figures = {status.value: min(n, COUNT_CAP) for status, n in found.items()}
            await audits.write(conn, audits.complaint_count(reader, "by_status", {"by_status": figures}))
            return found

        found = await self.db.run(work)
        return StatusCounts(
            tuple(StatusCount(s, min(found[s], COUNT_CAP), found[s] > COUNT_CAP) for s in statuses)
        )

    async def reporters(
        self, actor: Actor | None, complaints: Iterable[StaffComplaintView]
    ) -> dict[int, ReporterView]:
        """The identities behind ``complaints`` (keyed by ``reporter_key``; an anonymous one has
        none), scope ``reporters:read``, each identity revealed written to the audit log."""
        reader = authorize(actor, IDENTITY_SCOPE)
        keys = sorted({c.reporter_key for c in complaints if c.reporter_key is not None})
        if not keys:
            return {}

        async def work(conn: AsyncConnection) -> dict[int, ReporterView]:
            found = await identities(conn, self.secrets, keys)
            await audits.write(conn, audits.reporter_reads(reader, found))
            return {key: ReporterView(name=i.name, contact=i.contact) for key, i in found.items()}

        return await self.db.run(work)

    # Nested reads of complaints the caller already holds views of (so was allowed to read):
    # batches, one statement for many complaints, keyed by ``StaffComplaintView.id``.

    async def timelines(self, complaint_ids: Sequence[int]) -> dict[int, tuple[StaffEventView, ...]]:
        found = await self.db.run(lambda conn: queries.timelines(conn, complaint_ids))
        return {key: tuple(StaffEventView.of(e) for e in events) for key, events in found.items()}

    async def last_events(self, complaint_ids: Sequence[int]) -> dict[int, StaffEventView]:
        found = await self.db.run(lambda conn: queries.last_events(conn, complaint_ids))
        return {key: StaffEventView.of(event) for key, event in found.items()}

    async def attachments(self, complaint_ids: Sequence[int]) -> dict[int, tuple[AttachmentView, ...]]:
        found = await self.db.run(lambda conn: queries.attachments_of(conn, complaint_ids))
        return {
            key: tuple(AttachmentView(r.file_name, r.content_type, r.size_bytes, r.sha256) for r in rows)
            for key, rows in found.items()
        }

    # --- the public ----------------------------------------------------------------------

    async def public_feed(
        self,
        flt: PublicFilter | None = None,
        *,
        first: int | None = None,
        after: str | None = None,
        with_total: bool = False,
    ) -> ViewPage[PublicComplaintView]:
        """Verified, non-confidential complaints, newest first, without reporter data."""
        where = (flt or PublicFilter()).as_filter()
        now = _now()

        async def work(conn: AsyncConnection) -> tuple[queries.Page, TotalCount | None]:
            page = await queries.list_complaints(
                conn, where, first=first, after=after, public_only=True, now=now
            )
            total = None
            if with_total:
                total = _total(
                    await queries.count_complaints(conn, where, public_only=True, cap=COUNT_CAP, now=now)
                )
            return page, total

        page, total = await self.db.run(work)
        return ViewPage(
            items=tuple(PublicComplaintView.of(r) for r in page.records),
            cursors=tuple(page.cursors),
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            total=total,
        )

    async def public_count(self, flt: PublicFilter | None = None) -> TotalCount:
        where = (flt or PublicFilter()).as_filter()
        counted = await self.db.run(
            lambda conn: queries.count_complaints(conn, where, public_only=True, cap=COUNT_CAP)
        )
        return _total(counted)

    async def public_complaint(self, tracking_id: str) -> PublicComplaintView | None:
        """One complaint of the public feed, or ``None`` (unknown, unverified, archived,
        transferred away or confidential: the public cannot tell which)."""
        wanted = normalized(tracking_id)
        record = await self.db.run(lambda conn: queries.complaint_by_tracking_id(conn, wanted))
        return PublicComplaintView.of(record) if record is not None and _is_public(record) else None

    # --- the reporter --------------------------------------------------------------------

    async def track(self, tracking_id: str, access_code: str) -> TrackingView:
        """The reporter's view, found wherever the complaint is now. Unknown id and wrong code
        are the same ``NOT_FOUND`` after the same work (the tracker's guarantee)."""
        tracked = await self.tracker.track(self.tenant, normalized(tracking_id), access_code)
        if tracked.holder.slug == self.tenant.slug:
            return TrackingView.of(tracked.complaint)
        names = dict(tracked.unit_names)
        timeline = tuple(TrackedEventView.of(e, names) for e in tracked.timeline or [])
        return TrackingView.of(tracked.complaint, holder=tracked.holder.slug, timeline=timeline)

    async def tracking_timeline(self, view: TrackingView) -> tuple[TrackedEventView, ...]:
        """The history of a tracked complaint: read in the holder's transaction already when it
        moved away, else here, units named in the same statement."""
        if view.timeline is not None:
            return view.timeline
        statement = (
            sa.select(complaint_event, unit.c.name.label("unit_name"))
            .select_from(complaint_event.outerjoin(unit, unit.c.id == complaint_event.c.unit_id))
            .where(complaint_event.c.complaint_id == view.id)
            .order_by(complaint_event.c.id)
        )
        rows = await self.db.run(lambda conn: _all(conn, statement))
        names = {row.unit_id: row.unit_name for row in rows if row.unit_id is not None}
        return tuple(TrackedEventView.of(EventRecord.from_row(row), names) for row in rows)


async def _all(conn: AsyncConnection, statement: sa.Select) -> list[sa.Row]:
    return list((await conn.execute(statement)).all())
