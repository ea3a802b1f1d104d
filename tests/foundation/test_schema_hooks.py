"""Extension hooks planned per class (schema/hooks.py) run as strawberry's own runner runs them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from schema.hooks import PlannedHooksRunner


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

    @strawberry.field
    def broken(self) -> str:
        raise ValueError("resolver failed")


class Recorder(SchemaExtension):
    """Every kind of hook strawberry accepts: plain and async generators, a plain function and a coroutine. A
    stage whose hooks are all plain (the operation's, the validation's) is entered without an AsyncExitStack."""

    log: list[str]

    def on_operation(self) -> Iterator[None]:
        self.log.append("operation in")
        try:
            yield
        except Exception as exc:  # strawberry lets a few errors through the stage (a refused operation type)
            self.log.append(f"operation saw {type(exc).__name__}")
            raise
        result = self.execution_context.result
        self.log.append(f"operation out {None if result is None else len(result.errors or [])}")

    async def on_parse(self) -> AsyncIterator[None]:
        self.log.append("parse in")
        yield
        self.log.append("parse out")

    def on_validate(self) -> None:  # type: ignore[override]  # strawberry takes plain functions too
        self.log.append("validate")

    async def on_execute(self) -> None:  # type: ignore[override]  # and coroutine functions
        self.log.append("execute")
        if self.execution_context.operation_name == "refused":
            raise GraphQLError("refused by a hook")

    def get_results(self) -> dict[str, Any]:
        return {"seen": len(self.log)}


class Second(SchemaExtension):
    """A second extension, so the order of hooks across extensions is compared too."""

    log: list[str]

    def on_operation(self) -> Iterator[None]:
        self.log.append("second in")
        try:
            yield
        finally:
            self.log.append("second out")

    def on_execute(self) -> Iterator[None]:
        self.log.append("second execute in")
        yield
        self.log.append("second execute out")


class Planned(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        return PlannedHooksRunner(execution_context, extensions)


async def _run(
    schema_class: type[strawberry.Schema],
    query: str,
    name: str | None = None,
    allowed: set[OperationType] | None = None,
    kinds: tuple[type[Any], ...] = (),
) -> tuple[list[str], Any]:
    """The hooks' log and the answer (or the exception) of `query` on a schema with an extension of each of
    `kinds` (Recorder and Second when none is given), all logging to one list."""
    log: list[str] = []

    def logging_to_log(kind: type[Any]) -> Any:
        def made() -> SchemaExtension:
            extension = kind()
            extension.log = log
            return extension  # type: ignore[no-any-return]

        return made

    schema = schema_class(query=Query, extensions=[logging_to_log(kind) for kind in kinds or (Recorder, Second)])
    try:
        result = await schema.execute(query, operation_name=name, allowed_operation_types=allowed)
    except Exception as exc:
        return log, (type(exc), str(exc))
    return log, (result.data, [e.message for e in result.errors or []], result.extensions)


@pytest.mark.parametrize(
    ("query", "name", "allowed"),
    [
        ("query ok { hello }", "ok", None),
        ("query failing { hello broken }", "failing", None),  # a resolver's error
        ("query refused { hello }", "refused", None),  # a hook's error
        ("query bad { nope }", "bad", None),  # a validation error: no execution
        ("query unparsed { hello", None, None),  # a syntax error: no validation
        ("query ok { hello }", "ok", {OperationType.MUTATION}),  # an error strawberry raises through the stages
    ],
)
async def test_planned_hooks_run_as_strawberrys_runner(
    query: str, name: str | None, allowed: set[OperationType] | None
) -> None:
    planned = await _run(Planned, query, name, allowed)
    own = await _run(strawberry.Schema, query, name, allowed)
    assert planned == own
    assert planned[0][0] == "operation in"


STAGES = ("operation", "parse", "validate", "execute")


class EveryStage(SchemaExtension):
    """A plain generator hook at every stage, as the server's own are (a stage of only these runs them directly,
    `schema.hooks._Direct`): each is the subclass's `_hook` for that stage."""

    log: list[str]

    def _hook(self, stage: str) -> Iterator[None]:
        raise NotImplementedError

    def on_operation(self) -> Iterator[None]:
        yield from self._hook("operation")

    def on_parse(self) -> Iterator[None]:
        yield from self._hook("parse")

    def on_validate(self) -> Iterator[None]:
        yield from self._hook("validate")

    def on_execute(self) -> Iterator[None]:
        yield from self._hook("execute")


class Plain(EveryStage):
    """Misbehaves at the stage the operation's name says."""

    def _hook(self, stage: str) -> Iterator[None]:
        name = self.execution_context.operation_name
        self.log.append(f"{stage} in")
        if name == f"fail_before_{stage}":
            raise GraphQLError(f"{stage} failed before its yield")
        try:
            yield
        except Exception as exc:
            self.log.append(f"{stage} saw {type(exc).__name__}")
            if name == f"swallow_{stage}":
                return
            raise
        self.log.append(f"{stage} out")
        if name == f"fail_after_{stage}":
            raise GraphQLError(f"{stage} failed after its yield")
        if name == f"twice_{stage}":
            yield


class PlainSecond(EveryStage):
    """Entered after `Plain` and left before it: its failure after the yield is what `Plain` sees."""

    def _hook(self, stage: str) -> Iterator[None]:
        self.log.append(f"second {stage} in")
        yield
        self.log.append(f"second {stage} out")
        if self.execution_context.operation_name in (f"swallow_{stage}", f"second_fails_{stage}"):
            raise ValueError(f"second {stage} failed")


@pytest.mark.parametrize(
    "name",
    ["ok"]
    + [
        f"{behaviour}_{stage}"
        for stage in STAGES
        for behaviour in ("fail_before", "fail_after", "twice", "swallow", "second_fails")
    ],
)
async def test_generator_hooks_run_directly_as_strawberrys_runner(name: str) -> None:
    """Hooks that fail before or after their yield, yield twice, or swallow what the next one raised: the same
    order, the same answer or exception as strawberry's own runner."""
    query = f"query {name} {{ hello }}"
    planned = await _run(Planned, query, kinds=(Plain, PlainSecond))
    own = await _run(strawberry.Schema, query, kinds=(Plain, PlainSecond))
    assert planned == own
    assert planned[0][:2] == ["operation in", "second operation in"]


def test_a_stage_of_generator_hooks_makes_no_context_managers() -> None:
    """The stages of the server's kind of extension run their generators directly (no contextmanager objects or
    exit stack, a sixth of `{ __typename }`'s time in strawberry's runner); a stage with any other kind of hook
    keeps the planned way."""
    from schema.hooks import _Direct, _Planned

    runner = PlannedHooksRunner(None, [Plain(), PlainSecond()])  # type: ignore[arg-type]  # no operation runs
    assert all(isinstance(stage(), _Direct) for stage in (runner.operation, runner.parsing, runner.executing))
    mixed = PlannedHooksRunner(None, [Recorder(), Second()])  # type: ignore[arg-type]
    assert isinstance(mixed.operation(), _Direct)  # both plain generators
    assert isinstance(mixed.parsing(), _Planned)  # an async generator
    assert isinstance(mixed.executing(), _Planned)  # a coroutine function beside a generator
