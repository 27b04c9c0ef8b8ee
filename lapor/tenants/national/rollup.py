"""Counting the national index fast: one SQL statement over the rollup, the journal of changes
not folded into it yet, and the index rows themselves where the rollup cannot answer.

Every figure of the national views is a sum of per-row counters, so the sources add up exactly:

* ``national_rollup``: counters and a response-time histogram per grain (``TENANT``, ``KIND``,
  ``CATEGORY``, ``CHANNEL``, ``ALL``) and span (Jakarta month, quarter, year), for the whole
  months of a period, as few rows as possible (``spans``: twelve rolling months are 6 rows per
  key, a calendar year 1);
* ``national_journal``: the signed old and new states a trigger appended since the last fold
  (migration p0006 says why a journal and not a rollup updated in place), same months;
* ``national_complaint`` rows for the parts of a period that are not whole months, and for a
  province's or a tenant's own figures (a few tens of thousands of rows at most);
* live, from a partial index: the owed complaints whose deadline is still ahead. Late ones are
  the owed ones (a counter) minus these, since lateness changes with the clock, not with writes.

One statement means one snapshot: a fold commits the journal's removal and the rollup's increase
together, so a reader sees each change exactly once. The counter definitions live here, once,
and apply alike to index rows, journal rows and the fold (``COUNTERS``).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import RESPONSE_BUCKETS, ROLLUP_COUNTERS

REPORTING_ZONE: Final = ZoneInfo("Asia/Jakarta")
"""Months (the rollup's unit and the MONTH grouping) are Jakarta months, as the SQL function
``lapor_report_month`` counts them."""

OWED: Final = ("SUBMITTED", "VERIFIED", "IN_PROGRESS")
"""Statuses in which the agency owes the next step: the only ones that can be late."""
_OWED_SQL = "('SUBMITTED', 'VERIFIED', 'IN_PROGRESS')"
_HELD = "status <> 'TRANSFERRED'"

# Per-row counters over a row's state (status, verified, outcome, missed, bucket). A TRANSFERRED
# row is the source side of a transfer: it counts as ``transferred`` for that tenant and nowhere
# else except ``on_time``/``due`` (forwarding late is late), so a complaint is received once.
COUNTERS: Final[Mapping[str, str]] = {
    "received": _HELD,
    "verified": f"{_HELD} AND verified",
    "in_progress": "status = 'IN_PROGRESS'",
    "responded": "status = 'RESPONDED'",
    "closed": "status = 'CLOSED'",
    "archived": "status = 'ARCHIVED'",
    "transferred": "status = 'TRANSFERRED'",
    "followed_up": f"{_HELD} AND bucket IS NOT NULL",
    "resolved": "status = 'CLOSED' AND outcome IS NOT DISTINCT FROM 'RESOLVED'",  # NULL outcome: not resolved
    "on_time": f"status NOT IN {_OWED_SQL} AND NOT missed",
    "due": f"status NOT IN {_OWED_SQL} OR missed",
    # Late = owed minus those not yet due: the few with a deadline ahead are counted live.
    "owed": f"status IN {_OWED_SQL}",
    "owed_unmissed": f"status IN {_OWED_SQL} AND NOT missed",
}
assert tuple(COUNTERS) == ROLLUP_COUNTERS, "the rollup table and the counter definitions disagree"

HISTOGRAM: Final = tuple(f"h{i:02d}" for i in range(RESPONSE_BUCKETS))
LIVE: Final = ("pending", "pending_unmissed")
"""Counted from the index at query time: owed with a deadline still ahead (or none), and those
of them not flagged. Late ones are the owed minus these: the backlog of late complaints is large
and grows with time without any write, the set not yet due is small (deadlines are days away)."""
VECTOR: Final = (*ROLLUP_COUNTERS, *LIVE, *HISTOGRAM)
"""The columns every source yields after the group key, in this order."""

_FOLD_LOCK: Final = 7_202_606
"""Advisory lock: one fold at a time (a second one would only wait on the first one's rows)."""


class Grain(enum.StrEnum):
    """What a statement groups by. PROVINCE is built from TENANT by the caller (all counters,
    the histogram included, add up)."""

    TENANT = "TENANT"
    MONTH = "MONTH"
    KIND = "KIND"
    CATEGORY = "CATEGORY"
    CHANNEL = "CHANNEL"
    ALL = "ALL"


# The group key over a relation with columns tenant_slug, month, kind, category_code, channel.
_ROW_KEY: Final[Mapping[Grain, str]] = {
    Grain.TENANT: "d.tenant_slug",
    Grain.MONTH: "to_char(d.month, 'YYYY-MM')",
    Grain.KIND: "d.kind",
    Grain.CATEGORY: "coalesce(d.category_code, '')",
    Grain.CHANNEL: "d.channel",
    Grain.ALL: "''",
}
# The rollup grain holding each grouping, and its key there.
_ROLLUP: Final[Mapping[Grain, tuple[str, str]]] = {
    Grain.TENANT: ("TENANT", "r.key"),
    Grain.MONTH: ("ALL", "to_char(r.month, 'YYYY-MM')"),
    Grain.KIND: ("KIND", "r.key"),
    Grain.CATEGORY: ("CATEGORY", "r.key"),
    Grain.CHANNEL: ("CHANNEL", "r.key"),
    Grain.ALL: ("ALL", "''"),
}


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` on ``submitted_at``; ``None`` is open-ended."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def __post_init__(self) -> None:
        for name, value in (("from", self.start), ("to", self.end)):
            if value is None:
                continue
            if value.tzinfo is None or value.utcoffset() is None:
                raise DomainError(
                    "INVALID_INPUT", f"{name} needs a time zone (e.g. 2026-01-01T00:00:00+07:00)", name
                )
            if not 1900 <= value.year <= 9000:
                raise DomainError("INVALID_INPUT", f"{name} must lie between the years 1900 and 9000", name)
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise DomainError("INVALID_INPUT", "from must be before to", "from")


@dataclass(frozen=True, slots=True)
class Plan:
    """Which months the rollup answers (``[first_month, end_month)``, ``None`` open) and which
    stretches of ``submitted_at`` are read row by row."""

    rollup: bool
    first_month: dt.date | None
    end_month: dt.date | None
    raw: tuple[tuple[dt.datetime | None, dt.datetime | None], ...]


def _month_start(month: dt.date) -> dt.datetime:
    return dt.datetime(month.year, month.month, 1, tzinfo=REPORTING_ZONE)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def plan(period: Period) -> Plan:
    """Split ``period`` into whole Jakarta months (rollup) and the stretches around them (rows)."""
    first = end = None
    if period.start is not None:
        local = period.start.astimezone(REPORTING_ZONE)
        first = dt.date(local.year, local.month, 1)
        if local != _month_start(first):
            first = _next_month(first)
    if period.end is not None:
        local = period.end.astimezone(REPORTING_ZONE)
        end = dt.date(local.year, local.month, 1)
    if first is not None and end is not None and first >= end:
        return Plan(False, None, None, ((period.start, period.end),))
    raw: list[tuple[dt.datetime | None, dt.datetime | None]] = []
    if first is not None and period.start is not None and period.start < _month_start(first):
        raw.append((period.start, _month_start(first)))
    if end is not None and period.end is not None and _month_start(end) < period.end:
        raw.append((_month_start(end), period.end))
    return Plan(True, first, end, tuple(raw))


def _index(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


def _month(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def up(index: int, step: int) -> int:
    return index if index % step == 0 else index + step - index % step


def down(index: int, step: int) -> int:
    return index - index % step


def spans(p: Plan, *, months_only: bool = False) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """The rollup rows covering ``[p.first_month, p.end_month)``: whole years, then quarters, then
    months at the ragged ends, as ``(span, first, end)`` ranges of their start month (``None``:
    open). Twelve rolling months are 6 rows per key instead of 12, a calendar year 1."""
    first = None if p.first_month is None else _index(p.first_month)
    end = None if p.end_month is None else _index(p.end_month)
    if months_only:
        return [("M", p.first_month, p.end_month)]
    cuts: list[tuple[str, int | None, int | None]]
    if first is None and end is None:
        cuts = [("Y", None, None)]
    elif first is None:
        assert end is not None
        cuts = [("Y", None, down(end, 12)), ("Q", down(end, 12), down(end, 3)), ("M", down(end, 3), end)]
    elif end is None:
        cuts = [("M", first, up(first, 3)), ("Q", up(first, 3), up(first, 12)), ("Y", up(first, 12), None)]
    elif up(first, 12) <= down(end, 12):
        q1, y1, y2, q2 = up(first, 3), up(first, 12), down(end, 12), down(end, 3)
        cuts = [("M", first, q1), ("Q", q1, y1), ("Y", y1, y2), ("Q", y2, q2), ("M", q2, end)]
    elif up(first, 3) <= down(end, 3):
        cuts = [("M", first, up(first, 3)), ("Q", up(first, 3), down(end, 3)), ("M", down(end, 3), end)]
    else:
        cuts = [("M", first, end)]
    return [
        (span, None if lo is None else _month(lo), None if hi is None else _month(hi))
        for span, lo, hi in cuts
        if lo is None or hi is None or lo < hi
    ]


# --- the statement ---------------------------------------------------------------------------


def _signed_counters() -> str:
    # IS TRUE: a rule over a NULL (a closed row without an outcome) counts 0, never NULL.
    return ", ".join(
        f"sum(d.sign * (({rule}) IS TRUE)::int)::int8 AS {name}" for name, rule in COUNTERS.items()
    )


def _from_buckets(name: str) -> str:
    """A histogram column from rows grouped by bucket (followed-up rows only carry one)."""
    return f"coalesce(sum(followed_up) FILTER (WHERE bucket = {HISTOGRAM.index(name)}), 0)::int8"


_STATE_COLUMNS = (
    "tenant_slug, month, kind, category_code, channel, sign, status, verified, outcome, missed, bucket"
)
_JOURNAL_ROWS = f"SELECT {_STATE_COLUMNS} FROM public.national_journal"
_INDEX_ROWS = (
    "SELECT tenant_slug, public.lapor_report_month(submitted_at) AS month, kind, category_code, channel, "
    "1 AS sign, status, verified_at IS NOT NULL AS verified, outcome, missed_deadline AS missed, "
    "public.lapor_response_bucket(submitted_at, first_response_at) AS bucket FROM public.national_complaint"
)


class _Params:
    """Bind parameters with generated names, so optional conditions stay plain SQL."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def _where(conditions: Iterable[str]) -> str:
    parts = [c for c in conditions if c]
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def _submitted(bind: _Params, start: dt.datetime | None, end: dt.datetime | None, column: str) -> list[str]:
    out = []
    if start is not None:
        out.append(f"{column} >= {bind(start)}")
    if end is not None:
        out.append(f"{column} < {bind(end)}")
    return out


def _months(bind: _Params, p: Plan, column: str) -> list[str]:
    out = []
    if p.first_month is not None:
        out.append(f"{column} >= {bind(p.first_month)}")
    if p.end_month is not None:
        out.append(f"{column} < {bind(p.end_month)}")
    return out


def columns(histogram: bool) -> tuple[str, ...]:
    """The columns a statement yields after the key: ``VECTOR``, or without the histogram (the
    ranking needs no median: 48 sums fewer)."""
    return VECTOR if histogram else (*ROLLUP_COUNTERS, *LIVE)


def _rollup_rows(bind: _Params, p: Plan, grain: Grain) -> str:
    ranges = []
    for span, lo, hi in spans(p, months_only=grain is Grain.MONTH):
        bounds = [f"r.span = '{span}'"]
        if lo is not None:
            bounds.append(f"r.month >= {bind(lo)}")
        if hi is not None:
            bounds.append(f"r.month < {bind(hi)}")
        ranges.append("(" + " AND ".join(bounds) + ")")
    return f"r.grain = {bind(_ROLLUP[grain][0])} AND ({' OR '.join(ranges)})"


def statement(
    grain: Grain, period: Period, tenants: Sequence[str] | None, *, histogram: bool = True
) -> tuple[sa.TextClause, dict[str, Any]]:
    """The SQL yielding ``key`` then ``columns(histogram)``, one row per group, every source added
    up. ``tenants`` ``None`` is the whole country (rollup, journal and ragged edges); a list reads
    those tenants' index rows only (a few tens of thousands at most)."""
    wanted = columns(histogram)
    bind = _Params()
    scope = [f"tenant_slug = ANY({bind(list(tenants))})"] if tenants is not None else []
    p = plan(period) if tenants is None else Plan(False, None, None, ((period.start, period.end),))

    def select(key: str, expressions: Mapping[str, str]) -> str:
        return f"SELECT {key} AS key, " + ", ".join(f"{expressions.get(c, '0')}::int8 AS {c}" for c in wanted)

    changes: list[str] = []
    parts: list[str] = []
    if p.rollup:
        sums = {c: f"sum(r.{c})" for c in (*ROLLUP_COUNTERS, *HISTOGRAM)}
        parts.append(
            select(_ROLLUP[grain][1], sums)
            + f" FROM public.national_rollup r WHERE {_rollup_rows(bind, p, grain)} GROUP BY 1"
        )
        changes.append(_JOURNAL_ROWS + _where([*_months(bind, p, "month"), *scope]))
    for start, end in p.raw:
        changes.append(_INDEX_ROWS + _where([*_submitted(bind, start, end, "submitted_at"), *scope]))
    with_clause = ""
    if changes:
        with_clause = (
            "WITH changes AS (" + " UNION ALL ".join(changes) + "), "
            f"by_bucket AS (SELECT {_ROW_KEY[grain]} AS key, d.bucket, {_signed_counters()} "
            "FROM changes d GROUP BY 1, 2) "
        )
        delta = {c: f"sum({c})" for c in ROLLUP_COUNTERS} | {h: _from_buckets(h) for h in HISTOGRAM}
        parts.append(select("key", delta) + " FROM by_bucket GROUP BY key")
    pending_rows = (
        "SELECT tenant_slug, public.lapor_report_month(submitted_at) AS month, kind, category_code, channel, "
        "missed_deadline AS missed FROM public.national_complaint"
        + _where(
            [
                f"status IN {_OWED_SQL}",
                "coalesce(deadline_at, 'infinity'::timestamptz) >= now()",  # national_complaint_owed_idx
                *_submitted(bind, period.start, period.end, "submitted_at"),
                *scope,
            ]
        )
    )
    live = {"pending": "count(*)", "pending_unmissed": "count(*) FILTER (WHERE NOT d.missed)"}
    parts.append(select(_ROW_KEY[grain], live) + f" FROM ({pending_rows}) d GROUP BY 1")
    merged = ", ".join(f"sum({c})::int8" for c in wanted)
    return (
        sa.text(f"{with_clause}SELECT key, {merged} FROM ({' UNION ALL '.join(parts)}) parts GROUP BY key"),
        bind.values,
    )


async def sums(
    conn: AsyncConnection,
    grain: Grain,
    period: Period,
    tenants: Sequence[str] | None,
    *,
    histogram: bool = True,
) -> dict[str, list[int]]:
    """Group key -> ``VECTOR`` values (the histogram all zeros without ``histogram``): one
    statement, one snapshot."""
    text, params = statement(grain, period, tenants, histogram=histogram)
    pad = () if histogram else (0,) * len(HISTOGRAM)
    return {row[0]: [*row[1:], *pad] for row in await conn.execute(text, params)}


# --- keeping the rollup ----------------------------------------------------------------------


def _fold(source: str) -> sa.TextClause:
    """Add the counters of ``source`` (rows shaped like the journal's) to the rollup: counted per
    grain and month first, then each month's counts added to its month, quarter and year."""
    rollup_columns = (*ROLLUP_COUNTERS, *HISTOGRAM)
    return sa.text(
        f"WITH source AS ({source}), "
        "grains AS (SELECT g.grain, g.key, d.month, d.bucket, d.sign, d.status, d.verified, d.outcome, "
        "d.missed FROM source d "
        "CROSS JOIN LATERAL (VALUES ('ALL', ''), ('TENANT', d.tenant_slug), ('KIND', d.kind), "
        "('CATEGORY', coalesce(d.category_code, '')), ('CHANNEL', d.channel)) AS g(grain, key)), "
        f"by_bucket AS (SELECT grain, key, month, bucket, {_signed_counters()} FROM grains d "
        "GROUP BY 1, 2, 3, 4), "
        "monthly AS (SELECT grain, key, month, "
        + ", ".join(f"sum({c}) AS {c}" for c in ROLLUP_COUNTERS)
        + ", "
        + ", ".join(f"{_from_buckets(h)} AS {h}" for h in HISTOGRAM)
        + " FROM by_bucket GROUP BY 1, 2, 3), "
        "spanned AS (SELECT m.grain, m.key, t.span, t.month, "
        + ", ".join(f"sum(m.{c})::int AS {c}" for c in rollup_columns)
        + " FROM monthly m CROSS JOIN LATERAL (VALUES ('M', m.month), "
        "('Q', date_trunc('quarter', m.month)::date), ('Y', date_trunc('year', m.month)::date)) "
        "AS t(span, month) GROUP BY 1, 2, 3, 4) "
        f"INSERT INTO public.national_rollup (grain, key, span, month, {', '.join(rollup_columns)}) "
        # In key order: a rebuilt rollup keeps each period's rows of a grain on neighbouring pages.
        "SELECT * FROM spanned ORDER BY 1, 3, 4, 2 ON CONFLICT (grain, span, month, key) DO UPDATE SET "
        + ", ".join(f"{c} = national_rollup.{c} + EXCLUDED.{c}" for c in rollup_columns)
    )


_FOLD_JOURNAL = _fold("DELETE FROM public.national_journal RETURNING *")
_FOLD_INDEX = _fold(_INDEX_ROWS)
_JOURNAL_AT_LEAST = sa.text("SELECT count(*) FROM (SELECT 1 FROM public.national_journal LIMIT :n) j")

FOLD_THRESHOLD: Final = 2_000
"""Journal rows a national read tolerates before it folds them first (each read scans them)."""


async def fold_in(conn: AsyncConnection, *, at_least: int = 1) -> int:
    """Move the journal into the rollup within the transaction of ``conn``, if it holds
    ``at_least`` rows and no other fold is running (then 0: that one does it). Returns the rollup
    rows touched. Writers keep appending meanwhile; what they commit later waits for the next."""
    if not await conn.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _FOLD_LOCK}):
        return 0
    if await conn.scalar(_JOURNAL_AT_LEAST, {"n": at_least}) < at_least:
        return 0
    return (await conn.execute(_FOLD_JOURNAL)).rowcount


async def fold(db: Database, *, at_least: int = 1) -> int:
    """``fold_in`` in a transaction of its own: for a worker (every few seconds), or tests.
    National reads fold by themselves past ``FOLD_THRESHOLD``."""
    async with db.public.begin() as conn:
        return await fold_in(conn, at_least=at_least)


async def rebuild(db: Database) -> int:
    """Recount the rollup from the index rows (after a bulk load, or to repair it), without the
    journal. Blocks index writes meanwhile (``SHARE`` lock): nothing changes between the count
    and the swap."""
    async with db.public.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FOLD_LOCK})
        await conn.execute(sa.text("LOCK TABLE public.national_complaint IN SHARE MODE"))
        await conn.execute(sa.text("TRUNCATE public.national_rollup, public.national_journal"))
        result = await conn.execute(_FOLD_INDEX)
        return result.rowcount
