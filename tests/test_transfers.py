"""Transfers between tenants on real PostgreSQL: each kind, each refusal, one transaction, one
winner under concurrency, one history for a complaint that comes back, the reporter following it,
routing rules that transfer, the GraphQL surface with real tokens, and the walls staying up."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, ProgrammingError

from lapor.auth.roles import Role
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import national_complaint
from lapor.platform.public_tables import tenant as tenant_table
from lapor.platform.public_tables import transfer as transfer_table
from lapor.tenants.actors import REPORTER, SYSTEM, staff
from lapor.tenants.complaints.inputs import AttachmentInput
from lapor.tenants.complaints.reporters import identities
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.context import tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import Channel, ComplaintStatus, DeadlineKind, ResponseOutcome, TransferKind
from lapor.tenants.records import Tenant, TenantStatus
from lapor.tenants.registry import set_status
from lapor.tenants.routing import service as routing
from lapor.tenants.routing.service import RuleInput
from lapor.tenants.tables import attachment, category, complaint, complaint_event
from lapor.tenants.transfers import ledger
from lapor.tenants.transfers.service import TransferService, set_arrival_status
from lapor.tenants.validation import TenantSpec
from tests.apps import running_app
from tests.complaint_helpers import ADMIN, a_unit, bring_to, sample
from tests.conftest import BASE_DOMAIN, unique_slug
from tests.graphql_client import Gql, codes
from tests.oauth_helpers import remember_app, user_token

S = ComplaintStatus
FORWARD, ESCALATE, DELEGATE = TransferKind.FORWARD, TransferKind.ESCALATE, TransferKind.DELEGATE
WHY = "Bukan wewenang kabupaten ini"


@pytest.fixture(scope="session")
def transfers(db, complaints) -> TransferService:
    return TransferService(db, complaints, TenantDirectory(db, BASE_DOMAIN))


# --- reading the state of the world ------------------------------------------------------------


async def _row(db, tenant: Tenant, tid: str) -> sa.Row | None:
    async with tenant_transaction(db, tenant) as conn:
        return (await conn.execute(sa.select(complaint).where(complaint.c.tracking_id == tid))).first()


async def _timeline(db, tenant: Tenant, tid: str) -> list[sa.Row]:
    async with tenant_transaction(db, tenant) as conn:
        return list(
            await conn.execute(
                sa.select(complaint_event)
                .join(complaint, complaint.c.id == complaint_event.c.complaint_id)
                .where(complaint.c.tracking_id == tid)
                .order_by(complaint_event.c.id)
            )
        )


async def _index(db, tid: str) -> dict[str, str]:
    async with db.public.connect() as conn:
        rows = await conn.execute(
            sa.select(national_complaint.c.tenant_slug, national_complaint.c.status).where(
                national_complaint.c.tracking_id == tid
            )
        )
        return {row.tenant_slug: row.status for row in rows}


async def _ledger(db, tid: str) -> list[tuple[str, str, str]]:
    async with db.public.connect() as conn:
        rows = await conn.execute(
            sa.select(transfer_table.c.kind, transfer_table.c.source_tenant, transfer_table.c.target_tenant)
            .where(transfer_table.c.tracking_id == tid)
            .order_by(transfer_table.c.id)
        )
        return [tuple(row) for row in rows]


async def _world(db, tenants: list[Tenant], tid: str) -> tuple:
    """Everything a transfer touches, to compare before and after a refusal."""
    rows = []
    for tenant in tenants:
        row = await _row(db, tenant, tid)
        events = await _timeline(db, tenant, tid)
        rows.append((tenant.slug, row and (row.status, row.version), [e.id for e in events]))
    return rows, await _index(db, tid), await _ledger(db, tid)


async def _fresh_province(provisioner, code: str) -> tuple[Tenant, Tenant]:
    """A province of our own with one regency under it (the shared ones stay untouched)."""
    province = await provisioner.create(
        TenantSpec(unique_slug("prov"), "Provinsi Uji", "PROVINCE", region_code=code)
    )
    regency = await provisioner.create(
        TenantSpec(unique_slug(), "Kabupaten Uji", "REGENCY", parent=province.slug, region_code=f"{code}.01")
    )
    return province, regency


# --- each kind ----------------------------------------------------------------------------------


async def test_forward_moves_content_reporter_attachments_and_history(
    db, complaints, transfers, make_regency, secrets_for_tests
):
    a, b = await make_regency(), await make_regency()
    files = [AttachmentInput("foto-jalan.jpg", "image/jpeg", 123456, "ab" * 32)]
    sent = await complaints.submit(a, sample(attachments=files))
    tid, code = sent.complaint.tracking_id, sent.access_code
    await complaints.verify(a, ADMIN, tid)
    await complaints.assign(a, ADMIN, tid, await a_unit(db, a, "DPUPR"), note="Segera ditinjau")
    before = await _timeline(db, a, tid)

    result = await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY, expected_version=3)

    assert result.source.status is S.TRANSFERRED and result.source.version == 4
    assert result.source.deadline_at is None
    assert (result.transfer.kind, result.transfer.source_tenant, result.transfer.target_tenant) == (
        FORWARD,
        a.slug,
        b.slug,
    )
    assert (result.transfer.actor, result.transfer.reason) == ("Admin Uji", WHY)
    source_events = await _timeline(db, a, tid)
    assert [e.id for e in source_events[:-1]] == [e.id for e in before]
    departure = source_events[-1]
    assert (departure.action, departure.from_status, departure.to_status) == (
        "TRANSFER",
        "IN_PROGRESS",
        "TRANSFERRED",
    )
    assert b.slug in departure.note and WHY in departure.note

    moved = await _row(db, b, tid)
    assert moved is not None and result.target.id == moved.id
    assert (moved.status, moved.channel, moved.origin_tenant, moved.unit_id) == (
        "SUBMITTED",
        "TRANSFER",
        a.slug,
        None,
    )
    assert (moved.title, moved.body, moved.region_code) == (
        sent.complaint.title,
        sent.complaint.body,
        "53.05",
    )
    assert moved.submitted_at == sent.complaint.submitted_at, "the complaint's birth is kept"
    assert moved.deadline_kind == DeadlineKind.VERIFY.value and moved.deadline_at > dt.datetime.now(dt.UTC)
    async with tenant_transaction(db, b) as conn:
        code_in_b = await conn.scalar(sa.select(category.c.code).where(category.c.id == moved.category_id))
        files_in_b = list(
            await conn.execute(sa.select(attachment).where(attachment.c.complaint_id == moved.id))
        )
        person = await identities(conn, secrets_for_tests, [moved.reporter_id])
    assert code_in_b == "INFRASTRUKTUR", "category mapped by code to the target's own row"
    assert [(f.file_name, f.sha256) for f in files_in_b] == [("foto-jalan.jpg", "ab" * 32)]
    assert person[moved.reporter_id].name == "Maria Bere", "the encrypted reporter row travels as it is"

    copied = await _timeline(db, b, tid)
    assert [(e.at, e.action, e.from_status, e.to_status) for e in copied[:-1]] == [
        (e.at, e.action, e.from_status, e.to_status) for e in source_events
    ]
    assign = next(e for e in copied if e.action == "ASSIGN")
    assert assign.unit_id is None and "Dinas DPUPR" in assign.note and "Segera ditinjau" in assign.note
    arrival = copied[-1]
    assert (arrival.action, arrival.from_status, arrival.to_status) == ("TRANSFER", None, "SUBMITTED")
    assert a.slug in arrival.note

    assert await _index(db, tid) == {a.slug: "TRANSFERRED", b.slug: "SUBMITTED"}
    assert await _ledger(db, tid) == [("FORWARD", a.slug, b.slug)]
    assert (await complaints.track(b, tid, code)).status is S.SUBMITTED, "the access code still works"
    # The target works on it like on any complaint of its own.
    assert (await complaints.verify(b, ADMIN, tid)).status is S.VERIFIED


async def test_escalate_goes_to_the_parent(db, complaints, transfers, make_regency, province):
    regency = await make_regency()
    sent, _code = await bring_to(complaints, db, regency, S.RESPONDED)
    tid = sent.complaint.tracking_id
    result = await transfers.transfer(
        regency, ADMIN, tid, province.slug, ESCALATE, "Terlambat, naik ke provinsi"
    )
    assert result.target_tenant.slug == province.slug and result.target.status is S.SUBMITTED
    assert result.target.outcome is None and result.target.first_response_at is None, (
        "the target starts afresh"
    )
    assert await _index(db, tid) == {regency.slug: "TRANSFERRED", province.slug: "SUBMITTED"}
    assert await _ledger(db, tid) == [("ESCALATE", regency.slug, province.slug)]


async def test_delegate_goes_down_any_depth_and_maps_missing_categories_to_null(
    db, complaints, transfers, make_regency, national
):
    regency = await make_regency()
    async with tenant_transaction(db, regency) as conn:
        await conn.execute(
            category.update().where(category.c.code == "INFRASTRUKTUR").values(is_active=False)
        )
    sent = await complaints.submit(national, sample())
    tid = sent.complaint.tracking_id
    result = await transfers.transfer(national, SYSTEM, tid, regency.slug, DELEGATE, "Wewenang pemda")
    assert result.target.category_id is None, "no active category with that code in the target"
    assert result.target.origin_tenant == national.slug
    assert result.transfer.actor == "system"
    assert await _ledger(db, tid) == [("DELEGATE", national.slug, regency.slug)]


async def test_the_target_policy_chooses_the_arrival_status(db, complaints, transfers, make_regency):
    a, b = await make_regency(), await make_regency()
    async with tenant_transaction(db, b) as conn:
        await set_arrival_status(conn, S.VERIFIED)
    sent = await complaints.submit(a, sample())
    tid = sent.complaint.tracking_id
    result = await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY)
    assert result.target.status is S.VERIFIED and result.target.verified_at is not None
    assert result.target.deadline_kind is DeadlineKind.VERIFY
    assert (await _timeline(db, b, tid))[-1].to_status == "VERIFIED"
    assert await _index(db, tid) == {a.slug: "TRANSFERRED", b.slug: "VERIFIED"}
    with pytest.raises(DomainError) as refused:
        async with tenant_transaction(db, b) as conn:
            await set_arrival_status(conn, S.IN_PROGRESS)
    assert refused.value.code == "INVALID_INPUT"


# --- refusals -----------------------------------------------------------------------------------


async def test_each_refusal_has_its_code_and_changes_nothing(
    db, complaints, transfers, make_regency, province, national
):
    a, sibling, suspended, elsewhere = [await make_regency() for _ in range(4)]
    await set_status(db, suspended.slug, TenantStatus.SUSPENDED, "audit")
    async with db.public.begin() as conn:
        await conn.execute(
            tenant_table.update().where(tenant_table.c.slug == elsewhere.slug).values(cluster="jawa")
        )
    sent = await complaints.submit(a, sample())
    tid = sent.complaint.tracking_id
    world = await _world(db, [a, sibling], tid)

    unit_officer = staff("Petugas Unit", unit_id=await a_unit(db, a))
    no_scope = staff("Verifikator", scopes=frozenset({"complaints:read", "complaints:triage"}))
    cases = [
        (dict(target=sibling.slug, kind=ESCALATE), "INVALID_TRANSFER_KIND"),
        (dict(target=province.slug, kind=DELEGATE), "INVALID_TRANSFER_KIND"),
        (dict(target=province.slug, kind=FORWARD), "INVALID_TRANSFER_KIND"),
        (dict(target=sibling.slug, kind=DELEGATE), "INVALID_TRANSFER_KIND"),
        (dict(target=a.slug, kind=FORWARD), "SAME_TENANT"),
        (dict(target=f" {a.slug.upper()} ", kind=FORWARD), "SAME_TENANT"),
        (dict(target="tidak-ada-pemda", kind=FORWARD), "UNKNOWN_TENANT"),
        (dict(target=suspended.slug, kind=FORWARD), "TENANT_SUSPENDED"),
        (dict(target=elsewhere.slug, kind=FORWARD), "CROSS_CLUSTER"),
        (dict(target=sibling.slug, kind=FORWARD, actor=unit_officer), "FORBIDDEN"),
        (dict(target=sibling.slug, kind=FORWARD, actor=no_scope), "FORBIDDEN"),
        (dict(target=sibling.slug, kind=FORWARD, actor=REPORTER), "FORBIDDEN"),
        (dict(target=sibling.slug, kind=FORWARD, reason="  "), "INVALID_INPUT"),
        (dict(target=sibling.slug, kind=FORWARD, version=7), "CONFLICT"),
        (dict(target=sibling.slug, kind=FORWARD, tid="TIDAK-0000-000000"), "NOT_FOUND"),
    ]
    for case, expected in cases:
        with pytest.raises(DomainError) as refused:
            await transfers.transfer(
                a,
                case.get("actor", ADMIN),
                case.get("tid", tid),
                case["target"],
                case["kind"],
                case.get("reason", WHY),
                expected_version=case.get("version"),
            )
        assert refused.value.code == expected, (case, refused.value.message)
    assert await _world(db, [a, sibling], tid) == world

    # A province may not FORWARD to its own regency either: that is a DELEGATE.
    down = await complaints.submit(province, sample())
    with pytest.raises(DomainError) as refused:
        await transfers.transfer(province, ADMIN, down.complaint.tracking_id, a.slug, FORWARD, WHY)
    assert refused.value.code == "INVALID_TRANSFER_KIND"


@pytest.mark.parametrize("status", [S.CLOSED, S.ARCHIVED, S.TRANSFERRED], ids=lambda s: s.value)
async def test_a_closed_complaint_is_not_transferable(db, complaints, transfers, make_regency, status):
    a, b = await make_regency(), await make_regency()
    if status is S.TRANSFERRED:
        sent = await complaints.submit(a, sample())
        await transfers.transfer(a, ADMIN, sent.complaint.tracking_id, b.slug, FORWARD, WHY)
    else:
        sent, _code = await bring_to(complaints, db, a, status)
    tid = sent.complaint.tracking_id
    world = await _world(db, [a, b], tid)
    with pytest.raises(DomainError) as refused:
        await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY)
    assert refused.value.code == "NOT_TRANSFERABLE"
    assert await _world(db, [a, b], tid) == world


# --- one transaction ---------------------------------------------------------------------------


async def test_a_failing_target_insert_leaves_nothing_changed_anywhere(
    db, complaints, transfers, make_regency
):
    a, b = await make_regency(), await make_regency()
    sent, _code = await bring_to(complaints, db, a, S.IN_PROGRESS)
    tid = sent.complaint.tracking_id
    world = await _world(db, [a, b], tid)
    assert world[1] == {a.slug: "IN_PROGRESS"}
    async with db.public.begin() as conn:  # the migration owner, not a tenant role
        await conn.execute(
            sa.text(
                f"CREATE FUNCTION {b.schema_name}.refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'target refuses'; END $$"
            )
        )
        await conn.execute(
            sa.text(
                f"CREATE TRIGGER refuse BEFORE INSERT ON {b.schema_name}.complaint "
                f"FOR EACH ROW EXECUTE FUNCTION {b.schema_name}.refuse()"
            )
        )
    with pytest.raises(DBAPIError, match="target refuses"):
        await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY)
    assert await _world(db, [a, b], tid) == world, "source row, timelines, index and ledger untouched"
    async with tenant_transaction(db, b) as conn:  # nor a reporter copy left behind in the target
        assert await conn.scalar(sa.text("SELECT count(*) FROM reporter")) == 0

    async with db.public.begin() as conn:
        await conn.execute(sa.text(f"DROP TRIGGER refuse ON {b.schema_name}.complaint"))
    await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY)
    assert await _index(db, tid) == {a.slug: "TRANSFERRED", b.slug: "SUBMITTED"}


async def _after(delay: float, work):
    await asyncio.sleep(delay)
    return await work


async def test_concurrent_transfer_and_respond_exactly_one_wins(db, complaints, transfers, make_regency):
    """Both read the same version; the version-guarded UPDATE lets exactly one through. The
    respond side starts a little later in some rounds, so either side wins at times."""
    a, b = await make_regency(), await make_regency()
    winners: list[str] = []
    for delay in (0, 0, 0.002, 0.004, 0.006, 0.008, 0.012, 0.02):
        sent, _code = await bring_to(complaints, db, a, S.IN_PROGRESS)
        tid = sent.complaint.tracking_id
        version = (await _row(db, a, tid)).version
        outcomes = await asyncio.gather(
            transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY, expected_version=version),
            _after(
                delay,
                complaints.respond(
                    a, ADMIN, tid, ResponseOutcome.RESOLVED, "Sudah.", expected_version=version
                ),
            ),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(failures) == 1 and isinstance(failures[0], DomainError), outcomes
        transferred = not isinstance(outcomes[0], BaseException)
        # A loser that read before the winner committed hits the version guard (CONFLICT); one
        # that read afterwards finds a TRANSFERRED complaint it may no longer respond to.
        assert failures[0].code in ({"CONFLICT", "INVALID_TRANSITION"} if transferred else {"CONFLICT"})
        winners.append("transfer" if transferred else "respond")
        source = await _row(db, a, tid)
        assert source.version == version + 1
        if transferred:
            assert source.status == "TRANSFERRED" and await _row(db, b, tid) is not None
            assert await _ledger(db, tid) == [("FORWARD", a.slug, b.slug)]
            assert await _index(db, tid) == {a.slug: "TRANSFERRED", b.slug: "SUBMITTED"}
        else:
            assert source.status == "RESPONDED" and await _row(db, b, tid) is None
            assert await _ledger(db, tid) == [] and await _index(db, tid) == {a.slug: "RESPONDED"}
    assert len(winners) == 8


async def test_a_transfer_that_loses_at_the_update_gets_conflict(db, complaints, transfers, make_regency):
    """Deterministic interleaving: the transfer has read version v, another transition holds the
    row and commits v + 1; the transfer's guarded UPDATE then matches nothing: CONFLICT."""
    a, b = await make_regency(), await make_regency()
    sent, _code = await bring_to(complaints, db, a, S.IN_PROGRESS)
    tid = sent.complaint.tracking_id
    async with tenant_transaction(db, a) as conn:
        await conn.execute(
            complaint.update().where(complaint.c.tracking_id == tid).values(version=complaint.c.version + 1)
        )
        moving = asyncio.create_task(transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY))
        for _ in range(200):  # until the transfer waits on our row lock
            async with db.public.connect() as probe:
                waiting = await probe.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database() AND query LIKE 'UPDATE complaint%'"
                    )
                )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting == 1 and not moving.done()
    with pytest.raises(DomainError) as refused:
        await moving
    assert refused.value.code == "CONFLICT"
    assert (await _row(db, a, tid)).status == "IN_PROGRESS" and await _row(db, b, tid) is None
    assert await _ledger(db, tid) == []


# --- one history ------------------------------------------------------------------------------


async def test_away_and_back_keeps_one_row_and_one_history(db, complaints, transfers, make_regency):
    a, b = await make_regency(), await make_regency()
    sent = await complaints.submit(a, sample())
    tid, code = sent.complaint.tracking_id, sent.access_code
    first_id = sent.complaint.id
    await complaints.verify(a, ADMIN, tid)
    await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, "Salah alamat")
    await complaints.verify(b, ADMIN, tid)
    await complaints.assign(b, ADMIN, tid, await a_unit(db, b, "DINKES"))
    back = await transfers.transfer(b, ADMIN, tid, a.slug, FORWARD, "Ternyata wewenang kabupaten asal")

    assert back.target.id == first_id, "the row it left is reactivated, not duplicated"
    assert back.target.status is S.SUBMITTED and back.target.unit_id is None
    assert back.target.channel is Channel.WEB, "still the channel it was born on"
    async with tenant_transaction(db, a) as conn:
        assert await conn.scalar(sa.select(sa.func.count()).where(complaint.c.tracking_id == tid)) == 1
    history = [(e.action, e.to_status) for e in await _timeline(db, a, tid)]
    assert history == [
        ("SUBMIT", "SUBMITTED"),
        ("VERIFY", "VERIFIED"),
        ("TRANSFER", "TRANSFERRED"),  # left a
        ("TRANSFER", "SUBMITTED"),  # arrived in b
        ("VERIFY", "VERIFIED"),
        ("ASSIGN", "IN_PROGRESS"),
        ("TRANSFER", "TRANSFERRED"),  # left b
        ("TRANSFER", "SUBMITTED"),  # back in a
    ]
    times = [e.at for e in await _timeline(db, a, tid)]
    assert times == sorted(times)
    assert (await _timeline(db, a, tid))[-1].from_status == "TRANSFERRED"

    # And once more the other way: b's row comes back too, extended by what it has not seen.
    await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, "Sekali lagi")
    b_history = [(e.action, e.to_status) for e in await _timeline(db, b, tid)]
    assert b_history == [*history, ("TRANSFER", "TRANSFERRED"), ("TRANSFER", "SUBMITTED")]
    assert await _index(db, tid) == {a.slug: "TRANSFERRED", b.slug: "SUBMITTED"}
    assert [kind for kind, *_ in await _ledger(db, tid)] == ["FORWARD"] * 3
    assert (await complaints.track(b, tid, code)).status is S.SUBMITTED


# --- the reporter follows it ------------------------------------------------------------------


async def test_the_reporter_finds_a_twice_transferred_complaint_everywhere_it_was(
    db, complaints, transfers, make_regency, national
):
    a, b, c, stranger = [await make_regency() for _ in range(4)]
    sent = await complaints.submit(a, sample())
    tid, code = sent.complaint.tracking_id, sent.access_code
    await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, "Ke b")
    await complaints.verify(b, ADMIN, tid)
    await complaints.assign(b, ADMIN, tid, await a_unit(db, b, "DISHUB"))
    await transfers.transfer(b, ADMIN, tid, c.slug, FORWARD, "Ke c")

    for host in (a, b, c, national):
        tracked = await transfers.track(host, tid, code)
        assert tracked.holder.slug == c.slug, host.slug
        assert tracked.complaint.status is S.SUBMITTED and tracked.complaint.id == (await _row(db, c, tid)).id
    from_a = await transfers.track(a, tid, code)
    assert [e.action for e in from_a.timeline] == [
        "SUBMIT",
        "TRANSFER",
        "TRANSFER",
        "VERIFY",
        "ASSIGN",
        "TRANSFER",
        "TRANSFER",
    ]
    assert (await transfers.track(c, tid, code)).timeline is None, "the holder's host reads it itself"
    for host in (a, national, stranger):
        with pytest.raises(DomainError) as refused:
            await transfers.track(host, tid, "AAAA-BBBB-CCCC")
        assert refused.value.code == "NOT_FOUND"
    with pytest.raises(DomainError) as refused:
        await transfers.track(stranger, tid, code)
    assert refused.value.code == "NOT_FOUND", "a host that never held it knows nothing of it"


# --- routing rules act across tenants ----------------------------------------------------------


async def _rule(db, tenant: Tenant, **fields) -> None:
    async with tenant_transaction(db, tenant) as conn:
        await routing.create_rule(
            conn, ADMIN, RuleInput(action="TRANSFER_TO_TENANT", auto_apply=True, **fields)
        )


async def test_an_auto_apply_transfer_rule_delegates_on_verify(db, secrets_for_tests, transfers, provisioner):
    province, regency = await _fresh_province(provisioner, "76")
    service = ComplaintService(db, secrets_for_tests, transfers.complaints.calendars)
    hooked = TransferService(db, service, transfers.directory)
    service.apply_transfer_rule = hooked.apply_rule
    await _rule(
        db, province, name="Wilayah 76.01 ke kabupaten", target_tenant=regency.slug, region_prefixes=["76.01"]
    )

    sent = await service.submit(province, sample(region_code="76.01.02"))
    tid = sent.complaint.tracking_id
    verified = await service.verify(province, ADMIN, tid)
    assert verified.status is S.TRANSFERRED
    assert await _ledger(db, tid) == [("DELEGATE", province.slug, regency.slug)]
    async with db.public.connect() as conn:
        row = (await conn.execute(sa.select(transfer_table).where(transfer_table.c.tracking_id == tid))).one()
    assert (row.actor, row.reason) == ("system", "aturan: Wilayah 76.01 ke kabupaten")
    assert [(e.action, e.to_status) for e in await _timeline(db, regency, tid)][-3:] == [
        ("VERIFY", "VERIFIED"),
        ("TRANSFER", "TRANSFERRED"),
        ("TRANSFER", "SUBMITTED"),
    ]

    elsewhere = await service.submit(province, sample(region_code="76.02"))
    assert (await service.verify(province, ADMIN, elsewhere.complaint.tracking_id)).status is S.VERIFIED


async def test_a_rule_escalates_to_the_parent_and_a_refused_rule_leaves_it_verified(
    db, secrets_for_tests, transfers, provisioner
):
    province, regency = await _fresh_province(provisioner, "75")
    sibling = await provisioner.create(
        TenantSpec(unique_slug(), "Kabupaten Lain", "REGENCY", parent=province.slug)
    )
    service = ComplaintService(db, secrets_for_tests, transfers.complaints.calendars)
    service.apply_transfer_rule = TransferService(db, service, transfers.directory).apply_rule
    await _rule(db, regency, name="Jalan provinsi", target_tenant=province.slug, keywords=["provinsi"])
    await _rule(db, regency, name="Ke tetangga", target_tenant=sibling.slug, keywords=["tetangga"])
    await set_status(db, sibling.slug, TenantStatus.SUSPENDED)

    up = await service.submit(regency, sample(title="Jalan provinsi rusak parah"))
    assert (await service.verify(regency, ADMIN, up.complaint.tracking_id)).status is S.TRANSFERRED
    assert await _ledger(db, up.complaint.tracking_id) == [("ESCALATE", regency.slug, province.slug)]

    stuck = await service.submit(regency, sample(title="Urusan kabupaten tetangga"))
    assert (await service.verify(regency, ADMIN, stuck.complaint.tracking_id)).status is S.VERIFIED
    assert await _ledger(db, stuck.complaint.tracking_id) == []


# --- the walls ----------------------------------------------------------------------------------


async def test_after_a_transfer_each_tenant_reaches_only_its_own_row(db, complaints, transfers, make_regency):
    a, b, stranger = await make_regency(), await make_regency(), await make_regency()
    sent = await complaints.submit(a, sample())
    tid = sent.complaint.tracking_id
    await transfers.transfer(a, ADMIN, tid, b.slug, FORWARD, WHY)
    assert (await _row(db, a, tid)).status == "TRANSFERRED"
    with pytest.raises(ProgrammingError) as refused:
        async with tenant_transaction(db, a) as conn:
            await conn.execute(sa.text(f"SELECT status FROM {b.schema_name}.complaint"))
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"

    # The ledger: only the tenants named in a row may write it, each lists only its own rows.
    doc = {
        "tracking_id": tid,
        "kind": "FORWARD",
        "source_tenant": a.slug,
        "target_tenant": b.slug,
        "actor": "x",
    }
    with pytest.raises(ProgrammingError) as refused:
        async with tenant_transaction(db, stranger) as conn:
            await conn.execute(
                sa.text("SELECT public.lapor_record_transfer(CAST(:d AS jsonb))"), {"d": json.dumps(doc)}
            )
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"
    with pytest.raises(ProgrammingError):
        async with db.public.connect() as conn:  # the app role is no tenant: refused too
            await conn.execute(sa.text("SELECT * FROM public.lapor_tenant_transfers('ALL', NULL, NULL, 10)"))
    for tenant, direction, expected in (
        (a, ledger.TransferDirection.OUTGOING, [tid]),
        (a, ledger.TransferDirection.INCOMING, []),
        (b, ledger.TransferDirection.INCOMING, [tid]),
        (b, ledger.TransferDirection.ALL, [tid]),
        (stranger, ledger.TransferDirection.ALL, []),
    ):
        async with tenant_transaction(db, tenant) as conn:
            page = await ledger.list_transfers(conn, direction, first=100)
        assert [r.tracking_id for r in page.records] == expected, (tenant.slug, direction)


# --- GraphQL with real tokens -------------------------------------------------------------------

TRANSFER = """
mutation($i: TransferComplaintInput!) {
  transferComplaint(input: $i) {
    complaint { trackingId status version }
    transfer { trackingId kind sourceTenant targetTenant reason at actor }
    errors { field code message }
  }
}"""
TRANSFERS = """
query($d: TransferDirection!, $first: Int, $after: String) {
  transfers(direction: $d, first: $first, after: $after) {
    edges { cursor node { trackingId kind sourceTenant targetTenant } }
    pageInfo { hasNextPage endCursor }
  }
}"""
TRACK = """
query($t: String!, $c: String!) {
  trackComplaint(trackingId: $t, accessCode: $c) {
    trackingId status currentTenant timeline { action toStatus unitName note }
  }
}"""
SUBMIT = """
mutation($i: SubmitComplaintInput!) { submitComplaint(input: $i) { trackingId accessCode errors { code } } }"""


@pytest.fixture
async def app_client(settings, db):
    async with running_app(settings) as (app, client):
        remember_app(client, app, db)
        yield app, client


async def _submit(gql: Gql) -> tuple[str, str]:
    data = await gql.ok(
        SUBMIT,
        i={
            "title": "Jembatan gantung putus",
            "body": f"Jembatan gantung di desa kami putus sejak banjir minggu lalu ({uuid.uuid4().hex[:6]}).",
            "categoryCode": "INFRASTRUKTUR",
            "reporter": {"name": "Yakobus Naitili", "phone": "+6281300000077"},
        },
    )
    assert data["submitComplaint"]["errors"] == []
    return data["submitComplaint"]["trackingId"], data["submitComplaint"]["accessCode"]


async def test_graphql_transfer_list_and_track_with_real_tokens(app_client, db, make_regency, province):
    _app, client = app_client
    a, b, stranger = await make_regency(), await make_regency(), await make_regency()
    on_a, on_b, on_national = Gql(client, a.slug), Gql(client, b.slug), Gql(client, None)
    tid, code = await _submit(on_a)
    first = {"trackingId": tid.lower(), "targetTenant": b.slug, "kind": "FORWARD", "reason": WHY}

    refused = await on_a.raw(
        TRANSFER, staff="Verifikator", scopes="complaints:read complaints:triage", i=first
    )
    assert codes(refused) == ["FORBIDDEN"]
    assert codes(await on_a.raw(TRANSFER, i=first)) == ["UNAUTHENTICATED"]
    wrong = await on_a.ok(TRANSFER, staff="Admin", i={**first, "kind": "ESCALATE"})
    assert wrong["transferComplaint"]["errors"] == [
        {
            "field": "kind",
            "code": "INVALID_TRANSFER_KIND",
            "message": wrong["transferComplaint"]["errors"][0]["message"],
        }
    ]
    stale = await on_a.ok(TRANSFER, staff="Admin", i={**first, "expectedVersion": 5})
    assert [e["code"] for e in stale["transferComplaint"]["errors"]] == ["CONFLICT"]

    done = (await on_a.ok(TRANSFER, staff="Admin", i={**first, "expectedVersion": 1}))["transferComplaint"]
    assert done["errors"] == []
    assert done["complaint"] == {"trackingId": tid, "status": "TRANSFERRED", "version": 2}
    assert {
        k: done["transfer"][k] for k in ("trackingId", "kind", "sourceTenant", "targetTenant", "reason")
    } == {
        "trackingId": tid,
        "kind": "FORWARD",
        "sourceTenant": a.slug,
        "targetTenant": b.slug,
        "reason": WHY,
    }
    assert done["transfer"]["actor"] and done["transfer"]["at"]

    # The source host still shows its own, now closed, row; the target's is the live one.
    mine = await on_a.ok(
        "query($t: String!) { complaint(trackingId: $t) { status channel } }", staff="A", t=tid
    )
    assert mine["complaint"] == {"status": "TRANSFERRED", "channel": "WEB"}
    theirs = await on_b.ok(
        "query($t: String!) { complaint(trackingId: $t) { status channel originTenant } }", staff="B", t=tid
    )
    assert theirs["complaint"] == {"status": "SUBMITTED", "channel": "TRANSFER", "originTenant": a.slug}

    # A second transfer out of a, to page through the ledger.
    tid2, _ = await _submit(on_a)
    await on_a.ok(
        TRANSFER,
        staff="Admin",
        i={**first, "trackingId": tid2, "targetTenant": province.slug, "kind": "ESCALATE"},
    )
    page = (await on_a.ok(TRANSFERS, staff="A", d="OUTGOING", first=1))["transfers"]
    assert [e["node"]["trackingId"] for e in page["edges"]] == [tid2] and page["pageInfo"]["hasNextPage"]
    rest = (await on_a.ok(TRANSFERS, staff="A", d="OUTGOING", first=1, after=page["pageInfo"]["endCursor"]))[
        "transfers"
    ]
    assert [e["node"]["trackingId"] for e in rest["edges"]] == [tid] and not rest["pageInfo"]["hasNextPage"]
    assert (await on_a.ok(TRANSFERS, staff="A", d="INCOMING"))["transfers"]["edges"] == []
    incoming = (await on_b.ok(TRANSFERS, staff="B", d="INCOMING"))["transfers"]["edges"]
    assert [e["node"] for e in incoming] == [
        {"trackingId": tid, "kind": "FORWARD", "sourceTenant": a.slug, "targetTenant": b.slug}
    ]
    assert (await Gql(client, stranger.slug).ok(TRANSFERS, staff="S", d="ALL"))["transfers"]["edges"] == []
    assert codes(await on_a.raw(TRANSFERS, d="ALL")) == ["UNAUTHENTICATED"]
    assert codes(await on_a.raw(TRANSFERS, staff="X", scopes="complaints:transfer", d="ALL")) == ["FORBIDDEN"]
    assert codes(await on_a.raw(TRANSFERS, staff="A", d="ALL", after="not-a-cursor")) == ["INVALID_CURSOR"]

    # The reporter: the first host and the national host both find it in b, with the same code.
    for gql in (on_a, on_national, on_b):
        tracked = (await gql.ok(TRACK, t=tid, c=code))["trackComplaint"]
        assert (tracked["status"], tracked["currentTenant"]) == ("SUBMITTED", b.slug)
        assert [e["action"] for e in tracked["timeline"]] == ["SUBMIT", "TRANSFER", "TRANSFER"]
    assert codes(await on_national.raw(TRACK, t=tid, c="AAAA-BBBB-CCCC")) == ["NOT_FOUND"]
    assert codes(await Gql(client, stranger.slug).raw(TRACK, t=tid, c=code)) == ["NOT_FOUND"]


async def test_graphql_verify_applies_a_transfer_rule_and_unit_officers_cannot_transfer(
    app_client, db, make_regency, province
):
    app, client = app_client
    regency = await make_regency()
    await _rule(db, regency, name="Jalan provinsi", target_tenant=province.slug, keywords=["provinsi"])
    gql = Gql(client, regency.slug)
    data = await gql.ok(
        SUBMIT,
        i={"title": "Jalan provinsi berlubang", "body": "Jalan provinsi di km 12 berlubang dalam sekali."},
    )
    tid = data["submitComplaint"]["trackingId"]
    verified = await gql.ok(
        "mutation($i: VerifyComplaintInput!) { verifyComplaint(input: $i) { complaint { status } errors { code } } }",
        staff="Admin",
        i={"trackingId": tid},
    )
    assert verified["verifyComplaint"] == {"complaint": {"status": "TRANSFERRED"}, "errors": []}
    assert await _ledger(db, tid) == [("ESCALATE", regency.slug, province.slug)]

    unit_id = await a_unit(db, regency, "DLH")
    host = f"{regency.slug}.{BASE_DOMAIN}"
    officer = await user_token(
        db, app, client, host=host, tenant=regency.slug, role=Role.UNIT_OFFICER, unit_id=unit_id,
        scopes="complaints:read complaints:respond",
    )  # fmt: skip
    answer = await client.post(
        "/graphql",
        json={"query": TRANSFERS, "variables": {"d": "ALL"}},
        headers={"host": host, "authorization": f"Bearer {officer}"},
    )
    assert codes(answer.json()) == ["FORBIDDEN"]
