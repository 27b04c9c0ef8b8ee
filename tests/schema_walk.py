"""Walking the whole schema in tests: every field, nested, with its arguments given, never skipped;
and planted personal data looked for, exactly, in what comes back.

Why a walk and not a hand-written selection: a field added to a public type later (say a
``contactHint`` on ``PublicComplaint``) is selected by the walk on the day it appears, so a test
that checks answers for planted data catches it without anyone remembering to update the test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    Undefined,
)

from lapor.schema import schema


@dataclass(frozen=True)
class Planted:
    """A reporter's personal data, planted to be looked for in every answer."""

    name: str
    phone: str
    email: str

    def reporter(self) -> dict[str, str]:
        return {"name": self.name, "phone": self.phone, "email": self.email}

    def forms(self) -> tuple[str, ...]:
        """The exact values, and the bare subscriber number (``81300000001`` is inside
        ``+6281300000001``, ``6281300000001`` and ``081300000001``), all casefolded."""
        return tuple(
            f.casefold() for f in (self.name, self.phone, self.phone.removeprefix("+62"), self.email)
        )

    def found_in(self, body: object) -> list[str]:
        """Every planted value the answer (a decoded body, or its raw text) shows."""
        text = (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).casefold()
        return [form for form in self.forms() if form in text]


class Bare(str):
    """An enum value: written into a query without quotes."""


def literal(value: object) -> str:
    """A GraphQL literal for a Python value (dicts as input objects, ``Bare`` as enum values)."""
    if isinstance(value, Bare):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def field_selection(
    type_name: str, name: str, depth: int, arguments: dict[str, dict], alias: str = ""
) -> str | None:
    """One field with its arguments and (for objects) everything beneath it; None past ``depth``.

    A field is never skipped for its arguments: ``arguments["Type.field"]`` gives them, and a
    required argument that is not given fails the walk, so a new field is walked or the test says
    why not. Connections get a small ``first`` to stay under the cost limit; ``alias`` (inside a
    fragment) keeps same-named fields of different types from conflicting."""
    graphql_type = schema._schema.get_type(type_name)
    assert isinstance(graphql_type, GraphQLObjectType), type_name
    field = graphql_type.fields[name]
    given = dict(arguments.get(f"{type_name}.{name}", {}))
    if "first" in field.args:
        given.setdefault("first", 5)
    missing = [
        arg_name
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined and arg_name not in given
    ]
    assert not missing, f"{type_name}.{name} needs {missing}: give them in the walk's arguments"
    call = alias + name
    if given:
        call += "(" + ", ".join(f"{k}: {literal(v)}" for k, v in given.items()) + ")"
    inner = field.type
    while isinstance(inner, GraphQLNonNull | GraphQLList):
        inner = inner.of_type
    if not isinstance(inner, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
        return call
    if depth <= 0:
        return None
    return f"{call} {{ {select_everything(inner.name, depth - 1, arguments)} }}"


def select_everything(
    type_name: str,
    depth: int = 4,
    arguments: dict[str, dict] | None = None,
    alias: frozenset[str] | set[str] = frozenset(),
) -> str:
    """Every field of ``type_name`` (an interface or union: each of its types), ``depth`` levels."""
    arguments = arguments or {}
    graphql_type = schema._schema.get_type(type_name)
    if isinstance(graphql_type, GraphQLInterfaceType | GraphQLUnionType):
        kinds = schema._schema.get_possible_types(graphql_type)
        types_of: dict[str, set[str]] = {}
        for kind in kinds:
            for name, field in kind.fields.items():
                types_of.setdefault(name, set()).add(str(field.type))
        clashing = {name for name, types in types_of.items() if len(types) > 1}
        return "__typename " + " ".join(
            f"... on {kind.name} {{ {select_everything(kind.name, depth, arguments, clashing)} }}"
            for kind in kinds
        )
    assert isinstance(graphql_type, GraphQLObjectType), type_name
    parts = [
        field_selection(type_name, name, depth, arguments, f"{type_name}_{name}: " if name in alias else "")
        for name in graphql_type.fields
    ]
    return " ".join(part for part in parts if part) or "__typename"


def root_queries(
    tracking_id: str, access_code: str, global_id: str, depth: int = 5, page: int = 5
) -> dict[str, str]:
    """One query per root field (a refused field cannot hide what the others answer), each given
    one complaint's own arguments so the walk gets past NOT_FOUND and into its data; root lists
    ask for ``page`` items (nested ones for 5)."""
    query = schema._schema.query_type
    assert query is not None
    arguments: dict[str, dict] = {
        f"Query.{name}": {"first": page} for name, f in query.fields.items() if "first" in f.args
    }
    arguments |= {
        "Query.node": {"id": global_id},
        "Query.complaint": {"trackingId": tracking_id},
        "Query.publicComplaint": {"trackingId": tracking_id},
        "Query.trackComplaint": {"trackingId": tracking_id, "accessCode": access_code},
        "Query.locateComplaint": {"trackingId": tracking_id},
        "Query.routingPreview": {"input": {"title": "Pungli di kantor kelurahan", "body": "Diminta uang."}},
        "Query.nationalStats": {"groupBy": Bare("TENANT")},
    }
    return {
        name: "{ " + str(field_selection(query.name, name, depth, arguments)) + " }" for name in query.fields
    }
