"""The `ideaengine` command as a user runs it: a subprocess with environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "ideaengine"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
    full_env.update(env or {})
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT)


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {"IDEAENGINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ie.db"}


def test_workspace_create_prints_slug_key_and_secret_as_json(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    result = run("workspace", "create", "acme", env=sqlite_env)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert set(created) == {"workspace", "apiKey", "ssoSecret"}
    assert created["workspace"] == "acme"
    assert created["apiKey"].startswith("iek_") and len(created["apiKey"]) > 40
    assert len(created["ssoSecret"]) >= 32
    assert (tmp_path / "ie.db.key").exists(), "the embedded default generates its server key beside the file"


@pytest.mark.parametrize(
    "command", [["serve", "--port", "8799"], ["migrate"], ["workspace", "create", "acme"], ["demo"]]
)
def test_a_missing_sqlite_folder_is_refused_and_not_created(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result = run(*command, env={"IDEAENGINE_DATABASE_URL": f"sqlite+aiosqlite:///{missing}/x.db"})
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"ideaengine: the directory of the SQLite file {missing}/x.db does not exist\n"
    assert not (tmp_path / "no").exists()


def test_commands_that_write_say_which_database_they_used(tmp_path: Path) -> None:
    """Run from another folder, the default SQLite file is another file: the command says which."""
    other = tmp_path / "elsewhere"
    other.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
    result = subprocess.run(
        [str(SCRIPT), "workspace", "create", "acme"], capture_output=True, text=True, env=env, timeout=60, cwd=other
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"ideaengine: wrote to the SQLite file {other / 'ideaengine.db'}\n"
    assert json.loads(result.stdout)["workspace"] == "acme"


def test_taken_workspace_slug_exits_2_with_one_line(sqlite_env: dict[str, str]) -> None:
    assert run("workspace", "create", "acme", env=sqlite_env).returncode == 0
    result = run("workspace", "create", "acme", env=sqlite_env)
    assert result.returncode == 2
    assert result.stderr.strip() == "ideaengine: The workspace slug 'acme' is already taken."
    assert result.stdout == ""


def test_invalid_workspace_slug_exits_2(sqlite_env: dict[str, str]) -> None:
    result = run("workspace", "create", "Not A Slug", env=sqlite_env)
    assert result.returncode == 2
    assert "slug" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "fragment"),
    [
        pytest.param(["frobnicate"], {}, "invalid choice: 'frobnicate'", id="unknown_command"),
        pytest.param(["serve", "--port", "eighty"], {}, "invalid int value", id="bad_port"),
        pytest.param(
            ["migrate"],
            {"IDEAENGINE_DATABASE_URL": "mysql://x/y"},
            "IDEAENGINE_DATABASE_URL: driver 'mysql' is not one of",
            id="unsupported_database",
        ),
        pytest.param(
            ["migrate"],
            {"IDEAENGINE_DATABASE_URL": "::not a url::"},
            "IDEAENGINE_DATABASE_URL",
            id="malformed_database_url",
        ),
        pytest.param(
            ["migrate"],
            {"IDEAENGINE_REDIS_URL": "http://x"},
            "IDEAENGINE_REDIS_URL: must start with",
            id="malformed_redis_url",
        ),
        pytest.param(
            ["migrate"],
            {"IDEAENGINE_DATABASE_URL": "postgresql+asyncpg://root@127.0.0.1:1/none"},
            "cannot use the database at postgresql+asyncpg://root@127.0.0.1:1/none",
            id="unreachable_database",
        ),
        pytest.param(
            ["migrate"],
            {"IDEAENGINE_DATABASE_URL": "sqlite+aiosqlite:////nonexistent/dir/x.db"},
            "the directory of the SQLite file /nonexistent/dir/x.db does not exist",
            id="missing_sqlite_dir",
        ),
        pytest.param(["worker"], {}, "needs IDEAENGINE_REDIS_URL", id="worker_without_redis"),
        pytest.param(
            ["serve"],
            {"IDEAENGINE_CORS_ORIGINS": "https://app.example.com, http://a b.example"},
            "IDEAENGINE_CORS_ORIGINS: 'http://a b.example' is not an origin like https://app.example.com",
            id="serve_with_a_malformed_cors_origin",
        ),
        pytest.param(
            ["worker", "--status"],
            {"IDEAENGINE_REDIS_URL": "redis://127.0.0.1:1/0"},
            "cannot read the queue: Redis at IDEAENGINE_REDIS_URL is unreachable",
            id="worker_status_with_redis_down",
        ),
        pytest.param(
            ["workspace", "create", "acme"],
            {"IDEAENGINE_DATABASE_URL": "postgresql+asyncpg://root@127.0.0.1/test"},
            "IDEAENGINE_SECRET_KEY: required with PostgreSQL",
            id="postgres_without_server_key",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], env: dict[str, str], fragment: str) -> None:
    result = run(*args, env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_export_schema_matches_the_checked_in_sdl() -> None:
    result = run("export-schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema" / "schema.graphql").read_text(), (
        "schema/schema.graphql drifted from the code: run `make schema`"
    )


def test_migrate_on_postgres_then_workspace_create(templates: object) -> None:
    import asyncio

    from tests.conftest import _pg_execute, pg_url, unavailable

    name = f"ie_cli_{os.getpid()}"
    try:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    env = {"IDEAENGINE_DATABASE_URL": pg_url(name), "IDEAENGINE_SECRET_KEY": TEST_SECRET_KEY}
    try:
        refused = run("workspace", "create", "acme", env=env)
        assert refused.returncode == 2
        assert "run `ideaengine migrate` first" in refused.stderr
        assert run("migrate", env=env).returncode == 0
        result = run("workspace", "create", "acme", env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["workspace"] == "acme"
    finally:
        asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


BLAS_THREADS_AFTER = """
import json, sys, threadpoolctl
import numpy, scipy.linalg  # both carry an OpenBLAS
from ideaengine import cli
before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
code = cli.main(sys.argv[1:])
after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"code": code, "before": before, "after": after}))
"""


@pytest.mark.parametrize(("args", "threads"), [(["worker"], 1), (["export-schema"], 2)])
def test_serve_and_worker_keep_blas_to_one_thread(args: list[str], threads: int) -> None:
    """A service process's numeric work runs on one BLAS thread whatever the host's default (here 2); a one-off
    command keeps the default. `worker` without Redis stops right after, with exit 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
    env["OPENBLAS_NUM_THREADS"] = "2"
    result = subprocess.run(
        [sys.executable, "-c", BLAS_THREADS_AFTER, *args], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["before"] and set(seen["before"]) == {2}, seen
    assert set(seen["after"]) == {threads}, seen
