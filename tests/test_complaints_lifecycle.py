"""The lifecycle through the real services: every transition allowed and every one refused."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from lapor.platform.errors import DomainError
from lapor.tenants.actors import Actor, staff
from lapor.tenants.complaints.lifecycle import TRANSITIONS, Action
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import ActorKind, Channel, DeadlineKind, ResponseOutcome
from lapor.tenants.tables import complaint_event, reporter
from tests.complaint_helpers import ADMIN, S, a_unit, bring_to, sample

REACHABLE = [S.SUBMITTED, S.NEEDS_INFO, S.VERIFIED, S.IN_PROGRESS, S.RESPONDED, S.CLOSED, S.ARCHIVED]


@pytest.fixture(scope="module")
async def tenant(make_regency_module):
    return await make_regency_module()


@pytest.fixture(scope="module")
def make_regency_module(provisioner, province):
    from lapor.tenants.validation import TenantSpec
    from tests.conftest import unique_slug

    async def make():
        return await provisioner.create(
            TenantSpec(unique_slug(), "Kabupaten Uji", "REGENCY", parent=province.slug, region_code="53.05")
        )

    return make


async def _attempt(service, db, tenant, action: Action, tracking_id: str, code: str):
    unit_id = await a_unit(db, tenant)
    calls = {
        Action.COMPLETE: lambda: service.complete(tenant, tracking_id, code, "Foto terlampir."),
        Action.VERIFY: lambda: service.verify(tenant, ADMIN, tracking_id),
        Action.ARCHIVE: lambda: service.archive(tenant, ADMIN, tracking_id, "Spam"),
        Action.REQUEST_INFO: lambda: service.request_information(tenant, ADMIN, tracking_id, "Di mana?"),
        Action.ASSIGN: lambda: service.assign(tenant, ADMIN, tracking_id, unit_id),
        Action.RESPOND: lambda: service.respond(
            tenant, ADMIN, tracking_id, ResponseOutcome.PARTIALLY_RESOLVED, "Sebagian sudah diperbaiki."
        ),
        Action.REPLY: lambda: service.reply(tenant, tracking_id, code, "Terima kasih, tapi belum selesai."),
        Action.ACCEPT: lambda: service.accept(tenant, tracking_id, code),
        Action.DISPUTE: lambda: service.dispute(tenant, tracking_id, code, "Belum diperbaiki sama sekali."),
        Action.RATE: lambda: service.rate(tenant, tracking_id, code, 4, "Cukup cepat"),
    }
    return await calls[action]()


@pytest.mark.parametrize("status", REACHABLE, ids=lambda s: s.value)
@pytest.mark.parametrize(
    "action", [a for a in Action if a not in (Action.SUBMIT, Action.AUTO_CLOSE)], ids=lambda a: a.value
)
async def test_every_transition_is_allowed_or_refused_by_the_table(complaints, db, tenant, action, status):
    submitted, code = await bring_to(complaints, db, tenant, status)
    tracking_id = submitted.complaint.tracking_id
    rule = TRANSITIONS[action]
    if status in rule.sources:
        after = await _attempt(complaints, db, tenant, action, tracking_id, code)
        assert after.status is (rule.target or status)
        async with tenant_transaction(db, tenant) as conn:
            last = (
                await conn.execute(
                    sa.select(complaint_event)
                    .where(complaint_event.c.complaint_id == after.id)
                    .order_by(complaint_event.c.id.desc())
                    .limit(1)
                )
            ).one()
        assert (last.action, last.from_status, last.to_status) == (
            action.value,
            status.value,
            after.status.value,
        )
    else:
        with pytest.raises(DomainError) as refused:
            await _attempt(complaints, db, tenant, action, tracking_id, code)
        assert refused.value.code == "INVALID_TRANSITION", refused.value.message


async def test_the_whole_road_to_a_rated_closure(complaints, db, tenant):
    submitted = await complaints.submit(tenant, sample())
    record, code = submitted.complaint, submitted.access_code
    assert record.tracking_id.startswith(tenant.slug.upper() + "-")
    assert record.status is S.SUBMITTED and record.deadline_kind is DeadlineKind.VERIFY
    tid = record.tracking_id
    verified = await complaints.verify(tenant, ADMIN, tid)
    assigned = await complaints.assign(tenant, ADMIN, tid, await a_unit(db, tenant))
    assert assigned.deadline_kind is DeadlineKind.FIRST_RESPONSE
    responded = await complaints.respond(tenant, ADMIN, tid, ResponseOutcome.RESOLVED, "Sudah diperbaiki.")
    assert responded.deadline_kind is DeadlineKind.REPLY_WINDOW and responded.first_response_at
    disputed = await complaints.dispute(tenant, tid, code, "Masih berlubang.")
    assert disputed.status is S.IN_PROGRESS and disputed.reopen_count == 1
    assert disputed.deadline_kind is DeadlineKind.COMPLETION
    await complaints.respond(tenant, ADMIN, tid, ResponseOutcome.RESOLVED, "Sudah diaspal ulang.")
    closed = await complaints.accept(tenant, tid, code)
    assert closed.status is S.CLOSED and closed.closed_how.value == "ACCEPTED" and closed.deadline_at is None
    rated = await complaints.rate(tenant, tid, code, 5, "Terima kasih")
    assert rated.rating == 5
    with pytest.raises(DomainError) as twice:
        await complaints.rate(tenant, tid, code, 1)
    assert twice.value.code == "ALREADY_RATED"
    assert [verified.version, rated.version] == [2, 8]


async def test_concurrent_transitions_exactly_one_wins(complaints, db, tenant):
    for _ in range(5):
        submitted = await complaints.submit(tenant, sample())
        tid = submitted.complaint.tracking_id
        results = await asyncio.gather(
            complaints.verify(tenant, ADMIN, tid),
            complaints.archive(tenant, staff("Admin Lain"), tid, "Duplikat"),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], DomainError) and losers[0].code in {"CONFLICT", "INVALID_TRANSITION"}


async def test_stale_expected_version_is_a_conflict(complaints, tenant):
    submitted = await complaints.submit(tenant, sample())
    with pytest.raises(DomainError) as stale:
        await complaints.verify(tenant, ADMIN, submitted.complaint.tracking_id, expected_version=7)
    assert stale.value.code == "CONFLICT"


async def test_wrong_code_and_unknown_id_look_the_same(complaints, tenant):
    submitted = await complaints.submit(tenant, sample())
    with pytest.raises(DomainError) as wrong:
        await complaints.reply(tenant, submitted.complaint.tracking_id, "AAAA-BBBB-CCCC", "halo")
    with pytest.raises(DomainError) as unknown:
        await complaints.reply(tenant, "TTU-0000-999999", submitted.access_code or "", "halo")
    assert (wrong.value.code, wrong.value.message) == (unknown.value.code, unknown.value.message)
    assert wrong.value.code == "NOT_FOUND"


async def test_channel_submissions_are_deduplicated(complaints, tenant):
    gateway = Actor(ActorKind.STAFF, name="Gateway SMS", scopes=frozenset({"complaints:submit"}),
                    client_id="gateway-sms")  # fmt: skip
    first = await complaints.submit(tenant, sample(channel=Channel.SMS, external_ref="sms-1708-0001"), gateway)
    again = await complaints.submit(tenant, sample(channel=Channel.SMS, external_ref="sms-1708-0001"), gateway)
    assert again.duplicate and not first.duplicate
    assert again.complaint.tracking_id == first.complaint.tracking_id
    assert again.access_code == first.access_code, "a retry gets the same code back"
    other_channel = await complaints.submit(
        tenant, sample(channel=Channel.WHATSAPP, external_ref="sms-1708-0001"), gateway
    )
    assert other_channel.complaint.tracking_id != first.complaint.tracking_id
    racing = await asyncio.gather(
        *(
            complaints.submit(tenant, sample(channel=Channel.SMS, external_ref="race-42"), gateway)
            for _ in range(4)
        )
    )
    assert len({r.complaint.tracking_id for r in racing}) == 1
    assert sum(not r.duplicate for r in racing) == 1


async def test_scopes_and_unit_confinement(complaints, db, tenant):
    submitted, _code = await bring_to(complaints, db, tenant, S.SUBMITTED)
    viewer = Actor(ActorKind.STAFF, name="Viewer", scopes=frozenset({"complaints:read"}))
    with pytest.raises(DomainError) as forbidden:
        await complaints.verify(tenant, viewer, submitted.complaint.tracking_id)
    assert forbidden.value.code == "FORBIDDEN"

    in_progress, _ = await bring_to(complaints, db, tenant, S.IN_PROGRESS)
    other_unit = await a_unit(db, tenant, "DINKES")
    officer = staff("Petugas Dinkes", unit_id=other_unit)
    with pytest.raises(DomainError) as elsewhere:
        await complaints.respond(
            tenant, officer, in_progress.complaint.tracking_id, ResponseOutcome.RESOLVED, "Selesai."
        )
    assert elsewhere.value.code == "NOT_FOUND"
    own = staff("Petugas PU", unit_id=await a_unit(db, tenant))
    answered = await complaints.respond(
        tenant, own, in_progress.complaint.tracking_id, ResponseOutcome.UNABLE, "Di luar kewenangan dinas."
    )
    assert answered.status is S.RESPONDED


async def test_bad_input_is_refused_with_the_field(complaints, tenant, db):
    cases = [
        (sample(title="abc"), "title"),
        (sample(body="x" * 10_001), "body"),
        (sample(region_code="53-05"), "regionCode"),
        (sample(channel=Channel.TRANSFER), "channel"),
        (sample(category_code="NOPE"), "categoryCode"),
    ]
    for data, field_name in cases:
        with pytest.raises(DomainError) as refused:
            await complaints.submit(tenant, data)
        assert refused.value.field == field_name
    submitted, _ = await bring_to(complaints, db, tenant, S.IN_PROGRESS)
    with pytest.raises(DomainError) as unable:
        await complaints.respond(tenant, ADMIN, submitted.complaint.tracking_id, ResponseOutcome.UNABLE, " ")
    assert unable.value.code == "INVALID_INPUT"
    with pytest.raises(DomainError) as unit_missing:
        await complaints.assign(tenant, ADMIN, submitted.complaint.tracking_id, 999_999)
    assert unit_missing.value.code == "UNIT_NOT_FOUND"


async def test_timeline_is_append_only_and_reporter_data_is_encrypted(complaints, db, tenant):
    submitted = await complaints.submit(tenant, sample())
    async with tenant_transaction(db, tenant) as conn:
        stored = (
            await conn.execute(sa.select(reporter).where(reporter.c.id == submitted.complaint.reporter_id))
        ).one()
    # The exact planted values (and the bare subscriber number, in any prefix) are not in the bytes.
    for planted in (b"Maria Bere", b"+6281234567890", b"81234567890"):
        assert planted not in stored.name_encrypted and planted not in stored.contact_encrypted
    assert complaints.secrets.decrypt(stored.name_encrypted) == "Maria Bere"
    assert complaints.secrets.decrypt(stored.contact_encrypted) == "+6281234567890"
    for statement in ("UPDATE complaint_event SET note = 'x'", "DELETE FROM complaint_event"):
        with pytest.raises(DBAPIError):
            async with tenant_transaction(db, tenant) as conn:
                await conn.execute(sa.text(statement))


async def test_deadline_is_three_working_days_in_the_tenant_zone(complaints, tenant):
    submitted = await complaints.submit(tenant, sample())
    record = submitted.complaint
    calendar = await complaints.calendars.calendar()
    expected = calendar.add_working_days(record.submitted_at, 3, tenant.time_zone)
    assert record.deadline_at == expected
    assert not record.is_late(record.submitted_at)
    assert record.is_late(expected + dt.timedelta(seconds=1))
