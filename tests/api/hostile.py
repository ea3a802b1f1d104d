"""Hostile input for the property-based tests: values for every GraphQL input type, operations built by walking
the schema's introspection (so a new field or argument is covered without touching the tests), and the one
check every answer must pass whatever was sent."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    IntrospectionQuery,
    Lexer,
    Source,
    TokenKind,
    build_client_schema,
    get_named_type,
    get_nullable_type,
)
from hypothesis import strategies as st

from ideaengine.platform import ids
from ideaengine.platform.settings import MAX_TOKENS

HOSTILE_CHARACTERS = (
    "\x00\x01\x08\x0b\x1b\x7f\x85\t\n\r"  # NUL and other controls (PostgreSQL refuses a NUL in any string)
    "\u200b\u200c\u200d\u2060\ufeff"  # invisible
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi marks and controls
    "²³¹٣६１߀𝟘\u0f20"  # digits of other scripts (int() reads some, str.isdigit() more)
    "\u0301\u05d0\u0627\u4e2d🙂\ufffd\ufffe\uffff\U0010ffff"  # combining, right-to-left, wide, non-characters
    "%_\\'\"`;:/-.@ "  # LIKE wildcards, quotes, separators
)
NAMES = ("Idea", "Board", "User", "Comment", "Notification", "Webhook", "WebhookDelivery", "Nope", "")


@functools.cache
def characters() -> st.SearchStrategy[str]:
    """Any code point, lone surrogates included, with the troublesome ones drawn often."""
    return st.one_of(st.sampled_from(HOSTILE_CHARACTERS), st.characters(exclude_categories=()))


@functools.cache
def texts(long: bool = True) -> st.SearchStrategy[str]:
    """Short odd strings, plausible ones, and long ones at the edges of the input rules (repeated, so they cost
    nothing to draw; bodies past the request limit are test_http's, not worth drawing here)."""
    short = st.one_of(
        st.text(characters(), max_size=24),
        st.sampled_from(["", " ", "ab", "Oat milk in every store", "acme", "ideas", "http://127.0.0.1:1/x"]),
    )
    if not long:
        return short
    return short | st.builds(
        lambda chunk, n: chunk * n,
        st.text(characters(), min_size=1, max_size=3),
        st.sampled_from([41, 199, 201, 2_001, 5_001, 10_001]),
    )


@functools.cache
def numbers() -> st.SearchStrategy[int]:
    """Page sizes most often, then the 32- and 64-bit edges and beyond."""
    return st.one_of(
        st.integers(-2, 30),
        st.sampled_from([100, 101, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**30]),
        st.integers(),
    )


@functools.cache
def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), numbers(), st.floats(allow_nan=False, allow_infinity=False), texts(long=False)
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(long=False), inner, max_size=3)
    )


ID_TYPES = {"board": "Board", "idea": "Idea", "winner": "Idea", "loser": "Idea", "source": "Idea", "target": "Idea"}
"An ID argument's type, guessed from its name (`boardId`, `winnerId`...), so that real ids reach the rules."


@functools.cache
def global_ids(name: str = "") -> st.SearchStrategy[str]:
    """Real ids of the seeded rows (of the type the name suggests), ids of every type with odd keys, and strings
    that are not ids at all."""
    keys = st.one_of(numbers().map(str), st.text(characters(), max_size=12), st.sampled_from(["²", "1e3", " 1", "-1"]))
    guessed = _id_type(name)
    real = st.builds(ids.global_id, st.sampled_from(NAMES[:5]), st.integers(1, 6))
    if guessed is not None:
        real = real | st.builds(ids.global_id, st.just(guessed), st.integers(1, 4))
    return st.one_of(
        real,
        st.builds(_raw_id, st.sampled_from(NAMES), keys),
        texts(long=False),
    )


def _raw_id(name: str, key: str) -> str:
    """An id's encoding of any text, lone surrogates included (as a client's own encoder might write them)."""
    return base64.urlsafe_b64encode(f"{name}:{key}".encode("utf-8", "surrogatepass")).decode().rstrip("=")


def _id_type(name: str) -> str | None:
    return next((t for prefix, t in ID_TYPES.items() if name.lower().startswith(prefix)), None)


REAL_CURSORS: list[str] = []
"Cursors the seeded data answered with, harvested by the tests' fixture: drawn as they are and with odd keys."


def _real_cursor(index: int, position: int, value: Any, mutate: bool) -> str:
    if not REAL_CURSORS:
        return ""
    cursor = REAL_CURSORS[index % len(REAL_CURSORS)]
    if not mutate:
        return cursor
    key = json.loads(ids.decode_text(cursor) or "[]")
    key[1 + position % (len(key) - 1)] = value  # key[0] binds the cursor to its list: keep it
    return ids.encode_text(json.dumps(key))


@functools.cache
def cursors() -> st.SearchStrategy[str]:
    """Real cursors, real cursors with a hostile value in place of one of their keys, and strings that are not
    cursors (text, and base64 of any JSON)."""
    odd_keys = st.one_of(numbers(), json_values(), st.sampled_from([1e308, "9999-12-31T23:59:59+14:00", "2026-13-01"]))
    return st.one_of(
        st.builds(_real_cursor, st.integers(0, 99), st.integers(0, 9), odd_keys, st.booleans()),
        st.builds(lambda value: ids.encode_text(json.dumps(value)), json_values()),
        texts(long=False),
    )


def harvest_cursors(answer: Any) -> list[str]:
    """Every cursor in a GraphQL answer."""
    if isinstance(answer, dict):
        own = [v for k, v in answer.items() if k in ("cursor", "startCursor", "endCursor") and isinstance(v, str)]
        return own + [c for v in answer.values() for c in harvest_cursors(v)]
    if isinstance(answer, list):
        return [c for v in answer for c in harvest_cursors(v)]
    return []


@functools.cache
def values(kind: GraphQLInputType, name: str = "", depth: int = 0, long: bool = True) -> st.SearchStrategy[Any]:
    """A JSON value for a variable of `kind`: mostly of the right type with hostile content, sometimes null or
    of another type altogether (the server must say which variable is wrong)."""
    wrong = json_values() if depth < 2 and long else st.none()
    if isinstance(kind, GraphQLNonNull):
        inner = values(kind.of_type, name, depth, long)
        return inner | st.none() if depth == 0 else inner
    if isinstance(kind, GraphQLList):
        items = values(kind.of_type, name, depth + 1, long)
        short = values(kind.of_type, name, depth + 1, long=False)
        many = st.builds(lambda item, n: [item] * n, short, st.sampled_from([11, 1_000, 30_000]))
        return st.none() | st.lists(items, max_size=4) | many | items | wrong
    if isinstance(kind, GraphQLInputObjectType):
        required = {
            k: values(f.type, k, depth + 1) for k, f in kind.fields.items() if isinstance(f.type, GraphQLNonNull)
        }
        optional = {k: values(f.type, k, depth + 1) for k, f in kind.fields.items() if k not in required}
        return st.fixed_dictionaries(required, optional=optional) | wrong
    if isinstance(kind, GraphQLEnumType):
        return st.sampled_from(sorted(kind.values)) | st.none() | texts(long)
    assert isinstance(kind, GraphQLScalarType), kind
    lowered = name.lower()
    chosen: st.SearchStrategy[Any]
    if kind.name == "ID":
        chosen = global_ids(name)
    elif kind.name == "String" and lowered in ("after", "before"):
        chosen = cursors()
    elif kind.name == "String":
        chosen = texts(long)
    elif kind.name == "Int":
        chosen = numbers()
    elif kind.name == "Float":
        chosen = st.floats(allow_nan=False, allow_infinity=False)
    elif kind.name == "Boolean":
        chosen = st.booleans()
    else:
        chosen = texts(long)
    return st.none() | chosen | wrong if depth == 0 else chosen | wrong


PLAUSIBLE = {"workspace": "acme", "slug": "ideas", "text": "oat milk", "url": "https://example.com/hook"}
"Values for required String arguments that find the seeded rows (the fixtures' workspace `acme`, board `ideas`)."


@dataclass(frozen=True, eq=False)
class Operation:
    """One root field with every argument (its own and its selection's) taken from a variable."""

    name: str
    document: str
    variables: Mapping[str, GraphQLInputType]

    def variables_strategy(self) -> st.SearchStrategy[dict[str, Any]]:
        return _variables(self)

    def plausible_variables(self) -> dict[str, Any]:
        """Required arguments that find the seeded rows, optional ones left to their defaults."""
        return {
            var: plausible(kind, var.rpartition("_")[2])
            for var, kind in self.variables.items()
            if isinstance(kind, GraphQLNonNull)
        }


def plausible(kind: GraphQLInputType, name: str) -> Any:
    """A value a well-behaved client would send, finding the seeded rows (the fixtures' `acme`, `ideas`)."""
    kind = get_nullable_type(kind)  # type: ignore[assignment]
    if isinstance(kind, GraphQLList):
        return [plausible(kind.of_type, name)]
    if isinstance(kind, GraphQLInputObjectType):
        return {k: plausible(f.type, k) for k, f in kind.fields.items() if isinstance(f.type, GraphQLNonNull)}
    if isinstance(kind, GraphQLEnumType):
        return sorted(kind.values)[0]
    assert isinstance(kind, GraphQLScalarType), kind
    if kind.name == "ID":
        return ids.global_id(_id_type(name) or "Idea", 1)
    return {"Int": 5, "Float": 0.5, "Boolean": True}.get(kind.name, PLAUSIBLE.get(name, "Oat milk in every store"))


@functools.cache
def _variables(op: Operation) -> st.SearchStrategy[dict[str, Any]]:
    """Anything in any argument, or (so that input gets past NOT_FOUND to the rules) a plausible request with
    one hostile argument or input field. Built once per operation: building costs more than drawing."""
    anything = st.fixed_dictionaries({}, optional={k: values(t, k.rpartition("_")[2]) for k, t in op.variables.items()})
    base = op.plausible_variables()
    one_hostile: list[st.SearchStrategy[dict[str, Any]]] = []
    for var, kind in op.variables.items():
        name, inner = var.rpartition("_")[2], get_nullable_type(kind)
        one_hostile.append(values(kind, name).map(functools.partial(_put, base, var)))
        if isinstance(inner, GraphQLInputObjectType):
            sane = plausible(inner, name)
            for field_name, field in inner.fields.items():
                into_input = functools.partial(_put, sane, field_name)
                one_hostile.append(
                    values(field.type, field_name, depth=1).map(into_input).map(functools.partial(_put, base, var))
                )
    return anything | st.one_of(one_hostile) if one_hostile else anything


def _put(into: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**into, key: value}


class _Builder:
    """Selections down to a few levels, each object type once per path, every field argument a variable."""

    MAX_DEPTH = 4

    def __init__(self, schema: GraphQLSchema | None = None, max_depth: int = MAX_DEPTH) -> None:
        self.schema = schema
        self.max_depth = max_depth
        self.variables: dict[str, GraphQLInputType] = {}

    def field(
        self, name: str, field: GraphQLField, path: str, depth: int, seen: frozenset[str], alias: str = ""
    ) -> str | None:
        named = get_named_type(field.type)
        arguments = []
        for arg_name, arg in field.args.items():
            var = f"{path}_{arg_name}"
            self.variables[var] = arg.type
            arguments.append(f"{arg_name}: ${var}")
        head = (f"{alias}_{name}: " if alias else "") + name + (f"({', '.join(arguments)})" if arguments else "")
        if isinstance(named, GraphQLScalarType | GraphQLEnumType):
            return head
        if depth >= self.max_depth or named.name in seen:
            if arguments:
                for arg_name in field.args:
                    del self.variables[f"{path}_{arg_name}"]
            return None
        inner = self.selection(named, path, depth + 1, seen | {named.name})
        return f"{head} {{ {inner} }}"

    def selection(
        self,
        kind: Any,
        path: str,
        depth: int,
        seen: frozenset[str],
        alias: str = "",
        shared: frozenset[str] = frozenset(),
    ) -> str:
        parts = ["__typename"]
        if isinstance(kind, GraphQLUnionType):
            return "__typename"
        assert isinstance(kind, GraphQLObjectType | GraphQLInterfaceType), kind
        for name, field in kind.fields.items():
            built = self.field(name, field, f"{path}_{name}", depth, seen, alias if name in shared else "")
            if built is not None:
                parts.append(built)
        if isinstance(kind, GraphQLInterfaceType) and self.schema is not None:
            implementations = self.schema.get_possible_types(kind)
            # A field name two implementations share is aliased by type: they may give it different types or
            # arguments (each argument is its own variable), which the fragments could not merge.
            names = [name for implementation in implementations for name in implementation.fields]
            twice = frozenset(name for name in names if names.count(name) > 1)
            for implementation in implementations:
                inner = self.selection(
                    implementation, f"{path}_{implementation.name}", depth, seen, implementation.name, twice
                )
                parts.append(f"... on {implementation.name} {{ {inner} }}")
        return " ".join(parts)


def client_schema(introspection: IntrospectionQuery) -> GraphQLSchema:
    """The schema as a client sees it through introspection."""
    return build_client_schema(introspection)


def operations(schema: GraphQLSchema) -> list[Operation]:
    """Every query and mutation field, as the API's own introspection describes it."""
    found = []
    for kind, root in (("query", schema.query_type), ("mutation", schema.mutation_type)):
        if root is None:
            continue
        for name, field in root.fields.items():
            # As deep as the token limit lets it be: `node` spans every type, and the schema grows.
            for max_depth in range(_Builder.MAX_DEPTH, 0, -1):
                builder = _Builder(schema, max_depth)
                built = builder.field(name, field, name, 0, frozenset())
                assert built is not None
                definitions = ", ".join(f"${v}: {t}" for v, t in builder.variables.items())
                document = f"{kind} {name.title()}{f'({definitions})' if definitions else ''} {{ {built} }}"
                if _token_count(document) <= MAX_TOKENS:
                    break
            found.append(Operation(name, document, dict(builder.variables)))
    return found


def _token_count(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


# --- the answer ----------------------------------------------------------------------------------------------------

JSON_TYPES = ("application/json", "application/graphql-response+json")


class Answer(Protocol):
    """An HTTP response, from httpx or from requests (schemathesis' transport)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, Any]: ...

    def json(self) -> Any: ...


def assert_clean(response: Answer, sent: object) -> dict[str, Any]:
    """A well-formed GraphQL answer or a clean 4xx with a JSON body; never a 5xx, "Unexpected error." or a trace."""
    where = f"sent {sent!r:.2000}\nanswered {response.status_code} {response.text[:2000]}"
    assert response.status_code < 500, where
    media = response.headers.get("content-type") or ""
    media = media[0] if isinstance(media, list) else media  # schemathesis' responses keep a list per header
    assert media.startswith(JSON_TYPES), where
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), where
    assert set(body) <= {"data", "errors", "extensions"}, where
    if response.status_code >= 400:
        assert body.get("errors"), where
    for error in body.get("errors") or ():
        assert isinstance(error.get("message"), str) and error["message"], where
        assert error["message"] != "Unexpected error.", where
        assert "Traceback" not in error["message"] and "sqlalchemy" not in error["message"].lower(), where
    return body
