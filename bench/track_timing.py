"""Issue 9, item 13: does ``trackComplaint`` tell a transferred-away id from an unknown one?

A caller without the access code must not learn anything from the time the answer takes: an
unknown tracking id, a wrong code for a complaint the host holds and a wrong code for a complaint
the host transferred away must cost the same (the same statements, the same argon2 work). With
the right code the transferred-away path does more (it reads the holder), which tells the
reporter nothing they do not already know.

In a scratch database: the national tenant, a province and two regencies. ``--complaints``
complaints are filed in the first regency and half of them transferred to the second. Then the
paths below are called through ``TransferService.track`` on the first regency's host (and two
on the national host, which finds every complaint through the national index),
interleaved (one call of each path per round, the order shuffled every round) so a busy
neighbour on this shared machine slows every path alike. Printed per path: the median and p90
of the wall time, and the SQL statements per call (counted on the engines' events).

    .venv/bin/python bench/track_timing.py --rounds 400
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from _common import load_line, machine_line, percentile

from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.migrations import upgrade_public
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.platform.secrets import Secrets
from lapor.settings import Settings
from lapor.tenants.actors import staff
from lapor.tenants.complaints.inputs import ReporterInput, SubmitInput
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import Channel, ComplaintKind, TransferKind
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant
from lapor.tenants.transfers.service import TransferService
from lapor.tenants.validation import TenantSpec

SPECS = (
    TenantSpec("nasional", "Nasional", "NATIONAL"),
    TenantSpec("prov-53", "Provinsi NTT", "PROVINCE", region_code="53", time_zone="Asia/Makassar"),
    TenantSpec("kab-ttu", "Kabupaten TTU", "REGENCY", parent="prov-53", region_code="53.05"),
    TenantSpec("kab-belu", "Kabupaten Belu", "REGENCY", parent="prov-53", region_code="53.04"),
)
ADMIN = staff("Admin Bench")
WRONG = "AAAA-BBBB-CCCC"


def complaint_input(number: int) -> SubmitInput:
    return SubmitInput(
        kind=ComplaintKind.COMPLAINT,
        channel=Channel.WEB,
        title=f"Jalan rusak di Desa Maubesi nomor {number}",
        body="Jalan kabupaten berlubang besar dan tergenang air saat hujan, anak sekolah sering jatuh.",
        category_code="INFRASTRUKTUR",
        region_code="53.05",
        reporter=ReporterInput(name=f"Pelapor {number}", phone="+6281234567890"),
    )


class StatementCounter:
    """Counts statements on every engine of the database (public and the tenants' cluster)."""

    def __init__(self, db: Database) -> None:
        self.count = 0
        sa.event.listen(db.public.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--warm-up", type=int, default=30)
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
            nasional, ttu, belu = tenants[0], tenants[2], tenants[3]
            secrets = Secrets(b"bench-master-key-0123456789abcdef!")
            complaints = ComplaintService(db, secrets, CalendarStore(db))
            transfers = TransferService(db, complaints, TenantDirectory(db, "localhost"))
            held: list[tuple[str, str]] = []
            away: list[tuple[str, str]] = []
            for number in range(args.complaints):
                sent = await complaints.submit(ttu, complaint_input(number))
                pair = (sent.complaint.tracking_id, sent.access_code or "")
                if number % 2:
                    await transfers.transfer(
                        ttu, ADMIN, pair[0], belu.slug, TransferKind.FORWARD, "Bukan wewenang"
                    )
                    away.append(pair)
                else:
                    held.append(pair)
            counter = StatementCounter(db)

            def unknown(i: int) -> str:
                return f"KAB-TTU-0000-{900000 + i:06d}"

            def call(tid: str, code: str, host: Tenant = ttu) -> Callable[[], Awaitable[object]]:
                return lambda: transfers.track(host, tid, code)

            paths: dict[str, Callable[[int], Callable[[], Awaitable[object]]]] = {
                "unknown id":                 lambda i: call(unknown(i), WRONG),
                "held, wrong code":           lambda i: call(held[i % len(held)][0], WRONG),
                "transferred, wrong code":    lambda i: call(away[i % len(away)][0], WRONG),
                "held, right code":           lambda i: call(*held[i % len(held)]),
                "transferred, right code":    lambda i: call(*away[i % len(away)]),
                "national: unknown id":       lambda i: call(unknown(i), WRONG, nasional),
                "national: wrong code":       lambda i: call(held[i % len(held)][0], WRONG, nasional),
            }  # fmt: skip
            seconds: dict[str, list[float]] = {name: [] for name in paths}
            statements: dict[str, list[int]] = {name: [] for name in paths}
            rng = random.Random(9)
            for round_number in range(args.warm_up + args.rounds):
                order = list(paths)
                rng.shuffle(order)
                for name in order:
                    work = paths[name](round_number)
                    before = counter.count
                    started = time.perf_counter()
                    try:
                        await work()
                    except DomainError as error:
                        assert error.code == "NOT_FOUND", error
                    elapsed = time.perf_counter() - started
                    if round_number >= args.warm_up:
                        seconds[name].append(elapsed)
                        statements[name].append(counter.count - before)
        finally:
            await db.dispose()
    print(f"{args.rounds} interleaved rounds (after {args.warm_up} warm-up), {args.complaints} complaints")
    for name in paths:
        ms = [s * 1000 for s in seconds[name]]
        counts = sorted(set(statements[name]))
        print(
            f"{name:26s} median {statistics.median(ms):6.2f} ms  p90 {percentile(ms, 0.9):6.2f} ms  "
            f"statements {counts}"
        )
    print(load_line())


if __name__ == "__main__":
    asyncio.run(main())
