"""Working days, holidays and time limits: the pure calendar, the store on real PostgreSQL, the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from lapor.cli import holidays as holidays_command
from lapor.platform.bus import InProcessBus
from lapor.platform.calendar import (
    HOLIDAYS_CHANNEL,
    CalendarStore,
    DeadlinePolicy,
    Holiday,
    HolidayKind,
    WorkingCalendar,
    announce_holidays_change,
    import_holidays,
    list_holidays,
    parse_holiday_csv,
)
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import holiday as holiday_table
from lapor.platform.scratch import scratch_database
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import DeadlineKind
from tests.conftest import BASE_DOMAIN

UTC = dt.UTC
WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"
LAST_MICROSECOND = dt.time(23, 59, 59, 999999)
NO_HOLIDAYS = WorkingCalendar()


def end_of(day: dt.date, time_zone: str) -> dt.datetime:
    """The deadline instant for ``day`` in ``time_zone``, in UTC as the calendar returns it."""
    local = dt.datetime.combine(day, LAST_MICROSECOND, tzinfo=ZoneInfo(time_zone))
    return local.astimezone(UTC)


# --- the pure calendar ---------------------------------------------------------------------------


def test_weekends_are_not_working_days() -> None:
    friday, saturday, sunday, monday = (dt.date(2026, 11, d) for d in (27, 28, 29, 30))
    assert NO_HOLIDAYS.is_working_day(friday) and NO_HOLIDAYS.is_working_day(monday)
    assert not NO_HOLIDAYS.is_working_day(saturday) and not NO_HOLIDAYS.is_working_day(sunday)
    assert not WorkingCalendar(frozenset({monday})).is_working_day(monday)


def test_friday_plus_three_working_days_is_the_end_of_wednesday() -> None:
    friday_morning = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    deadline = NO_HOLIDAYS.add_working_days(friday_morning, 3, WIB)
    assert deadline == end_of(dt.date(2026, 12, 2), WIB)
    assert deadline.tzinfo is UTC
    assert deadline == dt.datetime(2026, 12, 2, 16, 59, 59, 999999, tzinfo=UTC)


def test_the_submission_day_never_counts_whatever_the_hour() -> None:
    early = dt.datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 07:00 WIB
    late = dt.datetime(2026, 11, 23, 16, 59, tzinfo=UTC)  # Monday 23:59 WIB
    assert NO_HOLIDAYS.add_working_days(early, 1, WIB) == end_of(dt.date(2026, 11, 24), WIB)
    assert NO_HOLIDAYS.add_working_days(late, 1, WIB) == end_of(dt.date(2026, 11, 24), WIB)


def test_a_weekend_submission_counts_from_monday() -> None:
    saturday = dt.datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    assert NO_HOLIDAYS.add_working_days(saturday, 1, WIB) == end_of(dt.date(2026, 11, 30), WIB)


def test_holidays_are_skipped_like_weekends() -> None:
    wednesday = dt.date(2026, 12, 2)
    calendar = WorkingCalendar(frozenset({wednesday}))
    friday = dt.datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert calendar.add_working_days(friday, 3, WIB) == end_of(dt.date(2026, 12, 3), WIB)


# The same UTC instant is a different local date in each zone, so the deadline differs in date,
# not only in the offset. Thursday 2026-11-26 16:30 UTC is Thursday 23:30 WIB, but already Friday
# 00:30 WITA and 01:30 WIT; 15:30 UTC is still Thursday in WIB and WITA, Friday only in WIT.
@pytest.mark.parametrize(
    ("instant", "time_zone", "deadline_day"),
    [
        (dt.datetime(2026, 11, 26, 16, 30, tzinfo=UTC), WIB, dt.date(2026, 12, 1)),
        (dt.datetime(2026, 11, 26, 16, 30, tzinfo=UTC), WITA, dt.date(2026, 12, 2)),
        (dt.datetime(2026, 11, 26, 16, 30, tzinfo=UTC), WIT, dt.date(2026, 12, 2)),
        (dt.datetime(2026, 11, 26, 15, 30, tzinfo=UTC), WIB, dt.date(2026, 12, 1)),
        (dt.datetime(2026, 11, 26, 15, 30, tzinfo=UTC), WITA, dt.date(2026, 12, 1)),
        (dt.datetime(2026, 11, 26, 15, 30, tzinfo=UTC), WIT, dt.date(2026, 12, 2)),
    ],
)
def test_the_local_date_of_the_tenants_zone_decides(
    instant: dt.datetime, time_zone: str, deadline_day: dt.date
) -> None:
    assert NO_HOLIDAYS.add_working_days(instant, 3, time_zone) == end_of(deadline_day, time_zone)


def test_friday_night_in_jakarta_is_saturday_in_makassar_and_the_weekend_absorbs_it() -> None:
    instant = dt.datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # Fri 23:30 WIB, Sat 00:30 WITA
    jakarta = NO_HOLIDAYS.add_working_days(instant, 3, WIB)
    makassar = NO_HOLIDAYS.add_working_days(instant, 3, WITA)
    assert jakarta == end_of(dt.date(2026, 12, 2), WIB)
    assert makassar == end_of(dt.date(2026, 12, 2), WITA)
    assert jakarta - makassar == dt.timedelta(hours=1)  # same local Wednesday, an hour apart


def test_limits_below_one_day_and_naive_datetimes_are_refused() -> None:
    start = dt.datetime(2026, 11, 27, tzinfo=UTC)
    for days in (0, -1):
        with pytest.raises(ValueError, match="at least one working day"):
            NO_HOLIDAYS.add_working_days(start, days, WIB)
    with pytest.raises(ValueError, match="aware"):
        NO_HOLIDAYS.add_working_days(dt.datetime(2026, 11, 27, 9, 0), 1, WIB)


def test_working_days_between_inverts_add_working_days() -> None:
    calendar = WorkingCalendar(frozenset({dt.date(2026, 12, 2)}))
    start = dt.datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
    for zone in (WIB, WITA, WIT):
        for days in (1, 3, 10):
            deadline = calendar.add_working_days(start, days, zone)
            assert calendar.working_days_between(start, deadline, zone) == days
    assert calendar.working_days_between(start, start, WIB) == 0
    with pytest.raises(ValueError, match="before start"):
        calendar.working_days_between(start, start - dt.timedelta(seconds=1), WIB)


def test_working_time_leaves_out_weekends_and_holidays() -> None:
    calendar = WorkingCalendar(frozenset({dt.date(2026, 11, 30)}))  # pretend Monday is a holiday
    friday_noon = dt.datetime(2026, 11, 27, 5, 0, tzinfo=UTC)  # 12:00 WIB
    tuesday_noon = dt.datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert calendar.working_time_between(friday_noon, tuesday_noon, WIB) == dt.timedelta(hours=24)
    same_day = friday_noon + dt.timedelta(hours=3)
    assert calendar.working_time_between(friday_noon, same_day, WIB) == dt.timedelta(hours=3)


def test_a_tenant_may_shorten_a_limit_never_lengthen_it() -> None:
    national = {DeadlineKind.VERIFY: 3, DeadlineKind.FIRST_RESPONSE: 5}
    assert DeadlinePolicy(national).limit(DeadlineKind.VERIFY) == 3
    assert DeadlinePolicy(national, {DeadlineKind.VERIFY: 2}).limit(DeadlineKind.VERIFY) == 2
    # An override longer than the national limit (legal once, national shortened since) loses.
    assert DeadlinePolicy(national, {DeadlineKind.VERIFY: 7}).limit(DeadlineKind.VERIFY) == 3
    assert DeadlinePolicy(national, {DeadlineKind.VERIFY: 2}).limits() == {
        DeadlineKind.VERIFY: 2,
        DeadlineKind.FIRST_RESPONSE: 5,
    }
    with pytest.raises(LookupError, match="COMPLETION"):
        DeadlinePolicy(national).limit(DeadlineKind.COMPLETION)


def test_the_policy_computes_deadlines_with_its_limit() -> None:
    policy = DeadlinePolicy({DeadlineKind.VERIFY: 3}, {DeadlineKind.VERIFY: 1})
    friday = dt.datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    assert policy.deadline(DeadlineKind.VERIFY, friday, NO_HOLIDAYS, WIB) == end_of(
        dt.date(2026, 11, 30), WIB
    )


# --- parsing holiday files -----------------------------------------------------------------------

SEED_CSV = Path(__file__).resolve().parent.parent / "lapor" / "data" / "holidays-id-2026.csv"


def test_the_shipped_2026_file_parses() -> None:
    holidays = parse_holiday_csv(SEED_CSV.read_text(encoding="utf-8"))
    assert len(holidays) == 25
    kinds = [h.kind for h in holidays]
    assert kinds.count(HolidayKind.NATIONAL_HOLIDAY) == 17 and kinds.count(HolidayKind.JOINT_LEAVE) == 8
    assert holidays[0] == Holiday(dt.date(2026, 1, 1), HolidayKind.NATIONAL_HOLIDAY, "Tahun Baru 2026 Masehi")


def test_comments_blank_lines_quotes_and_a_bom_are_accepted() -> None:
    text = '\ufeff# a comment\n\ndate,kind,name\n2031-01-01,NATIONAL_HOLIDAY,"Tahun Baru, 2031"\n\n'
    assert parse_holiday_csv(text) == [
        Holiday(dt.date(2031, 1, 1), HolidayKind.NATIONAL_HOLIDAY, "Tahun Baru, 2031")
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2031-13-01,NATIONAL_HOLIDAY,x", "line 3: date '2031-13-01' does not exist"),
        ("2031-02-30,NATIONAL_HOLIDAY,x", "line 3: date '2031-02-30' does not exist"),
        ("01/01/2031,NATIONAL_HOLIDAY,x", "line 3: date '01/01/2031' is not YYYY-MM-DD"),
        ("2031-01-01,HOLIDAY,x", "line 3: kind 'HOLIDAY' is not one of NATIONAL_HOLIDAY, JOINT_LEAVE"),
        ("2031-01-01,NATIONAL_HOLIDAY,", "line 3: the name is missing"),
        ("2031-01-01,NATIONAL_HOLIDAY,  ", "line 3: the name is missing"),
        ("2031-01-01,NATIONAL_HOLIDAY", "line 3: expected 3 fields (date,kind,name), got 2"),
        (
            "2031-01-01,NATIONAL_HOLIDAY,a\n# note\n2031-01-01,JOINT_LEAVE,b",
            "line 5: date 2031-01-01 already given on line 3",
        ),
    ],
)
def test_bad_lines_are_refused_with_their_line_number(body: str, message: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_holiday_csv(f"# comment\ndate,kind,name\n{body}\n")
    assert refused.value.code == "INVALID_HOLIDAY_FILE"
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: no header"),
        ("# only a comment\n", "line 1: no header"),
        ("# c\n2031-01-01,NATIONAL_HOLIDAY,x\n", "line 2: expected the header 'date,kind,name'"),
    ],
)
def test_a_missing_header_is_refused(text: str, message: str) -> None:
    with pytest.raises(DomainError) as refused:
        parse_holiday_csv(text)
    assert refused.value.code == "INVALID_HOLIDAY_FILE"
    assert refused.value.message.startswith(message)


# --- the store and the holiday table on PostgreSQL -----------------------------------------------


@pytest.fixture
async def store(db: Database) -> CalendarStore:
    return CalendarStore(db)


async def _delete_year(db: Database, year: int) -> None:
    async with db.public.begin() as conn:
        await conn.execute(
            holiday_table.delete().where(
                holiday_table.c.date >= dt.date(year, 1, 1), holiday_table.c.date < dt.date(year + 1, 1, 1)
            )
        )


@pytest.fixture
async def year_2031(db: Database) -> AsyncIterator[int]:
    """A year no seed touches; the test database is shared by the whole run, so leave it empty."""
    await _delete_year(db, 2031)
    yield 2031
    await _delete_year(db, 2031)


async def test_the_seeded_2026_holidays_are_loaded(store: CalendarStore) -> None:
    calendar = await store.calendar()
    assert 2026 in calendar.years
    assert not calendar.is_working_day(dt.date(2026, 8, 17))  # Proklamasi, a Monday
    assert calendar.is_working_day(dt.date(2026, 8, 18))


async def test_the_idul_fitri_block_of_2026_pushes_the_deadline_a_week(store: CalendarStore) -> None:
    # 18-20 March (Nyepi, cuti bersama, Idul Fitri), the weekend, 23-24 March cuti bersama.
    calendar = await store.calendar()
    tuesday = dt.datetime(2026, 3, 17, 3, 0, tzinfo=UTC)  # 10:00 WIB
    assert NO_HOLIDAYS.add_working_days(tuesday, 3, WIB) == end_of(dt.date(2026, 3, 20), WIB)
    assert calendar.add_working_days(tuesday, 1, WIB) == end_of(dt.date(2026, 3, 25), WIB)
    assert calendar.add_working_days(tuesday, 3, WIB) == end_of(dt.date(2026, 3, 27), WIB)
    assert calendar.working_days_between(tuesday, end_of(dt.date(2026, 3, 24), WIB), WIB) == 0


async def test_christmas_and_its_joint_leave_day(store: CalendarStore) -> None:
    calendar = await store.calendar()
    wednesday = dt.datetime(2026, 12, 23, 2, 0, tzinfo=UTC)  # 11:00 WITA
    assert calendar.add_working_days(wednesday, 3, WITA) == end_of(dt.date(2026, 12, 30), WITA)


async def test_the_national_policy_comes_from_the_table(store: CalendarStore) -> None:
    policy = await store.national_policy()
    assert policy.limits() == {
        DeadlineKind.VERIFY: 3,
        DeadlineKind.FIRST_RESPONSE: 5,
        DeadlineKind.REPLY_WINDOW: 10,
        DeadlineKind.COMPLETION: 60,
    }


async def test_a_tenant_shortens_a_limit_in_its_own_schema(db: Database, store: CalendarStore, make_regency):
    a, b = await make_regency(), await make_regency()
    async with tenant_transaction(db, a) as conn:
        assert (await store.tenant_policy(conn)).limit(DeadlineKind.VERIFY) == 3
        policy = await store.set_tenant_limit(conn, DeadlineKind.VERIFY, 2)
        assert policy.limit(DeadlineKind.VERIFY) == 2
        policy = await store.set_tenant_limit(conn, DeadlineKind.VERIFY, 1)  # an override changes
        assert policy.limit(DeadlineKind.VERIFY) == 1
        assert policy.limit(DeadlineKind.COMPLETION) == 60
        assert (await store.set_tenant_limit(conn, DeadlineKind.COMPLETION, 60)).limit(
            DeadlineKind.COMPLETION
        ) == 60  # equal to the national limit is allowed
    async with tenant_transaction(db, a) as conn:
        assert (await store.tenant_policy(conn)).limit(DeadlineKind.VERIFY) == 1
    async with tenant_transaction(db, b) as conn:
        assert (await store.tenant_policy(conn)).limit(DeadlineKind.VERIFY) == 3
    async with tenant_transaction(db, a) as conn:
        policy = await store.clear_tenant_limit(conn, DeadlineKind.VERIFY)
        assert policy.limit(DeadlineKind.VERIFY) == 3


async def test_a_longer_or_empty_limit_is_refused(db: Database, store: CalendarStore, make_regency) -> None:
    tenant = await make_regency()
    for days, code in ((4, "POLICY_TOO_LONG"), (61, "POLICY_TOO_LONG"), (0, "POLICY_TOO_SHORT")):
        kind = DeadlineKind.COMPLETION if days == 61 else DeadlineKind.VERIFY
        with pytest.raises(DomainError) as refused:
            async with tenant_transaction(db, tenant) as conn:
                await store.set_tenant_limit(conn, kind, days)
        assert (refused.value.code, refused.value.field) == (code, "working_days")
    async with tenant_transaction(db, tenant) as conn:
        assert (await store.tenant_policy(conn)).overrides == {}


async def test_import_then_list_round_trip(db: Database, year_2031: int) -> None:
    first = parse_holiday_csv(
        "date,kind,name\n2031-01-01,NATIONAL_HOLIDAY,Tahun Baru 2031\n2031-12-25,NATIONAL_HOLIDAY,Natal\n"
    )
    assert await import_holidays(db, first) == (2, 0)
    assert await import_holidays(db, first) == (0, 0)  # the same file again changes nothing
    corrected = parse_holiday_csv(
        "date,kind,name\n2031-12-25,NATIONAL_HOLIDAY,Kelahiran Yesus Kristus\n"
        "2031-12-26,JOINT_LEAVE,Cuti bersama Natal\n"
    )
    assert await import_holidays(db, corrected) == (1, 1)
    assert await list_holidays(db, year_2031) == [
        Holiday(dt.date(2031, 1, 1), HolidayKind.NATIONAL_HOLIDAY, "Tahun Baru 2031"),  # kept
        Holiday(dt.date(2031, 12, 25), HolidayKind.NATIONAL_HOLIDAY, "Kelahiran Yesus Kristus"),
        Holiday(dt.date(2031, 12, 26), HolidayKind.JOINT_LEAVE, "Cuti bersama Natal"),
    ]
    everything = await list_holidays(db)
    assert {h.date.year for h in everything} >= {2026, 2031}
    assert everything == sorted(everything, key=lambda h: h.date)
    assert await import_holidays(db, []) == (0, 0)


async def test_import_refuses_duplicate_dates_given_directly(db: Database, year_2031: int) -> None:
    twice = [Holiday(dt.date(2031, 5, 1), HolidayKind.NATIONAL_HOLIDAY, "Hari Buruh")] * 2
    with pytest.raises(DomainError) as refused:
        await import_holidays(db, twice)
    assert refused.value.code == "INVALID_HOLIDAY_FILE"
    assert await list_holidays(db, year_2031) == []


async def test_the_store_caches_until_the_bus_says_holidays_changed(db: Database, year_2031: int) -> None:
    store = CalendarStore(db, ttl=3600)
    bus = InProcessBus()
    await store.attach(bus)
    new_year = dt.date(2031, 1, 1)  # a Wednesday
    assert (await store.calendar()).is_working_day(new_year)
    await import_holidays(db, [Holiday(new_year, HolidayKind.NATIONAL_HOLIDAY, "Tahun Baru 2031")])
    assert (await store.calendar()).is_working_day(new_year), "cached until told or expired"
    await announce_holidays_change(bus, "test")
    assert not (await store.calendar()).is_working_day(new_year)
    await bus.close()


async def test_the_store_expires_after_its_ttl(db: Database, year_2031: int) -> None:
    store = CalendarStore(db, ttl=0.0)
    new_year = dt.date(2031, 1, 1)
    assert (await store.calendar()).is_working_day(new_year)
    await import_holidays(db, [Holiday(new_year, HolidayKind.NATIONAL_HOLIDAY, "Tahun Baru 2031")])
    assert not (await store.calendar()).is_working_day(new_year)


async def test_concurrent_misses_share_one_load(store: CalendarStore, monkeypatch) -> None:
    loads = 0
    original = store._load_calendar

    async def counting() -> WorkingCalendar:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return await original()

    monkeypatch.setattr(store._calendar, "_load", counting)
    calendars = await asyncio.gather(*(store.calendar() for _ in range(10)))
    assert loads == 1 and all(c is calendars[0] for c in calendars)


def test_the_channel_is_a_platform_key() -> None:
    assert HOLIDAYS_CHANNEL == "lapor:p:holidays-changed"


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_database(admin_url: str) -> Iterator[str]:
    with scratch_database(admin_url, "holidays") as url:
        yield url


@pytest.fixture
def lapor(cli_database: str):
    """``lapor holidays ...`` as the main app mounts it (a root app of its own, so this test does
    not depend on lapor/cli/main.py)."""
    root = typer.Typer()
    root.add_typer(holidays_command.app, name="holidays")
    runner = CliRunner()
    env = {"LAPOR_DATABASE_URL": cli_database, "LAPOR_BASE_DOMAIN": BASE_DOMAIN, "LAPOR_REDIS_URL": ""}

    def invoke(*args: str):
        return runner.invoke(root, list(args), env=env, catch_exceptions=False)

    return invoke


def test_cli_import_and_list(lapor, tmp_path: Path) -> None:
    seeded = lapor("holidays", "list", "--year", "2026", "--json")
    assert seeded.exit_code == 0, seeded.output
    assert len(json.loads(seeded.stdout)) == 25

    file = tmp_path / "holidays-id-2027.csv"
    file.write_text(
        "# SKB 2027 (test data)\n"
        "date,kind,name\n"
        "2027-01-01,NATIONAL_HOLIDAY,Tahun Baru 2027 Masehi\n"
        "2027-12-25,NATIONAL_HOLIDAY,Kelahiran Yesus Kristus\n"
        "2026-12-24,JOINT_LEAVE,Cuti bersama Natal (corrected)\n",
        encoding="utf-8",
    )
    imported = lapor("holidays", "import", str(file), "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"total": 3, "inserted": 2, "updated": 1, "unchanged": 0}
    again = lapor("holidays", "import", str(file), "--json")
    assert json.loads(again.stdout) == {"total": 3, "inserted": 0, "updated": 0, "unchanged": 3}

    listed = json.loads(lapor("holidays", "list", "--year", "2027", "--json").stdout)
    assert listed == [
        {"date": "2027-01-01", "kind": "NATIONAL_HOLIDAY", "name": "Tahun Baru 2027 Masehi"},
        {"date": "2027-12-25", "kind": "NATIONAL_HOLIDAY", "name": "Kelahiran Yesus Kristus"},
    ]
    everything = json.loads(lapor("holidays", "list", "--json").stdout)
    assert len(everything) == 27
    assert {
        "date": "2026-12-24",
        "kind": "JOINT_LEAVE",
        "name": "Cuti bersama Natal (corrected)",
    } in everything

    text = lapor("holidays", "list", "--year", "2027")
    assert text.exit_code == 0 and "Tahun Baru 2027 Masehi" in text.stdout


def test_cli_refuses_a_bad_file_and_changes_nothing(lapor, tmp_path: Path) -> None:
    before = json.loads(lapor("holidays", "list", "--json").stdout)
    file = tmp_path / "bad.csv"
    file.write_text("date,kind,name\n2028-01-01,NATIONAL_HOLIDAY,ok\n2028-02-30,JOINT_LEAVE,bad\n")
    bad = lapor("holidays", "import", str(file), "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout) == {
        "error": {"code": "INVALID_HOLIDAY_FILE", "message": "line 3: date '2028-02-30' does not exist"}
    }
    text = lapor("holidays", "import", str(file))
    assert text.exit_code == 1 and "INVALID_HOLIDAY_FILE" in text.output and "line 3" in text.output
    missing = lapor("holidays", "import", str(tmp_path / "nope.csv"), "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"]["code"] == "INVALID_HOLIDAY_FILE"
    assert json.loads(lapor("holidays", "list", "--json").stdout) == before
