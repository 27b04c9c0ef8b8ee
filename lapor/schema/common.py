"""Shared GraphQL pieces: Relay global ids and page info, ``UserError`` and payload handling."""

from __future__ import annotations

import base64
from collections.abc import Awaitable
from typing import TypeVar

import strawberry

from lapor.platform.errors import DomainError

T = TypeVar("T")

# These never become payload errors: they are top-level GraphQL errors (DESIGN.md section 7).
TOP_LEVEL_CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "RATE_LIMITED", "SERVICE_UNAVAILABLE"})


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="A refusal of a mutation's input or of the transition it asks for.")
class UserError:
    field: str | None
    message: str
    code: str


def global_id(type_name: str, key: str | int) -> strawberry.ID:
    raw = f"{type_name}:{key}".encode()
    return strawberry.ID(base64.urlsafe_b64encode(raw).decode().rstrip("="))


def parse_global_id(value: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        type_name, key = raw.split(":", 1)
    except (ValueError, UnicodeDecodeError):
        raise DomainError("NOT_FOUND", f"{value!r} is not a valid id", "id") from None
    return type_name, key


def parse_int_id(value: str, expected: str) -> int:
    type_name, key = parse_global_id(value)
    if type_name != expected or not key.isdigit():
        raise DomainError("NOT_FOUND", f"{value!r} is not the id of a {expected}", "id")
    return int(key)


def user_errors(error: DomainError) -> list[UserError]:
    """A domain refusal as the payload's ``errors``; auth failures stay top-level errors."""
    if error.code in TOP_LEVEL_CODES:
        raise error
    return [UserError(field=error.field, message=error.message, code=error.code)]


async def attempt(work: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a mutation's service call: its result, or the refusal as ``UserError`` list."""
    try:
        return await work, []
    except DomainError as error:
        return None, user_errors(error)
