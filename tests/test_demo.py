"""The ``--demo`` world: every demo tenant, units, rules and ~200 complaints in every status, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa

from lapor.demo import DEMO_TENANTS, SEEDED_KINDS, build_demo_world, ensure_demo_world
from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.platform.scratch import scratch_database
from lapor.platform.secrets import load_secrets
from lapor.settings import Settings
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import ComplaintStatus
from lapor.tenants.records import Tenant
from lapor.tenants.registry import list_tenants
from lapor.tenants.tables import complaint, complaint_event, routing_rule, unit
from tests.conftest import BASE_DOMAIN

# A world of its own: the demo slugs (ntt, ...) would collide with the shared test database's.
SECRET_KEY = "5e" * 32


@pytest.fixture(scope="module")
def demo_url(admin_url: str) -> Iterator[str]:
    with scratch_database(admin_url, "demo") as url:
        yield url


@pytest.fixture(scope="module")
async def demo_db(demo_url: str) -> AsyncIterator[Database]:
    database = Database(
        demo_url, Settings(database_url=demo_url, base_domain=BASE_DOMAIN, secret_key=SECRET_KEY)
    )
    await upgrade_public(database)
    yield database
    await database.dispose()


async def _counts(db: Database, tenant: Tenant) -> tuple[int, int, Counter[str]]:
    """Units, rules, and complaints by status of one tenant, read inside the tenant's walls."""
    async with tenant_transaction(db, tenant) as conn:
        units = await conn.scalar(sa.select(sa.func.count()).select_from(unit))
        rules = await conn.scalar(sa.select(sa.func.count()).select_from(routing_rule))
        statuses = Counter(
            {
                status: count
                for status, count in await conn.execute(
                    sa.select(complaint.c.status, sa.func.count()).group_by(complaint.c.status)
                )
            }
        )
    return int(units or 0), int(rules or 0), statuses


async def test_demo_world_is_alive_and_seeded_once(demo_db: Database) -> None:
    world = await build_demo_world(demo_db, BASE_DOMAIN)

    assert sorted(t.slug for t in world.created) == sorted(spec.slug for spec in DEMO_TENANTS)
    tenants = {t.slug: t for t in await list_tenants(demo_db)}
    assert set(tenants) == {spec.slug for spec in DEMO_TENANTS}

    total: Counter[str] = Counter()
    for tenant in tenants.values():
        units, rules, statuses = await _counts(demo_db, tenant)
        if tenant.kind in SEEDED_KINDS:
            assert units >= 8, tenant.slug
            assert 3 <= rules <= 5, tenant.slug
            assert 25 <= sum(statuses.values()) <= 30, tenant.slug
        else:  # the national host aggregates; it has no complaints of its own
            assert (units, rules, sum(statuses.values())) == (0, 0, 0)
        total.update(statuses)

    assert 180 <= sum(total.values()) <= 260
    expected = {s for s in ComplaintStatus if s is not ComplaintStatus.TRANSFERRED}
    assert expected <= set(total), f"missing statuses: {expected - set(total)}"

    # Driven through the services: rated closures, reopened disputes, auto-routing by the robot.
    async with tenant_transaction(demo_db, tenants["kupang-kota"]) as conn:
        rated = await conn.scalar(sa.select(sa.func.count()).where(complaint.c.rating.is_not(None)))
        reopened = await conn.scalar(sa.select(sa.func.count()).where(complaint.c.reopen_count > 0))
        robot = await conn.scalar(
            sa.select(sa.func.count()).where(complaint_event.c.actor_name.like("aturan: %"))
        )
        archived_without_reason = await conn.scalar(
            sa.select(sa.func.count()).where(
                complaint.c.status == "ARCHIVED", complaint.c.archive_reason.is_(None)
            )
        )
    assert rated and reopened and robot
    assert archived_without_reason == 0

    # The sample serve prints is real: its access code opens it on the reporter's side.
    sample = world.sample
    assert sample is not None and sample.tenant == "kupang-kota"
    assert sample.status is ComplaintStatus.RESPONDED
    service = ComplaintService(demo_db, load_secrets(demo_db.settings), CalendarStore(demo_db))
    tracked = await service.track(tenants[sample.tenant], sample.tracking_id, sample.access_code)
    assert tracked.status is ComplaintStatus.RESPONDED
    assert sum(world.complaints.values()) == sum(total.values())

    # Idempotent, and the old two-argument call still works.
    assert await ensure_demo_world(demo_db, BASE_DOMAIN) == []
    recount: Counter[str] = Counter()
    for tenant in tenants.values():
        recount.update((await _counts(demo_db, tenant))[2])
    assert recount == total
