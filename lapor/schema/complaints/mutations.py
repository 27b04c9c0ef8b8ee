"""Mutations of the complaints area: submission (public), staff transitions, reporter actions."""

from __future__ import annotations

import strawberry

from lapor.schema.common import UserError, attempt, parse_int_id
from lapor.schema.complaints import inputs
from lapor.schema.complaints.types import Complaint, TrackedComplaint
from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.enums import ResponseOutcome

Info = strawberry.Info[LaporContext, None]


@strawberry.type
class SubmitComplaintPayload:
    complaint: TrackedComplaint | None
    tracking_id: str | None
    access_code: str | None = strawberry.field(
        description="Shown once: the reporter needs it to follow, answer and rate the complaint."
    )
    duplicate: bool = strawberry.field(description="True when this was a retry of an earlier submission.")
    errors: list[UserError]


@strawberry.type
class ComplaintPayload:
    complaint: Complaint | None
    errors: list[UserError]


@strawberry.type
class TrackedComplaintPayload:
    complaint: TrackedComplaint | None
    errors: list[UserError]


@strawberry.type
class SupportComplaintPayload:
    support_count: int | None
    added: bool
    errors: list[UserError]


def _staff_payload(record: ComplaintRecord | None, errors: list[UserError]) -> ComplaintPayload:
    return ComplaintPayload(complaint=Complaint.from_record(record) if record else None, errors=errors)


def _tracked_payload(record: ComplaintRecord | None, errors: list[UserError]) -> TrackedComplaintPayload:
    return TrackedComplaintPayload(
        complaint=TrackedComplaint.from_record(record) if record else None, errors=errors
    )


def _tid(value: str) -> str:
    return value.strip().upper()


@strawberry.type
class ComplaintMutation:
    @strawberry.mutation(
        description="File a complaint, aspiration or information request. WEB and MOBILE without "
        "externalRef need no account; an externalRef or any other channel needs an OAuth client token "
        "with complaints:submit (UNAUTHENTICATED / FORBIDDEN), and a retry with the same channel and "
        "externalRef returns the same complaint and code to that client only."
    )
    async def submit_complaint(
        self, info: Info, input: inputs.SubmitComplaintInput
    ) -> SubmitComplaintPayload:
        context = info.context
        submission, errors = await attempt(
            context.services.complaints.submit(
                context.tenant, input.to_domain(), context.actor, auth_error=context.auth_error
            )
        )
        if submission is None:
            return SubmitComplaintPayload(
                complaint=None, tracking_id=None, access_code=None, duplicate=False, errors=errors
            )
        return SubmitComplaintPayload(
            complaint=TrackedComplaint.from_record(submission.complaint),
            tracking_id=submission.complaint.tracking_id,
            access_code=submission.access_code,
            duplicate=submission.duplicate,
            errors=[],
        )

    # --- staff -------------------------------------------------------------------------------

    @strawberry.mutation(permission_classes=[requires("complaints:triage")])
    async def verify_complaint(self, info: Info, input: inputs.VerifyComplaintInput) -> ComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _staff_payload(
            *await attempt(
                c.services.complaints.verify(
                    c.tenant,
                    c.staff(),
                    _tid(input.tracking_id),
                    expected_version=input.expected_version,
                    note=input.note,
                )
            )
        )

    @strawberry.mutation(permission_classes=[requires("complaints:triage")])
    async def archive_complaint(self, info: Info, input: inputs.ArchiveComplaintInput) -> ComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _staff_payload(
            *await attempt(
                c.services.complaints.archive(
                    c.tenant,
                    c.staff(),
                    _tid(input.tracking_id),
                    input.reason,
                    expected_version=input.expected_version,
                )
            )
        )

    @strawberry.mutation(permission_classes=[requires("complaints:triage")])
    async def request_information(
        self, info: Info, input: inputs.RequestInformationInput
    ) -> ComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _staff_payload(
            *await attempt(
                c.services.complaints.request_information(
                    c.tenant,
                    c.staff(),
                    _tid(input.tracking_id),
                    input.question,
                    expected_version=input.expected_version,
                )
            )
        )

    @strawberry.mutation(permission_classes=[requires("complaints:triage")])
    async def assign_complaint(self, info: Info, input: inputs.AssignComplaintInput) -> ComplaintPayload:
        c = info.context
        c.loaders.clear()

        async def assign() -> ComplaintRecord:
            unit_id = parse_int_id(input.unit_id, "Unit")
            return await c.services.complaints.assign(
                c.tenant,
                c.staff(),
                _tid(input.tracking_id),
                unit_id,
                expected_version=input.expected_version,
                note=input.note,
            )

        return _staff_payload(*await attempt(assign()))

    @strawberry.mutation(permission_classes=[requires("complaints:respond")])
    async def respond_to_complaint(
        self, info: Info, input: inputs.RespondToComplaintInput
    ) -> ComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _staff_payload(
            *await attempt(
                c.services.complaints.respond(
                    c.tenant,
                    c.staff(),
                    _tid(input.tracking_id),
                    ResponseOutcome(input.outcome),
                    input.message,
                    expected_version=input.expected_version,
                )
            )
        )

    # --- reporter (tracking id + access code) -----------------------------------------------

    @strawberry.mutation(description="The reporter answers a request for information.")
    async def complete_complaint(
        self, info: Info, input: inputs.CompleteComplaintInput
    ) -> TrackedComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _tracked_payload(
            *await attempt(
                c.services.complaints.complete(
                    c.tenant,
                    _tid(input.tracking_id),
                    input.access_code,
                    input.information,
                    expected_version=input.expected_version,
                )
            )
        )

    @strawberry.mutation
    async def reply_to_complaint(
        self, info: Info, input: inputs.ReplyToComplaintInput
    ) -> TrackedComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _tracked_payload(
            *await attempt(
                c.services.complaints.reply(
                    c.tenant, _tid(input.tracking_id), input.access_code, input.message
                )
            )
        )

    @strawberry.mutation
    async def accept_response(self, info: Info, input: inputs.AcceptResponseInput) -> TrackedComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _tracked_payload(
            *await attempt(c.services.complaints.accept(c.tenant, _tid(input.tracking_id), input.access_code))
        )

    @strawberry.mutation
    async def dispute_response(
        self, info: Info, input: inputs.DisputeResponseInput
    ) -> TrackedComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _tracked_payload(
            *await attempt(
                c.services.complaints.dispute(
                    c.tenant, _tid(input.tracking_id), input.access_code, input.reason
                )
            )
        )

    @strawberry.mutation
    async def rate_complaint(self, info: Info, input: inputs.RateComplaintInput) -> TrackedComplaintPayload:
        c = info.context
        c.loaders.clear()
        return _tracked_payload(
            *await attempt(
                c.services.complaints.rate(
                    c.tenant, _tid(input.tracking_id), input.access_code, input.rating, input.comment
                )
            )
        )

    @strawberry.mutation(description="Add your support to a public complaint (once per supporter).")
    async def support_complaint(
        self, info: Info, input: inputs.SupportComplaintInput
    ) -> SupportComplaintPayload:
        c = info.context
        result, errors = await attempt(
            c.services.complaints.support(c.tenant, _tid(input.tracking_id), input.supporter_id)
        )
        if result is None:
            return SupportComplaintPayload(support_count=None, added=False, errors=errors)
        return SupportComplaintPayload(support_count=result[0], added=result[1], errors=[])
