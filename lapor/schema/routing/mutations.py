"""Mutation fields of the routing area, all scope ``routing:write`` (checked once, at the root).

Each mutation opens its own write transaction with :func:`tenant_transaction` (never the
request's shared reader): the rule change and its audit row commit together, or not at all.
Domain refusals come back in the payload's ``errors`` with the service's codes and the GraphQL
input field at fault (``unitId``, not the service's ``unit_id``); ``UNAUTHENTICATED`` and
``FORBIDDEN`` stay top-level errors (DESIGN.md section 7).

A ``TRANSFER_TO_TENANT`` target is checked against the tenant registry here, before the write
transaction opens: the service runs as the tenant's database role, which cannot read ``public``,
and checking first means no tenant connection is held while the registry is consulted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.utils.str_converters import to_camel_case

from lapor.platform.errors import DomainError
from lapor.schema.common import UserError, attempt, global_id
from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.schema.routing.inputs import (
    CreateRoutingRuleInput,
    DeleteRoutingRuleInput,
    ReorderRoutingRulesInput,
    UpdateRoutingRuleInput,
    rule_id,
)
from lapor.schema.routing.types import (
    CreateRoutingRulePayload,
    DeleteRoutingRulePayload,
    ReorderRoutingRulesPayload,
    RoutingRule,
    UpdateRoutingRulePayload,
)
from lapor.tenants.context import tenant_transaction
from lapor.tenants.enums import RoutingAction
from lapor.tenants.routing import service
from lapor.tenants.routing.matching import RuleSpec
from lapor.tenants.validation import SLUG_PATTERN

Info = strawberry.Info[LaporContext, None]
T = TypeVar("T")

# Service field names that are not simply the snake_case of the GraphQL input field.
_FIELD_NAMES = {"ordered_ids": "ids"}


def _graphql_field(field: str | None) -> str | None:
    if field is None:
        return None
    return _FIELD_NAMES.get(field, to_camel_case(field))


async def _attempt(info: Info, work: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a mutation's ``work``: its result, or its refusal as payload errors named after the
    GraphQL input fields.

    Afterwards the request's DataLoaders are dropped, so the payload's nested fields (a rule's
    unit, categories) are read again rather than served from what the request saw before.
    """
    try:
        result, errors = await attempt(work)
    finally:
        info.context.loaders.clear()
    return result, [
        UserError(field=_graphql_field(error.field), message=error.message, code=error.code)
        for error in errors
    ]


async def _write(info: Info, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run ``work`` in a fresh write transaction of the request's tenant (commit on success)."""
    async with tenant_transaction(info.context.services.db, info.context.tenant) as conn:
        return await work(conn)


async def _check_target_tenant(info: Info, given: object) -> None:
    """A transfer target must be another tenant that exists (suspended ones count: a suspension
    is temporary, and the transfer itself refuses a suspended target when it happens).

    Malformed slugs are left to the service, whose ``INVALID_TARGET_TENANT`` says what a slug is.
    """
    if not isinstance(given, str):
        return
    slug = given.strip().lower()
    if not SLUG_PATTERN.fullmatch(slug):
        return
    if slug == info.context.tenant.slug:
        raise DomainError("INVALID_TARGET_TENANT", "a rule cannot transfer to its own tenant", "targetTenant")
    if await info.context.services.directory.by_slug(slug) is None:
        raise DomainError("UNKNOWN_TENANT", f"there is no tenant {slug!r}", "targetTenant")


@strawberry.type
class RoutingMutation:
    @strawberry.mutation(
        permission_classes=[requires(service.WRITE_SCOPE)],
        description="Add a routing rule at the end of the list (audited).",
    )
    async def create_routing_rule(
        self, info: Info, input: CreateRoutingRuleInput
    ) -> CreateRoutingRulePayload:
        actor = info.context.staff()

        async def run() -> RuleSpec:
            data = input.to_domain()
            # Form first (pure, no database), so a malformed rule is refused for what is wrong
            # with it before the registry is asked about its target.
            values = service.validate(data)
            if values["action"] == RoutingAction.TRANSFER_TO_TENANT:
                await _check_target_tenant(info, values["target_tenant"])
            return await _write(info, lambda conn: service.create_rule(conn, actor, data))

        rule, errors = await _attempt(info, run())
        return CreateRoutingRulePayload(rule=RoutingRule.from_spec(rule) if rule else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[requires(service.WRITE_SCOPE)],
        description="Change some fields of a routing rule; its position stays (audited).",
    )
    async def update_routing_rule(
        self, info: Info, input: UpdateRoutingRuleInput
    ) -> UpdateRoutingRulePayload:
        actor = info.context.staff()

        async def run() -> RuleSpec:
            key = rule_id(input.id)
            patch = input.to_domain()
            # Only a target the change names is checked, as the service does for units and
            # categories: a rule whose target was checked when it was set stays editable.
            if patch.target_tenant is not service.UNSET:
                await _check_target_tenant(info, patch.target_tenant)
            return await _write(info, lambda conn: service.update_rule(conn, actor, key, patch))

        rule, errors = await _attempt(info, run())
        return UpdateRoutingRulePayload(rule=RoutingRule.from_spec(rule) if rule else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[requires(service.WRITE_SCOPE)],
        description="Delete a routing rule (audited); the others keep their order.",
    )
    async def delete_routing_rule(
        self, info: Info, input: DeleteRoutingRuleInput
    ) -> DeleteRoutingRulePayload:
        actor = info.context.staff()

        async def run() -> RuleSpec:
            key = rule_id(input.id)
            return await _write(info, lambda conn: service.delete_rule(conn, actor, key))

        rule, errors = await _attempt(info, run())
        return DeleteRoutingRulePayload(
            deleted_id=global_id("RoutingRule", rule.id) if rule and rule.id else None, errors=errors
        )

    @strawberry.mutation(
        permission_classes=[requires(service.WRITE_SCOPE)],
        description="Put the rules in the order given, which must list every rule once (audited).",
    )
    async def reorder_routing_rules(
        self, info: Info, input: ReorderRoutingRulesInput
    ) -> ReorderRoutingRulesPayload:
        actor = info.context.staff()

        async def run() -> list[RuleSpec]:
            ordered = input.to_domain()
            return await _write(info, lambda conn: service.reorder_rules(conn, actor, ordered))

        rules, errors = await _attempt(info, run())
        return ReorderRoutingRulesPayload(
            rules=[RoutingRule.from_spec(rule) for rule in rules or ()], errors=errors
        )
