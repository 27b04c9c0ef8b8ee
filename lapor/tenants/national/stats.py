"""National figures, the tenant ranking and a tenant's own figures, from the national index.

These are cross-tenant reads: they run with the application's own role on ``public`` (the index
holds no personal data), never inside a tenant, and every call writes a row to
``public.access_audit`` in the same transaction as its reads.

Who sees what (checked here, not only in the API): the national host with ``national:read`` sees
every tenant; a province host with ``stats:read`` sees its regencies and cities (the province's
own complaints are in its ``stats``); any tenant with ``stats:read`` sees its own ``stats``.

Definitions. Each tenant that held a complaint has an index row for it; a row whose status is
TRANSFERRED is the source side of a transfer. For the rows submitted in ``[from, to)``:

* ``received``: rows not TRANSFERRED (a complaint is received once, by its current holder, so
  national totals count each complaint once); ``transferred``: TRANSFERRED rows.
* ``verified``: received with ``verified_at`` set; ``in_progress``, ``responded``, ``closed``,
  ``archived``: received in that status now.
* ``late``: the agency owes the next step (SUBMITTED, VERIFIED, IN_PROGRESS) and ``deadline_at``
  has passed, now.
* ``followed_up_rate``: received with a first response / received (% tindak lanjut).
* ``settlement_rate``: closed / received (% selesai). Archived complaints stay in the
  denominator on purpose: archiving is not settling, and counting them out would reward
  archiving instead of answering.
* ``resolution_rate``: closed with outcome RESOLVED / closed: closed is never taken as fixed.
* ``on_time_rate``: over rows whose clock has stopped (the agency acted: any status but SUBMITTED,
  VERIFIED, IN_PROGRESS) or run out (late now), the share that acted without ever having let a
  deadline pass. The index keeps only the current deadline, so migration p0006 keeps a sticky
  ``missed_deadline`` flag, set when a row waiting on the agency changes after its deadline: a
  late step, or a reassignment that restarted the clock, stays late. Rows whose clock is still
  running and not past due are left out: they are neither on time nor late yet. TRANSFERRED rows
  count here (forwarding after the deadline is late), so this rate is per holding, not per
  complaint.
* ``median_hours_to_first_response``: over received rows with a first response, the median of
  ``first_response_at - submitted_at`` in calendar hours (what the reporter waited, from
  submission, also across transfers). Estimated from a histogram with four buckets per doubling
  of ``1 + hours``, interpolated inside the bucket: exact to within 19 % of ``1 + hours``,
  usually far closer. A rollup cannot hold exact medians, and the same estimate is used in every
  view so that a tenant's figure is the same wherever it is read.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from operator import itemgetter
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import access_audit
from lapor.tenants.actors import Actor
from lapor.tenants.national import rollup
from lapor.tenants.national.rollup import HISTOGRAM, VECTOR, Grain, Period
from lapor.tenants.records import Tenant, TenantKind

MAX_PAGE: Final = 100


class Grouping(enum.StrEnum):
    TENANT = "TENANT"
    PROVINCE = "PROVINCE"
    KIND = "KIND"
    CATEGORY = "CATEGORY"
    CHANNEL = "CHANNEL"
    MONTH = "MONTH"


_GRAIN: Final[Mapping[Grouping, Grain]] = {
    Grouping.TENANT: Grain.TENANT,
    Grouping.PROVINCE: Grain.TENANT,  # summed up per province here: every counter adds up
    Grouping.KIND: Grain.KIND,
    Grouping.CATEGORY: Grain.CATEGORY,
    Grouping.CHANNEL: Grain.CHANNEL,
    Grouping.MONTH: Grain.MONTH,
}


# --- figures ---------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


def bucket_hours(bucket: float) -> float:
    """Hours at (fractional) histogram position ``bucket``: the inverse of the SQL bucket
    function ``floor(4 * log2(1 + hours))``."""
    return 2 ** (bucket / 4) - 1


def median_from_histogram(histogram: Sequence[int]) -> float | None:
    """The median (``percentile_cont(0.5)``'s rank) estimated from bucket counts, spreading each
    bucket's values evenly over it in log space. The last bucket is open: its lower edge."""
    total = sum(histogram)
    if total <= 0:
        return None
    rank = (total - 1) / 2
    seen = 0
    for bucket, count in enumerate(histogram):
        if count <= 0:
            continue
        if rank < seen + count:
            if bucket == len(histogram) - 1:
                return bucket_hours(bucket)
            return bucket_hours(bucket + (rank - seen + 0.5) / count)
        seen += count
    return bucket_hours(len(histogram) - 1)


@dataclass(frozen=True, slots=True)
class Figures:
    """The counts of one group; the rates are derived (see the module docstring)."""

    received: int = 0
    verified: int = 0
    in_progress: int = 0
    responded: int = 0
    closed: int = 0
    archived: int = 0
    transferred: int = 0
    followed_up: int = 0
    resolved: int = 0
    on_time: int = 0
    due: int = 0
    late: int = 0
    histogram: tuple[int, ...] = (0,) * len(HISTOGRAM)

    @classmethod
    def from_vector(cls, v: Sequence[int]) -> Figures:
        """From summed ``VECTOR`` values. Late ones are the owed minus those not yet due; the
        late ones not flagged yet have not acted late, but their clock has run out: due."""
        late_unmissed = v[_OWED_UNMISSED] - v[_PENDING_UNMISSED]
        return cls(
            *_DIRECT(v),
            due=v[_DUE] + late_unmissed,
            late=v[_OWED] - v[_PENDING],
            histogram=tuple(v[_HISTOGRAM_AT:]),
        )

    @property
    def followed_up_rate(self) -> float | None:
        return _ratio(self.followed_up, self.received)

    @property
    def settlement_rate(self) -> float | None:
        return _ratio(self.closed, self.received)

    @property
    def resolution_rate(self) -> float | None:
        return _ratio(self.resolved, self.closed)

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.on_time, self.due)

    @property
    def median_hours_to_first_response(self) -> float | None:
        median = median_from_histogram(self.histogram)
        return None if median is None else round(median, 2)


_AT: Final = {name: i for i, name in enumerate(VECTOR)}
_DIRECT: Final = itemgetter(*(_AT[f.name] for f in fields(Figures)[:10]))
"""The ten figures read as they are, in ``Figures``' field order (received .. on_time)."""
_DUE, _OWED, _OWED_UNMISSED, _PENDING, _PENDING_UNMISSED = (
    _AT[name] for name in ("due", "owed", "owed_unmissed", "pending", "pending_unmissed")
)
_HISTOGRAM_AT: Final = _AT[HISTOGRAM[0]]
assert [f.name for f in fields(Figures)[:10]] == list(VECTOR[:10])


def add(vectors: Iterable[Sequence[int]]) -> list[int]:
    """Column sums: every figure (the histogram too) of a union of groups."""
    columns = list(zip(*vectors, strict=True))
    return [sum(column) for column in columns] if columns else [0] * len(VECTOR)


# --- who may see what ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    slug: str
    name: str
    kind: TenantKind
    parent: str | None

    @property
    def province(self) -> str | None:
        """The province a tenant belongs to (itself for a province; none for national or a
        ministry)."""
        if self.kind is TenantKind.PROVINCE:
            return self.slug
        if self.kind in (TenantKind.REGENCY, TenantKind.CITY):
            return self.parent
        return None


_REGISTRY = sa.text(
    "SELECT t.slug, t.name, t.kind, p.slug AS parent FROM public.tenant t "
    "LEFT JOIN public.tenant p ON p.id = t.parent_id ORDER BY t.slug"
)
_PROBE = sa.text(
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM public.national_journal LIMIT :n) j) AS journal, "
    "(SELECT concat_ws(':', count(*), max(id), max(updated_at)) FROM public.tenant) AS registry"
)
_registries: weakref.WeakKeyDictionary[Database, tuple[str, dict[str, RegistryEntry]]] = (
    weakref.WeakKeyDictionary()
)


async def registry(conn: AsyncConnection) -> dict[str, RegistryEntry]:
    """Slug -> name, kind, parent of every tenant: a few hundred small rows, one statement."""
    return {
        row.slug: RegistryEntry(row.slug, row.name, TenantKind(row.kind), row.parent)
        for row in await conn.execute(_REGISTRY)
    }


async def _prepare(db: Database, conn: AsyncConnection, *, national: bool) -> dict[str, RegistryEntry]:
    """The read transaction's first step: the registry (kept per process, reloaded when a
    tenant is added or changed), and on the national host a fold of the journal when it has
    grown past ``FOLD_THRESHOLD``, inside this transaction, so the read below sees it folded."""
    probe = (await conn.execute(_PROBE, {"n": rollup.FOLD_THRESHOLD})).one()
    if national and probe.journal >= rollup.FOLD_THRESHOLD:
        await rollup.fold_in(conn, at_least=rollup.FOLD_THRESHOLD)
    cached = _registries.get(db)
    if cached is not None and cached[0] == probe.registry:
        return cached[1]
    known = await registry(conn)
    _registries[db] = (probe.registry, known)
    return known


def require_scope(actor: Actor, scope: str) -> None:
    if scope not in actor.scopes:
        raise DomainError("FORBIDDEN", f"this field needs the scope {scope!r}")


def check_wide_view(host: Tenant, actor: Actor) -> None:
    """National views: the national host with ``national:read``, a province with ``stats:read``."""
    if host.kind is TenantKind.NATIONAL:
        require_scope(actor, "national:read")
    elif host.kind is TenantKind.PROVINCE:
        require_scope(actor, "stats:read")
    else:
        raise DomainError(
            "FORBIDDEN", "national figures are read on the national host (a province sees its own regencies)"
        )


def _children(host: Tenant, known: Mapping[str, RegistryEntry]) -> list[str] | None:
    """The tenants a wide view covers: ``None`` (all) nationally, a province's children."""
    if host.kind is TenantKind.NATIONAL:
        return None
    return sorted(
        e.slug
        for e in known.values()
        if e.parent == host.slug and e.kind in (TenantKind.REGENCY, TenantKind.CITY)
    )


# --- audit -----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


async def audit(conn: AsyncConnection, host: Tenant, actor: Actor, action: str, **params: Any) -> None:
    """One ``access_audit`` row, in the caller's transaction: the read and its record commit together."""
    await conn.execute(
        access_audit.insert().values(
            actor=actor.label,
            client_id=actor.client_id,
            subject=actor.subject,
            tenant_slug=host.slug,
            action=action,
            params=json.loads(json.dumps({k: _jsonable(v) for k, v in params.items()})),
        )
    )


# --- the views -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    key: str | None
    """Tenant or province slug, kind, category code, channel, or ``YYYY-MM`` (Jakarta month);
    ``None``: no category, or (PROVINCE) national and ministries, which have no province."""
    label: str | None
    """The tenant's or province's name; ``None`` for the other groupings."""
    figures: Figures


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    grouping: Grouping
    groups: list[Group]
    total: Figures


async def _grouped(
    conn: AsyncConnection,
    grouping: Grouping,
    period: Period,
    tenants: list[str] | None,
    *,
    histogram: bool = True,
) -> dict[str, list[int]]:
    if tenants is not None and not tenants:
        return {}
    return await rollup.sums(conn, _GRAIN[grouping], period, tenants, histogram=histogram)


def _shape(
    grouping: Grouping,
    found: dict[str, list[int]],
    known: Mapping[str, RegistryEntry],
    tenants: list[str] | None,
) -> list[Group]:
    """Keys to groups: tenants (every one in scope, with zeros) and provinces get names, the
    empty category key becomes ``None``; ordered by key (months chronologically)."""
    zero = [0] * len(VECTOR)
    if grouping is Grouping.TENANT:
        slugs = sorted(set(found) | set(tenants if tenants is not None else known))
        return [
            Group(
                slug, known[slug].name if slug in known else None, Figures.from_vector(found.get(slug, zero))
            )
            for slug in slugs
        ]
    if grouping is Grouping.PROVINCE:
        members: dict[str | None, list[list[int]]] = {}
        if tenants is None:
            members = {e.slug: [] for e in known.values() if e.kind is TenantKind.PROVINCE}
        for slug, vector in found.items():
            entry = known.get(slug)
            members.setdefault(entry.province if entry else None, []).append(vector)
        ordered = sorted(members, key=lambda k: (k is None, k or ""))
        return [
            Group(k, known[k].name if k in known else None, Figures.from_vector(add(members[k])))
            for k in ordered
        ]
    groups = [Group(key or None, None, Figures.from_vector(vector)) for key, vector in found.items()]
    return sorted(groups, key=lambda g: (g.key is None, g.key or ""))


async def national_stats(
    db: Database,
    host: Tenant,
    actor: Actor,
    period: Period,
    grouping: Grouping,
    *,
    median: bool = True,
) -> Report:
    """``nationalStats``: figures per group and in total, for the whole country on the national
    host, for a province's regencies and cities on the province's host. ``median=False`` skips
    the response-time histogram (``median_hours_to_first_response`` is then ``None``)."""
    check_wide_view(host, actor)
    async with db.public.begin() as conn:
        known = await _prepare(db, conn, national=host.kind is TenantKind.NATIONAL)
        tenants = _children(host, known)
        found = await _grouped(conn, grouping, period, tenants, histogram=median)
        await audit(
            conn,
            host,
            actor,
            "nationalStats",
            **{"from": period.start, "to": period.end, "groupBy": grouping},
        )
    return Report(
        period, grouping, _shape(grouping, found, known, tenants), Figures.from_vector(add(found.values()))
    )


async def tenant_stats(db: Database, host: Tenant, actor: Actor, period: Period) -> Figures:
    """``stats``: the host tenant's own figures, by the same definitions as the national views."""
    require_scope(actor, "stats:read")
    async with db.public.begin() as conn:
        found = await _grouped(conn, Grouping.TENANT, period, [host.slug])
        await audit(conn, host, actor, "stats", **{"from": period.start, "to": period.end})
    return Figures.from_vector(found.get(host.slug, [0] * len(VECTOR)))


# --- the ranking -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RankedTenant:
    rank: int
    slug: str
    name: str
    kind: TenantKind
    figures: Figures


@dataclass(frozen=True, slots=True)
class Ranking:
    entries: list[RankedTenant]
    offset: int
    total_count: int


def _order(figures: Figures, slug: str) -> tuple[float, float, int, str]:
    settlement = figures.settlement_rate
    on_time = figures.on_time_rate
    return (
        -(settlement if settlement is not None else -1.0),
        -(on_time if on_time is not None else -1.0),
        -figures.received,
        slug,
    )


def rank(figures: Mapping[str, Figures], known: Mapping[str, RegistryEntry]) -> list[RankedTenant]:
    """Settlement rate, then on-time rate (higher first), ties by volume (more first); equal on
    all three share a rank (1, 2, 2, 4). Tenants with nothing received are not ranked."""
    ordered = sorted(((_order(f, slug), slug) for slug, f in figures.items() if f.received > 0))
    out: list[RankedTenant] = []
    previous: tuple[float, float, int] | None = None
    position = 0
    for index, (order, slug) in enumerate(ordered, start=1):
        if order[:3] != previous:
            position, previous = index, order[:3]
        entry = known.get(slug)
        out.append(
            RankedTenant(
                position,
                slug,
                entry.name if entry else slug,
                entry.kind if entry else TenantKind.REGENCY,
                figures[slug],
            )
        )
    return out


async def tenant_ranking(
    db: Database,
    host: Tenant,
    actor: Actor,
    period: Period,
    *,
    kind: TenantKind | None = None,
    first: int = 20,
    offset: int = 0,
    median: bool = False,
) -> Ranking:
    """``tenantRanking``: the ranking agencies are judged by, on the national host over every
    tenant (or those of ``kind``), on a province's host over its regencies and cities. The
    median is not a criterion: computed only with ``median=True``."""
    check_wide_view(host, actor)
    if not 0 <= first <= MAX_PAGE:
        raise DomainError("INVALID_INPUT", f"first must be between 0 and {MAX_PAGE}", "first")
    if offset < 0:
        raise DomainError("INVALID_INPUT", "after is not a cursor of this ranking", "after")
    async with db.public.begin() as conn:
        known = await _prepare(db, conn, national=host.kind is TenantKind.NATIONAL)
        tenants = _children(host, known)
        found = await _grouped(conn, Grouping.TENANT, period, tenants, histogram=median)
        await audit(
            conn,
            host,
            actor,
            "tenantRanking",
            **{"from": period.start, "to": period.end, "kind": kind, "first": first, "offset": offset},
        )
    if kind is not None:
        found = {slug: v for slug, v in found.items() if slug in known and known[slug].kind is kind}
    ranked = rank({slug: Figures.from_vector(v) for slug, v in found.items()}, known)
    return Ranking(ranked[offset : offset + first], offset, len(ranked))
