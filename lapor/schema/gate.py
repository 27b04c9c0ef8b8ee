"""What every GraphQL operation passes before it runs, over HTTP and over the websocket alike:
who the caller is, what the operation costs, and the charge against the rate limit.

One module for both transports, so an operation cannot be cheaper on one of them (issue 9 item
6: nothing sent over the websocket was charged at all).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from starlette.requests import HTTPConnection

from lapor.auth.bearer import actor_for, bearer_token, verify
from lapor.platform.errors import DomainError
from lapor.platform.ratelimit import Decision, RateLimited, client_ip
from lapor.schema.limits import MAX_TOKENS, IntrospectionSizes, document_cost, document_searches
from lapor.tenants.actors import Actor
from lapor.tenants.records import Tenant

if TYPE_CHECKING:
    from lapor.platform.services import Services


@dataclass(frozen=True)
class CallerToken:
    """The access token a caller presented, as far as a long-lived connection must remember it."""

    jti: str
    expires_at: float

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


@dataclass(frozen=True)
class Caller:
    actor: Actor | None
    problem: DomainError | None
    """Why the presented token was refused (raised later, by the first field that needs a caller:
    public fields still work with a bad token)."""
    token: CallerToken | None = None


async def verified(services: Services, tenant: Tenant, authorization: str | None) -> Caller:
    try:
        token = bearer_token(authorization)
        if token is None:
            return Caller(None, None)
        claims = await verify(token, services.keys, services.revocations, services.oauth.issuers)
        actor = actor_for(claims, tenant)
    except DomainError as error:
        return Caller(None, error)
    return Caller(actor, None, CallerToken(str(claims["jti"]), float(claims.get("exp", 0))))


@lru_cache(maxsize=512)
def parsed(query: str) -> DocumentNode | None:
    try:
        return parse(query, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    except RecursionError:  # nesting deeper than Python's stack: the parser cannot say more
        return None


def operation_cost(
    schema: GraphQLSchema, query: object, variables: object, operation_name: object
) -> tuple[int, bool]:
    """The points of one operation with the request's variables, and whether it searches.

    A document that cannot be parsed costs 1 (strawberry refuses it); ill-typed parts of a
    request (variables that are not an object) count as absent.
    """
    if not isinstance(query, str) or not query:
        return 1, False
    document = parsed(query)
    if document is None:
        return 1, False
    values: Mapping[str, Any] | None = variables if isinstance(variables, dict) else None
    name = operation_name if isinstance(operation_name, str) else None
    sizes = IntrospectionSizes.of(schema)
    return document_cost(document, values, name, sizes), document_searches(document, values, name)


async def charge(connection: HTTPConnection, client_id: str | None, cost: int) -> Decision | None:
    """Charge ``cost`` points to the caller's buckets in the host's tenant; remembered on the
    connection's state (an HTTP request is charged once, even if strawberry then refuses it)."""
    services = connection.app.state.services
    tenant = connection.scope["state"]["tenant"]
    decision = await services.ratelimiter.for_graphql(
        tenant.slug, client_id, client_ip(connection.scope), cost
    )
    connection.state.rate_limit = decision
    return decision


def coded(code: str, message: str, **extensions: object) -> dict[str, Any]:
    """One error as it leaves the server (the shape ``lapor.schema.errors.format_error`` makes)."""
    return {"message": message, "extensions": {"code": code, **extensions}}


def rate_limited(decision: Decision) -> dict[str, Any]:
    refusal = RateLimited(decision)
    return coded(refusal.code, refusal.message, retryAfter=refusal.retry_after)


def error_body(*errors: dict[str, Any]) -> dict[str, Any]:
    return {"data": None, "errors": list(errors)}
