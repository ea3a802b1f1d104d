"""Schema extensions' hooks, looked up once per extension class rather than at every stage of every request.

At each of an operation's four stages strawberry inspects every extension's hook anew, wraps it in a new
context-manager function (`functools.wraps` included), and enters the stage through an `AsyncExitStack` even
when every hook is synchronous. `PlannedHooksRunner` makes the wrapper once per class (`_plan`), and enters a
stage whose hooks are all synchronous through a plain `ExitStack`. The hooks run as strawberry runs them: in
the same order, with the same exceptions.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any

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


class _Operation(_Planned, OperationContextManager):
    pass


class _Parsing(_Planned, ParsingContextManager):
    pass


class _Validation(_Planned, ValidationContextManager):
    pass


class _Executing(_Planned, ExecutingContextManager):
    pass


class PlannedHooksRunner(SchemaExtensionsRunner):
    """strawberry's runner with each stage's hooks planned per class (see the module)."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
