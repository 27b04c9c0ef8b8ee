"""The national views on real PostgreSQL: figures equal what each tenant's own tables say (a
property test over random operations, transfers included), the rollup and the journal add up to
the index rows, the late and on-time figures follow the deadlines, the ranking's order, the
province view's limits, and the GraphQL surface with real tokens (a regency token gets
FORBIDDEN on national fields, every call leaves an audit row)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from lapor.platform.errors import DomainError
from lapor.platform.public_tables import access_audit, national_complaint
from lapor.tenants.actors import Actor
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.context import tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import ActorKind, ComplaintStatus, ResponseOutcome, TransferKind
from lapor.tenants.national import rollup, stats
from lapor.tenants.national.rollup import REPORTING_ZONE, Grain, Period, plan
from lapor.tenants.national.stats import Figures, Grouping, RegistryEntry, median_from_histogram
from lapor.tenants.records import Tenant, TenantKind
from lapor.tenants.tables import complaint
from lapor.tenants.transfers.service import TransferService
from tests.apps import running_app
from tests.complaint_helpers import ADMIN, a_unit, bring_to, sample
from tests.conftest import BASE_DOMAIN
from tests.graphql_client import Gql, codes
from tests.oauth_helpers import remember_app

S = ComplaintStatus
UTC = dt.UTC
ANALYST = Actor(ActorKind.STAFF, name="Analis KemenPAN-RB", scopes=frozenset({"national:read", "stats:read"}))
PROVINCE_VIEWER = Actor(ActorKind.STAFF, name="Pemprov", scopes=frozenset({"stats:read"}))
COUNTED = (
    "received", "verified", "in_progress", "responded", "closed", "archived", "transferred",
    "followed_up", "resolved", "late", "on_time", "due",
)  # fmt: skip


@pytest.fixture(scope="module")
def transfers(db, complaints) -> TransferService:
    return TransferService(db, complaints, TenantDirectory(db, BASE_DOMAIN))


# --- pure parts ------------------------------------------------------------------------------


def _wib(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=REPORTING_ZONE)


def test_a_period_splits_into_whole_jakarta_months_and_raw_edges() -> None:
    whole = plan(Period(_wib(2026, 1, 1), _wib(2026, 4, 1)))
    assert (whole.rollup, whole.first_month, whole.end_month, whole.raw) == (
        True, dt.date(2026, 1, 1), dt.date(2026, 4, 1), (),
    )  # fmt: skip
    # Midnight UTC on the 1st is 07:00 in Jakarta: January is not whole, its rest is read raw.
    ragged = plan(Period(dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 3, 15, tzinfo=UTC)))
    assert (ragged.first_month, ragged.end_month) == (dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    assert ragged.raw == (
        (dt.datetime(2026, 1, 1, tzinfo=UTC), _wib(2026, 2, 1)),
        (_wib(2026, 3, 1), dt.datetime(2026, 3, 15, tzinfo=UTC)),
    )
    inside = plan(Period(_wib(2026, 5, 3), _wib(2026, 5, 20)))
    assert not inside.rollup and inside.raw == ((_wib(2026, 5, 3), _wib(2026, 5, 20)),)
    assert plan(Period()) == rollup.Plan(True, None, None, ())
    december = plan(Period(_wib(2026, 12, 2), None))
    assert december.first_month == dt.date(2027, 1, 1) and december.raw == (
        (_wib(2026, 12, 2), _wib(2027, 1, 1)),
    )


def test_whole_months_are_read_as_years_quarters_and_months() -> None:
    d = dt.date
    rolling = rollup.spans(rollup.Plan(True, d(2025, 11, 1), d(2026, 11, 1), ()))
    assert rolling == [("M", d(2025, 11, 1), d(2026, 1, 1)), ("Q", d(2026, 1, 1), d(2026, 10, 1)),
                       ("M", d(2026, 10, 1), d(2026, 11, 1))]  # fmt: skip
    assert rollup.spans(rollup.Plan(True, d(2025, 1, 1), d(2026, 1, 1), ())) == [
        ("Y", d(2025, 1, 1), d(2026, 1, 1))
    ]
    assert rollup.spans(rollup.Plan(True, None, None, ())) == [("Y", None, None)]
    assert rollup.spans(rollup.Plan(True, None, d(2026, 5, 1), ())) == [
        ("Y", None, d(2026, 1, 1)), ("Q", d(2026, 1, 1), d(2026, 4, 1)), ("M", d(2026, 4, 1), d(2026, 5, 1)),
    ]  # fmt: skip
    assert rollup.spans(rollup.Plan(True, d(2024, 2, 1), d(2026, 8, 1), ())) == [
        ("M", d(2024, 2, 1), d(2024, 4, 1)), ("Q", d(2024, 4, 1), d(2025, 1, 1)), ("Y", d(2025, 1, 1), d(2026, 1, 1)),
        ("Q", d(2026, 1, 1), d(2026, 7, 1)), ("M", d(2026, 7, 1), d(2026, 8, 1)),
    ]  # fmt: skip
    # The MONTH grouping needs every month on its own.
    assert rollup.spans(rollup.Plan(True, d(2025, 1, 1), d(2026, 1, 1), ()), months_only=True) == [
        ("M", d(2025, 1, 1), d(2026, 1, 1))
    ]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (dt.datetime(2026, 1, 1), None, "from"),  # naive: which day would that be?
        (None, dt.datetime(9999, 12, 31, tzinfo=UTC), "to"),
        (_wib(2026, 2, 1), _wib(2026, 1, 1), "from"),
    ],
)
def test_a_bad_period_is_invalid_input(start, end, field) -> None:
    with pytest.raises(DomainError) as refused:
        Period(start, end)
    assert (refused.value.code, refused.value.field) == ("INVALID_INPUT", field)


def _bucket(hours: float) -> int:
    """The SQL bucket function, for the estimate test (floor(4 * log2(1 + hours)), last open)."""
    import math

    return min(47, math.floor(4 * math.log2(1 + hours)))


@pytest.mark.parametrize("seed", range(20))
def test_the_median_estimate_stays_within_a_bucket_of_the_exact_median(seed: int) -> None:
    rng = random.Random(seed)
    hours = [rng.lognormvariate(3, 1.2) for _ in range(rng.randint(1, 400))]
    histogram = [0] * 48
    for value in hours:
        histogram[_bucket(value)] += 1
    estimate = median_from_histogram(histogram)
    exact = statistics.median(hours)
    assert estimate is not None
    assert abs((1 + estimate) / (1 + exact) - 1) <= 2**0.25 - 1 + 1e-9
    assert median_from_histogram([0] * 48) is None


def test_the_ranking_orders_by_settlement_then_on_time_then_volume() -> None:
    def figures(received: int, closed: int, on_time: int, due: int) -> Figures:
        return Figures(received=received, closed=closed, on_time=on_time, due=due)

    found = {
        "a": figures(10, 5, 1, 2),  # 50 %, 50 %
        "b": figures(10, 8, 0, 0),  # 80 %, no on-time figure yet: after any with one
        "c": figures(20, 16, 3, 4),  # 80 %, 75 %
        "d": figures(40, 32, 3, 4),  # 80 %, 75 %, more volume than c
        "e": figures(0, 0, 0, 0),  # nothing received: not ranked
        "f": figures(20, 10, 2, 4),  # equal to a on rates; more volume
        "g": figures(20, 10, 2, 4),  # equal to f on everything: shares its rank
    }
    known = {slug: RegistryEntry(slug, slug.upper(), TenantKind.REGENCY, "p") for slug in found}
    ranked = stats.rank(found, known)
    assert [(r.rank, r.slug) for r in ranked] == [(1, "d"), (2, "c"), (3, "b"), (4, "f"), (4, "g"), (6, "a")]


# --- what each tenant's own tables say -------------------------------------------------------


async def _own_figures(db, tenant: Tenant) -> dict[str, int]:
    """The counts computed directly from the tenant's complaint table, inside its walls."""
    c = complaint.c
    held = c.status != S.TRANSFERRED.value
    owed = c.status.in_([S.SUBMITTED.value, S.VERIFIED.value, S.IN_PROGRESS.value])
    late = sa.and_(owed, c.deadline_at < sa.func.now())

    def count(condition: sa.ColumnElement[bool]) -> sa.Label[int]:
        return sa.func.count().filter(condition)

    query = sa.select(
        count(held).label("received"),
        count(sa.and_(held, c.verified_at.is_not(None))).label("verified"),
        count(c.status == S.IN_PROGRESS.value).label("in_progress"),
        count(c.status == S.RESPONDED.value).label("responded"),
        count(c.status == S.CLOSED.value).label("closed"),
        count(c.status == S.ARCHIVED.value).label("archived"),
        count(c.status == S.TRANSFERRED.value).label("transferred"),
        count(sa.and_(held, c.first_response_at.is_not(None))).label("followed_up"),
        count(sa.and_(c.status == S.CLOSED.value, c.outcome == ResponseOutcome.RESOLVED.value)).label(
            "resolved"
        ),
        count(late).label("late"),
        # Nothing here ever waited past a deadline (they are days away), so no step was late:
        # on time = the clock stopped, due = stopped or run out.
        count(sa.not_(owed)).label("on_time"),
        count(sa.or_(sa.not_(owed), late)).label("due"),
    )
    async with tenant_transaction(db, tenant) as conn:
        return dict((await conn.execute(query)).one()._mapping)


def _counted(figures: Figures) -> dict[str, int]:
    return {name: getattr(figures, name) for name in COUNTED}


@dataclass
class World:
    """The complaints the random operations created: where each one is now, in what status."""

    tenants: list[Tenant]
    codes: dict[str, str] = field(default_factory=dict)
    holder: dict[str, str] = field(default_factory=dict)
    status: dict[str, ComplaintStatus] = field(default_factory=dict)


# Each operation applies to a complaint in a status that allows it, when there is one: random
# operations that the lifecycle refuses would leave the world too poor to test anything.
ELIGIBLE: dict[str, frozenset[ComplaintStatus]] = {
    "verify": frozenset({S.SUBMITTED}),
    "assign": frozenset({S.VERIFIED, S.IN_PROGRESS}),
    "respond": frozenset({S.IN_PROGRESS, S.RESPONDED}),
    "accept": frozenset({S.RESPONDED}),
    "archive": frozenset({S.SUBMITTED}),
    "transfer": frozenset({S.SUBMITTED, S.VERIFIED, S.IN_PROGRESS, S.RESPONDED, S.NEEDS_INFO}),
}
operation = st.tuples(
    st.sampled_from(("submit", *ELIGIBLE)),
    st.integers(0, 2),  # acting tenant (submit) or target tenant (transfer)
    st.integers(0, 1_000),  # which of the eligible complaints
    st.sampled_from(list(ResponseOutcome)),
)


async def _apply(world: World, service: ComplaintService, transfers: TransferService, db, op) -> None:
    name, tenant_index, pick, outcome = op
    eligible = sorted(t for t, s in world.status.items() if name != "submit" and s in ELIGIBLE[name])
    if not eligible:
        tenant = world.tenants[tenant_index]
        sent = await service.submit(tenant, sample(category_code=None if pick % 3 == 0 else "INFRASTRUKTUR"))
        tid = sent.complaint.tracking_id
        world.codes[tid], world.holder[tid], world.status[tid] = (
            sent.access_code or "",
            tenant.slug,
            S.SUBMITTED,
        )
        return
    tid = eligible[pick % len(eligible)]
    tenant = next(t for t in world.tenants if t.slug == world.holder[tid])
    if name == "verify":
        record = await service.verify(tenant, ADMIN, tid)
    elif name == "assign":
        record = await service.assign(tenant, ADMIN, tid, await a_unit(db, tenant))
    elif name == "respond":
        record = await service.respond(
            tenant, ADMIN, tid, outcome, "Sudah ditindaklanjuti oleh dinas terkait."
        )
    elif name == "accept":
        record = await service.accept(tenant, tid, world.codes[tid])
    elif name == "archive":
        record = await service.archive(tenant, ADMIN, tid, "Bukan pelayanan publik")
    else:
        target = world.tenants[tenant_index]
        if target.slug == tenant.slug:
            target = world.tenants[(tenant_index + 1) % len(world.tenants)]
        moved = await transfers.transfer(
            tenant, ADMIN, tid, target.slug, TransferKind.FORWARD, "Bukan wewenang kami"
        )
        record, world.holder[tid] = moved.target, target.slug
    world.status[tid] = record.status


async def _national(db, national: Tenant, grouping: Grouping, period: Period | None = None) -> stats.Report:
    return await stats.national_stats(db, national, ANALYST, period or Period(), grouping)


_worlds: dict[int, World] = {}


@hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=st.lists(operation, min_size=1, max_size=12), fold_first=st.booleans())
async def test_national_figures_equal_the_sums_of_each_tenants_own_tables(
    db, complaints, transfers, national, make_regency, operations: Sequence[tuple], fold_first: bool
) -> None:
    # One world for all examples: state accumulates, so later examples start from richer ones.
    world = _worlds.get(id(make_regency))
    if world is None:
        world = _worlds[id(make_regency)] = World([await make_regency() for _ in range(3)])
    slugs = [t.slug for t in world.tenants]
    month_start = dt.datetime.now(REPORTING_ZONE).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for op in operations:
        await _apply(world, complaints, transfers, db, op)
    if fold_first:
        await rollup.fold(db)
    own = {t.slug: await _own_figures(db, t) for t in world.tenants}
    # Whole months from the rollup and the journal, a ragged period through raw edges: both must
    # say what the tenants' own tables say; so must the index rows read directly (province path).
    for period in (
        Period(),
        Period(month_start, None),
        Period(month_start + dt.timedelta(hours=3), month_start + dt.timedelta(days=40)),
    ):
        report = await _national(db, national, Grouping.TENANT, period)
        by_key = {g.key: g.figures for g in report.groups}
        assert {s: _counted(by_key[s]) for s in slugs} == own, (period, operations)
    async with db.public.connect() as conn:
        raw = await rollup.sums(conn, Grain.TENANT, Period(), slugs)
    assert {s: _counted(Figures.from_vector(raw[s])) for s in raw} == {s: own[s] for s in raw}
    # Each complaint is received exactly once, by its current holder.
    assert sum(own[s]["received"] for s in slugs) == len(world.holder)


async def test_every_grouping_adds_up_to_the_same_national_total(
    db, complaints, national, make_regency
) -> None:
    regency, lone = await make_regency(), await make_regency()
    await bring_to(complaints, db, regency, S.CLOSED)
    await bring_to(complaints, db, regency, S.ARCHIVED)
    # A closed row without an outcome (as older data may hold) counts as not resolved, never NULL,
    # even when it is alone in its group.
    closed, _ = await bring_to(complaints, db, lone, S.CLOSED)
    async with db.public.begin() as conn:
        await conn.execute(
            national_complaint.update()
            .where(national_complaint.c.tracking_id == closed.complaint.tracking_id)
            .values(outcome=None)
        )
    own = await stats.tenant_stats(db, lone, PROVINCE_VIEWER, Period())
    assert (own.closed, own.resolved, own.resolution_rate) == (1, 0, 0.0)
    await rollup.rebuild(db)
    assert {g.key: g.figures for g in (await _national(db, national, Grouping.TENANT)).groups}[
        lone.slug
    ] == own
    totals = {g: _counted((await _national(db, national, g)).total) for g in Grouping}
    assert len({tuple(t.items()) for t in totals.values()}) == 1, totals
    by_kind = await _national(db, national, Grouping.KIND)
    assert {g.key for g in by_kind.groups} <= {"COMPLAINT", "ASPIRATION", "INFORMATION_REQUEST"}
    months = [g.key for g in (await _national(db, national, Grouping.MONTH)).groups]
    assert months == sorted(months) and all(len(m or "") == 7 for m in months)


async def _index_row(db, tenant: Tenant, tid: str) -> sa.Row:
    async with db.public.connect() as conn:
        return (
            await conn.execute(
                sa.select(national_complaint).where(
                    national_complaint.c.tenant_slug == tenant.slug, national_complaint.c.tracking_id == tid
                )
            )
        ).one()


async def _push_deadline_into_the_past(db, tenant: Tenant, tid: str) -> None:
    async with db.public.begin() as conn:
        await conn.execute(
            national_complaint.update()
            .where(national_complaint.c.tenant_slug == tenant.slug, national_complaint.c.tracking_id == tid)
            .values(deadline_at=sa.func.now() - dt.timedelta(days=2))
        )


async def test_a_step_after_the_deadline_stays_late_and_late_ones_count_live(
    db, complaints, national, make_regency
) -> None:
    regency = await make_regency()
    slow, _ = await bring_to(complaints, db, regency, S.SUBMITTED)
    waiting, _ = await bring_to(complaints, db, regency, S.SUBMITTED)
    prompt, _ = await bring_to(complaints, db, regency, S.SUBMITTED)
    await complaints.verify(regency, ADMIN, prompt.complaint.tracking_id)
    for sent in (slow, waiting):
        await _push_deadline_into_the_past(db, regency, sent.complaint.tracking_id)
    own = await stats.tenant_stats(db, regency, PROVINCE_VIEWER, Period())
    # prompt: verified in time, clock running again (VERIFIED keeps the verify deadline): not
    # counted yet; slow and waiting: owed and past due.
    assert (own.late, own.on_time, own.due) == (2, 0, 2)
    # The late step: verified two days after the deadline. The new deadline lies ahead, yet it
    # stays late for good, and it is no longer "late now".
    await complaints.verify(regency, ADMIN, slow.complaint.tracking_id)
    assert (await _index_row(db, regency, slow.complaint.tracking_id)).missed_deadline is True
    assert (await _index_row(db, regency, prompt.complaint.tracking_id)).missed_deadline is False
    own = await stats.tenant_stats(db, regency, PROVINCE_VIEWER, Period())
    assert (own.late, own.on_time, own.due) == (1, 0, 2)
    assert own.on_time_rate == 0.0
    national_view = {g.key: g.figures for g in (await _national(db, national, Grouping.TENANT)).groups}
    assert national_view[regency.slug] == own


async def test_the_province_view_holds_only_its_regencies_and_cities(
    db, complaints, provisioner, province, national, make_regency
) -> None:
    from lapor.tenants.validation import TenantSpec
    from tests.conftest import unique_slug

    mine = await make_regency()
    other_province = await provisioner.create(
        TenantSpec(
            unique_slug("prov"), "Provinsi Lain", "PROVINCE", region_code="61", time_zone="Asia/Pontianak"
        )
    )
    theirs = await provisioner.create(
        TenantSpec(unique_slug(), "Kabupaten Lain", "REGENCY", parent=other_province.slug)
    )
    for tenant in (mine, theirs, province, other_province):
        await bring_to(complaints, db, tenant, S.VERIFIED)
    report = await stats.national_stats(db, province, PROVINCE_VIEWER, Period(), Grouping.TENANT)
    keys = {g.key for g in report.groups}
    async with db.public.connect() as conn:
        known = await stats.registry(conn)
    children = {
        e.slug for e in known.values() if e.parent == province.slug and e.kind is not TenantKind.PROVINCE
    }
    assert keys == children and mine.slug in keys
    assert theirs.slug not in keys and province.slug not in keys
    by_province = await stats.national_stats(db, province, PROVINCE_VIEWER, Period(), Grouping.PROVINCE)
    assert [g.key for g in by_province.groups] == [province.slug]
    assert by_province.total == report.total
    ranking = await stats.tenant_ranking(db, province, PROVINCE_VIEWER, Period(), first=100)
    assert {r.slug for r in ranking.entries} <= children
    # A province's token cannot read beyond: wide views need national:read on the national host.
    with pytest.raises(DomainError) as refused:
        await stats.national_stats(db, national, PROVINCE_VIEWER, Period(), Grouping.TENANT)
    assert refused.value.code == "FORBIDDEN"
    with pytest.raises(DomainError) as refused:
        await stats.national_stats(db, mine, ANALYST, Period(), Grouping.TENANT)
    assert refused.value.code == "FORBIDDEN"


async def test_locate_follows_a_transferred_complaint_to_its_holder(
    db, complaints, transfers, national, make_regency
) -> None:
    from lapor.tenants.national.locate import locate_complaint

    a, b, c = await make_regency(), await make_regency(), await make_regency()
    sent, _ = await bring_to(complaints, db, a, S.VERIFIED)
    tid = sent.complaint.tracking_id
    await transfers.transfer(a, ADMIN, tid, b.slug, TransferKind.FORWARD, "Bukan wewenang kami")
    await transfers.transfer(b, ADMIN, tid, c.slug, TransferKind.FORWARD, "Bukan wewenang kami juga")
    found = await locate_complaint(db, national, ANALYST, tid.lower())
    assert found is not None and found.holder is not None
    assert found.holder.tenant_slug == c.slug and found.holder.status is S.SUBMITTED
    assert [(h.tenant_slug, h.status) for h in found.holdings] == [
        (a.slug, S.TRANSFERRED), (b.slug, S.TRANSFERRED), (c.slug, S.SUBMITTED),
    ]  # fmt: skip
    assert [(t.source_tenant, t.target_tenant) for t in found.transfers] == [
        (a.slug, b.slug),
        (b.slug, c.slug),
    ]
    assert await locate_complaint(db, national, ANALYST, "NOPE-0000-000000") is None
    # Counted once nationally: received by c only, transferred by a and b.
    by_key = {g.key: g.figures for g in (await _national(db, national, Grouping.TENANT)).groups}
    assert [(by_key[t.slug].received, by_key[t.slug].transferred) for t in (a, b, c)] == [
        (0, 1),
        (0, 1),
        (1, 0),
    ]


# --- GraphQL, with real tokens ---------------------------------------------------------------

STATS_FIELDS = "received verified inProgress responded closed archived transferred late followedUp resolved followedUpRate settlementRate resolutionRate onTimeRate medianHoursToFirstResponse"
NATIONAL_STATS = f"query($g: StatsGroup!, $from: DateTime, $to: DateTime) {{ nationalStats(groupBy: $g, from: $from, to: $to) {{ groupBy total {{ received }} groups {{ key label tenant {{ slug kind }} stats {{ {STATS_FIELDS} }} }} }} }}"
RANKING = "query($first: Int, $after: String, $kind: TenantKind) { tenantRanking(first: $first, after: $after, kind: $kind) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { rank slug name tenant { slug } stats { settlementRate onTimeRate received } } } } }"
LOCATE = "query($t: String!) { locateComplaint(trackingId: $t) { trackingId holder { tenantSlug status } holdings { tenantSlug status arrivedAt tenant { slug } } transfers { sourceTenant targetTenant kind } } }"
OWN_STATS = f"{{ stats {{ {STATS_FIELDS} }} }}"


@pytest.fixture
async def app_client(settings, db):
    async with running_app(settings) as (app, client):
        remember_app(client, app, db)
        yield app, client


async def _audit_rows(db) -> int:
    async with db.public.connect() as conn:
        return await conn.scalar(sa.select(sa.func.count()).select_from(access_audit))


async def test_graphql_national_views_with_real_tokens(
    app_client, db, complaints, transfers, national, province, make_regency
) -> None:
    _app, client = app_client
    a, b = await make_regency(), await make_regency()
    await bring_to(complaints, db, a, S.CLOSED)
    moved, _ = await bring_to(complaints, db, a, S.SUBMITTED)
    tid = moved.complaint.tracking_id
    await transfers.transfer(a, ADMIN, tid, b.slug, TransferKind.FORWARD, "Bukan wewenang kami")
    on_national, on_province, on_a = Gql(client, None), Gql(client, province.slug), Gql(client, a.slug)

    before = await _audit_rows(db)
    data = await on_national.ok(NATIONAL_STATS, staff="Analis", g="TENANT")
    groups = {g["key"]: g for g in data["nationalStats"]["groups"]}
    assert groups[a.slug]["stats"]["received"] == 1 and groups[a.slug]["stats"]["transferred"] == 1
    assert groups[a.slug]["stats"]["settlementRate"] == 1.0
    assert groups[a.slug]["tenant"] == {"slug": a.slug, "kind": "REGENCY"}
    assert groups[b.slug]["stats"]["received"] == 1
    assert data["nationalStats"]["total"]["received"] >= 2

    own = await on_a.ok(OWN_STATS, staff="Admin")
    assert own["stats"] == groups[a.slug]["stats"]

    ranking = (await on_national.ok(RANKING, staff="Analis", first=2))["tenantRanking"]
    assert len(ranking["edges"]) == 2 and ranking["totalCount"] >= 2
    assert ranking["edges"][0]["node"]["rank"] == 1
    rest = (await on_national.ok(RANKING, staff="Analis", first=100, after=ranking["pageInfo"]["endCursor"]))[
        "tenantRanking"
    ]
    seen = [e["node"]["slug"] for e in ranking["edges"] + rest["edges"]]
    assert len(seen) == len(set(seen)) == ranking["totalCount"] and a.slug in seen
    regencies = (await on_national.ok(RANKING, staff="Analis", first=100, kind="REGENCY"))["tenantRanking"]
    assert a.slug in {e["node"]["slug"] for e in regencies["edges"]}

    located = (await on_national.ok(LOCATE, staff="Analis", t=tid))["locateComplaint"]
    assert located["holder"] == {"tenantSlug": b.slug, "status": "SUBMITTED"}
    assert [h["tenantSlug"] for h in located["holdings"]] == [a.slug, b.slug]
    assert located["transfers"] == [{"sourceTenant": a.slug, "targetTenant": b.slug, "kind": "FORWARD"}]

    # The province sees its own regencies only.
    province_view = await on_province.ok(NATIONAL_STATS, staff="Pemprov", g="TENANT")
    keys = {g["key"] for g in province_view["nationalStats"]["groups"]}
    assert {a.slug, b.slug} <= keys and province.slug not in keys
    async with db.public.connect() as conn:
        known = await stats.registry(conn)
    assert all(known[k].parent == province.slug for k in keys)

    # Every call above left an audit row: nationalStats, stats, 3 ranking pages, locate, province.
    assert await _audit_rows(db) - before == 7
    async with db.public.connect() as conn:
        last = (await conn.execute(sa.select(access_audit).order_by(access_audit.c.id.desc()).limit(1))).one()
    assert (last.action, last.tenant_slug, last.params["groupBy"]) == (
        "nationalStats",
        province.slug,
        "TENANT",
    )
    assert last.client_id

    # A regency token cannot call national fields, on its own host or on the national host.
    for query, variables in ((NATIONAL_STATS, {"g": "TENANT"}), (RANKING, {}), (LOCATE, {"t": tid})):
        refused = await on_a.raw(query, staff="Admin", **variables)
        assert codes(refused) == ["FORBIDDEN"] and not any((refused["data"] or {}).values())
    regency_token_on_national = await client.post(
        "/graphql",
        json={"query": NATIONAL_STATS, "variables": {"g": "TENANT"}},
        headers={"host": BASE_DOMAIN, "authorization": f"Bearer {await _token(client, a.slug)}"},
    )
    assert codes(regency_token_on_national.json()) == ["FORBIDDEN"]
    # National host without national:read, a province without stats:read, and no token at all.
    assert codes(await on_national.raw(NATIONAL_STATS, staff="Statistik", scopes="stats:read", g="KIND")) == [
        "FORBIDDEN"
    ]
    assert codes(await on_province.raw(RANKING, staff="Humas", scopes="complaints:read")) == ["FORBIDDEN"]
    assert codes(await on_national.raw(NATIONAL_STATS, g="TENANT")) == ["UNAUTHENTICATED"]
    assert codes(await on_a.raw(OWN_STATS, staff="Humas", scopes="complaints:read")) == ["FORBIDDEN"]
    bad = await on_national.raw(NATIONAL_STATS, staff="Analis", g="TENANT", **{"from": "2026-03-01T00:00:00"})
    assert codes(bad) == ["INVALID_INPUT"]
    assert codes(await on_national.raw(RANKING, staff="Analis", after="bm9wZQ")) == ["INVALID_INPUT"]
    assert await _audit_rows(db) - before == 7  # refusals read nothing


async def _token(client, slug: str) -> str:
    from tests.oauth_helpers import bearer_for

    return await bearer_for(client, slug)
