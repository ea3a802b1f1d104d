"""Schema extensions' hooks, looked up once per extension class rather than at every stage of every request.

At each of an operation's four stages strawberry inspects every extension's hook anew, wraps it in a new
context-manager function (`functools.wraps` included), and enters the stage through an `AsyncExitStack` even
when every hook is synchronous. `PlannedHooksRunner` makes the wrapper once per class (`_plan`), and enters a
stage whose hooks are all synchronous through a plain `ExitStack`. A stage whose hooks are all plain generator
functions (the server's are) runs them itself (`_Direct`): no context manager or exit stack is made at all.
The hooks run as strawberry runs them: in the same order, with the same exceptions.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, TypeVar

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

Factory = Callable[[SchemaExtension], Any]


Plan = tuple[Factory, bool] | bool

_PLANS: dict[tuple[type[SchemaExtension], str], Plan] = {}


def _plan(extension_class: type[SchemaExtension], hook_name: str) -> Plan:
    """How to enter `extension_class`'s hook for a stage: a context-manager factory taking the extension, and
    whether it is async; False for no hook (SchemaExtension's own), True for one left to strawberry's wrapping
    (a plain function or coroutine function)."""
    if (known := _PLANS.get((extension_class, hook_name))) is not None:
        return known
    hook = getattr(extension_class, hook_name)
    plan: Plan = True
    if hook is getattr(SchemaExtension, hook_name):
        plan = False
    elif inspect.isgeneratorfunction(hook):
        plan = contextlib.contextmanager(hook), False
    elif inspect.isasyncgenfunction(hook):
        plan = contextlib.asynccontextmanager(hook), True
    _PLANS[extension_class, hook_name] = plan
    return plan


class _Planned(ExtensionContextManagerBase):
    def __init__(self, extensions: list[SchemaExtension]) -> None:
        self.default_hook = getattr(SchemaExtension, self.HOOK_NAME)
        self.hooks = []
        for extension in extensions:
            plan = _plan(type(extension), self.HOOK_NAME)
            if isinstance(plan, tuple):
                factory, is_async = plan
                self.hooks.append(WrappedHook(extension, functools.partial(factory, extension), is_async))
            elif plan and (hook := self.get_hook(extension)) is not None:
                self.hooks.append(hook)
        self.synchronous = not any(hook.is_async for hook in self.hooks)

    async def __aenter__(self) -> None:
        if self.synchronous:
            self.__enter__()
        else:
            await super().__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        if self.synchronous:
            self.__exit__(exc_type, exc_val, exc_tb)
        else:
            await super().__aexit__(exc_type, exc_val, exc_tb)


Hook = Callable[[SchemaExtension], Generator[None, None, None]]
S = TypeVar("S", bound=ExtensionContextManagerBase)

_GENERATORS: dict[tuple[tuple[type[SchemaExtension], ...], str], list[tuple[int, Hook]] | None] = {}


def _generators(classes: tuple[type[SchemaExtension], ...], hook_name: str) -> list[tuple[int, Hook]] | None:
    """A stage's hooks for extensions of these classes, in order, as (the extension's index, its generator
    function), when every hook there is is a plain generator function; else None (the stage is `_Planned`)."""
    key = classes, hook_name
    if key in _GENERATORS:
        return _GENERATORS[key]
    hooks: list[tuple[int, Hook]] = []
    for index, extension_class in enumerate(classes):
        if (plan := _plan(extension_class, hook_name)) is False:
            continue
        if not isinstance(plan, tuple) or plan[1]:  # `_plan` makes a synchronous factory only for a generator
            _GENERATORS[key] = None
            return None
        hooks.append((index, getattr(extension_class, hook_name)))
    _GENERATORS[key] = hooks
    return hooks


def _resumed(generator: Generator[None, None, None]) -> contextlib.AbstractContextManager[None]:
    """`contextlib.contextmanager`'s own object around a generator already past its yield, to leave it as
    `contextmanager` does."""
    manager = contextlib._GeneratorContextManager.__new__(contextlib._GeneratorContextManager)
    manager.gen = generator
    return manager


class _Direct(ExtensionContextManagerBase):
    """A stage whose hooks are all plain generator functions: each runs to its yield on entry and past it on
    exit, in reverse, as `contextlib.contextmanager` in an `ExitStack` runs them (strawberry's way) but without
    making either. An exception (from the stage, or from a hook after its yield) is left to those two, with the
    generators not yet finished, so what is raised is theirs."""

    def __init__(self, calls: list[tuple[Hook, SchemaExtension]]) -> None:
        self.calls = calls
        self.running: list[Generator[None, None, None]] = []

    def __enter__(self) -> None:
        running = self.running
        for hook, extension in self.calls:
            generator = hook(extension)
            try:
                next(generator)
            except StopIteration:
                raise RuntimeError("generator didn't yield") from None
            running.append(generator)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        """Like strawberry's stages, never suppresses the stage's own exception, whatever a hook does with it."""
        running = self.running
        if exc_type is not None:
            self._unwind(exc_type, exc_val, exc_tb)
            return
        while running:
            generator = running.pop()
            try:
                next(generator)
                generator.close()
                failure: BaseException = RuntimeError("generator didn't stop")
            except StopIteration:
                continue
            except BaseException as exc:  # the hook failed after its yield: the hooks before it see its exception
                failure = exc
            if not self._unwind(type(failure), failure, failure.__traceback__):
                raise failure
            return

    def _unwind(
        self, exc_type: type[BaseException], exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool:
        stack = contextlib.ExitStack()
        for generator in self.running:
            stack.push(_resumed(generator))
        self.running.clear()
        return bool(stack.__exit__(exc_type, exc_val, exc_tb))

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc_val, exc_tb)


class _Operation(_Planned, OperationContextManager):
    pass


class _Parsing(_Planned, ParsingContextManager):
    pass


class _Validation(_Planned, ValidationContextManager):
    pass


class _Executing(_Planned, ExecutingContextManager):
    pass


class _DirectOperation(_Direct, OperationContextManager):
    pass


class _DirectParsing(_Direct, ParsingContextManager):
    pass


class _DirectValidation(_Direct, ValidationContextManager):
    pass


class _DirectExecuting(_Direct, ExecutingContextManager):
    pass


class PlannedHooksRunner(SchemaExtensionsRunner):
    """strawberry's runner with each stage's hooks planned per class (see the module)."""

    def __init__(self, execution_context: ExecutionContext, extensions: list[SchemaExtension] | None = None) -> None:
        super().__init__(execution_context, extensions)
        self.classes = tuple(type(extension) for extension in self.extensions)

    def _stage(
        self,
        hook_name: str,
        planned: Callable[[list[SchemaExtension]], S],
        direct: Callable[[list[tuple[Hook, SchemaExtension]]], S],
    ) -> S:
        """The stage, run by `direct` when its hooks are all plain generator functions, else by `planned`."""
        hooks = _generators(self.classes, hook_name)
        if hooks is None:
            return planned(self.extensions)
        return direct([(hook, self.extensions[index]) for index, hook in hooks])

    def operation(self) -> OperationContextManager:
        return self._stage(OperationContextManager.HOOK_NAME, _Operation, _DirectOperation)

    def parsing(self) -> ParsingContextManager:
        return self._stage(ParsingContextManager.HOOK_NAME, _Parsing, _DirectParsing)

    def validation(self) -> ValidationContextManager:
        return self._stage(ValidationContextManager.HOOK_NAME, _Validation, _DirectValidation)

    def executing(self) -> ExecutingContextManager:
        return self._stage(ExecutingContextManager.HOOK_NAME, _Executing, _DirectExecuting)
