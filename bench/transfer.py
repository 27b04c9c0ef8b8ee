"""P7 (DESIGN.md section 10): a cross-tenant transfer, p50 under 20 ms.

In a scratch database: the national tenant, one province and two regencies under it. The first
regency receives ``--complaints`` complaints through the real services, each verified and
disposed to a unit (so each carries a reporter, an attachment and a three-event timeline). Then,
one after the other, each is transferred (FORWARD) to the sibling regency through
``TransferService.transfer``, and afterwards each is transferred back (the reactivation path: the
first regency's row comes back to life and its timeline gets only the events it has not seen).

Timed per call: the whole service call, i.e. the fresh registry read of the target, the
hierarchy check, and the one transaction (enter the source, guarded UPDATE, departure event,
index row, read the timeline, attachments and reporter; enter the target, arrival policy,
routing proposal, insert or reactivate, events, attachments, index row, ledger row; COMMIT).
The SQL statements of each transfer are counted too. Client, server and PostgreSQL share this
machine.

    .venv/bin/python bench/transfer.py --complaints 300
"""

from __future__ import annotations

import argparse
import asyncio
import time

import sqlalchemy as sa
from _common import load_line, machine_line, percentile, summary_ms

from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.platform.public_tables import transfer as transfer_table
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.platform.secrets import Secrets
from lapor.settings import Settings
from lapor.tenants.actors import staff
from lapor.tenants.complaints.inputs import AttachmentInput, ReporterInput, SubmitInput
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.context import tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import Channel, ComplaintKind, TransferKind
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant
from lapor.tenants.tables import unit
from lapor.tenants.transfers.service import TransferService
from lapor.tenants.validation import TenantSpec

TARGET_P50_MS = 20.0
WARM_UP = 20
SPECS = (
    TenantSpec("nasional", "Nasional", "NATIONAL"),
    TenantSpec("prov-53", "Provinsi NTT", "PROVINCE", region_code="53", time_zone="Asia/Makassar"),
    TenantSpec("kab-ttu", "Kabupaten TTU", "REGENCY", parent="prov-53", region_code="53.05"),
    TenantSpec("kab-belu", "Kabupaten Belu", "REGENCY", parent="prov-53", region_code="53.04"),
)
ADMIN = staff("Admin Bench")


def complaint_input(number: int) -> SubmitInput:
    return SubmitInput(
        kind=ComplaintKind.COMPLAINT,
        channel=Channel.WEB,
        title=f"Jalan rusak di Desa Maubesi nomor {number}",
        body="Jalan kabupaten berlubang besar dan tergenang air saat hujan, anak sekolah sering jatuh.",
        category_code="INFRASTRUKTUR",
        region_code="53.05",
        reporter=ReporterInput(name=f"Pelapor {number}", phone="+6281234567890"),
        attachments=(AttachmentInput(f"foto-{number}.jpg", "image/jpeg", 150_000, f"{number:064x}"),),
    )


async def seed(complaints: ComplaintService, db: Database, tenant: Tenant, count: int) -> list[str]:
    """``count`` complaints submitted, verified and disposed through the real services."""
    async with tenant_transaction(db, tenant) as conn:
        unit_id = await conn.scalar(
            unit.insert().values(code="DPUPR", name="Dinas PUPR").returning(unit.c.id)
        )
    ids = []
    for number in range(count):
        sent = await complaints.submit(tenant, complaint_input(number))
        tid = sent.complaint.tracking_id
        await complaints.verify(tenant, ADMIN, tid)
        await complaints.assign(tenant, ADMIN, tid, unit_id)
        ids.append(tid)
    return ids


class StatementCounter:
    """Counts statements sent on an engine (``before_cursor_execute``)."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        sa.event.listen(db.public.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


async def run(
    transfers: TransferService, source: Tenant, target: Tenant, ids: list[str], counter: StatementCounter
) -> tuple[list[float], list[int], float]:
    """Per transfer: wall seconds and statements; and this process's CPU seconds per transfer."""
    seconds, statements = [], []
    cpu = time.process_time()
    for tid in ids:
        before = counter.count
        started = time.perf_counter()
        await transfers.transfer(source, ADMIN, tid, target.slug, TransferKind.FORWARD, "Bukan wewenang")
        seconds.append(time.perf_counter() - started)
        statements.append(counter.count - before)
    return seconds, statements, (time.process_time() - cpu) / max(1, len(ids))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=300)
    args = parser.parse_args()
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(load_line())

    with scratch_database(admin_url, "bench") as url:
        db = Database(url, Settings(), pool_size=4)
        try:
            await upgrade_public(db)
            provisioner = Provisioner(db, "localhost")
            tenants = [await provisioner.create(spec) for spec in SPECS]
            ttu, belu = tenants[2], tenants[3]
            secrets = Secrets(b"bench-master-key-0123456789abcdef!")
            complaints = ComplaintService(db, secrets, CalendarStore(db))
            transfers = TransferService(db, complaints, TenantDirectory(db, "localhost"))
            started = time.perf_counter()
            ids = await seed(complaints, db, ttu, args.complaints + WARM_UP)
            print(f"seeded {len(ids)} complaints in {time.perf_counter() - started:.1f} s")
            counter = StatementCounter(db)

            await run(transfers, ttu, belu, ids[:WARM_UP], counter)
            away, away_statements, away_cpu = await run(transfers, ttu, belu, ids[WARM_UP:], counter)
            back, back_statements, back_cpu = await run(transfers, belu, ttu, ids[WARM_UP:], counter)

            async with db.public.connect() as conn:
                ledger_rows = await conn.scalar(sa.select(sa.func.count()).select_from(transfer_table))
        finally:
            await db.dispose()

    print(f"transfers timed: {len(away)} away + {len(back)} back (after {WARM_UP} warm-up), sequential")
    for label, seconds, statements, cpu in (
        ("away (new row in the target):    ", away, away_statements, away_cpu),
        ("back (reactivates the first row):", back, back_statements, back_cpu),
    ):
        print(f"{label} {summary_ms(seconds)}  statements {max(statements)}  client CPU {cpu * 1000:.2f} ms")
    p50 = percentile([s * 1000 for s in away + back], 0.50)
    print(f"all: p50 {p50:.2f} ms (target < {TARGET_P50_MS:.0f} ms); ledger rows {ledger_rows}")
    ok = p50 < TARGET_P50_MS and ledger_rows == WARM_UP + 2 * args.complaints
    print("result: OK" if ok else "result: NOT OK")
    print(load_line())


if __name__ == "__main__":
    asyncio.run(main())
