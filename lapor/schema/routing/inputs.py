"""GraphQL inputs of the routing area, and their translation to the service's inputs.

Translation only parses global ids and tells "absent" from "null"; every rule about what a rule
may hold is the service's (:func:`lapor.tenants.routing.service.validate`), so the GraphQL API,
the CLI and the tests all get the same refusals. Refusals raised here use the service's codes
(``UNIT_NOT_FOUND``, ``CATEGORY_NOT_FOUND``, ``NOT_FOUND``, ``INVALID_ORDER``) so a client sees
one vocabulary whether an id was malformed or merely unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from lapor.platform.errors import DomainError
from lapor.schema.common import parse_int_id
from lapor.schema.complaints.enums import Channel, ComplaintKind, Priority
from lapor.schema.routing.types import RoutingAction
from lapor.tenants import enums
from lapor.tenants.routing.matching import ComplaintFacts
from lapor.tenants.routing.service import RuleInput, RulePatch


def _int_id(value: str, type_name: str, code: str, field: str) -> int:
    try:
        return parse_int_id(value, type_name)
    except DomainError:
        raise DomainError(code, f"{value!r} is not the id of a {type_name}", field) from None


def rule_id(value: str) -> int:
    """A ``RoutingRule`` global id as the database id (``NOT_FOUND`` otherwise)."""
    return _int_id(value, "RoutingRule", "NOT_FOUND", "id")


def _unit_id(value: str | None) -> int | None:
    return None if value is None else _int_id(value, "Unit", "UNIT_NOT_FOUND", "unitId")


def _category_ids(values: Sequence[str] | None) -> tuple[int, ...]:
    return tuple(_int_id(value, "Category", "CATEGORY_NOT_FOUND", "categoryIds") for value in values or ())


@strawberry.input(description="A new routing rule; it is added at the end of the list.")
class CreateRoutingRuleInput:
    name: str
    action: RoutingAction
    enabled: bool = True
    kinds: list[ComplaintKind] = strawberry.field(default_factory=list)
    channels: list[Channel] = strawberry.field(default_factory=list)
    category_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    keywords: list[str] = strawberry.field(default_factory=list)
    region_prefixes: list[str] = strawberry.field(default_factory=list)
    unit_id: strawberry.ID | None = strawberry.field(default=None, description="Required for ASSIGN_UNIT.")
    priority: Priority | None = strawberry.field(default=None, description="Required for SET_PRIORITY.")
    target_tenant: str | None = strawberry.field(
        default=None, description="Tenant slug; required for TRANSFER_TO_TENANT."
    )
    auto_apply: bool = False

    def to_domain(self) -> RuleInput:
        return RuleInput(
            name=self.name,
            action=enums.RoutingAction(self.action),
            enabled=self.enabled,
            kinds=tuple(enums.ComplaintKind(kind) for kind in self.kinds),
            channels=tuple(enums.Channel(channel) for channel in self.channels),
            category_ids=_category_ids(self.category_ids),
            keywords=tuple(self.keywords),
            region_prefixes=tuple(self.region_prefixes),
            unit_id=_unit_id(self.unit_id),
            priority=enums.Priority(self.priority) if self.priority is not None else None,
            target_tenant=self.target_tenant,
            auto_apply=self.auto_apply,
        )


@strawberry.input(
    description=(
        "A change to a routing rule: a field left out stays as it is, an explicit null clears it "
        "(an empty list for conditions). Changing the action drops the old action's unit, priority "
        "or target. name, action, enabled and autoApply cannot be null."
    )
)
class UpdateRoutingRuleInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    action: RoutingAction | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET
    kinds: list[ComplaintKind] | None = strawberry.UNSET
    channels: list[Channel] | None = strawberry.UNSET
    category_ids: list[strawberry.ID] | None = strawberry.UNSET
    keywords: list[str] | None = strawberry.UNSET
    region_prefixes: list[str] | None = strawberry.UNSET
    unit_id: strawberry.ID | None = strawberry.UNSET
    priority: Priority | None = strawberry.UNSET
    target_tenant: str | None = strawberry.UNSET
    auto_apply: bool | None = strawberry.UNSET

    def to_domain(self) -> RulePatch:
        """Only the fields the client sent; strawberry's UNSET is what tells "absent" from null."""
        given: dict[str, Any] = {}
        for field in ("name", "action", "enabled", "auto_apply"):
            value = getattr(self, field)
            if value is None:
                graphql_name = to_camel_case(field)
                raise DomainError("NULL_NOT_ALLOWED", f"{graphql_name} cannot be cleared", graphql_name)
            if value is not strawberry.UNSET:
                given[field] = value
        if "action" in given:
            given["action"] = enums.RoutingAction(given["action"])
        if self.kinds is not strawberry.UNSET:
            given["kinds"] = tuple(enums.ComplaintKind(kind) for kind in self.kinds or ())
        if self.channels is not strawberry.UNSET:
            given["channels"] = tuple(enums.Channel(channel) for channel in self.channels or ())
        if self.category_ids is not strawberry.UNSET:
            given["category_ids"] = _category_ids(self.category_ids)
        if self.keywords is not strawberry.UNSET:
            given["keywords"] = tuple(self.keywords or ())
        if self.region_prefixes is not strawberry.UNSET:
            given["region_prefixes"] = tuple(self.region_prefixes or ())
        if self.unit_id is not strawberry.UNSET:
            given["unit_id"] = _unit_id(self.unit_id)
        if self.priority is not strawberry.UNSET:
            given["priority"] = enums.Priority(self.priority) if self.priority is not None else None
        if self.target_tenant is not strawberry.UNSET:
            given["target_tenant"] = self.target_tenant
        return RulePatch(**given)


@strawberry.input
class DeleteRoutingRuleInput:
    id: strawberry.ID


@strawberry.input(description="Every rule of the tenant, each exactly once, in the order wanted.")
class ReorderRoutingRulesInput:
    ids: list[strawberry.ID]

    def to_domain(self) -> list[int]:
        return [_int_id(value, "RoutingRule", "INVALID_ORDER", "ids") for value in self.ids]


@strawberry.input(description="A sample complaint to try the routing rules on.")
class RoutingPreviewInput:
    kind: ComplaintKind = enums.ComplaintKind.COMPLAINT
    channel: Channel = enums.Channel.WEB
    category_id: strawberry.ID | None = None
    title: str = ""
    body: str = ""
    region_code: str | None = None

    def to_domain(self) -> ComplaintFacts:
        category_id = None
        if self.category_id is not None:
            category_id = _int_id(self.category_id, "Category", "NOT_FOUND", "categoryId")
        region_code = (self.region_code or "").strip() or None
        return ComplaintFacts(
            kind=enums.ComplaintKind(self.kind),
            channel=enums.Channel(self.channel),
            category_id=category_id,
            title=self.title,
            body=self.body,
            region_code=region_code,
        )
