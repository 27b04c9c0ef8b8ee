"""Working days, holidays and time limits (DESIGN.md section 3).

Time limits are counted in working days (hari kerja) in the tenant's own time zone: Monday to
Friday minus the national holidays and joint leave days (cuti bersama) of ``public.holiday``.
The national limits live in ``public.deadline_policy``; a tenant may shorten them in its own
``tenant_policy`` table, never lengthen them.

Every deadline computation needs the holidays, so :class:`CalendarStore` keeps them (and the
national policy) in process memory: one query per ``ttl`` seconds at most, and a
``holidays-changed`` message on the bus (sent by ``lapor holidays import``) reloads every
process at once. The calendar itself is a pure value, so deadlines are cheap and easy to test.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import enum
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.bus import Bus
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.keys import HOLIDAYS_CHANNEL
from lapor.platform.public_tables import deadline_policy, holiday
from lapor.tenants.enums import DeadlineKind
from lapor.tenants.tables import tenant_policy as tenant_policy_table

log = logging.getLogger(__name__)

"""Published after holidays (or the national policy) change: every ``CalendarStore`` reloads."""

T = TypeVar("T")

_END_OF_DAY = dt.time.max  # 23:59:59.999999: a deadline day is usable to its very end.


# --- the calendar: pure, no I/O ------------------------------------------------------------------


class HolidayKind(enum.StrEnum):
    NATIONAL_HOLIDAY = "NATIONAL_HOLIDAY"  # libur nasional
    JOINT_LEAVE = "JOINT_LEAVE"  # cuti bersama: also off for the civil service


@dataclass(frozen=True, slots=True)
class Holiday:
    date: dt.date
    kind: HolidayKind
    name: str

    def as_json(self) -> dict[str, str]:
        return {"date": self.date.isoformat(), "kind": self.kind.value, "name": self.name}


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    """Refuse naive datetimes: a local wall time without a zone would land on the wrong day."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got a naive one: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """The non-working dates besides weekends; shared by all tenants, whatever their time zone.

    Dates are calendar dates: a holiday is the whole local day in every zone (1 January is off in
    Jayapura from midnight WIT, in Jakarta from midnight WIB).
    """

    holidays: frozenset[dt.date] = frozenset()

    @property
    def years(self) -> frozenset[int]:
        """Years with at least one holiday known: a year missing here was never imported."""
        return frozenset(day.year for day in self.holidays)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: dt.datetime, days: int, time_zone: str) -> dt.datetime:
        """The deadline ``days`` working days after ``start``, as an aware UTC datetime.

        The day of ``start`` itself never counts (a complaint sent at 08:00 or at 23:00 gets the
        same time), so counting starts with the next local calendar day, and the deadline is the
        end of the last counted day in the tenant's zone: Friday + 3 is Wednesday 23:59:59.999999.
        """
        if days < 1:
            raise ValueError(f"a time limit is at least one working day, got {days}")
        zone = ZoneInfo(time_zone)
        day = _aware(start, "start").astimezone(zone).date()
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return dt.datetime.combine(day, _END_OF_DAY, tzinfo=zone).astimezone(dt.UTC)

    def working_days_between(self, start: dt.datetime, end: dt.datetime, time_zone: str) -> int:
        """Working days after ``start``'s local date up to and including ``end``'s local date.

        The inverse of :meth:`add_working_days`: for ``deadline = add_working_days(s, n, tz)``,
        ``working_days_between(s, deadline, tz) == n``; ``end`` on the same local day gives 0.
        """
        first, last = self._local_dates(start, end, time_zone)
        return sum(1 for day in _dates(first + dt.timedelta(days=1), last) if self.is_working_day(day))

    def working_time_between(self, start: dt.datetime, end: dt.datetime, time_zone: str) -> dt.timedelta:
        """The part of ``[start, end)`` that falls on working days (local time): nights count,
        weekends and holidays do not. For "median working hours to first response" figures."""
        first, last = self._local_dates(start, end, time_zone)
        zone = ZoneInfo(time_zone)
        total = dt.timedelta()
        for day in _dates(first, last):
            if not self.is_working_day(day):
                continue
            day_start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
            day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
            total += min(end, day_end) - max(start, day_start)
        return total

    @staticmethod
    def _local_dates(start: dt.datetime, end: dt.datetime, time_zone: str) -> tuple[dt.date, dt.date]:
        _aware(start, "start")
        _aware(end, "end")
        if end < start:
            raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
        zone = ZoneInfo(time_zone)
        return start.astimezone(zone).date(), end.astimezone(zone).date()


def _dates(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    """Every date from ``first`` to ``last``, both included."""
    for offset in range((last - first).days + 1):
        yield first + dt.timedelta(days=offset)


@dataclass(frozen=True)
class DeadlinePolicy:
    """The time limits one tenant works under: the national ones, shortened by its overrides."""

    national: Mapping[DeadlineKind, int]
    overrides: Mapping[DeadlineKind, int] = field(default_factory=dict)

    def limit(self, kind: DeadlineKind) -> int:
        """Working days allowed for ``kind``. The minimum of the two, so an override that was
        legal when set stays harmless if the national limit is shortened later."""
        try:
            national = self.national[kind]
        except KeyError:
            raise LookupError(f"no national time limit for {kind.value}") from None
        return min(national, self.overrides.get(kind, national))

    def limits(self) -> dict[DeadlineKind, int]:
        """Every effective limit, for display (the tenant's settings page, the API)."""
        return {kind: self.limit(kind) for kind in DeadlineKind if kind in self.national}

    def deadline(
        self, kind: DeadlineKind, start: dt.datetime, calendar: WorkingCalendar, time_zone: str
    ) -> dt.datetime:
        """When a ``kind`` step started at ``start`` becomes late, for a tenant in ``time_zone``."""
        return calendar.add_working_days(start, self.limit(kind), time_zone)


# --- the store: cached reads of public, tenant overrides -----------------------------------------


class _Cached(Generic[T]):
    """One value loaded on demand and trusted for ``ttl`` seconds.

    Concurrent misses share one load; a load that was running when :meth:`clear` was called
    is handed to its waiters but not kept, so an invalidation is never undone by a stale read.
    """

    def __init__(self, load: Callable[[], Awaitable[T]], ttl: float) -> None:
        self._load = load
        self._ttl = ttl
        self._value: tuple[T, float] | None = None
        self._pending: asyncio.Future[T] | None = None
        self._generation = 0

    def clear(self) -> None:
        self._value = None
        self._pending = None
        self._generation += 1

    async def get(self) -> T:
        if self._value is not None and self._value[1] > time.monotonic():
            return self._value[0]
        if self._pending is not None:
            return await asyncio.shield(self._pending)
        generation = self._generation
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending = future
        try:
            value = await self._load()
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        else:
            future.set_result(value)
            if generation == self._generation:
                self._value = (value, time.monotonic() + self._ttl)
            return value
        finally:
            if self._pending is future:
                self._pending = None


def _policy_rows(rows: Iterable[sa.Row], source: str) -> dict[DeadlineKind, int]:
    """``key -> working_days``, skipping keys this version does not know (a newer one wrote them)."""
    known = {kind.value for kind in DeadlineKind}
    result: dict[DeadlineKind, int] = {}
    for row in rows:
        if row.key in known:
            result[DeadlineKind(row.key)] = row.working_days
        else:
            log.warning("ignoring unknown deadline policy key %r in %s", row.key, source)
    return result


class CalendarStore:
    """Holidays and national limits for one process, cached; tenant overrides read per call.

    Tenant roles cannot read ``public``, so the shared data is read here through ``db.public``
    and the tenant's ``tenant_policy`` through the caller's tenant transaction.
    """

    def __init__(self, db: Database, ttl: float = 300.0) -> None:
        self.db = db
        self.ttl = ttl
        self._calendar = _Cached(self._load_calendar, ttl)
        self._national = _Cached(self._load_national, ttl)

    async def attach(self, bus: Bus) -> None:
        """Reload when any process announces a holiday or policy change."""
        await bus.subscribe(HOLIDAYS_CHANNEL, self._on_change)

    def _on_change(self, message: str) -> None:
        log.debug("holidays changed (%s): clearing the calendar cache", message)
        self.invalidate()

    def invalidate(self) -> None:
        self._calendar.clear()
        self._national.clear()

    async def calendar(self) -> WorkingCalendar:
        return await self._calendar.get()

    async def national_policy(self) -> DeadlinePolicy:
        """The national limits, as the policy of a tenant without overrides."""
        return await self._national.get()

    async def _load_calendar(self) -> WorkingCalendar:
        async with self.db.public.connect() as conn:
            dates = (await conn.execute(sa.select(holiday.c.date))).scalars()
            return WorkingCalendar(frozenset(dates))

    async def _load_national(self) -> DeadlinePolicy:
        query = sa.select(deadline_policy.c.key, deadline_policy.c.working_days)
        async with self.db.public.connect() as conn:
            return DeadlinePolicy(_policy_rows(await conn.execute(query), "public.deadline_policy"))

    async def tenant_policy(self, conn: AsyncConnection) -> DeadlinePolicy:
        """The policy of the tenant whose transaction ``conn`` is in (see ``tenant_transaction``)."""
        national = await self.national_policy()
        query = sa.select(tenant_policy_table.c.key, tenant_policy_table.c.working_days)
        overrides = _policy_rows(await conn.execute(query), "tenant_policy")
        return DeadlinePolicy(national.national, overrides)

    async def set_tenant_limit(self, conn: AsyncConnection, kind: DeadlineKind, days: int) -> DeadlinePolicy:
        """Shorten ``kind`` for the tenant of ``conn``; refuse anything longer than the national
        limit (the law sets a maximum) or shorter than one day. Returns the new policy."""
        national = (await self.national_policy()).limit(kind)
        if days < 1:
            raise DomainError(
                "POLICY_TOO_SHORT", f"{kind.value} needs at least 1 working day, got {days}", "working_days"
            )
        if days > national:
            raise DomainError(
                "POLICY_TOO_LONG",
                f"{kind.value} may be at most the national {national} working days, got {days}",
                "working_days",
            )
        statement = insert(tenant_policy_table).values(key=kind.value, working_days=days)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[tenant_policy_table.c.key],
                set_={"working_days": statement.excluded.working_days},
            )
        )
        return await self.tenant_policy(conn)

    async def clear_tenant_limit(self, conn: AsyncConnection, kind: DeadlineKind) -> DeadlinePolicy:
        """Drop the tenant's override of ``kind``: the national limit applies again."""
        await conn.execute(tenant_policy_table.delete().where(tenant_policy_table.c.key == kind.value))
        return await self.tenant_policy(conn)


async def announce_holidays_change(bus: Bus, message: str = "holidays") -> None:
    """Tell every process's ``CalendarStore`` to reload."""
    await bus.publish(HOLIDAYS_CHANNEL, message)


# --- importing and listing holidays --------------------------------------------------------------

_HEADER = ["date", "kind", "name"]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _bad_file(line: int, problem: str) -> DomainError:
    return DomainError("INVALID_HOLIDAY_FILE", f"line {line}: {problem}", "file")


def _parse_row(number: int, fields: list[str]) -> Holiday:
    if len(fields) != 3:
        raise _bad_file(number, f"expected 3 fields (date,kind,name), got {len(fields)}")
    raw_date, raw_kind, raw_name = (value.strip() for value in fields)
    if not _ISO_DATE.fullmatch(raw_date):
        raise _bad_file(number, f"date {raw_date!r} is not YYYY-MM-DD")
    try:
        day = dt.date.fromisoformat(raw_date)
    except ValueError:
        raise _bad_file(number, f"date {raw_date!r} does not exist") from None
    if raw_kind not in HolidayKind.__members__:
        raise _bad_file(number, f"kind {raw_kind!r} is not one of {', '.join(HolidayKind)}")
    if not raw_name:
        raise _bad_file(number, "the name is missing")
    return Holiday(day, HolidayKind(raw_kind), raw_name)


def parse_holiday_csv(text: str) -> list[Holiday]:
    """Holidays from the format of ``lapor/data/holidays-id-2026.csv``.

    ``#`` lines and blank lines are skipped; the first other line must be the header
    ``date,kind,name``. Every problem names its line, so whoever typed the SKB can fix it; a date
    given twice is refused rather than letting the last line silently win.
    """
    holidays: list[Holiday] = []
    seen: dict[dt.date, int] = {}
    header_seen = False
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = next(csv.reader([line]))
        if not header_seen:
            if [value.strip().lower() for value in fields] != _HEADER:
                raise _bad_file(number, f"expected the header {','.join(_HEADER)!r}, got {line.strip()!r}")
            header_seen = True
            continue
        entry = _parse_row(number, fields)
        if entry.date in seen:
            raise _bad_file(number, f"date {entry.date.isoformat()} already given on line {seen[entry.date]}")
        seen[entry.date] = number
        holidays.append(entry)
    if not header_seen:
        raise _bad_file(1, f"no header {','.join(_HEADER)!r}: the file holds no holidays")
    return holidays


async def import_holidays(db: Database, holidays: Iterable[Holiday]) -> tuple[int, int]:
    """Upsert ``holidays`` by date in one transaction; ``(inserted, updated)``.

    Rows that already hold the same kind and name are left alone and counted in neither, so
    importing the same file twice reports ``(0, 0)``. Holidays absent from the file are kept:
    a file for one year must not wipe the others.
    """
    rows = [{"date": h.date, "kind": h.kind.value, "name": h.name} for h in holidays]
    if len({row["date"] for row in rows}) != len(rows):
        raise DomainError("INVALID_HOLIDAY_FILE", "a date is given more than once", "file")
    if not rows:
        return 0, 0
    statement = insert(holiday).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[holiday.c.date],
        set_={"kind": statement.excluded.kind, "name": statement.excluded.name},
        where=sa.or_(
            holiday.c.kind.is_distinct_from(statement.excluded.kind),
            holiday.c.name.is_distinct_from(statement.excluded.name),
        ),
    ).returning(sa.literal_column("xmax = 0").label("inserted"))  # xmax = 0: a fresh row
    async with db.public.begin() as conn:
        outcomes = (await conn.execute(statement)).scalars().all()
    inserted = sum(1 for fresh in outcomes if fresh)
    return inserted, len(outcomes) - inserted


async def list_holidays(db: Database, year: int | None = None) -> list[Holiday]:
    """Holidays by date, all of them or those of ``year``."""
    query = sa.select(holiday.c.date, holiday.c.kind, holiday.c.name).order_by(holiday.c.date)
    if year is not None:
        query = query.where(holiday.c.date >= dt.date(year, 1, 1), holiday.c.date < dt.date(year + 1, 1, 1))
    async with db.public.connect() as conn:
        return [Holiday(row.date, HolidayKind(row.kind), row.name) for row in await conn.execute(query)]
