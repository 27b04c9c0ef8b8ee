"""The deadline worker on real PostgreSQL: late marking (once per deadline), auto-close after the
reply window, auto-escalation by tenant policy, two workers at once acting once, and the
``lapor worker`` process stopping cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from lapor.platform.calendar import WorkingCalendar
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import national_complaint
from lapor.platform.public_tables import transfer as transfer_table
from lapor.platform.worker import (
    AUTO_ESCALATE_KEY,
    MARK_LATE,
    DeadlineWorker,
    RoundSummary,
    late_enough,
    parse_escalation_days,
    set_auto_escalation,
)
from lapor.tenants.complaints.national_index import CATEGORY_CODE, index_complaint
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.context import tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import ActorKind, ComplaintStatus, ResponseOutcome
from lapor.tenants.records import Tenant
from lapor.tenants.tables import complaint, complaint_event, tenant_setting
from lapor.tenants.transfers.service import TransferService
from tests.complaint_helpers import ADMIN, a_unit, bring_to
from tests.conftest import BASE_DOMAIN

S = ComplaintStatus
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def transfers(db, complaints) -> TransferService:
    return TransferService(db, complaints, TenantDirectory(db, BASE_DOMAIN))


@pytest.fixture
def worker(db, complaints, transfers) -> DeadlineWorker:
    return DeadlineWorker(db, complaints, transfers)


# --- helpers ----------------------------------------------------------------------------------


async def overdue(db, tenant: Tenant, tid: str, by: dt.timedelta = dt.timedelta(hours=1)) -> ComplaintRecord:
    """Let time pass: the complaint's current deadline moves ``by`` into the past, in the tenant
    table and in the national index alike (as the index would hold it in real life)."""
    async with tenant_transaction(db, tenant) as conn:
        row = (
            await conn.execute(
                complaint.update()
                .where(complaint.c.tracking_id == tid)
                .values(deadline_at=dt.datetime.now(dt.UTC) - by)
                .returning(*complaint.c, CATEGORY_CODE)
            )
        ).one()
        record = ComplaintRecord.from_row(row)
        await index_complaint(conn, record, row.category_code)
    return record


async def current(db, tenant: Tenant, tid: str) -> sa.Row:
    async with tenant_transaction(db, tenant) as conn:
        return (await conn.execute(sa.select(complaint).where(complaint.c.tracking_id == tid))).one()


async def events(db, tenant: Tenant, tid: str, action: str | None = None) -> list[sa.Row]:
    query = (
        sa.select(complaint_event)
        .join(complaint, complaint.c.id == complaint_event.c.complaint_id)
        .where(complaint.c.tracking_id == tid)
        .order_by(complaint_event.c.id)
    )
    if action is not None:
        query = query.where(complaint_event.c.action == action)
    async with tenant_transaction(db, tenant) as conn:
        return list(await conn.execute(query))


async def indexed(db, tenant: Tenant, tid: str) -> sa.Row:
    async with db.public.connect() as conn:
        return (
            await conn.execute(
                sa.select(national_complaint).where(
                    national_complaint.c.tenant_slug == tenant.slug, national_complaint.c.tracking_id == tid
                )
            )
        ).one()


async def escalation_after(db, tenant: Tenant, days: int | None) -> None:
    async with tenant_transaction(db, tenant) as conn:
        await set_auto_escalation(conn, days)


async def new_complaint(complaints, db, tenant: Tenant, status: ComplaintStatus) -> str:
    submitted, _ = await bring_to(complaints, db, tenant, status)
    return submitted.complaint.tracking_id


def total(summaries: list[RoundSummary], tenant: Tenant, what: str) -> int:
    return sum(getattr(s.for_tenant(tenant.slug), what) for s in summaries)


# --- pure parts -------------------------------------------------------------------------------


def test_escalation_setting_values() -> None:
    assert parse_escalation_days("3") == 3 and parse_escalation_days(" 10 ") == 10
    for off in (None, "", "0", "-2", "tiga", "1.5"):
        assert parse_escalation_days(off) is None


def test_late_enough_counts_whole_working_days_after_the_deadline() -> None:
    zone = "Asia/Makassar"  # WITA, UTC+8
    friday_deadline = dt.datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    calendar = WorkingCalendar(frozenset({dt.date(2026, 11, 23)}))  # Monday off
    # Two working days after Friday: Tuesday and Wednesday (Monday is a holiday, weekend skipped).
    wednesday_evening = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    thursday_morning = dt.datetime(2026, 11, 26, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert not late_enough(friday_deadline, 2, wednesday_evening, calendar, zone)
    assert late_enough(friday_deadline, 2, thursday_morning, calendar, zone)


# --- late marking -----------------------------------------------------------------------------


async def test_late_marking_once_per_deadline(db, complaints, worker, make_regency) -> None:
    tenant = await make_regency()
    late = await new_complaint(complaints, db, tenant, S.IN_PROGRESS)
    on_time = await new_complaint(complaints, db, tenant, S.SUBMITTED)
    waiting_on_reporter = await new_complaint(complaints, db, tenant, S.NEEDS_INFO)
    before = await overdue(db, tenant, late)

    first = await worker.run_round()

    assert first.for_tenant(tenant.slug).marked_late == 1
    [mark] = await events(db, tenant, late, MARK_LATE)
    assert (mark.actor_kind, mark.from_status, mark.to_status) == (
        ActorKind.SYSTEM.value,
        "IN_PROGRESS",
        "IN_PROGRESS",
    )
    assert "first response deadline" in mark.note
    row = await current(db, tenant, late)
    assert row.late_marked_deadline == before.deadline_at and row.version == before.version + 1
    assert row.status == S.IN_PROGRESS.value, "marking changes no status"
    assert await events(db, tenant, on_time, MARK_LATE) == []
    assert await events(db, tenant, waiting_on_reporter, MARK_LATE) == []
    assert (await indexed(db, tenant, late)).missed_deadline, "the national index learns it was missed"

    # Idempotent: the same deadline is never marked twice.
    second = await worker.run_round()
    assert second.for_tenant(tenant.slug).marked_late == 0
    assert len(await events(db, tenant, late, MARK_LATE)) == 1

    # The mark bumped the version: a staff write based on what it read before conflicts.
    with pytest.raises(DomainError) as conflict:
        await complaints.assign(
            tenant, ADMIN, late, await a_unit(db, tenant), expected_version=before.version
        )
    assert conflict.value.code == "CONFLICT"


async def test_a_new_deadline_is_marked_again(db, complaints, worker, make_regency) -> None:
    tenant = await make_regency()
    submitted, code = await bring_to(complaints, db, tenant, S.RESPONDED)
    tid = submitted.complaint.tracking_id
    await complaints.dispute(tenant, tid, code, "Jalan masih berlubang.")  # IN_PROGRESS, completion limit
    await overdue(db, tenant, tid)
    assert (await worker.run_round()).for_tenant(tenant.slug).marked_late == 1
    await complaints.respond(tenant, ADMIN, tid, ResponseOutcome.RESOLVED, "Sudah diaspal ulang.")
    await complaints.dispute(tenant, tid, code, "Aspalnya sudah rusak lagi.")
    await overdue(db, tenant, tid, dt.timedelta(minutes=5))
    assert (await worker.run_round()).for_tenant(tenant.slug).marked_late == 1
    marks = await events(db, tenant, tid, MARK_LATE)
    assert len(marks) == 2 and all("completion deadline" in m.note for m in marks)


# --- auto-close -------------------------------------------------------------------------------


async def test_auto_close_after_the_reply_window(db, complaints, worker, make_regency) -> None:
    tenant = await make_regency()
    silent = await new_complaint(complaints, db, tenant, S.RESPONDED)
    still_open = await new_complaint(complaints, db, tenant, S.RESPONDED)
    await overdue(db, tenant, silent)

    summary = await worker.run_round()

    assert summary.for_tenant(tenant.slug).auto_closed == 1
    row = await current(db, tenant, silent)
    assert (row.status, row.closed_how, row.deadline_at) == ("CLOSED", "NO_REPLY", None)
    [closing] = await events(db, tenant, silent, "AUTO_CLOSE")
    assert (closing.actor_kind, closing.from_status, closing.to_status) == ("SYSTEM", "RESPONDED", "CLOSED")
    assert (await current(db, tenant, still_open)).status == "RESPONDED"
    assert (await indexed(db, tenant, silent)).status == "CLOSED"
    assert (await worker.run_round()).for_tenant(tenant.slug).auto_closed == 0
    assert len(await events(db, tenant, silent, "AUTO_CLOSE")) == 1


async def test_auto_close_refuses_a_stale_judgement(db, complaints, make_regency) -> None:
    """The reporter replied after the worker picked the complaint: the reply restarted the window,
    so the close (carrying the version the worker saw) must not happen."""
    tenant = await make_regency()
    submitted, code = await bring_to(complaints, db, tenant, S.RESPONDED)
    tid = submitted.complaint.tracking_id
    judged = await overdue(db, tenant, tid)
    await complaints.reply(tenant, tid, code, "Masih ada lubang di ujung jalan.")
    with pytest.raises(DomainError) as refused:
        await complaints.auto_close(tenant, tid, expected_version=judged.version)
    assert refused.value.code == "CONFLICT"
    assert (await current(db, tenant, tid)).status == "RESPONDED"


# --- auto-escalation --------------------------------------------------------------------------


async def test_auto_escalation_follows_the_tenant_policy(
    db, complaints, worker, make_regency, province
) -> None:
    policy_on, policy_off = await make_regency(), await make_regency()
    await escalation_after(db, policy_on, 2)
    long_late = await new_complaint(complaints, db, policy_on, S.IN_PROGRESS)
    just_late = await new_complaint(complaints, db, policy_on, S.VERIFIED)
    untouched = await new_complaint(complaints, db, policy_off, S.IN_PROGRESS)
    await overdue(db, policy_on, long_late, dt.timedelta(days=30))
    await overdue(db, policy_on, just_late, dt.timedelta(hours=1))
    await overdue(db, policy_off, untouched, dt.timedelta(days=30))

    summary = await worker.run_round()

    on, off = summary.for_tenant(policy_on.slug), summary.for_tenant(policy_off.slug)
    assert (on.marked_late, on.escalated) == (2, 1)
    assert (off.marked_late, off.escalated) == (1, 0)
    assert (await current(db, policy_on, long_late)).status == "TRANSFERRED"
    assert (await current(db, policy_on, just_late)).status == "VERIFIED", "not late for 2 working days yet"
    assert (await current(db, policy_off, untouched)).status == "IN_PROGRESS", "no policy, no escalation"

    # In the parent, with its history: late first, then escalated by the system.
    arrived = await current(db, province, long_late)
    assert arrived.status in ("SUBMITTED", "VERIFIED") and arrived.origin_tenant == policy_on.slug
    history = [(e.action, e.actor_kind) for e in await events(db, province, long_late)]
    # (departure from the source, copied with the history, then the arrival)
    assert history[-3:] == [("MARK_LATE", "SYSTEM"), ("TRANSFER", "SYSTEM"), ("TRANSFER", "SYSTEM")]
    [departure] = await events(db, policy_on, long_late, "TRANSFER")
    assert departure.note.startswith("ESCALATE ke ") and "working days past" in departure.note
    async with db.public.connect() as conn:
        ledger = (
            await conn.execute(sa.select(transfer_table).where(transfer_table.c.tracking_id == long_late))
        ).all()
    assert [(t.kind, t.source_tenant, t.target_tenant, t.actor) for t in ledger] == [
        ("ESCALATE", policy_on.slug, province.slug, "system")
    ]
    assert (await indexed(db, policy_on, long_late)).status == "TRANSFERRED"

    # Idempotent, and switching the policy off stops it.
    assert (await worker.run_round()).for_tenant(policy_on.slug).escalated == 0
    await escalation_after(db, policy_on, None)
    await overdue(db, policy_on, just_late, dt.timedelta(days=30))
    assert (await worker.run_round()).for_tenant(policy_on.slug).escalated == 0
    assert (await current(db, policy_on, just_late)).status == "VERIFIED"
    async with tenant_transaction(db, policy_on) as conn:
        assert (
            await conn.scalar(sa.select(sa.func.count()).where(tenant_setting.c.key == AUTO_ESCALATE_KEY))
            == 0
        )


async def test_a_bad_policy_value_means_off(db, complaints, worker, make_regency) -> None:
    tenant = await make_regency()
    async with tenant_transaction(db, tenant) as conn:
        await conn.execute(tenant_setting.insert().values(key=AUTO_ESCALATE_KEY, value="dua"))
    tid = await new_complaint(complaints, db, tenant, S.SUBMITTED)
    await overdue(db, tenant, tid, dt.timedelta(days=30))
    counts = (await worker.run_round()).for_tenant(tenant.slug)
    assert (counts.marked_late, counts.escalated, counts.error) == (1, 0, None)
    assert (await current(db, tenant, tid)).status == "SUBMITTED"


# --- several workers --------------------------------------------------------------------------


async def test_two_workers_at_once_act_once(db, complaints, transfers, make_regency) -> None:
    tenant = await make_regency()
    await escalation_after(db, tenant, 2)
    late = [await new_complaint(complaints, db, tenant, status) for status in (S.SUBMITTED, S.VERIFIED) * 3]
    responded = [await new_complaint(complaints, db, tenant, S.RESPONDED) for _ in range(4)]
    very_late = [await new_complaint(complaints, db, tenant, S.IN_PROGRESS) for _ in range(3)]
    for tid in late + responded:
        await overdue(db, tenant, tid)
    for tid in very_late:
        await overdue(db, tenant, tid, dt.timedelta(days=30))
    # Small batches, so the two interleave over many transactions.
    one, two = (DeadlineWorker(db, complaints, transfers, batch_size=2) for _ in range(2))

    summaries = list(await asyncio.gather(one.run_round(), two.run_round()))
    # SKIP LOCKED means "someone else has it now": whatever was skipped is done by the next round.
    summaries.append(await one.run_round())

    for tid in late:
        assert len(await events(db, tenant, tid, MARK_LATE)) == 1, tid
    for tid in responded:
        assert len(await events(db, tenant, tid, "AUTO_CLOSE")) == 1, tid
        assert (await current(db, tenant, tid)).status == "CLOSED"
    for tid in very_late:
        assert len(await events(db, tenant, tid, MARK_LATE)) == 1, tid
        assert len(await events(db, tenant, tid, "TRANSFER")) == 1, tid
        assert (await current(db, tenant, tid)).status == "TRANSFERRED"
    assert total(summaries, tenant, "marked_late") == len(late) + len(very_late)
    assert total(summaries, tenant, "auto_closed") == len(responded)
    assert total(summaries, tenant, "escalated") == len(very_late)
    async with db.public.connect() as conn:
        escalations = await conn.scalar(
            sa.select(sa.func.count()).where(
                transfer_table.c.source_tenant == tenant.slug, transfer_table.c.kind == "ESCALATE"
            )
        )
    assert escalations == len(very_late)


async def test_a_stop_request_ends_the_round_between_tenants(db, complaints, worker, make_regency) -> None:
    await make_regency()
    worker.request_stop()
    summary = await worker.run_round()
    assert summary.interrupted and summary.tenants == 0
    assert await worker.run_forever(interval=30) == 0, "a stopped worker does not start another round"


# --- the command ------------------------------------------------------------------------------


def _command_env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LAPOR_DATABASE_URL": database_url,
        "LAPOR_BASE_DOMAIN": BASE_DOMAIN,
        "LAPOR_REDIS_URL": "",
        "LAPOR_DATA_DIR": str(data_dir),
        "LAPOR_SECRET_KEY": "ab" * 32,
        "LAPOR_LOG_LEVEL": "INFO",
    }


async def test_once_json_prints_what_the_round_did(
    db, complaints, make_regency, database_url, tmp_path
) -> None:
    tenant = await make_regency()
    tid = await new_complaint(complaints, db, tenant, S.VERIFIED)
    await overdue(db, tenant, tid)
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "lapor.cli.main", "worker", "--once", "--json",
        cwd=ROOT, env=_command_env(database_url, tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(done.communicate(), timeout=120)
    assert done.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["by_tenant"][tenant.slug]["marked_late"] == 1
    assert report["totals"]["marked_late"] >= 1 and report["interrupted"] is False
    assert f"worker: {tenant.slug}: marked late 1" in err.decode(), "what it did is logged at INFO"
    assert len(await events(db, tenant, tid, MARK_LATE)) == 1


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_process_stops_cleanly_on_a_signal(database_url, tmp_path, stop_signal) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lapor.cli.main", "worker", "--interval", "1"],
        cwd=ROOT, env=_command_env(database_url, tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True)  # type: ignore[union-attr]
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("worker: started" in line for line in seen):
            assert process.poll() is None, "".join(seen)
            assert time.monotonic() < deadline, "the worker did not start: " + "".join(seen)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))
        time.sleep(1.5)  # a round or two, then asleep or mid-round: either way it must stop
        process.send_signal(stop_signal)
        started = time.monotonic()
        code = process.wait(timeout=15)
        assert code == 0, "".join(seen)
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=5)
    while not lines.empty():
        seen.append(lines.get())
    assert any("worker: stopped after" in line for line in seen), "".join(seen)
