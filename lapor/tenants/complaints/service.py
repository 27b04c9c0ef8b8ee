"""The complaint services: submit, and every transition of the lifecycle.

Each call is one tenant transaction: it reads the complaint, checks the transition table and the
actor, writes the new state guarded by the optimistic ``version`` (so of two concurrent
transitions exactly one wins and the other gets ``CONFLICT``), and appends the timeline event.
No GraphQL here: the API layer translates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.secrets import Secrets, hash_access_code, verify_access_code
from lapor.tenants.actors import REPORTER, SYSTEM, Actor
from lapor.tenants.complaints.deadlines import next_deadline
from lapor.tenants.complaints.inputs import (
    SubmitInput,
    check_incident_date,
    check_outcome,
    check_rating,
    clean_note,
    invalid,
)
from lapor.tenants.complaints.lifecycle import TRANSITIONS, Action, check_transition
from lapor.tenants.complaints.national_index import CATEGORY_CODE, index_complaint
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.complaints.submitters import derivation_input, submitting_client
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import (
    ActorKind,
    ClosedHow,
    ComplaintStatus,
    DeadlineKind,
    ResponseOutcome,
    RoutingAction,
)
from lapor.tenants.records import Tenant
from lapor.tenants.routing.matching import ComplaintFacts, RuleSpec
from lapor.tenants.routing.service import route
from lapor.tenants.tables import (
    attachment,
    category,
    complaint,
    complaint_event,
    reporter,
    support,
    unit,
)

S = ComplaintStatus
log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Submission:
    complaint: ComplaintRecord
    access_code: str | None
    """Shown once. ``None`` only for a repeated web submission that carried no reference."""
    duplicate: bool


@dataclass(frozen=True)
class _Event:
    action: Action
    actor: Actor
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str | None = None
    unit_id: int | None = None


Changes = Callable[[ComplaintRecord], Mapping[str, Any]]
ChangeListener = Callable[[Tenant, ComplaintRecord, str], Awaitable[None]]
TransferRule = Callable[[Tenant, ComplaintRecord, RuleSpec], Awaitable[ComplaintRecord]]


class ComplaintService:
    def __init__(
        self,
        db: Database,
        secrets: Secrets,
        calendars: CalendarStore,
        on_change: ChangeListener | None = None,
        apply_transfer_rule: TransferRule | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets
        self.calendars = calendars
        self.on_change = on_change
        """Told after each committed change (subscriptions, caches); its failures never undo it."""
        self.apply_transfer_rule = apply_transfer_rule
        """Performs an auto-apply TRANSFER_TO_TENANT rule once the verification has committed (the
        transfer service's ``apply_rule``; a transfer is its own two-tenant transaction). Unset,
        such a rule only stays proposed."""

    async def _changed(self, tenant: Tenant, record: ComplaintRecord, action: str) -> None:
        if self.on_change is None:
            return
        try:
            await self.on_change(tenant, record, action)
        except Exception:
            log.exception("change listener failed for %s", record.tracking_id)

    # --- submission --------------------------------------------------------------------------

    async def submit(
        self,
        tenant: Tenant,
        data: SubmitInput,
        actor: Actor | None = None,
        *,
        auth_error: DomainError | None = None,
    ) -> Submission:
        """File a complaint. The same client sending the same (channel, externalRef) twice gets
        the same complaint and code back; nobody else ever does (see ``submitters``).

        ``actor`` is the caller (``None`` for the public); ``auth_error`` why a presented token
        was refused, raised only when the submission needs a client."""
        data = data.cleaned()
        check_incident_date(data.incident_date, tenant.time_zone)
        client = submitting_client(data, actor, auth_error)
        derive = derivation_input(tenant.slug, client, data) if client and data.external_ref else None
        code = self.secrets.new_access_code(derive_from=derive)
        # Shared, cached reads happen before the tenant transaction takes its connection: loading
        # them inside it would need a second connection, and a full pool would wait on itself.
        code_hash, calendar, _national = await asyncio.gather(
            asyncio.to_thread(hash_access_code, code),
            self.calendars.calendar(),
            self.calendars.national_policy(),
        )
        now = utcnow()
        async with tenant_transaction(self.db, tenant) as conn:
            if client and data.external_ref:
                existing = await self._by_reference(conn, client, data)
                if existing is not None:
                    return Submission(existing, code, duplicate=True)
            category_id = await self._category_id(conn, data.category_code)
            policy = await self.calendars.tenant_policy(conn)
            facts = ComplaintFacts(
                kind=data.kind,
                channel=data.channel,
                category_id=category_id,
                title=data.title,
                body=data.body,
                region_code=data.region_code,
            )
            proposal = await route(conn, facts)
            kind, deadline = (
                DeadlineKind.VERIFY,
                policy.deadline(DeadlineKind.VERIFY, now, calendar, tenant.time_zone),
            )
            values = {
                "tracking_id": _new_tracking_id(tenant),
                "access_code_hash": code_hash,
                "kind": data.kind.value,
                "channel": data.channel.value,
                "external_ref": data.external_ref,
                "submitted_by_client": client,
                "status": S.SUBMITTED.value,
                "title": data.title,
                "body": data.body,
                "category_id": category_id,
                "region_code": data.region_code,
                "location": data.location,
                "incident_date": data.incident_date,
                "anonymous": data.anonymous,
                "confidential": data.confidential,
                "reporter_id": await self._reporter_id(conn, data),
                "proposed_rule_id": proposal.id if proposal else None,
                "deadline_kind": kind.value,
                "deadline_at": deadline,
                "submitted_at": now,
            }
            inserted = (
                await conn.execute(
                    pg_insert(complaint)
                    .values(**values)
                    .on_conflict_do_nothing(constraint="complaint_client_reference_key")
                    .returning(*complaint.c, CATEGORY_CODE)
                )
            ).first()
            if inserted is None:  # a concurrent retry won the race: same complaint, same code
                assert client is not None
                existing = await self._by_reference(conn, client, data)
                assert existing is not None
                return Submission(existing, code, duplicate=True)
            record = ComplaintRecord.from_row(inserted)
            await self._append(conn, record.id, [_Event(Action.SUBMIT, REPORTER, None, S.SUBMITTED)], now)
            await index_complaint(conn, record, inserted.category_code)
            if data.attachments:
                await conn.execute(
                    attachment.insert(),
                    [
                        {
                            "complaint_id": record.id,
                            "file_name": a.file_name,
                            "content_type": a.content_type,
                            "size_bytes": a.size_bytes,
                            "sha256": a.sha256,
                        }
                        for a in data.attachments
                    ],
                )
        await self._changed(tenant, record, Action.SUBMIT.value)
        return Submission(record, code, duplicate=False)

    async def _by_reference(
        self, conn: AsyncConnection, client: str, data: SubmitInput
    ) -> ComplaintRecord | None:
        """The client's own earlier submission of this (channel, reference), never another's."""
        row = (
            await conn.execute(
                sa.select(complaint).where(
                    complaint.c.submitted_by_client == client,
                    complaint.c.channel == data.channel.value,
                    complaint.c.external_ref == data.external_ref,
                )
            )
        ).first()
        return ComplaintRecord.from_row(row) if row else None

    async def _category_id(self, conn: AsyncConnection, code: str | None) -> int | None:
        if code is None:
            return None
        found = await conn.scalar(
            sa.select(category.c.id).where(category.c.code == code, category.c.is_active)
        )
        if found is None:
            raise DomainError("CATEGORY_NOT_FOUND", f"no active category with code {code!r}", "categoryCode")
        return found

    async def _reporter_id(self, conn: AsyncConnection, data: SubmitInput) -> int | None:
        person = data.reporter
        if person is None or not (person.name or person.identifier):
            return None
        contact = ", ".join(filter(None, [person.phone, person.email])) or None
        return await conn.scalar(
            reporter.insert()
            .values(
                fingerprint=self.secrets.fingerprint(person.identifier or f"name:{person.name}"),
                name_encrypted=self.secrets.encrypt(person.name) if person.name else None,
                contact_encrypted=self.secrets.encrypt(contact) if contact else None,
            )
            .returning(reporter.c.id)
        )

    async def track(self, tenant: Tenant, tracking_id: str, access_code: str) -> ComplaintRecord:
        """The reporter's view: unknown id and wrong code give the same answer, in the same time."""
        async with tenant_transaction(self.db, tenant) as conn:
            row = (
                await conn.execute(sa.select(complaint).where(complaint.c.tracking_id == tracking_id))
            ).first()
        if not await asyncio.to_thread(
            verify_access_code, row.access_code_hash if row else None, access_code
        ):
            raise _no_such_complaint()
        assert row is not None
        return ComplaintRecord.from_row(row)

    # --- staff transitions -------------------------------------------------------------------

    async def verify(
        self,
        tenant: Tenant,
        actor: Actor,
        tracking_id: str,
        *,
        expected_version: int | None = None,
        note: str | None = None,
    ) -> ComplaintRecord:
        """SUBMITTED -> VERIFIED; an auto-apply routing rule then disposes or prioritises it."""
        return await self._transition(
            tenant,
            actor,
            tracking_id,
            Action.VERIFY,
            expected_version=expected_version,
            note=clean_note(note),
            changes=lambda current: {"verified_at": utcnow()},
            after_verify=True,
        )

    async def archive(
        self,
        tenant: Tenant,
        actor: Actor,
        tracking_id: str,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> ComplaintRecord:
        reason_text = clean_note(reason, "reason", required=True)
        return await self._transition(
            tenant,
            actor,
            tracking_id,
            Action.ARCHIVE,
            expected_version=expected_version,
            note=reason_text,
            changes=lambda current: {"archive_reason": reason_text, "closed_at": utcnow()},
        )

    async def request_information(
        self,
        tenant: Tenant,
        actor: Actor,
        tracking_id: str,
        question: str,
        *,
        expected_version: int | None = None,
    ) -> ComplaintRecord:
        text = clean_note(question, "question", required=True)
        return await self._transition(
            tenant,
            actor,
            tracking_id,
            Action.REQUEST_INFO,
            expected_version=expected_version,
            note=text,
        )

    async def assign(
        self,
        tenant: Tenant,
        actor: Actor,
        tracking_id: str,
        unit_id: int,
        *,
        expected_version: int | None = None,
        note: str | None = None,
    ) -> ComplaintRecord:
        return await self._transition(
            tenant,
            actor,
            tracking_id,
            Action.ASSIGN,
            expected_version=expected_version,
            note=clean_note(note),
            unit_id=unit_id,
            changes=lambda current: {"unit_id": unit_id, "assigned_at": utcnow()},
        )

    async def respond(
        self,
        tenant: Tenant,
        actor: Actor,
        tracking_id: str,
        outcome: ResponseOutcome,
        message: str,
        *,
        expected_version: int | None = None,
    ) -> ComplaintRecord:
        text = clean_note(message, "message", required=True)
        check_outcome(outcome, text)

        def changes(current: ComplaintRecord) -> Mapping[str, Any]:
            now = utcnow()
            return {
                "outcome": outcome.value,
                "responded_at": now,
                "first_response_at": current.first_response_at or now,
            }

        return await self._transition(
            tenant,
            actor,
            tracking_id,
            Action.RESPOND,
            expected_version=expected_version,
            note=text,
            changes=changes,
        )

    async def auto_close(
        self, tenant: Tenant, tracking_id: str, *, expected_version: int | None = None
    ) -> ComplaintRecord:
        """The reply window passed without an answer: CLOSED as NO_REPLY (the worker's job).

        The worker passes the version it judged overdue: a reporter's reply in between restarts
        the window and bumps the version, so the close then fails with ``CONFLICT`` instead."""
        return await self._transition(
            tenant,
            SYSTEM,
            tracking_id,
            Action.AUTO_CLOSE,
            expected_version=expected_version,
            note="reply window passed",
            changes=lambda current: {"closed_how": ClosedHow.NO_REPLY.value, "closed_at": utcnow()},
        )

    # --- reporter transitions (tracking id + access code) ------------------------------------

    async def complete(
        self,
        tenant: Tenant,
        tracking_id: str,
        access_code: str,
        information: str,
        *,
        expected_version: int | None = None,
    ) -> ComplaintRecord:
        """The reporter answers NEEDS_INFO: back to SUBMITTED, the verification clock restarts."""
        text = clean_note(information, "information", required=True)
        return await self._transition(
            tenant,
            REPORTER,
            tracking_id,
            Action.COMPLETE,
            access_code=access_code,
            expected_version=expected_version,
            note=text,
        )

    async def reply(
        self, tenant: Tenant, tracking_id: str, access_code: str, message: str
    ) -> ComplaintRecord:
        text = clean_note(message, "message", required=True)
        return await self._transition(
            tenant, REPORTER, tracking_id, Action.REPLY, access_code=access_code, note=text
        )

    async def accept(self, tenant: Tenant, tracking_id: str, access_code: str) -> ComplaintRecord:
        return await self._transition(
            tenant,
            REPORTER,
            tracking_id,
            Action.ACCEPT,
            access_code=access_code,
            changes=lambda current: {"closed_how": ClosedHow.ACCEPTED.value, "closed_at": utcnow()},
        )

    async def dispute(
        self, tenant: Tenant, tracking_id: str, access_code: str, reason: str
    ) -> ComplaintRecord:
        text = clean_note(reason, "reason", required=True)
        return await self._transition(
            tenant,
            REPORTER,
            tracking_id,
            Action.DISPUTE,
            access_code=access_code,
            note=text,
            changes=lambda current: {"reopen_count": current.reopen_count + 1},
        )

    async def rate(
        self, tenant: Tenant, tracking_id: str, access_code: str, rating: int, comment: str | None = None
    ) -> ComplaintRecord:
        check_rating(rating)
        text = clean_note(comment, "comment")

        def changes(current: ComplaintRecord) -> Mapping[str, Any]:
            if current.rating is not None:
                raise DomainError("ALREADY_RATED", "this complaint has been rated already", "rating")
            return {"rating": rating, "rating_comment": text}

        return await self._transition(
            tenant,
            REPORTER,
            tracking_id,
            Action.RATE,
            access_code=access_code,
            note=f"rating {rating}" + (f": {text}" if text else ""),
            changes=changes,
        )

    async def support(self, tenant: Tenant, tracking_id: str, supporter: str) -> tuple[int, bool]:
        """Add one supporter (by fingerprint) to a public complaint: (count, was it new)."""
        if not supporter or len(supporter) > 200:
            raise invalid("supporterId", "supporterId must be 1 to 200 characters")
        async with tenant_transaction(self.db, tenant) as conn:
            row = (
                await conn.execute(
                    sa.select(complaint.c.id, complaint.c.status, complaint.c.confidential).where(
                        complaint.c.tracking_id == tracking_id
                    )
                )
            ).first()
            if row is None or row.confidential or row.status in (S.SUBMITTED, S.NEEDS_INFO, S.ARCHIVED):
                raise DomainError("NOT_FOUND", f"no public complaint {tracking_id!r}", "trackingId")
            added = await conn.scalar(
                pg_insert(support)
                .values(complaint_id=row.id, fingerprint=self.secrets.fingerprint(supporter))
                .on_conflict_do_nothing()
                .returning(support.c.complaint_id)
            )
            count = await conn.scalar(
                complaint.update()
                .where(complaint.c.id == row.id)
                .values(support_count=complaint.c.support_count + (1 if added else 0))
                .returning(complaint.c.support_count)
            )
        return int(count or 0), added is not None

    # --- the one transition engine -----------------------------------------------------------

    async def _transition(
        self,
        tenant: Tenant,
        actor: Actor,
        tracking_id: str,
        action: Action,
        *,
        expected_version: int | None = None,
        access_code: str | None = None,
        note: str | None = None,
        unit_id: int | None = None,
        changes: Changes | None = None,
        after_verify: bool = False,
    ) -> ComplaintRecord:
        rule = TRANSITIONS[action]
        if actor.kind is ActorKind.STAFF and rule.scope:
            actor.require(rule.scope)
        calendar = await self.calendars.calendar()
        await self.calendars.national_policy()  # warm before taking a connection (see submit)
        async with tenant_transaction(self.db, tenant) as conn:
            row = (
                await conn.execute(sa.select(complaint).where(complaint.c.tracking_id == tracking_id))
            ).first()
            if actor.kind is ActorKind.REPORTER:
                valid = await asyncio.to_thread(
                    verify_access_code, row.access_code_hash if row else None, access_code or ""
                )
                if not valid:
                    raise _no_such_complaint()
            if row is None:
                raise DomainError("NOT_FOUND", f"no complaint {tracking_id!r}", "trackingId")
            current = ComplaintRecord.from_row(row)
            if actor.unit_id is not None and current.unit_id != actor.unit_id:
                raise DomainError("NOT_FOUND", f"no complaint {tracking_id!r} in your unit", "trackingId")
            target = check_transition(action, current.status, actor.kind)
            if expected_version is not None and expected_version != current.version:
                raise _conflict(tracking_id)
            if unit_id is not None:
                await _require_unit(conn, unit_id)
            values: dict[str, Any] = dict(changes(current)) if changes else {}
            events = [_Event(action, actor, current.status, target, note, unit_id)]
            transfer_rule: RuleSpec | None = None
            if after_verify:
                target, transfer_rule = await self._auto_apply(conn, tenant, current, values, events)
            policy = await self.calendars.tenant_policy(conn)
            now = utcnow()
            kind, deadline = next_deadline(
                status=target,
                previous_status=current.status,
                previous=(current.deadline_kind, current.deadline_at),
                submitted_at=current.submitted_at,
                first_response_at=values.get("first_response_at", current.first_response_at),
                now=now,
                calendar=calendar,
                policy=policy,
                time_zone=tenant.time_zone,
            )
            values.update(
                status=target.value,
                deadline_kind=kind.value if kind else None,
                deadline_at=deadline,
                version=current.version + 1,
                updated_at=now,
            )
            updated = (
                await conn.execute(
                    complaint.update()
                    .where(complaint.c.id == current.id, complaint.c.version == current.version)
                    .values(**values)
                    .returning(*complaint.c, CATEGORY_CODE)
                )
            ).first()
            if updated is None:
                raise _conflict(tracking_id)
            await self._append(conn, current.id, events, now)
            record = ComplaintRecord.from_row(updated)
            await index_complaint(conn, record, updated.category_code)
        await self._changed(tenant, record, action.value)
        if transfer_rule is not None and self.apply_transfer_rule is not None:
            record = await self.apply_transfer_rule(tenant, record, transfer_rule)
        return record

    async def _auto_apply(
        self,
        conn: AsyncConnection,
        tenant: Tenant,
        current: ComplaintRecord,
        values: dict[str, Any],
        events: list[_Event],
    ) -> tuple[ComplaintStatus, RuleSpec | None]:
        """On verify, the first matching rule applies itself when it says ``autoApply``; a
        transfer rule is returned, to be performed after the commit."""
        facts = ComplaintFacts(
            kind=current.kind,
            channel=current.channel,
            category_id=current.category_id,
            title=current.title,
            body=current.body,
            region_code=current.region_code,
        )
        rule: RuleSpec | None = await route(conn, facts)
        values["proposed_rule_id"] = rule.id if rule else None
        if rule is None or not rule.auto_apply:
            return S.VERIFIED, None
        robot = Actor(ActorKind.SYSTEM, name=f"aturan: {rule.name}")
        if rule.action is RoutingAction.SET_PRIORITY and rule.priority is not None:
            values["priority"] = rule.priority.value
            return S.VERIFIED, None
        if rule.action is RoutingAction.ASSIGN_UNIT and rule.unit_id is not None:
            values.update(unit_id=rule.unit_id, assigned_at=utcnow())
            events.append(_Event(Action.ASSIGN, robot, S.VERIFIED, S.IN_PROGRESS, None, rule.unit_id))
            return S.IN_PROGRESS, None
        if rule.action is RoutingAction.TRANSFER_TO_TENANT and rule.target_tenant:
            # A transfer spans two tenants: ``apply_transfer_rule`` runs it after this commits.
            return S.VERIFIED, rule
        return S.VERIFIED, None

    @staticmethod
    async def _append(
        conn: AsyncConnection, complaint_id: int, events: list[_Event], now: dt.datetime
    ) -> None:
        await conn.execute(
            complaint_event.insert(),
            [
                {
                    "complaint_id": complaint_id,
                    "at": now,
                    "actor_kind": e.actor.kind.value,
                    "actor_name": e.actor.name,
                    "unit_id": e.unit_id,
                    "action": e.action.value,
                    "from_status": e.from_status.value if e.from_status else None,
                    "to_status": e.to_status.value,
                    "note": e.note,
                }
                for e in events
            ],
        )


def _new_tracking_id(tenant: Tenant) -> sa.ColumnElement[str]:
    """``TTU-2611-000042``: the tenant's slug (unique), the local year and month, a sequence."""
    local_now = sa.func.timezone(sa.literal(tenant.time_zone), sa.func.now())
    number = sa.func.lpad(sa.cast(sa.func.nextval("complaint_tracking_seq"), sa.Text), 6, "0")
    return sa.func.concat(tenant.slug.upper(), "-", sa.func.to_char(local_now, "YYMM"), "-", number)


def _no_such_complaint() -> DomainError:
    return DomainError("NOT_FOUND", "no complaint with this tracking id and access code", "trackingId")


def _conflict(tracking_id: str) -> DomainError:
    return DomainError(
        "CONFLICT", f"complaint {tracking_id} was changed by someone else; reload and try again", "version"
    )


async def _require_unit(conn: AsyncConnection, unit_id: int) -> None:
    found = await conn.scalar(sa.select(unit.c.id).where(unit.c.id == unit_id, unit.c.is_active))
    if found is None:
        raise DomainError("UNIT_NOT_FOUND", f"no active unit with id {unit_id}", "unitId")
