"""The process the transfer fault test kills: transfers complaints in a loop, or stops inside one.

``python -m tests.fault_transfer_loop URL SOURCE TARGET [--pause STAGE --pause-at K] TRACKING_ID...``
prints ``READY`` once set up and ``DONE <id>`` after each committed transfer. With ``--pause`` it
stops inside the K-th transfer's open transaction, after printing ``PAUSED <stage> <id>``, until it
is killed. Stages: ``left`` (source closed as TRANSFERRED), ``arrived`` (target row written),
``ledger`` (ledger row written, COMMIT not yet sent).

Why a separate process: a SIGKILL is the fault under test, and only another process can take it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.secrets import Secrets
from lapor.settings import Settings
from lapor.tenants.actors import staff
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import TransferKind
from lapor.tenants.transfers import service as transfer_module
from lapor.tenants.transfers.service import TransferService
from tests.conftest import BASE_DOMAIN

ADMIN = staff("Admin Uji")
SECRET = b"lapor-fault-master-key-0123456789abcdef"
"""The same key as the seeding test process (the transfer copies encrypted reporter data as is)."""


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _pause(stage: str, tracking_id: str) -> None:
    _say(f"PAUSED {stage} {tracking_id}")
    await asyncio.sleep(3600)  # the test kills us here, the transaction still open


def _install_pause(stage: str, current: dict[str, Any]) -> None:
    """Wrap one step of ``TransferService._move`` so the process stops inside its transaction."""
    if stage == "left":
        original_leave = TransferService._leave

        async def leave(self: TransferService, *args: Any, **kwargs: Any) -> Any:
            result = await original_leave(self, *args, **kwargs)
            if current["pause"]:
                await _pause(stage, current["tid"])
            return result

        TransferService._leave = leave  # type: ignore[method-assign]
    elif stage == "arrived":
        original_arrive = TransferService._arrive

        async def arrive(self: TransferService, *args: Any, **kwargs: Any) -> Any:
            result = await original_arrive(self, *args, **kwargs)
            if current["pause"]:
                await _pause(stage, current["tid"])
            return result

        TransferService._arrive = arrive  # type: ignore[method-assign]
    elif stage == "ledger":
        original_record = transfer_module.record_transfer

        async def record(*args: Any, **kwargs: Any) -> Any:
            result = await original_record(*args, **kwargs)
            if current["pause"]:
                await _pause(stage, current["tid"])
            return result

        transfer_module.record_transfer = record  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown stage {stage!r}")


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--pause", default=None)
    parser.add_argument("--pause-at", type=int, default=0)
    parser.add_argument("tracking_ids", nargs="*")
    args = parser.parse_intermixed_args(argv)

    settings = Settings(database_url=args.url, base_domain=BASE_DOMAIN)
    db = Database(args.url, settings, pool_size=2, max_overflow=0)
    calendars = CalendarStore(db)
    complaints = ComplaintService(db, Secrets(SECRET), calendars)
    directory = TenantDirectory(db, BASE_DOMAIN)
    transfers = TransferService(db, complaints, directory)
    try:
        source = await directory.by_slug(args.source)
        assert source is not None
        await directory.by_slug(args.target)
        await calendars.calendar()
        current: dict[str, Any] = {"tid": None, "pause": False}
        if args.pause:
            _install_pause(args.pause, current)
        _say("READY")
        for index, tracking_id in enumerate(args.tracking_ids):
            current["tid"], current["pause"] = tracking_id, bool(args.pause) and index == args.pause_at
            await transfers.transfer(
                source, ADMIN, tracking_id, args.target, TransferKind.FORWARD, "Bukan wewenang kota ini"
            )
            _say(f"DONE {tracking_id}")
        _say("FINISHED")
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
