"""GraphQL inputs of the complaints area, and their translation to the services' inputs."""

from __future__ import annotations

import datetime as dt

import strawberry

from lapor.schema.common import parse_int_id
from lapor.schema.complaints.enums import Channel, ComplaintKind, ComplaintStatus, ResponseOutcome
from lapor.tenants import enums
from lapor.tenants.complaints import inputs as domain
from lapor.tenants.complaints.queries import ComplaintFilter as DomainFilter
from lapor.tenants.complaints.reads import PublicFilter


@strawberry.input
class ReporterInput:
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@strawberry.input
class AttachmentInput:
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str


@strawberry.input
class SubmitComplaintInput:
    title: str
    body: str
    kind: ComplaintKind = enums.ComplaintKind.COMPLAINT
    channel: Channel = enums.Channel.WEB
    category_code: str | None = None
    region_code: str | None = None
    location: str | None = None
    anonymous: bool = False
    confidential: bool = False
    external_ref: str | None = strawberry.field(
        default=None,
        description="The channel's own id (or an idempotency key), per OAuth client: a retry by the same "
        "client returns the same complaint and access code. Needs a client token with complaints:submit.",
    )
    reporter: ReporterInput | None = None
    attachments: list[AttachmentInput] = strawberry.field(default_factory=list)
    incident_date: dt.date | None = strawberry.field(
        default=None,
        description="The day it happened, if the reporter knows (ISO date, e.g. 2026-03-14); not after "
        "today in the tenant's time zone (INVALID_INPUT).",
    )

    def to_domain(self) -> domain.SubmitInput:
        person = self.reporter
        return domain.SubmitInput(
            kind=enums.ComplaintKind(self.kind),
            channel=enums.Channel(self.channel),
            title=self.title,
            body=self.body,
            category_code=self.category_code,
            region_code=self.region_code,
            location=self.location,
            anonymous=self.anonymous,
            confidential=self.confidential,
            external_ref=self.external_ref,
            reporter=domain.ReporterInput(person.name, person.email, person.phone) if person else None,
            attachments=tuple(
                domain.AttachmentInput(a.file_name, a.content_type, a.size_bytes, a.sha256)
                for a in self.attachments
            ),
            incident_date=self.incident_date,
        )


@strawberry.input(description="All given conditions must hold.")
class ComplaintFilter:
    status: list[ComplaintStatus] | None = None
    kind: list[ComplaintKind] | None = None
    channel: list[Channel] | None = None
    category_id: list[strawberry.ID] | None = None
    unit_id: list[strawberry.ID] | None = None
    late: bool | None = None
    submitted_from: dt.datetime | None = None
    submitted_to: dt.datetime | None = None
    search: str | None = strawberry.field(default=None, description="Words in the title or body.")

    def to_domain(self) -> DomainFilter:
        return DomainFilter(
            statuses=tuple(enums.ComplaintStatus(s) for s in self.status or ()),
            kinds=tuple(enums.ComplaintKind(k) for k in self.kind or ()),
            channels=tuple(enums.Channel(c) for c in self.channel or ()),
            category_ids=tuple(parse_int_id(i, "Category") for i in self.category_id or ()),
            unit_ids=tuple(parse_int_id(i, "Unit") for i in self.unit_id or ()),
            late=self.late,
            submitted_from=self.submitted_from,
            submitted_to=self.submitted_to,
            text=self.search,
        )


@strawberry.input(description="What the public feed can be narrowed by.")
class PublicComplaintFilter:
    kind: list[ComplaintKind] | None = None
    category_id: list[strawberry.ID] | None = None
    search: str | None = None

    def to_domain(self) -> PublicFilter:
        return PublicFilter(
            kinds=tuple(enums.ComplaintKind(k) for k in self.kind or ()),
            category_ids=tuple(parse_int_id(i, "Category") for i in self.category_id or ()),
            text=self.search,
        )


@strawberry.input
class VerifyComplaintInput:
    tracking_id: str
    expected_version: int | None = None
    note: str | None = None


@strawberry.input
class ArchiveComplaintInput:
    tracking_id: str
    reason: str
    expected_version: int | None = None


@strawberry.input
class RequestInformationInput:
    tracking_id: str
    question: str
    expected_version: int | None = None


@strawberry.input
class AssignComplaintInput:
    tracking_id: str
    unit_id: strawberry.ID
    note: str | None = None
    expected_version: int | None = None


@strawberry.input
class RespondToComplaintInput:
    tracking_id: str
    outcome: ResponseOutcome
    message: str
    expected_version: int | None = None


@strawberry.input
class CompleteComplaintInput:
    tracking_id: str
    access_code: str
    information: str
    expected_version: int | None = None


@strawberry.input
class ReplyToComplaintInput:
    tracking_id: str
    access_code: str
    message: str


@strawberry.input
class AcceptResponseInput:
    tracking_id: str
    access_code: str


@strawberry.input
class DisputeResponseInput:
    tracking_id: str
    access_code: str
    reason: str


@strawberry.input
class RateComplaintInput:
    tracking_id: str
    access_code: str
    rating: int
    comment: str | None = None


@strawberry.input
class SupportComplaintInput:
    tracking_id: str
    supporter_id: str = strawberry.field(
        description="The supporter's phone, e-mail or device id (stored hashed)."
    )
