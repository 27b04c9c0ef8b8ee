"""The ``/graphql`` ASGI endpoint: strawberry's view with our context and error format."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from lapor.auth.bearer import actor_for, bearer_token, verify
from lapor.platform.errors import DomainError
from lapor.schema.context import LaporContext
from lapor.schema.errors import format_error


class LaporGraphQL(GraphQL[LaporContext, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> LaporContext:
        services = request.app.state.services
        tenant = request.scope["state"]["tenant"]
        actor, problem = None, None
        try:
            token = bearer_token(request.headers.get("authorization"))
            if token is not None:
                claims = await verify(
                    token, services.keys, services.revocations, services.settings.oauth_issuer
                )
                actor = actor_for(claims, tenant)
        except DomainError as error:
            problem = error  # raised by the first field that needs a caller; public fields still work
        return LaporContext(
            request=request, tenant=tenant, services=services, actor=actor, auth_error=problem
        )

    async def process_result(
        self, request: Request | WebSocket, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data: dict[str, Any] = {"data": result.data}
        if result.errors:
            data["errors"] = [format_error(error) for error in result.errors]
        if result.extensions:
            data["extensions"] = result.extensions
        return data  # type: ignore[return-value]
