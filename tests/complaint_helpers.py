"""Bringing a complaint into any status through the real services (no shortcuts in SQL)."""

from __future__ import annotations

import sqlalchemy as sa

from lapor.tenants.actors import staff
from lapor.tenants.complaints.inputs import ReporterInput, SubmitInput
from lapor.tenants.complaints.service import ComplaintService, Submission
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import Channel, ComplaintKind, ComplaintStatus, ResponseOutcome
from lapor.tenants.records import Tenant
from lapor.tenants.tables import unit

ADMIN = staff("Admin Uji")

S = ComplaintStatus


def sample(**overrides: object) -> SubmitInput:
    values: dict[str, object] = {
        "kind": ComplaintKind.COMPLAINT,
        "channel": Channel.WEB,
        "title": "Jalan rusak di depan pasar",
        "body": "Jalan berlubang besar di depan Pasar Kefamenanu, membahayakan pengendara motor.",
        "category_code": "INFRASTRUKTUR",
        "region_code": "53.05",
        "reporter": ReporterInput(name="Maria Bere", phone="+6281234567890"),
    }
    values.update(overrides)
    return SubmitInput(**values)  # type: ignore[arg-type]


async def a_unit(db, tenant: Tenant, code: str = "DPUPR") -> int:
    async with tenant_transaction(db, tenant) as conn:
        existing = await conn.scalar(sa.select(unit.c.id).where(unit.c.code == code))
        if existing:
            return existing
        return await conn.scalar(unit.insert().values(code=code, name=f"Dinas {code}").returning(unit.c.id))


async def bring_to(
    service: ComplaintService, db, tenant: Tenant, status: ComplaintStatus
) -> tuple[Submission, str]:
    """A fresh complaint in ``status``; returns the submission and its access code."""
    submitted = await service.submit(tenant, sample())
    code = submitted.access_code
    assert code is not None
    tid = submitted.complaint.tracking_id
    if status is S.SUBMITTED:
        return submitted, code
    if status is S.NEEDS_INFO:
        await service.request_information(tenant, ADMIN, tid, "Mohon lampirkan foto lokasi.")
        return submitted, code
    if status is S.ARCHIVED:
        await service.archive(tenant, ADMIN, tid, "Bukan wewenang pelayanan publik")
        return submitted, code
    await service.verify(tenant, ADMIN, tid)
    if status is S.VERIFIED:
        return submitted, code
    await service.assign(tenant, ADMIN, tid, await a_unit(db, tenant))
    if status is S.IN_PROGRESS:
        return submitted, code
    await service.respond(tenant, ADMIN, tid, ResponseOutcome.RESOLVED, "Jalan sudah ditambal.")
    if status is S.RESPONDED:
        return submitted, code
    await service.accept(tenant, tid, code)
    assert status is S.CLOSED
    return submitted, code
