"""What PostgreSQL cannot store never reaches a resolver: checked once, at the GraphQL boundary.

Issue 9 item 8: a NUL byte in any string (a search term, a tracking id, a title) or an id above
PostgreSQL's ``bigint`` made the driver raise deep inside a resolver, which answered
``INTERNAL_SERVER_ERROR`` and logged a 60-line traceback. Every resolver would have to remember
the same checks; instead ``InputBounds`` looks at the whole request once, after validation and
before execution, and answers ``INVALID_INPUT`` naming the argument or variable:

* strings (literals, variables, at any depth of an input object or list) must not contain NUL
  and must be valid UTF-8 (JSON lets a lone surrogate through; PostgreSQL refuses it);
* integers anywhere must fit a ``bigint`` (GraphQL's ``Int`` is 32-bit and graphql-core refuses
  larger ones itself, as ``BAD_USER_INPUT``; this catches what is larger still, and ids);
* an ``ID`` whose key is a number (``Complaint:123``) must fit a ``bigint`` too.

It also recodes validation errors that carry an exception (a custom scalar's parser refusing a
literal) as ``GRAPHQL_VALIDATION_FAILED``: they are the caller's mistake, not incidents.
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    IntValueNode,
    Node,
    ObjectFieldNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    type_from_ast,
    visit,
)
from strawberry.extensions import SchemaExtension

from lapor.platform.errors import DomainError
from lapor.schema.limits import operation_of

BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)
_MAX_WALK = 10_000
"""Values looked at per variable at most: bodies are limited to 256 KiB anyway."""

assert GRAPHQL_MAX_INT < BIGINT_MAX


@dataclass(frozen=True)
class Problem:
    message: str
    where: str
    """The argument, or the variable with the path inside it (``i.reporter.name``)."""
    variable: str | None = None
    node: Node | None = None

    def error(self) -> GraphQLError:
        extensions: dict[str, Any] = {"code": "INVALID_INPUT", "field": self.where}
        if self.variable is not None:
            extensions["variable"] = self.variable
        return GraphQLError(self.message, self.node, extensions=extensions)


def string_problem(value: str) -> str | None:
    if "\x00" in value:
        return (
            "Masukan tidak sah: teks tidak boleh memuat karakter NUL (U+0000) "
            "(invalid input: text must not contain the NUL character)"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "Masukan tidak sah: teks bukan UTF-8 yang benar (invalid input: text is not valid UTF-8, "
            "e.g. a lone surrogate)"
        )
    return None


def integer_problem(value: int) -> str | None:
    if BIGINT_MIN <= value <= BIGINT_MAX:
        return None
    return (
        f"Masukan tidak sah: bilangan di luar rentang {BIGINT_MIN}..{BIGINT_MAX} "
        f"(invalid input: integer out of range)"
    )


def id_problem(value: str) -> str | None:
    """A global id whose numeric key does not fit a ``bigint`` (other malformed ids are the
    resolvers' ``NOT_FOUND``: they can never match a row, and decoding them raises nothing)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    _type, sep, key = raw.partition(":")
    if not sep or not key.isdigit():
        return None
    try:
        number = int(key)
    except ValueError:
        return None
    if number <= BIGINT_MAX:
        return None
    return "Masukan tidak sah: id di luar rentang (invalid input: id out of range)"


def _is_id(type_: GraphQLInputType | None) -> bool:
    return type_ is not None and get_named_type(type_) is GraphQLID


def variable_problem(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
) -> Problem | None:
    operation = operation_of(document, operation_name)
    if operation is None:
        return None
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables:
            continue
        try:
            declared = type_from_ast(schema, definition.type)
        except (GraphQLError, TypeError, KeyError):
            declared = None
        for path, message in _walk(variables[name], declared, name):
            return Problem(message, path, variable=name, node=definition)
    return None


def _walk(value: Any, type_: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, problem) of every bad value inside ``value``; an explicit stack, never recursion."""
    stack: list[tuple[Any, Any, str]] = [(value, type_, path)]
    seen = 0
    while stack and seen < _MAX_WALK:
        seen += 1
        value, type_, path = stack.pop()
        while isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(value, str):
            problem = string_problem(value) or (id_problem(value) if _is_id(type_) else None)
            if problem:
                yield path, problem
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            problem = integer_problem(value)
            if problem:
                yield path, problem
        elif isinstance(value, list):
            item = type_.of_type if isinstance(type_, GraphQLList) else None
            stack.extend((v, item, f"{path}.{i}") for i, v in enumerate(value))
        elif isinstance(value, dict):
            fields = type_.fields if isinstance(type_, GraphQLInputObjectType) else {}
            for key, inner in value.items():
                if isinstance(key, str) and (problem := string_problem(key)):
                    yield path, problem
                    continue
                field = fields.get(key)
                stack.append((inner, field.type if field is not None else None, f"{path}.{key}"))


class _LiteralChecker(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.problem: Problem | None = None
        self.path: list[str] = []
        """The argument and input fields around the value being looked at."""

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> None:
        self.path.append(node.name.value)

    def leave_argument(self, *_args: Any) -> None:
        self.path.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_args: Any) -> None:
        self.path.append(node.name.value)

    def leave_object_field(self, *_args: Any) -> None:
        self.path.pop()

    def _where(self) -> str:
        return ".".join(self.path) or "argument"

    def _found(self, message: str, node: Node) -> Any:
        self.problem = Problem(message, self._where(), node=node)
        return self.BREAK

    def enter_string_value(self, node: StringValueNode, *_args: Any) -> Any:
        problem = string_problem(node.value)
        if problem is None and _is_id(self.type_info.get_input_type()):
            problem = id_problem(node.value)
        return self._found(problem, node) if problem else None

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> Any:
        try:
            number = int(node.value)
        except ValueError:
            return None
        problem = integer_problem(number)
        return self._found(problem, node) if problem else None


def literal_problem(schema: GraphQLSchema, document: DocumentNode) -> Problem | None:
    type_info = TypeInfo(schema)
    checker = _LiteralChecker(type_info)
    visit(document, TypeInfoVisitor(type_info, checker))
    return checker.problem


_LITERALS: OrderedDict[tuple[int, str], Problem | None] = OrderedDict()
_LITERALS_SIZE = 512


def _cached_literal_problem(schema: GraphQLSchema, query: str, document: DocumentNode) -> Problem | None:
    """Per query text, like strawberry's parser and validation caches (keyed by the text, never
    by the document: hashing a node walks the whole tree)."""
    key = (id(schema), query)
    if key in _LITERALS:
        _LITERALS.move_to_end(key)
        return _LITERALS[key]
    problem = literal_problem(schema, document)
    _LITERALS[key] = problem
    if len(_LITERALS) > _LITERALS_SIZE:
        _LITERALS.popitem(last=False)
    return problem


class InputBounds(SchemaExtension):
    """Runs in the validation step, after ``ValidationCache`` (listed before it) has set the
    validation errors: strawberry looks at them before the step's hooks exit, so this must act
    before it yields. A problem found here replaces them and validation is not run again."""

    def on_validate(self) -> Iterator[None]:
        self._check()
        yield

    def _check(self) -> None:
        context = self.execution_context
        document = context.graphql_document
        if document is None:
            return
        schema = context.schema._schema
        if context.query is not None:
            problem = _cached_literal_problem(schema, context.query, document)
        else:
            problem = literal_problem(schema, document)
        if problem is None and context.variables:
            problem = variable_problem(schema, document, context.operation_name, context.variables)
        if problem is not None:
            context.pre_execution_errors = [problem.error()]
        elif context.pre_execution_errors:
            context.pre_execution_errors = [_as_validation(e) for e in context.pre_execution_errors]


def _as_validation(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if original is None or isinstance(original, DomainError):
        return error
    return GraphQLError(
        error.message,
        error.nodes,
        error.source,
        error.positions,
        error.path,
        extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
    )
