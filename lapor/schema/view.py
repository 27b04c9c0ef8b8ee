"""The ``/graphql`` ASGI endpoint: strawberry's view with our context, error format and rate limit.

The rate limit is charged here, after the body is read and before execution: the cost comes from
the parsed document with the request's own variables (``document_cost``), and the decision's
``RateLimit-*`` headers go on strawberry's sub-response, which it copies onto the HTTP response."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cross_web import HTTPException
from graphql import DocumentNode, GraphQLError, parse
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from lapor.auth.bearer import actor_for, bearer_token, verify
from lapor.platform.errors import DomainError
from lapor.platform.ratelimit import Decision, RateLimited, client_ip, graphql_refusal
from lapor.schema.context import LaporContext
from lapor.schema.errors import format_error
from lapor.schema.limits import MAX_COST, MAX_TOKENS, document_cost
from lapor.tenants.actors import Actor
from lapor.tenants.context import Budget, use_budget
from lapor.tenants.records import Tenant

if TYPE_CHECKING:
    from lapor.platform.services import Services


class LaporGraphQL(GraphQL[LaporContext, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> LaporContext:
        services = request.app.state.services
        tenant = request.scope["state"]["tenant"]
        actor, problem = await _caller(services, tenant, request.headers.get("authorization"))
        if actor is not None:  # a verified token: staff statement timeout for this request (issue 9 item 3)
            use_budget(Budget.STAFF)
        return LaporContext(
            request=request, tenant=tenant, services=services, actor=actor, auth_error=problem
        )

    async def on_ws_connect(self, context: LaporContext) -> UnsetType | dict[str, object] | None:
        """Browsers cannot put headers on a websocket: the token may come in the
        ``connection_init`` payload as ``{"Authorization": "Bearer ..."}`` and then replaces the
        handshake's. A bad token does not refuse the connection: like over HTTP, the operation
        that needs a caller answers UNAUTHENTICATED or FORBIDDEN."""
        params = context.connection_params or {}
        authorization = next((v for k, v in params.items() if k.lower() == "authorization"), None)
        if isinstance(authorization, str):
            context.actor, context.auth_error = await _caller(context.services, context.tenant, authorization)
        elif authorization is not None:
            context.actor = None
            context.auth_error = DomainError("UNAUTHENTICATED", "Authorization must be a string")
        return UNSET

    async def process_result(
        self, request: Request | WebSocket, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data: dict[str, Any] = {"data": result.data}
        if result.errors:
            data["errors"] = [_formatted(error) for error in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data  # type: ignore[return-value]

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: LaporContext,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Charge the operation's points first; a refused one never runs and answers 429."""
        batch = request_data if isinstance(request_data, list) else [request_data]
        actor = context.actor
        decision = await _charge(request, actor.client_id if actor else None, sum(map(_cost, batch)))
        if decision is not None:
            sub_response.headers.update(decision.headers())
            if not decision.allowed:
                sub_response.status_code = 429
                return ExecutionResult(data=None, errors=[_refusal(decision)])
        return await super().execute_operation(
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Requests refused before execution (unreadable body, no query) are charged 1 point too,
        to the caller's IP: malformed requests must not be a free way to load the server."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:
            if not isinstance(request, Request) or "tenant" not in request.scope.get("state", {}):
                raise
            decision = getattr(request.state, "rate_limit", None) or await _charge(request, None, 1)
            if decision is None:
                raise
            if not decision.allowed:
                return JSONResponse(graphql_refusal(decision), status_code=429, headers=decision.headers())
            return PlainTextResponse(error.reason, status_code=error.status_code, headers=decision.headers())


async def _caller(
    services: Services, tenant: Tenant, authorization: str | None
) -> tuple[Actor | None, DomainError | None]:
    """The actor of an ``Authorization`` value, or why it was refused (raised later, by the first
    field that needs a caller: public fields still work with a bad token)."""
    try:
        token = bearer_token(authorization)
        if token is None:
            return None, None
        claims = await verify(token, services.keys, services.revocations, services.oauth.issuers)
        return actor_for(claims, tenant), None
    except DomainError as error:
        return None, error


async def _charge(request: Request, client_id: str | None, cost: int) -> Decision | None:
    services = request.app.state.services
    tenant = request.scope["state"]["tenant"]
    decision = await services.ratelimiter.for_graphql(tenant.slug, client_id, client_ip(request.scope), cost)
    request.state.rate_limit = decision  # charged once, even if strawberry then refuses the request
    return decision


def _cost(data: GraphQLRequestData) -> int:
    """The document's points with the request's variables; a document that cannot be parsed
    costs 1 (strawberry refuses it), one over the node limit what the costliest allowed one does."""
    if not data.query:
        return 1
    document = _parsed(data.query)
    if document is None:
        return 1
    return min(MAX_COST, document_cost(document, data.variables, data.operation_name))


@lru_cache(maxsize=512)
def _parsed(query: str) -> DocumentNode | None:
    try:
        return parse(query, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None


def _formatted(error: GraphQLError) -> dict[str, Any]:
    formatted = format_error(error)
    if isinstance(error.original_error, RateLimited):
        formatted["extensions"]["retryAfter"] = error.original_error.retry_after
    return formatted


def _refusal(decision: Decision) -> GraphQLError:
    refusal = RateLimited(decision)
    return GraphQLError(refusal.message, original_error=refusal)
