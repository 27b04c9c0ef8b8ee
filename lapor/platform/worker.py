"""The deadline worker (``lapor worker``): what happens to complaints when nobody acts in time.

Each round visits every ACTIVE tenant in turn, explicitly (the tenant is an argument, never an
ambient default), and in each:

1. **marks late** the complaints whose deadline passed while the agency owes the next step
   (SUBMITTED, VERIFIED, IN_PROGRESS): a ``MARK_LATE`` timeline event by the system and
   ``complaint.late_marked_deadline`` set to the deadline that was missed, so the same deadline
   is marked once and a later deadline can be marked again;
2. **auto-closes** RESPONDED complaints whose reply window passed (CLOSED, ``NO_REPLY``);
3. **auto-escalates** to the parent tenant the complaints late for at least the number of
   working days the tenant's ``auto_escalate_after_late_days`` setting names (absent: never),
   once their current deadline carries its mark, so the timeline always says "late" first.

Many workers may run at once (one per node, or a spare) and each action happens once:

* marking is one statement that locks its batch with ``FOR UPDATE SKIP LOCKED`` and updates it
  in the same transaction, together with the events and the national index rows. A row another
  worker holds is skipped; a row another worker marked meanwhile no longer matches when
  PostgreSQL re-checks it under the lock. The ``version`` bump makes a staff write that read the
  complaint before the mark fail with ``CONFLICT``, as any concurrent transition does;
* closing and escalating go through the complaint and transfer services (their own
  transactions; an escalation spans two tenants). Candidates are picked with ``SKIP LOCKED``
  (rows being written right now are left to whoever is writing them), and each action carries
  the ``version`` the worker judged: the services' version guard, checked under the row lock of
  their UPDATE, lets exactly one of two workers (or a worker and a reporter replying) win. The
  loser gets ``CONFLICT`` (or finds the complaint closed already) and counts it as skipped.
  Holding the candidates' row locks across the call is not an option: the service writes the
  row on another connection and would wait on the worker's own lock.

Everything the worker changes goes through ``index_complaint`` in the same transaction, so the
national index stays in step (and its sticky missed-deadline flag is set by the mark).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.bus import make_bus
from lapor.platform.calendar import CalendarStore, WorkingCalendar
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.secrets import load_secrets
from lapor.settings import Settings
from lapor.tenants.actors import SYSTEM
from lapor.tenants.complaints.events import change_publisher
from lapor.tenants.complaints.national_index import CATEGORY_CODE, index_complaint
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.context import tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import ComplaintStatus, TransferKind
from lapor.tenants.records import Tenant, TenantStatus
from lapor.tenants.registry import list_tenants
from lapor.tenants.tables import complaint, complaint_event, tenant_setting
from lapor.tenants.transfers.service import TransferService

S = ComplaintStatus
log = logging.getLogger(__name__)

MARK_LATE: Final = "MARK_LATE"
"""The timeline action of a missed deadline (the status stays what it was)."""
AUTO_ESCALATE_KEY: Final = "auto_escalate_after_late_days"
"""Tenant setting: escalate to the parent after this many working days late (absent: never)."""
AGENCY_OWES: Final = (S.SUBMITTED, S.VERIFIED, S.IN_PROGRESS)
"""Statuses whose deadline is the agency's; NEEDS_INFO and RESPONDED wait on the reporter."""
DEFAULT_BATCH: Final = 200
DEFAULT_INTERVAL: Final = 60.0

_LOST_RACE: Final = frozenset({"CONFLICT", "INVALID_TRANSITION", "NOT_FOUND", "NOT_TRANSFERABLE"})
"""Refusals meaning someone else acted first (another worker, staff, the reporter): not errors."""
_TARGET_REFUSED: Final = frozenset(
    {"UNKNOWN_TENANT", "TENANT_SUSPENDED", "CROSS_CLUSTER", "INVALID_TRANSFER_KIND", "SAME_TENANT"}
)
"""Refusals about the parent itself: every other escalation of the tenant would fail the same way."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- what a round did ---------------------------------------------------------------------------


@dataclass
class TenantCounts:
    """What one round did in one tenant."""

    marked_late: int = 0
    auto_closed: int = 0
    escalated: int = 0
    skipped: int = 0
    """Candidates someone else handled first (another worker, staff, the reporter)."""
    error: str | None = None
    """Why the tenant was left (the round goes on with the next tenant)."""

    @property
    def acted(self) -> bool:
        return bool(self.marked_late or self.auto_closed or self.escalated or self.skipped or self.error)


@dataclass
class RoundSummary:
    started_at: dt.datetime
    seconds: float = 0.0
    tenants: int = 0
    """Tenants visited (all active ones, unless the worker was told to stop)."""
    interrupted: bool = False
    by_tenant: dict[str, TenantCounts] = field(default_factory=dict)
    """Only the tenants where something happened: 700 rows of zeros help nobody."""

    def for_tenant(self, slug: str) -> TenantCounts:
        return self.by_tenant.get(slug, TenantCounts())

    def totals(self) -> dict[str, int]:
        counts = self.by_tenant.values()
        return {
            "marked_late": sum(c.marked_late for c in counts),
            "auto_closed": sum(c.auto_closed for c in counts),
            "escalated": sum(c.escalated for c in counts),
            "skipped": sum(c.skipped for c in counts),
            "failed_tenants": sum(1 for c in counts if c.error),
        }

    def as_json(self) -> dict[str, Any]:
        """The shape ``lapor worker --once --json`` prints (scripted against: keep keys stable)."""
        return {
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "tenants": self.tenants,
            "interrupted": self.interrupted,
            "totals": self.totals(),
            "by_tenant": {slug: asdict(counts) for slug, counts in sorted(self.by_tenant.items())},
        }


# --- the tenant setting -------------------------------------------------------------------------


def parse_escalation_days(value: str | None) -> int | None:
    """The setting's value as a positive number of working days; anything else means off."""
    if value is None:
        return None
    try:
        days = int(value.strip())
    except ValueError:
        return None
    return days if days >= 1 else None


async def set_auto_escalation(conn: AsyncConnection, days: int | None) -> None:
    """Turn auto-escalation on (after ``days`` working days late) or off (``None``) for the tenant
    whose transaction ``conn`` is in."""
    if days is None:
        await conn.execute(tenant_setting.delete().where(tenant_setting.c.key == AUTO_ESCALATE_KEY))
        return
    if days < 1:
        raise DomainError("INVALID_INPUT", "auto-escalation needs at least 1 working day", "days")
    statement = pg_insert(tenant_setting).values(key=AUTO_ESCALATE_KEY, value=str(days))
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[tenant_setting.c.key],
            set_={"value": statement.excluded.value, "updated_at": sa.func.now()},
        )
    )


def late_enough(
    deadline: dt.datetime, days: int, now: dt.datetime, calendar: WorkingCalendar, zone: str
) -> bool:
    """Whether ``days`` whole working days have passed since ``deadline`` (counted like every time
    limit: in the tenant's zone, skipping weekends and holidays). Monotonic in ``deadline``, so
    candidates ordered by deadline can stop at the first that is not."""
    return calendar.add_working_days(deadline, days, zone) < now


# --- the worker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    tracking_id: str
    version: int
    deadline_at: dt.datetime
    deadline_kind: str | None


class DeadlineWorker:
    """One worker. Several may run against one database; see the module docstring."""

    def __init__(
        self,
        db: Database,
        complaints: ComplaintService,
        transfers: TransferService | None,
        *,
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.db = db
        self.complaints = complaints
        self.transfers = transfers
        """``None``: no escalation (a worker built without the transfer service)."""
        self.batch_size = batch_size
        self._stop = asyncio.Event()

    # --- lifetime ---------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Stop after the batch at hand (a signal handler calls this). Every batch and every
        single close or escalation is its own committed transaction, so stopping between them
        leaves nothing half done, and a large backlog does not outlast a deploy's grace period."""
        if not self._stop.is_set():
            log.info("worker: stop requested; finishing the batch at hand")
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run_forever(self, interval: float = DEFAULT_INTERVAL) -> int:
        """Rounds until :meth:`request_stop`, sleeping ``interval`` seconds between them; returns
        the number of rounds. A failing round (the database away) is logged and retried."""
        rounds = 0
        log.info("worker: started, a round every %s s", interval)
        while not self.stopping:
            try:
                await self.run_round()
            except Exception:
                log.exception("worker: round failed; retrying in %s s", interval)
            rounds += 1
            if self.stopping:
                break
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
        log.info("worker: stopped after %d rounds", rounds)
        return rounds

    # --- one round --------------------------------------------------------------------------

    async def run_round(self) -> RoundSummary:
        """Visit every active tenant once; stop early (between tenants) if asked to."""
        started, clock = utcnow(), time.perf_counter()
        summary = RoundSummary(started_at=started)
        for tenant in await list_tenants(self.db, status=TenantStatus.ACTIVE):
            if self.stopping:
                summary.interrupted = True
                break
            counts = await self.run_tenant(tenant)
            summary.tenants += 1
            if counts.acted:
                summary.by_tenant[tenant.slug] = counts
                log.info(
                    "worker: %s: marked late %d, auto-closed %d, escalated %d, skipped %d%s",
                    tenant.slug, counts.marked_late, counts.auto_closed, counts.escalated,
                    counts.skipped, f", failed: {counts.error}" if counts.error else "",
                )  # fmt: skip
        summary.seconds = time.perf_counter() - clock
        totals = summary.totals()
        level = logging.INFO if any(totals.values()) else logging.DEBUG
        log.log(
            level, "worker: round over %d tenants in %.2f s: %s", summary.tenants, summary.seconds, totals
        )
        return summary

    async def run_tenant(self, tenant: Tenant) -> TenantCounts:
        """All three duties in one tenant. A failure leaves this tenant for the next round only."""
        counts = TenantCounts()
        try:
            counts.marked_late = await self._mark_late(tenant)
            await self._auto_close(tenant, counts)
            await self._escalate(tenant, counts)
        except Exception as error:
            log.exception("worker: tenant %s failed", tenant.slug)
            counts.error = f"{type(error).__name__}: {error}"[:500]
        return counts

    # --- 1. late marking: lock, mark and record in one transaction ---------------------------

    async def _mark_late(self, tenant: Tenant) -> int:
        marked = 0
        while True:
            now = utcnow()
            due = (
                sa.select(complaint.c.id)
                .where(
                    complaint.c.status.in_([s.value for s in AGENCY_OWES]),
                    complaint.c.deadline_at < now,
                    complaint.c.late_marked_deadline.is_distinct_from(complaint.c.deadline_at),
                )
                .order_by(complaint.c.deadline_at)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
                .cte("due")
            )
            mark = (
                complaint.update()
                .where(complaint.c.id == due.c.id)
                .values(
                    late_marked_deadline=complaint.c.deadline_at,
                    version=complaint.c.version + 1,
                    updated_at=now,
                )
                .returning(*complaint.c, CATEGORY_CODE)
            )
            async with tenant_transaction(self.db, tenant) as conn:
                rows = (await conn.execute(mark)).all()
                records = [ComplaintRecord.from_row(row) for row in rows]
                if records:
                    await conn.execute(
                        complaint_event.insert(),
                        [_late_event(record, tenant.time_zone, now) for record in records],
                    )
                for record, row in zip(records, rows, strict=True):
                    await index_complaint(conn, record, row.category_code)
            for record in records:
                await self.complaints._changed(tenant, record, MARK_LATE)
            marked += len(records)
            if len(records) < self.batch_size or self.stopping:
                return marked

    # --- 2. auto-close: through the complaint service, version-guarded -----------------------

    async def _auto_close(self, tenant: Tenant, counts: TenantCounts) -> None:
        tried: set[str] = set()
        while True:
            batch = await self._candidates(tenant, [S.RESPONDED], tried)
            for candidate in batch:
                tried.add(candidate.tracking_id)
                try:
                    await self.complaints.auto_close(
                        tenant, candidate.tracking_id, expected_version=candidate.version
                    )
                except DomainError as error:
                    self._refused(tenant, candidate, "auto-close", error, counts)
                else:
                    counts.auto_closed += 1
            if len(batch) < self.batch_size or self.stopping:
                return

    # --- 3. auto-escalation: through the transfer service, version-guarded -------------------

    async def _escalate(self, tenant: Tenant, counts: TenantCounts) -> None:
        if self.transfers is None or tenant.parent_slug is None:
            return
        async with tenant_transaction(self.db, tenant) as conn:
            raw = await conn.scalar(
                sa.select(tenant_setting.c.value).where(tenant_setting.c.key == AUTO_ESCALATE_KEY)
            )
        days = parse_escalation_days(raw)
        if days is None:
            if raw is not None:
                log.warning(
                    "worker: %s: ignoring %s=%r (not a positive integer)", tenant.slug, AUTO_ESCALATE_KEY, raw
                )
            return
        calendar = await self.complaints.calendars.calendar()
        tried: set[str] = set()
        while True:
            now = utcnow()
            # Only marked ones: the timeline then always says "late" before "escalated". A row
            # another worker held during our marking waits for the next round, as it should.
            batch = await self._candidates(tenant, AGENCY_OWES, tried, marked_only=True)
            due = [c for c in batch if late_enough(c.deadline_at, days, now, calendar, tenant.time_zone)]
            for candidate in due:
                tried.add(candidate.tracking_id)
                reason = (
                    f"automatic escalation: {days} working days past the "
                    f"{(candidate.deadline_kind or 'current').replace('_', ' ').lower()} deadline "
                    f"({_local(candidate.deadline_at, tenant.time_zone)})"
                )
                try:
                    await self.transfers.transfer(
                        tenant,
                        SYSTEM,
                        candidate.tracking_id,
                        tenant.parent_slug,
                        TransferKind.ESCALATE,
                        reason=reason,
                        expected_version=candidate.version,
                    )
                except DomainError as error:
                    if error.code in _TARGET_REFUSED:
                        log.warning(
                            "worker: %s: cannot escalate to %s: %s %s",
                            tenant.slug, tenant.parent_slug, error.code, error.message,
                        )  # fmt: skip
                        counts.error = f"escalation refused: {error.code}"
                        return
                    self._refused(tenant, candidate, "escalate", error, counts)
                else:
                    counts.escalated += 1
            # Ordered by deadline: once one is not late enough, none after it is.
            if len(due) < len(batch) or len(batch) < self.batch_size or self.stopping:
                return

    # --- shared -----------------------------------------------------------------------------

    async def _candidates(
        self,
        tenant: Tenant,
        statuses: Sequence[ComplaintStatus],
        tried: set[str],
        *,
        marked_only: bool = False,
    ) -> list[_Candidate]:
        """Overdue complaints in ``statuses``, oldest deadline first, skipping rows someone is
        writing right now and those this round already tried (a refusal must not loop).
        ``marked_only``: only those whose current deadline carries its MARK_LATE already."""
        query = (
            sa.select(
                complaint.c.tracking_id,
                complaint.c.version,
                complaint.c.deadline_at,
                complaint.c.deadline_kind,
            )
            .where(complaint.c.status.in_([s.value for s in statuses]), complaint.c.deadline_at < utcnow())
            .order_by(complaint.c.deadline_at)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        if tried:
            query = query.where(complaint.c.tracking_id.not_in(tried))
        if marked_only:
            query = query.where(complaint.c.late_marked_deadline == complaint.c.deadline_at)
        async with tenant_transaction(self.db, tenant) as conn:
            rows = await conn.execute(query)
            return [_Candidate(r.tracking_id, r.version, r.deadline_at, r.deadline_kind) for r in rows]

    @staticmethod
    def _refused(
        tenant: Tenant, candidate: _Candidate, what: str, error: DomainError, counts: TenantCounts
    ) -> None:
        counts.skipped += 1
        level = logging.DEBUG if error.code in _LOST_RACE else logging.WARNING
        log.log(
            level,
            "worker: %s: %s %s: %s %s",
            tenant.slug,
            what,
            candidate.tracking_id,
            error.code,
            error.message,
        )


def _local(at: dt.datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _late_event(record: ComplaintRecord, zone: str, now: dt.datetime) -> dict[str, Any]:
    kind = record.deadline_kind.value.replace("_", " ").lower() if record.deadline_kind else "current"
    deadline = _local(record.deadline_at, zone) if record.deadline_at else "unknown"
    return {
        "complaint_id": record.id,
        "at": now,
        "actor_kind": SYSTEM.kind.value,
        "actor_name": SYSTEM.name,
        "unit_id": None,
        "action": MARK_LATE,
        "from_status": record.status.value,
        "to_status": record.status.value,
        "note": f"late: the {kind} deadline ({deadline}) passed",
    }


# --- building a worker without the web app ------------------------------------------------------


@asynccontextmanager
async def open_worker(
    settings: Settings, database_url: str, *, batch_size: int = DEFAULT_BATCH
) -> AsyncIterator[DeadlineWorker]:
    """The services the worker needs, built as ``Services.start`` builds them for the API (same
    bus, so caches are invalidated and subscribers hear of the worker's changes), minus the
    OAuth, keys and rate limits it has no use for. Two connections suffice: it works serially."""
    db = Database(database_url, settings, pool_size=2, max_overflow=2)
    bus = make_bus(settings.redis_url)
    try:
        directory = TenantDirectory(db, settings.base_domain, ttl=settings.host_cache_ttl)
        await directory.attach(bus)
        calendars = CalendarStore(db)
        await calendars.attach(bus)
        complaints = ComplaintService(db, load_secrets(settings), calendars, on_change=change_publisher(bus))
        transfers = TransferService(db, complaints, directory)
        yield DeadlineWorker(db, complaints, transfers, batch_size=batch_size)
    finally:
        await bus.close()
        await db.dispose()
