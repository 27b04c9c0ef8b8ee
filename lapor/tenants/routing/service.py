"""Routing rules in a tenant's schema: list, create, change, delete, reorder, preview.

Every function takes a connection that is already inside :func:`lapor.tenants.context.tenant_transaction`:
the caller owns the transaction, so a rule change and its audit row commit or roll back together,
and the two isolation walls (search path, tenant role) are already up. Nothing here reads
``public``: a tenant role cannot. That is why a ``TRANSFER_TO_TENANT`` target is only checked for
its *form* here; whether that tenant exists is for the caller, who holds the registry.

Writes need the scope ``routing:write``, reads ``routing:read`` (DESIGN.md section 6); the scope
is checked before the input, so a caller without the scope learns nothing from validation errors.
:func:`route` is the exception: the complaint services call it while a reporter or the system acts,
so it checks no scope and returns only the rule.

Error codes (``DomainError.code``, with ``field`` where one field is at fault):
``FORBIDDEN``, ``NOT_FOUND`` (rule id), ``INVALID_NAME``, ``INVALID_ACTION``, ``UNIT_REQUIRED``,
``UNIT_NOT_FOUND``, ``PRIORITY_REQUIRED``, ``INVALID_PRIORITY``, ``TARGET_TENANT_REQUIRED``,
``INVALID_TARGET_TENANT``, ``FIELD_NOT_ALLOWED`` (a field another action uses), ``INVALID_KIND``,
``INVALID_CHANNEL``, ``CATEGORY_NOT_FOUND``, ``INVALID_KEYWORD``, ``INVALID_REGION_PREFIX``,
``TOO_MANY_VALUES``, ``INVALID_ORDER``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.errors import DomainError
from lapor.tenants.actors import Actor
from lapor.tenants.enums import Channel, ComplaintKind, Priority, RoutingAction
from lapor.tenants.routing.matching import ComplaintFacts, RuleSpec, first_match, keyword_form
from lapor.tenants.tables import audit_event, category, routing_rule, unit
from lapor.tenants.validation import REGION_CODE_PATTERN, SLUG_PATTERN

READ_SCOPE: Final = "routing:read"
WRITE_SCOPE: Final = "routing:write"
ENTITY: Final = "routing_rule"

MAX_NAME_LENGTH: Final = 200
MAX_KEYWORD_LENGTH: Final = 100
MAX_LIST_LENGTH: Final = 50
_MAX_BIGINT: Final = 2**63 - 1

# The field each action needs; the others must stay empty so a stored rule never carries a
# unit it does not assign, which would confuse whoever reads the rule later.
_ACTION_FIELD: Final = {
    RoutingAction.ASSIGN_UNIT: "unit_id",
    RoutingAction.SET_PRIORITY: "priority",
    RoutingAction.TRANSFER_TO_TENANT: "target_tenant",
}


class RoutingError(DomainError):
    """A routing-rule request we refuse; ``code`` is stable, ``field`` names the input at fault."""


@dataclass(frozen=True)
class RuleInput:
    """A whole rule as an admin states it (create, or replace on update).

    Enum-valued fields accept the members or their names, so the GraphQL and CLI layers can pass
    what they received; everything is validated and normalized by the service.
    """

    name: str
    action: RoutingAction | str
    enabled: bool = True
    kinds: Sequence[ComplaintKind | str] = ()
    channels: Sequence[Channel | str] = ()
    category_ids: Sequence[int] = ()
    keywords: Sequence[str] = ()
    region_prefixes: Sequence[str] = ()
    unit_id: int | None = None
    priority: Priority | str | None = None
    target_tenant: str | None = None
    auto_apply: bool = False


class _Unset:
    """Marks a patch field the caller did not give (``None`` is a value: it clears a field)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()


@dataclass(frozen=True)
class RulePatch:
    """A partial change: only the fields given are changed, the stored rule supplies the rest.

    When the patch changes ``action``, the stored rule's action fields (unit, priority, target)
    are dropped first, so switching ASSIGN_UNIT -> SET_PRIORITY needs only the new priority.
    """

    name: str | _Unset = UNSET
    action: RoutingAction | str | _Unset = UNSET
    enabled: bool | _Unset = UNSET
    kinds: Sequence[ComplaintKind | str] | _Unset = UNSET
    channels: Sequence[Channel | str] | _Unset = UNSET
    category_ids: Sequence[int] | _Unset = UNSET
    keywords: Sequence[str] | _Unset = UNSET
    region_prefixes: Sequence[str] | _Unset = UNSET
    unit_id: int | _Unset | None = UNSET
    priority: Priority | str | _Unset | None = UNSET
    target_tenant: str | _Unset | None = UNSET
    auto_apply: bool | _Unset = UNSET

    def changes(self) -> dict[str, Any]:
        """The fields given, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not UNSET
        }


# ---------------------------------------------------------------------------------------------
# Validation: pure, input -> column values of routing_rule


def _check_name(name: object) -> str:
    cleaned = " ".join(name.split()) if isinstance(name, str) else ""
    if not cleaned:
        raise RoutingError("INVALID_NAME", "a rule needs a name", "name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise RoutingError("INVALID_NAME", f"name is longer than {MAX_NAME_LENGTH} characters", "name")
    return cleaned


_E = TypeVar("_E", RoutingAction, ComplaintKind, Channel, Priority)
_T = TypeVar("_T")


def _enum_value(enum_type: type[_E], value: object, code: str, field: str) -> _E:
    try:
        return enum_type(str(value).strip().upper())
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise RoutingError(code, f"{value!r} is not one of {allowed}", field) from None


def _check_length(values: Sequence[object], code: str, field: str) -> None:
    if isinstance(values, str):  # a lone string is a sequence too: refuse it rather than split it
        raise RoutingError(code, f"{field} must be a list, not one string", field)
    if len(values) > MAX_LIST_LENGTH:
        raise RoutingError("TOO_MANY_VALUES", f"at most {MAX_LIST_LENGTH} {field} per rule", field)


def _dedupe(values: Sequence[_T]) -> list[_T]:
    return list(dict.fromkeys(values))


def _check_keywords(keywords: Sequence[str]) -> list[str]:
    _check_length(keywords, "INVALID_KEYWORD", "keywords")
    cleaned: dict[str, str] = {}
    for keyword in keywords:
        text = " ".join(keyword.split()) if isinstance(keyword, str) else ""
        if not text:
            raise RoutingError("INVALID_KEYWORD", "keywords must not be empty", "keywords")
        if len(text) > MAX_KEYWORD_LENGTH:
            raise RoutingError(
                "INVALID_KEYWORD", f"keyword {text[:20]!r}... is longer than {MAX_KEYWORD_LENGTH}", "keywords"
            )
        folded = keyword_form(text)
        if folded is None:
            raise RoutingError("INVALID_KEYWORD", f"keyword {text!r} has no letters or digits", "keywords")
        cleaned.setdefault(folded, text)  # "Jalan" and "jalan" are one keyword: keep the first
    return list(cleaned.values())


def _check_region_prefixes(prefixes: Sequence[str]) -> list[str]:
    _check_length(prefixes, "INVALID_REGION_PREFIX", "region_prefixes")
    cleaned = []
    for prefix in prefixes:
        text = prefix.strip() if isinstance(prefix, str) else ""
        if not REGION_CODE_PATTERN.fullmatch(text):
            raise RoutingError(
                "INVALID_REGION_PREFIX",
                f"{prefix!r} is not a Kemendagri region code such as '53' or '53.71'",
                "region_prefixes",
            )
        cleaned.append(text)
    return _dedupe(cleaned)


def _check_id(value: object, code: str, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_BIGINT:
        raise RoutingError(code, f"there is no {what} {value!r}", field)
    return value


def _check_action_fields(action: RoutingAction, data: RuleInput) -> dict[str, Any]:
    values: dict[str, Any] = {"unit_id": None, "priority": None, "target_tenant": None}
    needed = _ACTION_FIELD[action]
    for other_action, other_field in _ACTION_FIELD.items():
        if other_action is not action and getattr(data, other_field) is not None:
            raise RoutingError(
                "FIELD_NOT_ALLOWED",
                f"{other_field} is not used by a {action.value} rule; leave it empty",
                other_field,
            )
    given = getattr(data, needed)
    if action is RoutingAction.ASSIGN_UNIT:
        if given is None:
            raise RoutingError("UNIT_REQUIRED", "an ASSIGN_UNIT rule needs the unit to assign", "unit_id")
        values["unit_id"] = _check_id(given, "UNIT_NOT_FOUND", "unit_id", "unit")
    elif action is RoutingAction.SET_PRIORITY:
        if given is None:
            raise RoutingError("PRIORITY_REQUIRED", "a SET_PRIORITY rule needs the priority", "priority")
        values["priority"] = _enum_value(Priority, given, "INVALID_PRIORITY", "priority").value
    else:
        if given is None:
            raise RoutingError(
                "TARGET_TENANT_REQUIRED", "a TRANSFER_TO_TENANT rule needs the target tenant", "target_tenant"
            )
        slug = given.strip().lower() if isinstance(given, str) else ""
        if not SLUG_PATTERN.fullmatch(slug):
            raise RoutingError(
                "INVALID_TARGET_TENANT",
                f"{given!r} is not a tenant slug such as 'kupang-kota'",
                "target_tenant",
            )
        values["target_tenant"] = slug
    return values


def validate(data: RuleInput) -> dict[str, Any]:
    """Check and normalize ``data`` into ``routing_rule`` column values, without the database.

    Normalizing (names and keywords with single spaces, enum names upper-cased, duplicates
    dropped in order) means what is stored is what matching sees and what the admin reads back.
    References (unit, categories) are checked by the service afterwards.
    """
    name = _check_name(data.name)
    action = _enum_value(RoutingAction, data.action, "INVALID_ACTION", "action")
    values = _check_action_fields(action, data)
    _check_length(data.kinds, "INVALID_KIND", "kinds")
    _check_length(data.channels, "INVALID_CHANNEL", "channels")
    _check_length(data.category_ids, "CATEGORY_NOT_FOUND", "category_ids")
    kinds = _dedupe([_enum_value(ComplaintKind, v, "INVALID_KIND", "kinds").value for v in data.kinds])
    channels = _dedupe([_enum_value(Channel, v, "INVALID_CHANNEL", "channels").value for v in data.channels])
    category_ids = _dedupe(
        [_check_id(v, "CATEGORY_NOT_FOUND", "category_ids", "category") for v in data.category_ids]
    )
    return {
        "name": name,
        "enabled": bool(data.enabled),
        "match_kinds": kinds,
        "match_channels": channels,
        "match_category_ids": category_ids,
        "match_keywords": _check_keywords(data.keywords),
        "match_region_prefixes": _check_region_prefixes(data.region_prefixes),
        "action": action.value,
        "auto_apply": bool(data.auto_apply),
        **values,
    }


def _input_from(rule: RuleSpec) -> RuleInput:
    return RuleInput(
        name=rule.name,
        action=rule.action,
        enabled=rule.enabled,
        kinds=rule.kinds,
        channels=rule.channels,
        category_ids=rule.category_ids,
        keywords=rule.keywords,
        region_prefixes=rule.region_prefixes,
        unit_id=rule.unit_id,
        priority=rule.priority,
        target_tenant=rule.target_tenant,
        auto_apply=rule.auto_apply,
    )


# ---------------------------------------------------------------------------------------------
# Database helpers


async def _check_references(conn: AsyncConnection, values: dict[str, Any], previous: RuleSpec | None) -> None:
    """The unit must exist and be active; the categories must exist.

    Only references the change *introduces* are checked: a rule whose unit was deactivated
    later must still be editable (renamed, disabled) without first choosing another unit.
    """
    unit_id = values["unit_id"]
    unchanged_unit = previous is not None and previous.unit_id == unit_id
    if unit_id is not None and not unchanged_unit:
        active = await conn.scalar(sa.select(unit.c.is_active).where(unit.c.id == unit_id))
        if not active:
            raise RoutingError("UNIT_NOT_FOUND", f"there is no active unit {unit_id}", "unit_id")
    known = set(previous.category_ids) if previous is not None else set()
    new_ids = [value for value in values["match_category_ids"] if value not in known]
    if new_ids:
        found = set((await conn.scalars(sa.select(category.c.id).where(category.c.id.in_(new_ids)))).all())
        missing = [value for value in new_ids if value not in found]
        if missing:
            listed = ", ".join(str(value) for value in missing)
            raise RoutingError("CATEGORY_NOT_FOUND", f"there is no category {listed}", "category_ids")


async def _lock_order(conn: AsyncConnection) -> None:
    """Serialize the writers that depend on the whole list (create's max+1, reorder's "every rule
    exactly once") so two of them never hand out one position or lose a rule. Readers (list,
    preview, routing at submission) take ACCESS SHARE and are never blocked by it."""
    await conn.execute(sa.text("LOCK TABLE routing_rule IN SHARE ROW EXCLUSIVE MODE"))


async def _audit(
    conn: AsyncConnection, actor: Actor, action: str, entity_id: int | None, details: dict[str, Any]
) -> None:
    await conn.execute(
        audit_event.insert().values(
            actor=actor.label, action=action, entity=ENTITY, entity_id=entity_id, details=details
        )
    )


async def _fetch(conn: AsyncConnection, rule_id: int, *, for_update: bool = False) -> RuleSpec:
    if isinstance(rule_id, bool) or not isinstance(rule_id, int) or not 0 < rule_id <= _MAX_BIGINT:
        raise RoutingError("NOT_FOUND", f"there is no routing rule {rule_id!r}", "id")
    query = sa.select(routing_rule).where(routing_rule.c.id == rule_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise RoutingError("NOT_FOUND", f"there is no routing rule {rule_id}", "id")
    return RuleSpec.from_row(row)


_ORDERED = (routing_rule.c.position, routing_rule.c.id)


async def load_rules(conn: AsyncConnection, *, enabled_only: bool = False) -> list[RuleSpec]:
    """All rules in evaluation order, with no scope check: for code acting as the system."""
    query = sa.select(routing_rule).order_by(*_ORDERED)
    if enabled_only:
        query = query.where(routing_rule.c.enabled)
    return [RuleSpec.from_row(row) for row in await conn.execute(query)]


# ---------------------------------------------------------------------------------------------
# Public operations


async def list_rules(conn: AsyncConnection, actor: Actor) -> list[RuleSpec]:
    """The tenant's rules in evaluation order (disabled ones included, for the admin screen)."""
    actor.require(READ_SCOPE)
    return await load_rules(conn)


async def get_rule(conn: AsyncConnection, actor: Actor, rule_id: int) -> RuleSpec:
    """One rule, or ``NOT_FOUND``."""
    actor.require(READ_SCOPE)
    return await _fetch(conn, rule_id)


async def create_rule(conn: AsyncConnection, actor: Actor, data: RuleInput) -> RuleSpec:
    """Add a rule at the end of the list (position = max + 1), audited as ``routing_rule.create``."""
    actor.require(WRITE_SCOPE)
    values = validate(data)
    await _check_references(conn, values, previous=None)
    await _lock_order(conn)
    position = await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(routing_rule.c.position), 0) + 1))
    row = (
        await conn.execute(routing_rule.insert().values(position=position, **values).returning(routing_rule))
    ).one()
    rule = RuleSpec.from_row(row)
    await _audit(conn, actor, "routing_rule.create", rule.id, {"before": None, "after": rule.as_json()})
    return rule


async def update_rule(
    conn: AsyncConnection, actor: Actor, rule_id: int, changes: RuleInput | RulePatch
) -> RuleSpec:
    """Replace a rule (``RuleInput``) or change some of its fields (``RulePatch``); the position
    stays (use :func:`reorder_rules`). Audited as ``routing_rule.update`` with before, after and
    the names of the changed fields; an update that changes nothing is still audited (someone
    saved the rule, and the log says so)."""
    actor.require(WRITE_SCOPE)
    before = await _fetch(conn, rule_id, for_update=True)
    if isinstance(changes, RuleInput):
        merged = changes
    else:
        patch = changes.changes()
        base = _input_from(before)
        if "action" in patch and str(patch["action"]).strip().upper() != before.action.value:
            base = dataclasses.replace(base, unit_id=None, priority=None, target_tenant=None)
        merged = dataclasses.replace(base, **patch)
    values = validate(merged)
    await _check_references(conn, values, previous=before)
    row = (
        await conn.execute(
            routing_rule.update()
            .where(routing_rule.c.id == before.id)
            .values(updated_at=sa.func.now(), **values)
            .returning(routing_rule)
        )
    ).one()
    after = RuleSpec.from_row(row)
    old, new = before.as_json(), after.as_json()
    changed = [key for key in new if old[key] != new[key]]
    await _audit(
        conn, actor, "routing_rule.update", after.id, {"before": old, "after": new, "changed": changed}
    )
    return after


async def delete_rule(conn: AsyncConnection, actor: Actor, rule_id: int) -> RuleSpec:
    """Delete a rule and return it as it was; audited as ``routing_rule.delete``.

    Complaints that recorded it as their proposed rule keep their disposition; the reference
    is cleared by the foreign key (ON DELETE SET NULL). Positions of the others are left as they
    are: gaps do not change the order.
    """
    actor.require(WRITE_SCOPE)
    before = await _fetch(conn, rule_id, for_update=True)
    await conn.execute(routing_rule.delete().where(routing_rule.c.id == before.id))
    await _audit(conn, actor, "routing_rule.delete", before.id, {"before": before.as_json(), "after": None})
    return before


async def reorder_rules(conn: AsyncConnection, actor: Actor, ordered_ids: Sequence[int]) -> list[RuleSpec]:
    """Put the rules in the order given (positions become 1..n); audited as ``routing_rule.reorder``.

    ``ordered_ids`` must name every rule of the tenant exactly once (``INVALID_ORDER`` otherwise):
    a partial list would leave the others' places ambiguous, and a stale list (a rule added or
    deleted meanwhile) must not silently misplace rules.
    """
    actor.require(WRITE_SCOPE)
    await _lock_order(conn)
    current = list((await conn.scalars(sa.select(routing_rule.c.id).order_by(*_ORDERED))).all())
    wanted = list(ordered_ids)
    known, given = set(current), set(wanted)
    problems = []
    duplicates = [value for value, count in Counter(wanted).items() if count > 1]
    if duplicates:
        problems.append(f"listed more than once: {', '.join(map(str, duplicates))}")
    unknown = [value for value in given if value not in known]
    if unknown:
        problems.append(f"not rules of this tenant: {', '.join(map(str, unknown))}")
    missing = [value for value in current if value not in given]
    if missing:
        problems.append(f"missing: {', '.join(map(str, missing))}")
    if problems:
        raise RoutingError(
            "INVALID_ORDER",
            "the order must list every rule exactly once; " + "; ".join(problems),
            "ordered_ids",
        )
    order = (
        sa.func.unnest(sa.bindparam("ids", wanted, type_=ARRAY(sa.BigInteger)))
        .table_valued("id", with_ordinality="ord")
        .render_derived(name="wanted")
    )
    await conn.execute(
        routing_rule.update()
        .where(routing_rule.c.id == order.c.id, routing_rule.c.position.is_distinct_from(order.c.ord))
        .values(position=order.c.ord, updated_at=sa.func.now())
    )
    await _audit(conn, actor, "routing_rule.reorder", None, {"before": current, "after": wanted})
    return await load_rules(conn)


async def preview(conn: AsyncConnection, actor: Actor, facts: ComplaintFacts) -> RuleSpec | None:
    """``routingPreview``: the rule a complaint like ``facts`` would get; reads only, writes nothing."""
    actor.require(READ_SCOPE)
    return await route(conn, facts)


async def route(conn: AsyncConnection, facts: ComplaintFacts) -> RuleSpec | None:
    """The first enabled rule matching ``facts``, for submission and verification (no scope check:
    the system decides, whoever submitted). Reads only."""
    return first_match(await load_rules(conn, enabled_only=True), facts)
