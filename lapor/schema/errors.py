"""How GraphQL errors leave the server: always an ``extensions.code``, never a stack trace.

* our own ``DomainError`` keeps its message and code;
* errors with no original exception are the parser's or validator's (the client's query);
* a variable graphql-core could not coerce (unknown enum value, wrong type, missing) is
  ``BAD_USER_INPUT`` naming the variable, whatever exception it carries (issue 9 item 17: these
  answered ``INTERNAL_SERVER_ERROR`` with a logged traceback);
* anything else is a bug or an outage: logged here in full, shown to the client as
  ``INTERNAL_SERVER_ERROR`` (or ``SERVICE_UNAVAILABLE`` when the database cannot be reached).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import psycopg
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import StreamExecutionResult

from lapor.platform.errors import DomainError
from lapor.tenants.context import query_timeout

log = logging.getLogger("lapor.graphql")

_VARIABLE = re.compile(r"^Variable '\$(\w+)'")
"""graphql-core's prefix for every variable coercion error (``coerce_variable_values``)."""
_CLIENT_EXTENSIONS = ("field", "variable")
"""Extensions a client error may carry besides its code (the argument or variable at fault)."""


def _code_for(error: GraphQLError) -> tuple[str, str]:
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code, original.message
    if original is not None and error.path is None and _VARIABLE.match(error.message):
        return "BAD_USER_INPUT", error.message
    if original is None:
        existing = (error.extensions or {}).get("code")
        if isinstance(existing, str):
            return existing, error.message
        if error.message.startswith("Syntax Error"):
            return "GRAPHQL_PARSE_FAILED", error.message
        return "GRAPHQL_VALIDATION_FAILED", error.message
    timed_out = query_timeout(original)  # a statement_timeout outside RequestDatabase (issue 9 item 3)
    if timed_out is not None:
        return timed_out.code, timed_out.message
    if _database_unavailable(original):
        log.warning("database unavailable: %s", original)
        return "SERVICE_UNAVAILABLE", "The service is temporarily unavailable; try again shortly."
    log.error("unexpected error in GraphQL execution", exc_info=original)
    return "INTERNAL_SERVER_ERROR", "Internal server error."


def _database_unavailable(original: BaseException) -> bool:
    """The database cannot serve right now: the pool timed out, a connection dropped, or a new
    one was refused (server down, shutting down, starting up). psycopg raises ``OperationalError``
    (the DB-API class for failures outside the statement's control) for all of these; SQLAlchemy
    flags only drops *during* a statement as ``connection_invalidated``, not refused connects."""
    if isinstance(original, PoolTimeoutError | psycopg.OperationalError):
        return True
    return isinstance(original, DBAPIError) and (
        original.connection_invalidated or isinstance(original.orig, psycopg.OperationalError)
    )


def format_error(error: GraphQLError) -> dict[str, Any]:
    code, message = _code_for(error)
    original = error.original_error
    formatted: dict[str, Any] = {"message": message, "extensions": {"code": code}}
    if original is None:
        for key in _CLIENT_EXTENSIONS:
            if isinstance((error.extensions or {}).get(key), str):
                formatted["extensions"][key] = error.extensions[key]  # type: ignore[index]
    variable = _VARIABLE.match(error.message) if error.path is None else None
    if variable:
        formatted["extensions"]["variable"] = variable.group(1)
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = error.path
    if isinstance(original, DomainError) and original.field:
        formatted["extensions"]["field"] = original.field
    return formatted


class StreamedErrors(SchemaExtension):
    """Results streamed over websockets never pass through the view's ``process_result``: the
    transport sends ``error.formatted`` as it is. Reshape each error here the way ``format_error``
    does, so a subscription's ``FORBIDDEN`` carries the same ``extensions.code`` as a query's and
    an unexpected exception's text never reaches the client."""

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [_reshaped(error) for error in errors]  # type: ignore[union-attr]
        yield None


def _reshaped(error: GraphQLError) -> GraphQLError:
    formatted = format_error(error)
    return GraphQLError(
        formatted["message"],
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=formatted["extensions"],
    )
