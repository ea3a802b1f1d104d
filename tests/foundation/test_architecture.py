"""The import direction of docs/architecture.md, checked on every module (the project's own copy of the rule)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED: dict[str, set[str]] = {
    "ranking": {"ranking"},
    "ideaengine.platform": {"ranking", "ideaengine.platform"},
    "ideaengine": {"ranking", "ideaengine"},
    "workers": {"ranking", "ideaengine", "workers"},
    "schema": {"ranking", "ideaengine", "schema"},
}
"What each layer may import of the project (longest prefix wins); docs/architecture.md explains why."
COMPOSITION_ROOT = {"ideaengine.app", "ideaengine.cli", "ideaengine.__main__"}
"The only modules that may import every package: they wire schema/ and workers/ to the domain."
PROJECT = ("ranking", "ideaengine", "workers", "schema")


def layer(module: str) -> str:
    return max((name for name in ALLOWED if module == name or module.startswith(name + ".")), key=len)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """Every import of the file, TYPE_CHECKING blocks and function bodies included: a type is a dependency."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            if name in PROJECT:  # `from ideaengine import votes` imports ideaengine.votes: judge each one
                found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, name))
    return found


def violations(root: Path = ROOT) -> list[str]:
    broken = []
    for package in PROJECT:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            if module in COMPOSITION_ROOT or ".migrations." in module:
                continue
            allowed = ALLOWED[layer(module)]
            for line, name in imports(path, module):
                if name.split(".")[0] not in PROJECT:
                    continue  # the standard library and third-party packages
                if not any(name == a or name.startswith(a + ".") for a in allowed):
                    broken.append(f"{path.relative_to(root)}:{line}: {module} imports {name}")
    return broken


def test_imports_follow_the_architecture() -> None:
    assert violations() == []


def test_the_check_catches_imports_against_the_direction(tmp_path: Path) -> None:
    """The rule is not vacuous: a platform module reaching into the domain, and the domain into schema/, fail."""
    (tmp_path / "ideaengine" / "platform").mkdir(parents=True)
    (tmp_path / "ideaengine" / "platform" / "db.py").write_text("from ideaengine import votes\nimport ranking\n")
    (tmp_path / "ideaengine" / "votes.py").write_text("from ..schema import relay\nfrom .platform import db\n")
    (tmp_path / "ideaengine" / "cli.py").write_text("import schema\nimport workers\n")
    assert violations(tmp_path) == [
        "ideaengine/platform/db.py:1: ideaengine.platform.db imports ideaengine.votes",
        "ideaengine/votes.py:1: ideaengine.votes imports schema.relay",
    ]


def test_the_shared_import_check_agrees() -> None:
    tool = ROOT.parent / "shared" / "tools" / "import-check"
    if not tool.exists():
        pytest.skip("../shared is not beside this clone (a user's fresh clone has none)")
    result = subprocess.run([sys.executable, str(tool)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
