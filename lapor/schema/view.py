"""The ``/graphql`` ASGI endpoint: strawberry's view with our context, error format and rate limit.

The rate limit is charged here, after the body is read and before execution: the cost comes from
the parsed document with the request's own variables (``lapor.schema.gate.operation_cost``), and
the decision's ``RateLimit-*`` headers go on strawberry's sub-response, which it copies onto the
HTTP response. Issue 9 closed these gaps here:

* every answer is JSON with ``extensions.code`` and ``RateLimit-*`` headers, refusals before
  execution included (malformed JSON, a mutation over GET: ``BAD_REQUEST``; item 17), with
  ``nosniff``, ``no-store`` and a CSP that lets nothing run;
* GET runs queries only, and never one with a secret argument (``accessCode``): a URL ends up in
  access logs, proxies and browser history (item 9; ``lapor.schema.access_log`` also strips query
  strings from uvicorn's access log);
* a search runs only while the caller has fewer than ``LAPOR_MAX_CONCURRENT_SEARCHES`` running,
  across processes; the next one answers 429 ``TOO_MANY_CONCURRENT_REQUESTS`` (item 3);
* the websocket goes through ``lapor.schema.events.socket`` (item 6);
* GraphiQL is served from the package with its own CSP, or not at all (``LAPOR_GRAPHIQL``;
  item 16, ``lapor.schema.graphiql``).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from cross_web import HTTPException
from graphql import ArgumentNode, DocumentNode, GraphQLError, ObjectFieldNode, OperationType, Visitor, visit
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from lapor.platform.errors import DomainError
from lapor.platform.keys import platform_key
from lapor.platform.ratelimit import Decision, RateLimited, client_ip, graphql_refusal
from lapor.schema import access_log, graphiql
from lapor.schema.context import LaporContext
from lapor.schema.errors import format_error
from lapor.schema.events.socket import ConnectionGate, GatedLegacyWSHandler, GatedTransportWSHandler, gate_of
from lapor.schema.gate import charge, coded, error_body, operation_cost, parsed, verified
from lapor.schema.limits import operation_of
from lapor.tenants.actors import Actor
from lapor.tenants.context import Budget, use_budget
from lapor.tenants.records import Tenant

if TYPE_CHECKING:
    from lapor.platform.services import Services


SECRET_ARGUMENTS = frozenset({"accessCode"})
"""Arguments (or input fields) whose value is a secret: never in a URL."""
SEARCH_LEASE_TTL = 120.0
"""Seconds a search's place is kept if its process dies before giving it back (the statement
timeout ends a search long before)."""


class RequestRefused(HTTPException):
    """A request refused before execution with our own code and bilingual message."""

    def __init__(
        self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, message)
        self.code = code
        self.message = message
        self.headers = headers or {}


_STATUS_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "BAD_REQUEST"}


class LaporGraphQL(GraphQL[LaporContext, None]):
    graphql_transport_ws_handler_class = GatedTransportWSHandler
    graphql_ws_handler_class = GatedLegacyWSHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        access_log.install()

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
        if authorization is None:
            authorization = context.request.headers.get("authorization")
        gate = gate_of(context)
        if isinstance(authorization, str):
            caller = await verified(context.services, context.tenant, authorization)
            context.actor, context.auth_error = caller.actor, caller.problem
            # The connection's token is watched from now on, and takes one of its places.
            await gate.bind(caller.token)
        else:
            context.actor = None
            context.auth_error = DomainError("UNAUTHENTICATED", "Authorization must be a string")
            await gate.bind(None)
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

    def decode_json(self, data: str | bytes) -> object:
        """Bodies nested deeper than Python's stack, or not UTF-8, are malformed JSON too (400
        ``BAD_REQUEST``), not an exception out of the view."""
        try:
            return super().decode_json(data)
        except (RecursionError, UnicodeDecodeError):
            raise json.JSONDecodeError("not JSON that can be read", "", 0) from None

    def parse_json(self, data: str | bytes) -> Any:
        """A body (or a GET ``variables``) must be a JSON object, or a list for a batch: strawberry
        calls ``.get`` on whatever it got, so ``"text"`` or ``null`` raised out of the view (500)."""
        parsed_json = super().parse_json(data)
        if not isinstance(parsed_json, dict | list):
            raise HTTPException(400, "the request must be a JSON object")
        return parsed_json

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        for name, value in graphiql.security_headers().items():
            response.headers.setdefault(name, value)
        return response

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL and its assets, charged a point each like any other answer here."""
        if not request.app.state.services.settings.graphiql_enabled:
            raise RequestRefused(
                404,
                "NOT_FOUND",
                "GraphiQL tidak dinyalakan di server ini; kirim query dengan POST (GraphiQL is turned off "
                "on this server, LAPOR_GRAPHIQL; send queries with POST).",
            )
        decision = await charge(request, None, 1)
        headers = decision.headers() if decision is not None else {}
        if decision is not None and not decision.allowed:
            return JSONResponse(
                graphql_refusal(decision), 429, headers={**graphiql.security_headers(), **headers}
            )
        name = request.query_params.get("asset")
        if name is None:
            return graphiql.page_response(headers)
        found = graphiql.asset(name)
        if found is None:
            raise RequestRefused(404, "NOT_FOUND", f"Berkas tidak ada (no such asset): {name[:60]!r}")
        return graphiql.asset_response(found, headers)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: LaporContext,
        root_value: None,
        sub_response: Response,
    ) -> Any:
        """Charge the operation's points first; a refused one never runs and answers 429. A search
        also needs a free place among the caller's concurrent searches."""
        batch = request_data if isinstance(request_data, list) else [request_data]
        if request_adapter.method == "GET":
            for data in batch:
                _check_get(data)
        actor = context.actor
        client_id = actor.client_id if actor else None
        costs = [operation_cost(self.schema._schema, d.query, d.variables, d.operation_name) for d in batch]
        decision = await charge(request, client_id, sum(points for points, _search in costs))
        if decision is not None:
            sub_response.headers.update(decision.headers())
            if not decision.allowed:
                sub_response.status_code = 429
                return ExecutionResult(data=None, errors=[_refusal(decision)])
        if not any(search for _points, search in costs):
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        services = request.app.state.services
        limit = services.settings.max_concurrent_searches
        key = platform_key("busy", "client", client_id) if client_id else platform_key(
            "busy", "ip", client_ip(request.scope)
        )
        member = uuid.uuid4().hex
        if not await services.ratelimiter.leases.acquire(key, member, limit, SEARCH_LEASE_TTL):
            sub_response.status_code = 429
            sub_response.headers["Retry-After"] = "1"
            busy = DomainError(
                "TOO_MANY_CONCURRENT_REQUESTS",
                f"Paling banyak {limit} pencarian berjalan bersamaan per pemanggil; coba lagi sebentar "
                f"lagi (at most {limit} searches at once per caller; retry in a moment).",
            )
            return ExecutionResult(data=None, errors=[GraphQLError(busy.message, original_error=busy)])
        try:
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        finally:
            await services.ratelimiter.leases.release(key, member)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Requests refused before execution (unreadable body, no query, GET for a mutation) are
        charged 1 point too, to the caller's IP: malformed requests must not be a free way to load
        the server. They answer a GraphQL error body with ``extensions.code``, never plain text."""
        if isinstance(request, WebSocket):
            return await self._run_websocket(request, context, root_value)
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:
            if not isinstance(request, Request) or "tenant" not in request.scope.get("state", {}):
                raise
            decision = getattr(request.state, "rate_limit", None) or await charge(request, None, 1)
            headers = {**graphiql.security_headers(), **(decision.headers() if decision else {})}
            if decision is not None and not decision.allowed:
                return JSONResponse(graphql_refusal(decision), status_code=429, headers=headers)
            if isinstance(error, RequestRefused):
                code, message = error.code, error.message
                headers.update(error.headers)
            else:
                code = _STATUS_CODES.get(error.status_code, "BAD_REQUEST")
                message = f"Permintaan tidak dapat diproses ({error.reason})"
            body = error_body(coded(code, message))
            return JSONResponse(body, status_code=error.status_code, headers=headers)

    async def _run_websocket(self, websocket: WebSocket, context: Any, root_value: Any) -> Any:
        """Admit the connection (its IP's places and points) before the upgrade; give its places
        back when it ends, however it ends."""
        gate = ConnectionGate(websocket, websocket.app.state.services)
        try:
            refusal = await gate.admit()
            if refusal is not None:
                if "websocket.http.response" in websocket.scope.get("extensions", {}):
                    await websocket.send_denial_response(refusal)
                else:  # the server cannot answer 429 on a handshake: 403, as strawberry's refusals
                    await websocket.close(code=1008)
                return websocket
            websocket.state.ws_gate = gate
            return await super().run(websocket, context, root_value)
        finally:
            await gate.release()


async def _caller(
    services: Services, tenant: Tenant, authorization: str | None
) -> tuple[Actor | None, DomainError | None]:
    """The actor of an ``Authorization`` value, or why it was refused (raised later, by the first
    field that needs a caller: public fields still work with a bad token)."""
    caller = await verified(services, tenant, authorization)
    return caller.actor, caller.problem


def _check_get(data: GraphQLRequestData) -> None:
    """GET runs queries only, and none that carries a secret: refused with ``BAD_REQUEST``."""
    document = parsed(data.query) if isinstance(data.query, str) else None
    if document is None:
        return  # strawberry answers: no query, or a parse error
    operation = operation_of(document, data.operation_name if isinstance(data.operation_name, str) else None)
    if operation is not None and operation.operation is not OperationType.QUERY:
        raise RequestRefused(
            400,
            "BAD_REQUEST",
            "Mutation dan subscription tidak dilayani lewat GET; kirim dengan POST (mutations and "
            "subscriptions are not served over GET; send them with POST).",
            {"Allow": "POST"},
        )
    if _carries_secret(document):
        raise RequestRefused(
            400,
            "BAD_REQUEST",
            "Kode akses tidak boleh dikirim di URL; kirim query ini dengan POST (an access code must "
            "not travel in a URL: send this query with POST).",
            {"Allow": "POST"},
        )


class _SecretFinder(Visitor):
    found = False

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> Any:
        return self._check(node.name.value)

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> Any:
        return self._check(node.name.value)

    def _check(self, name: str) -> Any:
        if name in SECRET_ARGUMENTS:
            self.found = True
            return self.BREAK
        return None


def _carries_secret(document: DocumentNode) -> bool:
    finder = _SecretFinder()
    visit(document, finder)
    return finder.found


def _formatted(error: GraphQLError) -> dict[str, Any]:
    formatted = format_error(error)
    if isinstance(error.original_error, RateLimited):
        formatted["extensions"]["retryAfter"] = error.original_error.retry_after
    return formatted


def _refusal(decision: Decision) -> GraphQLError:
    refusal = RateLimited(decision)
    return GraphQLError(refusal.message, original_error=refusal)
