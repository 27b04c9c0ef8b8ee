"""The one error type domain services raise: a stable code, a field, a message for people.

The GraphQL layer turns it into ``extensions.code`` (or a payload ``UserError``); the CLI prints
it; nothing shows a stack trace to a client.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request we refuse for a reason the caller can act on."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_json(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message}
