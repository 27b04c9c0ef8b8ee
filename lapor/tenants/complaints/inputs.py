"""What a caller hands the complaint services, validated here with clear, coded errors."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from lapor.platform.errors import DomainError
from lapor.tenants.enums import Channel, ComplaintKind, ResponseOutcome
from lapor.tenants.validation import REGION_CODE_PATTERN

TITLE_LIMITS = (5, 200)
BODY_LIMITS = (10, 10_000)
NOTE_LIMIT = 5_000
LOCATION_LIMIT = 300
EXTERNAL_REF_LIMIT = 200
NAME_LIMIT = 200
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
ALLOWED_CONTENT_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "application/pdf", "video/mp4", "audio/mpeg", "audio/ogg"}
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def invalid(field_name: str, message: str) -> DomainError:
    return DomainError("INVALID_INPUT", message, field_name)


def clean_text(value: str | None, field_name: str, limits: tuple[int, int], *, required: bool = True) -> str:
    """Trimmed text within ``limits`` characters; stored exactly as written otherwise."""
    text = (value or "").strip()
    low, high = limits
    if not text and not required:
        return ""
    if len(text) < low:
        raise invalid(field_name, f"{field_name} must have at least {low} characters")
    if len(text) > high:
        raise invalid(field_name, f"{field_name} must have at most {high} characters")
    return text


def clean_note(value: str | None, field_name: str = "note", *, required: bool = False) -> str | None:
    text = clean_text(value, field_name, (1, NOTE_LIMIT), required=required)
    return text or None


@dataclass(frozen=True)
class ReporterInput:
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def cleaned(self) -> ReporterInput:
        name = clean_text(self.name, "reporter.name", (1, NAME_LIMIT), required=False) or None
        email = (self.email or "").strip().lower() or None
        phone = "".join(ch for ch in (self.phone or "") if ch.isdigit() or ch == "+") or None
        if email and not _EMAIL.fullmatch(email):
            raise invalid("reporter.email", "reporter.email is not an e-mail address")
        if phone and not _PHONE.fullmatch(phone):
            raise invalid("reporter.phone", "reporter.phone must be 8 to 15 digits, e.g. +6281234567890")
        return ReporterInput(name, email, phone)

    @property
    def identifier(self) -> str | None:
        """What makes two submissions the same person's: phone first, then e-mail."""
        return self.phone or self.email


@dataclass(frozen=True)
class AttachmentInput:
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str

    def cleaned(self, index: int) -> AttachmentInput:
        where = f"attachments[{index}]"
        name = self.file_name.strip()
        if not name or len(name) > 255 or "/" in name or "\\" in name or name in {".", ".."}:
            raise invalid(f"{where}.fileName", "file name must be 1 to 255 characters, without a path")
        content_type = self.content_type.strip().lower()
        if content_type not in ALLOWED_CONTENT_TYPES:
            allowed = ", ".join(sorted(ALLOWED_CONTENT_TYPES))
            raise invalid(f"{where}.contentType", f"content type {content_type!r} is not one of {allowed}")
        if not 0 < self.size_bytes <= MAX_ATTACHMENT_BYTES:
            raise invalid(f"{where}.sizeBytes", f"size must be 1 byte to {MAX_ATTACHMENT_BYTES} bytes")
        digest = self.sha256.strip().lower()
        if not _SHA256.fullmatch(digest):
            raise invalid(f"{where}.sha256", "sha256 must be 64 hexadecimal characters")
        return AttachmentInput(name, content_type, self.size_bytes, digest)


@dataclass(frozen=True)
class SubmitInput:
    kind: ComplaintKind
    channel: Channel
    title: str
    body: str
    category_code: str | None = None
    region_code: str | None = None
    location: str | None = None
    anonymous: bool = False
    confidential: bool = False
    external_ref: str | None = None
    reporter: ReporterInput | None = None
    attachments: tuple[AttachmentInput, ...] = field(default_factory=tuple)
    incident_date: dt.date | None = None
    """The day it happened, as the reporter says; checked against the tenant's own today."""

    def cleaned(self) -> SubmitInput:
        if self.channel is Channel.TRANSFER:
            raise invalid(
                "channel", "TRANSFER is set by the platform when a complaint moves between agencies"
            )
        region = (self.region_code or "").strip() or None
        if region and not REGION_CODE_PATTERN.fullmatch(region):
            raise invalid("regionCode", f"region code {region!r} is not a Kemendagri code such as '53.71'")
        reference = (self.external_ref or "").strip() or None
        if reference and len(reference) > EXTERNAL_REF_LIMIT:
            raise invalid("externalRef", f"externalRef must have at most {EXTERNAL_REF_LIMIT} characters")
        if len(self.attachments) > MAX_ATTACHMENTS:
            raise invalid("attachments", f"at most {MAX_ATTACHMENTS} attachments")
        return SubmitInput(
            kind=self.kind,
            channel=self.channel,
            title=clean_text(self.title, "title", TITLE_LIMITS),
            body=clean_text(self.body, "body", BODY_LIMITS),
            category_code=(self.category_code or "").strip().upper() or None,
            region_code=region,
            location=clean_text(self.location, "location", (1, LOCATION_LIMIT), required=False) or None,
            anonymous=self.anonymous,
            confidential=self.confidential,
            external_ref=reference,
            reporter=self.reporter.cleaned() if self.reporter else None,
            attachments=tuple(a.cleaned(i) for i, a in enumerate(self.attachments)),
            incident_date=self.incident_date,
        )


def check_incident_date(value: dt.date | None, time_zone: str, now: dt.datetime | None = None) -> None:
    """Refuse an incident date after today where the tenant is (WIB, WITA or WIT): a reporter
    in Jayapura at 01:00 may name a day that is still tomorrow in UTC."""
    if value is None:
        return
    today = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(time_zone)).date()
    if value > today:
        raise invalid(
            "incidentDate",
            f"Tanggal kejadian tidak boleh di masa depan (hari ini {today.isoformat()}). "
            f"(The incident date must not be in the future: today is {today.isoformat()}.)",
        )


def check_outcome(outcome: ResponseOutcome, message: str | None) -> None:
    if outcome is ResponseOutcome.UNABLE and not message:
        raise invalid("message", "an UNABLE outcome needs the reason in the message")


def check_rating(rating: int) -> None:
    if not 1 <= rating <= 5:
        raise invalid("rating", "rating must be between 1 and 5")
