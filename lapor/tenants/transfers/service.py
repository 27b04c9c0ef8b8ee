"""The transfer service: the one code path that acts in two tenants within one transaction.

A transfer (DESIGN.md section 5) is a single PostgreSQL transaction on the source tenant's
cluster. It enters the source (``enter_tenant``: ``SET LOCAL search_path`` and ``ROLE``), closes
the complaint there as ``TRANSFERRED`` behind the same optimistic ``version`` guard every
transition uses, then enters the target the same way and files the complaint there (same
tracking id and access-code hash, content, reporter copy, attachment metadata, the whole
timeline), writes both national-index rows and the ledger row. No superuser, no ``BYPASSRLS``:
each statement runs as the tenant role whose schema it touches, so a wrong search path fails
instead of writing into the wrong tenant. Either everything commits or nothing does.

A complaint that comes back to a tenant that held it before reuses that tenant's row (same id,
its timeline extended with the events it has not seen), so it keeps one history.

Tenants on different clusters are refused (``CROSS_CLUSTER``) for now: one transaction cannot
span two servers. The follow-up (DESIGN.md section 9) is an outbox row written here in the
source's transaction and delivered to the target idempotently by transfer id by the worker.

The reporter follows the complaint: :meth:`TransferService.track` finds it wherever it is now
through the national index, from any host that ever held it and from the national host.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.calendar import WorkingCalendar
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import national_complaint
from lapor.platform.secrets import verify_access_code
from lapor.tenants.actors import SYSTEM, Actor
from lapor.tenants.complaints import queries
from lapor.tenants.complaints.inputs import clean_note
from lapor.tenants.complaints.national_index import CATEGORY_CODE, index_complaint
from lapor.tenants.complaints.records import ComplaintRecord, EventRecord
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.context import enter_tenant, tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import ActorKind, Channel, ComplaintStatus, DeadlineKind, TransferKind
from lapor.tenants.records import Tenant, TenantKind
from lapor.tenants.routing.matching import ComplaintFacts, RuleSpec
from lapor.tenants.routing.service import route
from lapor.tenants.tables import (
    attachment,
    category,
    complaint,
    complaint_event,
    reporter,
    tenant_setting,
    unit,
)
from lapor.tenants.transfers.ledger import TransferRecord, record_transfer

S = ComplaintStatus
log = logging.getLogger(__name__)

TRANSFER_SCOPE: Final = "complaints:transfer"
EVENT_ACTION: Final = "TRANSFER"
"""The timeline action of both ends of a transfer (departure in the source, arrival in the target)."""
ARRIVAL_STATUS_KEY: Final = "transfer_arrival_status"
ARRIVAL_STATUSES: Final = (S.SUBMITTED, S.VERIFIED)
_MAX_DEPTH: Final = 8
"""National, province, regency: three levels today; a bound so a bad registry cannot loop us."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class TransferResult:
    source: ComplaintRecord
    """The source tenant's row, now ``TRANSFERRED``."""
    target: ComplaintRecord
    """The complaint where it continues, in the target tenant."""
    target_tenant: Tenant
    transfer: TransferRecord
    """The ledger row: the audit of who moved it, how and why."""


@dataclass(frozen=True)
class Tracked:
    """What the reporter's tracking page shows, found wherever the complaint is now."""

    complaint: ComplaintRecord
    holder: Tenant
    timeline: list[EventRecord] | None = None
    """Loaded in the holder's transaction when it is not the host's tenant (else ``None``: the
    API layer reads it through the request's own tenant transaction)."""
    unit_names: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Departure:
    """What the source hands over, read inside its part of the transaction."""

    left: ComplaintRecord
    category_code: str | None
    access_code_hash: str
    history: list[dict[str, Any]]
    files: list[dict[str, Any]]
    person: dict[str, Any] | None


# --- the hierarchy rules (pure) ---------------------------------------------------------------


def kind_for(source: Tenant, target: Tenant, target_ancestors: Sequence[str]) -> TransferKind:
    """The kind the hierarchy implies: down to a descendant, up to the parent, else lateral."""
    if source.slug in target_ancestors:
        return TransferKind.DELEGATE
    if source.parent_slug == target.slug:
        return TransferKind.ESCALATE
    return TransferKind.FORWARD


def check_kind(kind: TransferKind, source: Tenant, target: Tenant, target_ancestors: Sequence[str]) -> None:
    """Refuse a kind the hierarchy contradicts (``INVALID_TRANSFER_KIND``)."""
    implied = kind_for(source, target, target_ancestors)
    if kind is implied:
        return
    if kind is TransferKind.ESCALATE:
        reason = f"ESCALATE goes to the parent tenant ({source.parent_slug or 'none'})"
    elif kind is TransferKind.DELEGATE:
        reason = f"DELEGATE goes to a tenant under {source.slug}"
    else:
        place = "the parent of" if implied is TransferKind.ESCALATE else "under"
        reason = f"FORWARD is lateral, but {target.slug} is {place} {source.slug}: use {implied.value}"
    raise DomainError("INVALID_TRANSFER_KIND", reason, "kind")


def check_actor(actor: Actor) -> None:
    """Staff with ``complaints:transfer`` (not a unit officer), or the system (worker, rules)."""
    if actor.kind is ActorKind.SYSTEM:
        return
    if actor.kind is not ActorKind.STAFF:
        raise DomainError("FORBIDDEN", "only staff or the system transfer complaints")
    actor.require(TRANSFER_SCOPE)
    if actor.unit_id is not None:
        raise DomainError("FORBIDDEN", "a unit officer cannot transfer complaints; ask the tenant admin")


# --- the tenant-side setting ------------------------------------------------------------------


def _arrival_status(value: str | None) -> ComplaintStatus:
    """The tenant's ``transfer_arrival_status`` setting; SUBMITTED when unset (the target verifies)."""
    return S(value) if value in {s.value for s in ARRIVAL_STATUSES} else S.SUBMITTED


async def set_arrival_status(conn: AsyncConnection, status: ComplaintStatus) -> None:
    """Choose SUBMITTED (the target verifies again) or VERIFIED (trust the sender's verification)."""
    if status not in ARRIVAL_STATUSES:
        raise DomainError("INVALID_INPUT", "arrival status must be SUBMITTED or VERIFIED", "status")
    statement = pg_insert(tenant_setting).values(key=ARRIVAL_STATUS_KEY, value=status.value)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[tenant_setting.c.key],
            set_={"value": statement.excluded.value, "updated_at": sa.func.now()},
        )
    )


# --- the service ------------------------------------------------------------------------------


class TransferService:
    def __init__(self, db: Database, complaints: ComplaintService, directory: TenantDirectory) -> None:
        self.db = db
        self.complaints = complaints
        self.directory = directory

    async def transfer(
        self,
        source: Tenant,
        actor: Actor,
        tracking_id: str,
        target_slug: str,
        kind: TransferKind,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> TransferResult:
        """Move an open complaint from ``source`` to ``target_slug``, or refuse with a code:
        ``FORBIDDEN``, ``INVALID_INPUT`` (reason), ``SAME_TENANT``, ``UNKNOWN_TENANT``,
        ``TENANT_SUSPENDED``, ``CROSS_CLUSTER``, ``INVALID_TRANSFER_KIND``, ``NOT_FOUND``,
        ``NOT_TRANSFERABLE``, ``CONFLICT``."""
        check_actor(actor)
        reason_text = clean_note(reason, "reason", required=True)
        assert reason_text is not None
        target = await self._target(source, target_slug)
        check_kind(kind, source, target, await self._ancestors(target))
        return await self._move(source, actor, tracking_id, target, kind, reason_text, expected_version)

    async def apply_rule(self, tenant: Tenant, record: ComplaintRecord, rule: RuleSpec) -> ComplaintRecord:
        """A verified complaint whose auto-apply rule says TRANSFER_TO_TENANT moves on, as the
        system, with the kind the hierarchy implies. The verification stays committed if the
        transfer is refused (the rule's target was suspended, say): staff then see it VERIFIED
        with the rule proposed and can transfer it by hand. So any failure is logged, not raised:
        raising would tell the caller that the committed verification failed."""
        try:
            target = await self._target(tenant, rule.target_tenant or "")
            kind = kind_for(tenant, target, await self._ancestors(target))
            result = await self._move(
                tenant, SYSTEM, record.tracking_id, target, kind, f"aturan: {rule.name}", record.version
            )
        except DomainError as error:
            log.warning(
                "rule %r could not transfer %s to %s: %s %s",
                rule.name, record.tracking_id, rule.target_tenant, error.code, error.message,
            )  # fmt: skip
            return record
        except Exception:
            log.exception("rule %r failed to transfer %s", rule.name, record.tracking_id)
            return record
        return result.source

    # --- refusals before any write -----------------------------------------------------------

    async def _target(self, source: Tenant, target_slug: str) -> Tenant:
        slug = target_slug.strip().lower()
        if slug == source.slug:
            raise DomainError(
                "SAME_TENANT", "a complaint cannot be transferred to its own tenant", "targetTenant"
            )
        # From the host cache, which a registry change clears in every process (with Redis; else
        # within its TTL): a suspended tenant stops receiving transfers when its hosts stop serving.
        target = await self.directory.by_slug(slug)
        if target is None:
            raise DomainError("UNKNOWN_TENANT", f"no tenant with slug {slug!r}", "targetTenant")
        if not target.is_active:
            raise DomainError("TENANT_SUSPENDED", f"tenant {slug!r} is suspended", "targetTenant")
        if target.cluster != source.cluster:
            raise DomainError(
                "CROSS_CLUSTER",
                f"{slug!r} lives on another database cluster; transfers across clusters need the "
                "outbox delivery (DESIGN.md section 9), not built yet",
                "targetTenant",
            )
        return target

    async def _ancestors(self, tenant: Tenant) -> list[str]:
        """Slugs above ``tenant``, nearest first (the hierarchy changes rarely: cached lookups)."""
        chain: list[str] = []
        slug = tenant.parent_slug
        while slug and slug not in chain and len(chain) < _MAX_DEPTH:
            chain.append(slug)
            parent = await self.directory.by_slug(slug)
            slug = parent.parent_slug if parent else None
        return chain

    # --- the one transaction -----------------------------------------------------------------

    async def _move(
        self,
        source: Tenant,
        actor: Actor,
        tracking_id: str,
        target: Tenant,
        kind: TransferKind,
        reason: str,
        expected_version: int | None,
    ) -> TransferResult:
        calendar = await self.complaints.calendars.calendar()
        await self.complaints.calendars.national_policy()  # cached before the connection is taken
        now = utcnow()
        async with self.db.engine_for(source).begin() as conn:
            await enter_tenant(conn, source, self.db.settings)
            departure = await self._leave(
                conn, source, actor, tracking_id, target, kind, reason, expected_version, now
            )
            await enter_tenant(conn, target, self.db.settings)
            arrived = await self._arrive(
                conn, source, target, actor, kind, reason, departure, now=now, calendar=calendar
            )
            ledger = await record_transfer(
                conn,
                tracking_id=tracking_id,
                kind=kind,
                source_tenant=source.slug,
                target_tenant=target.slug,
                actor=actor.label,
                reason=reason,
            )
        await self.complaints._changed(source, departure.left, EVENT_ACTION)
        await self.complaints._changed(target, arrived, EVENT_ACTION)
        return TransferResult(source=departure.left, target=arrived, target_tenant=target, transfer=ledger)

    async def _leave(
        self,
        conn: AsyncConnection,
        source: Tenant,
        actor: Actor,
        tracking_id: str,
        target: Tenant,
        kind: TransferKind,
        reason: str,
        expected_version: int | None,
        now: dt.datetime,
    ) -> _Departure:
        """In the source: close the complaint as TRANSFERRED, read what the target needs."""
        rows = (await conn.execute(_SOURCE_ROWS, {"tracking_id": tracking_id})).all()
        if not rows:
            raise DomainError("NOT_FOUND", f"no complaint {tracking_id!r}", "trackingId")
        row = rows[0]
        current = ComplaintRecord.from_row(row)
        if not current.is_open:
            raise DomainError(
                "NOT_TRANSFERABLE",
                f"a complaint that is {current.status.value} cannot be transferred",
                "status",
            )
        if expected_version is not None and expected_version != current.version:
            raise _conflict(tracking_id)
        # The version guard makes this the linearisation point against any other transition.
        updated = (
            await conn.execute(
                complaint.update()
                .where(complaint.c.id == current.id, complaint.c.version == current.version)
                .values(
                    status=S.TRANSFERRED.value,
                    deadline_kind=None,
                    deadline_at=None,
                    version=current.version + 1,
                    updated_at=now,
                )
                .returning(*complaint.c, CATEGORY_CODE)
            )
        ).first()
        if updated is None:
            raise _conflict(tracking_id)
        await conn.execute(
            complaint_event.insert().values(
                complaint_id=current.id,
                **_event(
                    actor, current.status, S.TRANSFERRED, f"{kind.value} ke {target.slug}: {reason}", now
                ),
            )
        )
        left = ComplaintRecord.from_row(updated)
        await index_complaint(conn, left, updated.category_code)
        history = await _history(conn, current.id, source.slug)
        files = [{name: getattr(r, f"file_{name}") for name in _FILE_COLUMNS} for r in rows if r.file_sha256]
        person = None
        if current.reporter_id is not None:
            person = {name: getattr(row, f"reporter_{name}") for name in _REPORTER_COLUMNS}
        return _Departure(left, updated.category_code, row.access_code_hash, history, files, person)

    async def _arrive(
        self,
        conn: AsyncConnection,
        source: Tenant,
        target: Tenant,
        actor: Actor,
        kind: TransferKind,
        reason: str,
        departure: _Departure,
        *,
        now: dt.datetime,
        calendar: WorkingCalendar,
    ) -> ComplaintRecord:
        """In the target: file the complaint, or reactivate the row it left here earlier."""
        left = departure.left
        # One round trip for the target's setting, its category of that code, and the row the
        # complaint may have left here earlier. No row lock needed on that row: only the current
        # holder can transfer a complaint, and the source row's version guard serialises that.
        arrival_setting = sa.select(tenant_setting.c.value).where(tenant_setting.c.key == ARRIVAL_STATUS_KEY)
        same_category = sa.select(category.c.id).where(
            category.c.code == departure.category_code, category.c.is_active
        )
        one = sa.select(sa.literal(1).label("one")).subquery()
        probe = (
            await conn.execute(
                sa.select(
                    arrival_setting.scalar_subquery().label("arrival"),
                    same_category.scalar_subquery().label("category_id"),
                    complaint.c.id,
                    complaint.c.status,
                    complaint.c.version,
                    complaint.c.reporter_id,
                ).select_from(one.outerjoin(complaint, complaint.c.tracking_id == left.tracking_id))
            )
        ).one()
        status, category_id = _arrival_status(probe.arrival), probe.category_id
        policy = await self.complaints.calendars.tenant_policy(conn)
        facts = ComplaintFacts(
            kind=left.kind,
            channel=Channel.TRANSFER,
            category_id=category_id,
            title=left.title,
            body=left.body,
            region_code=left.region_code,
        )
        proposal = await route(conn, facts)
        values: dict[str, Any] = {
            "status": status.value,
            "access_code_hash": departure.access_code_hash,
            "kind": left.kind.value,
            "title": left.title,
            "body": left.body,
            "category_id": category_id,
            "unit_id": None,
            "priority": left.priority.value,
            "region_code": left.region_code,
            "location": left.location,
            "incident_date": left.incident_date,
            "anonymous": left.anonymous,
            "confidential": left.confidential,
            "proposed_rule_id": proposal.id if proposal else None,
            "deadline_kind": DeadlineKind.VERIFY.value,
            "deadline_at": policy.deadline(DeadlineKind.VERIFY, now, calendar, target.time_zone),
            "verified_at": now if status is S.VERIFIED else None,
            "assigned_at": None,
            "first_response_at": None,
            "responded_at": None,
            "outcome": None,
            "closed_how": None,
            "closed_at": None,
            "archive_reason": None,
            "updated_at": now,
        }
        existing = probe if probe.id is not None else None
        if existing is None:
            written = await self._file(conn, source, left, values, departure.person)
            new_events = departure.history
            new_files = departure.files
            previous_status = None
        else:
            if existing.status != S.TRANSFERRED.value:
                raise DomainError(
                    "CONFLICT", f"{target.slug} already holds {left.tracking_id} open", "trackingId"
                )
            written = await self._reactivate(conn, existing, values, departure.person)
            new_events = await _unseen(conn, existing.id, departure.history)
            new_files = await _new_files(conn, existing.id, departure.files)
            previous_status = S.TRANSFERRED
        arrival = _event(actor, previous_status, status, f"{kind.value} dari {source.slug}: {reason}", now)
        await conn.execute(
            complaint_event.insert(), [{**e, "complaint_id": written.id} for e in [*new_events, arrival]]
        )
        if new_files:
            await conn.execute(
                attachment.insert(),
                [{**f, "complaint_id": written.id} for f in new_files],
            )
        record = ComplaintRecord.from_row(written)
        await index_complaint(conn, record, written.category_code)
        return record

    async def _file(
        self,
        conn: AsyncConnection,
        source: Tenant,
        left: ComplaintRecord,
        values: dict[str, Any],
        person: dict[str, Any] | None,
    ) -> sa.Row:
        """A new row in the target: the channel says it came by transfer, the birth is kept."""
        reporter_id = await _copy_reporter(conn, person)
        inserted = (
            await conn.execute(
                complaint.insert()
                .values(
                    **values,
                    tracking_id=left.tracking_id,
                    channel=Channel.TRANSFER.value,
                    # The reference and its client belong to the source's gateway: here the
                    # complaint is no client's submission, and no (client, channel, reference)
                    # key can collide with the target's own.
                    external_ref=None,
                    submitted_by_client=None,
                    reporter_id=reporter_id,
                    submitted_at=left.submitted_at,
                    origin_tenant=left.origin_tenant or source.slug,
                )
                .returning(*complaint.c, CATEGORY_CODE)
            )
        ).one()
        return inserted

    async def _reactivate(
        self, conn: AsyncConnection, existing: sa.Row, values: dict[str, Any], person: dict[str, Any] | None
    ) -> sa.Row:
        """The complaint comes back: same row and id, the agency's work starts afresh."""
        reporter_id = existing.reporter_id
        if reporter_id is None:
            reporter_id = await _copy_reporter(conn, person)
        return (
            await conn.execute(
                complaint.update()
                .where(complaint.c.id == existing.id)
                .values(**values, reporter_id=reporter_id, version=existing.version + 1)
                .returning(*complaint.c, CATEGORY_CODE)
            )
        ).one()

    # --- the reporter follows the complaint --------------------------------------------------

    async def track(self, host: Tenant, tracking_id: str, access_code: str) -> Tracked:
        """Find the complaint wherever it is now; unknown ids, ids this host never held and wrong
        codes all get the same ``NOT_FOUND``, after the same work (issue 9, item 13).

        On a tenant host the code is checked first, against the host's own row: a row the
        complaint left as TRANSFERRED keeps the access-code hash it travelled with, so a wrong
        code for a transferred-away id costs what a wrong code or an unknown id costs (one
        tenant transaction, one argon2 verification), and only the right code goes on to the
        national index (read as the app role: this is the explicit cross-tenant lookup) and the
        holder's own transaction. On the national host, which holds no copy, every id costs the
        index lookup and a second tenant transaction (the holder's, or the host's again for an
        unknown id).
        """
        row = await self._own_row(host, tracking_id)
        if host.kind is not TenantKind.NATIONAL or row is not None:
            await _check_code(row.access_code_hash if row else None, access_code)
            assert row is not None
            if row.status != S.TRANSFERRED.value:
                return Tracked(ComplaintRecord.from_row(row), host)
        holder = await self._holder(tracking_id)
        if holder is None or holder.slug == host.slug:
            if row is None:  # the national host, an unknown id: the work a known id costs there
                await self._own_row(host, tracking_id)
                await asyncio.to_thread(verify_access_code, None, access_code)
            raise _not_found()
        async with tenant_transaction(self.db, holder) as conn:
            found = (
                await conn.execute(sa.select(complaint).where(complaint.c.tracking_id == tracking_id))
            ).first()
            if found is None or row is None or found.access_code_hash != row.access_code_hash:
                await _check_code(found.access_code_hash if found else None, access_code)
            assert found is not None
            timeline = (await queries.timelines(conn, [found.id])).get(found.id, [])
            unit_ids = sorted({e.unit_id for e in timeline if e.unit_id is not None})
            units = await queries.rows_by_id(conn, unit, unit_ids) if unit_ids else {}
        return Tracked(
            ComplaintRecord.from_row(found),
            holder,
            timeline=timeline,
            unit_names={key: held.name for key, held in units.items()},
        )

    async def _own_row(self, host: Tenant, tracking_id: str) -> sa.Row | None:
        async with tenant_transaction(self.db, host) as conn:
            return (
                await conn.execute(sa.select(complaint).where(complaint.c.tracking_id == tracking_id))
            ).first()

    async def _holder(self, tracking_id: str) -> Tenant | None:
        async with self.db.public.connect() as conn:
            slug = await conn.scalar(
                sa.select(national_complaint.c.tenant_slug)
                .where(
                    national_complaint.c.tracking_id == tracking_id,
                    national_complaint.c.status != S.TRANSFERRED.value,
                )
                .limit(1)
            )
        return await self.directory.by_slug(slug) if slug else None


# --- helpers ----------------------------------------------------------------------------------

_FILE_COLUMNS = ("file_name", "content_type", "size_bytes", "sha256", "created_at")
_REPORTER_COLUMNS = ("fingerprint", "name_encrypted", "contact_encrypted", "created_at")
_SOURCE_ROWS = (
    sa.select(
        complaint,
        *(reporter.c[name].label(f"reporter_{name}") for name in _REPORTER_COLUMNS),
        *(attachment.c[name].label(f"file_{name}") for name in _FILE_COLUMNS),
    )
    .select_from(
        complaint.outerjoin(reporter, reporter.c.id == complaint.c.reporter_id).outerjoin(
            attachment, attachment.c.complaint_id == complaint.c.id
        )
    )
    .where(complaint.c.tracking_id == sa.bindparam("tracking_id"))
    .order_by(attachment.c.id)
)
"""The complaint with its reporter and attachments in one round trip: one row per attachment."""


def _event(
    actor: Actor,
    from_status: ComplaintStatus | None,
    to_status: ComplaintStatus,
    note: str,
    at: dt.datetime,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor_kind": actor.kind.value,
        "actor_name": actor.name,
        "unit_id": None,
        "action": EVENT_ACTION,
        "from_status": from_status.value if from_status else None,
        "to_status": to_status.value,
        "note": note,
    }


_COPIED_EVENT_COLUMNS = ("at", "actor_kind", "actor_name", "action", "from_status", "to_status", "note")


async def _history(conn: AsyncConnection, complaint_id: int, source_slug: str) -> list[dict[str, Any]]:
    """The source's whole timeline, ready to insert elsewhere. Unit ids mean nothing in another
    schema: the unit's name goes into the note instead, so the history still says who acted."""
    rows = await conn.execute(
        sa.select(complaint_event, unit.c.name.label("unit_name"))
        .select_from(complaint_event.outerjoin(unit, unit.c.id == complaint_event.c.unit_id))
        .where(complaint_event.c.complaint_id == complaint_id)
        .order_by(complaint_event.c.id)
    )
    copied = []
    for row in rows:
        event = {name: getattr(row, name) for name in _COPIED_EVENT_COLUMNS}
        event["unit_id"] = None
        if row.unit_name:
            where = f"{row.unit_name} ({source_slug})"
            event["note"] = f"{where}: {row.note}" if row.note else where
        copied.append(event)
    return copied


def _signature(event: Mapping[str, Any]) -> tuple[Any, ...]:
    """What identifies one event across tenants (notes and units may be rewritten by copying)."""
    return (event["at"], event["action"], event["from_status"], event["to_status"], event["actor_kind"])


async def _unseen(
    conn: AsyncConnection, complaint_id: int, history: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(*(complaint_event.c[name] for name in _COPIED_EVENT_COLUMNS)).where(
            complaint_event.c.complaint_id == complaint_id
        )
    )
    seen = {_signature(row._mapping) for row in rows}
    return [event for event in history if _signature(event) not in seen]


async def _new_files(
    conn: AsyncConnection, complaint_id: int, files: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        sa.select(attachment.c.sha256, attachment.c.file_name).where(
            attachment.c.complaint_id == complaint_id
        )
    )
    held = {(r.sha256, r.file_name) for r in rows}
    return [f for f in files if (f["sha256"], f["file_name"]) not in held]


async def _copy_reporter(conn: AsyncConnection, person: dict[str, Any] | None) -> int | None:
    """The reporter row, encrypted blobs as they are (one platform key; no decryption here)."""
    if person is None:
        return None
    return await conn.scalar(reporter.insert().values(**person).returning(reporter.c.id))


async def _check_code(stored_hash: str | None, access_code: str) -> None:
    if not await asyncio.to_thread(verify_access_code, stored_hash, access_code):
        raise _not_found()


def _not_found() -> DomainError:
    return DomainError("NOT_FOUND", "no complaint with this tracking id and access code", "trackingId")


def _conflict(tracking_id: str) -> DomainError:
    return DomainError(
        "CONFLICT", f"complaint {tracking_id} was changed by someone else; reload and try again", "version"
    )
