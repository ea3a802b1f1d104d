"""The operator's commands: list workspaces and boards, create/list/revoke API keys, rotate an SSO secret."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ideaengine import boards, identity
from ideaengine.platform.models import Visibility
from ideaengine.platform.services import Services
from ideaengine.platform.settings import Settings
from tests.foundation.test_cli import run


@pytest.fixture(scope="module")
def acme_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A database with the workspace `acme`, made once by the command itself; each test works on a copy."""
    path = tmp_path_factory.mktemp("cli_ops") / "ie.db"
    created = ok("workspace", "create", "acme", env={"IDEAENGINE_DATABASE_URL": f"sqlite+aiosqlite:///{path}"})
    return path, created


@pytest.fixture
def db(tmp_path: Path, acme_template: tuple[Path, dict[str, str]]) -> Path:
    template, _ = acme_template
    for suffix in ("", ".key"):  # the database and the server key the embedded default made beside it
        shutil.copy(f"{template}{suffix}", f"{tmp_path / 'ie.db'}{suffix}")
    return tmp_path / "ie.db"


@pytest.fixture
def acme(acme_template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    """What `workspace create acme` printed: its API key and SSO secret."""
    return acme_template[1]


@pytest.fixture
def env(db: Path) -> dict[str, str]:
    return {"IDEAENGINE_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}


def rows(db: Path) -> list[tuple[Any, ...]]:
    """Every workspace and API key row, as stored."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT * FROM workspaces").fetchall() + conn.execute("SELECT * FROM api_keys").fetchall()


def ok(*args: str, env: dict[str, str]) -> Any:
    """Run a command that must succeed; its stdout, parsed."""
    result = run(*args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def in_process(env: dict[str, str], work: Any) -> Any:
    """Run `work(session, box)` in one transaction on the command's database, as a server would."""

    async def go() -> Any:
        services = Services.create(Settings(database_url=env["IDEAENGINE_DATABASE_URL"]))
        try:
            async with services.transaction() as session:
                return await work(session, services.box)
        finally:
            await services.close()

    return asyncio.run(go())


def test_apikey_create_list_and_revoke(env: dict[str, str], db: Path, acme: dict[str, str]) -> None:
    admin = acme["apiKey"]

    created = run("apikey", "create", "acme", "--name", "ci", env=env)
    assert created.returncode == 0, created.stderr
    assert created.stderr == f"ideaengine: wrote to the SQLite file {db}\n"
    new = json.loads(created.stdout)
    assert set(new) == {"workspace", "id", "name", "prefix", "createdAt", "revokedAt", "apiKey"}
    assert (new["workspace"], new["name"], new["prefix"], new["revokedAt"]) == ("acme", "ci", new["apiKey"][:12], None)

    listed = run("apikey", "list", "acme", env=env)
    assert listed.stderr == f"ideaengine: read from the SQLite file {db}\n"
    keys = json.loads(listed.stdout)
    assert [(k["name"], k["prefix"], k["revokedAt"]) for k in keys] == [
        ("workspace admin", admin[:12], None),
        ("ci", new["apiKey"][:12], None),
    ]
    assert all("apiKey" not in k for k in keys)

    revoked = ok("apikey", "revoke", "acme", new["id"], env=env)
    assert (revoked["id"], revoked["name"]) == (new["id"], "ci") and revoked["revokedAt"] is not None
    assert [k["revokedAt"] is not None for k in ok("apikey", "list", "acme", env=env)] == [False, True]

    async def actors(session: Any, box: Any) -> tuple[Any, ...]:
        return tuple([await identity.actor_for_api_key(session, key) for key in (admin, new["apiKey"])])

    still, gone = in_process(env, actors)
    assert (still.auth_errors, gone.auth_errors) == ((), ("The API key is unknown or revoked.",))


def test_workspace_and_board_lists(env: dict[str, str], acme: dict[str, str]) -> None:
    ok("workspace", "create", "globex", "--name", "Globex Corp", env=env)

    async def make_boards(session: Any, box: Any) -> None:
        admin = await identity.actor_for_api_key(session, acme["apiKey"])
        assert admin.workspace_id is not None
        await boards.create_board(session, admin, admin.workspace_id, "ideas", "Ideas")
        old = await boards.create_board(session, admin, admin.workspace_id, "old", "Old", visibility=Visibility.PRIVATE)
        await boards.update_board(session, admin, old.id, archived=True)

    in_process(env, make_boards)

    workspaces = ok("workspace", "list", env=env)
    assert [(w["workspace"], w["name"], w["boards"]) for w in workspaces] == [
        ("acme", "acme", 2),
        ("globex", "Globex Corp", 0),
    ]
    every = ok("board", "list", env=env)
    assert [(b["workspace"], b["board"], b["name"], b["visibility"], b["archived"]) for b in every] == [
        ("acme", "ideas", "Ideas", "PUBLIC", False),
        ("acme", "old", "Old", "PRIVATE", True),
    ]
    assert ok("board", "list", "acme", env=env) == every
    assert ok("board", "list", "globex", env=env) == []


@pytest.mark.parametrize(
    ("grace", "hours"),
    [pytest.param(None, 24, id="default_grace_24_hours"), pytest.param("60", 60 / 3600, id="grace_from_settings")],
)
def test_workspace_rotate_sso_prints_the_new_secret_and_the_end_of_the_grace_period(
    env: dict[str, str], acme: dict[str, str], grace: str | None, hours: float
) -> None:
    old = acme["ssoSecret"]
    if grace is not None:
        env = {**env, "IDEAENGINE_SSO_ROTATION_GRACE_SECONDS": grace}
    before = datetime.now(UTC)

    rotated = ok("workspace", "rotate-sso", "acme", env=env)

    assert set(rotated) == {"workspace", "ssoSecret", "previousSecretValidUntil"}
    assert rotated["workspace"] == "acme" and rotated["ssoSecret"] != old and len(rotated["ssoSecret"]) >= 32
    until = datetime.fromisoformat(rotated["previousSecretValidUntil"])
    assert before + timedelta(hours=hours) <= until <= datetime.now(UTC) + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["apikey", "list", "nope"], "No workspace 'nope'.", id="apikey_list_unknown_workspace"),
        pytest.param(["apikey", "create", "nope"], "No workspace 'nope'.", id="apikey_create_unknown_workspace"),
        pytest.param(
            ["apikey", "revoke", "nope", "QXBpS2V5OjE"], "No workspace 'nope'.", id="apikey_revoke_unknown_workspace"
        ),
        pytest.param(
            ["apikey", "revoke", "acme", "zzz"],
            "'zzz' is not an API key id (`ideaengine apikey list acme` shows them)",
            id="apikey_revoke_malformed_id",
        ),
        pytest.param(
            ["apikey", "revoke", "acme", "Qm9hcmQ6MQ"],  # Board:1
            "'Qm9hcmQ6MQ' is not an API key id (`ideaengine apikey list acme` shows them)",
            id="apikey_revoke_id_of_another_type",
        ),
        pytest.param(
            ["apikey", "revoke", "acme", "QXBpS2V5Ojk5"],  # ApiKey:99
            "No such API key in this workspace.",
            id="apikey_revoke_unknown_key",
        ),
        pytest.param(
            ["apikey", "create", "acme", "--name", "x" * 201],
            "A key name must be at most 200 characters.",
            id="apikey_create_name_too_long",
        ),
        pytest.param(["board", "list", "nope"], "No workspace 'nope'.", id="board_list_unknown_workspace"),
        pytest.param(["board", "list", "Not A Slug"], "No workspace 'Not A Slug'.", id="board_list_not_a_slug"),
        pytest.param(["workspace", "rotate-sso", "nope"], "No workspace 'nope'.", id="rotate_sso_unknown_workspace"),
        pytest.param(
            ["apikey", "revoke", "acme"],
            "the following arguments are required: id (see `ideaengine --help`)",
            id="apikey_revoke_without_id",
        ),
        pytest.param(
            ["workspace", "rotate-sso"],
            "the following arguments are required: slug (see `ideaengine --help`)",
            id="rotate_sso_without_slug",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    env: dict[str, str], db: Path, args: list[str], message: str
) -> None:
    before = rows(db)

    result = run(*args, env=env)

    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"ideaengine: {message}\n"
    assert rows(db) == before


@pytest.mark.parametrize(
    "args",
    [["workspace", "list"], ["board", "list"], ["apikey", "list", "acme"]],
    ids=["workspace_list", "board_list", "apikey_list"],
)
def test_a_listing_never_creates_a_database(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "nothing-here.db"
    result = run(*args, env={"IDEAENGINE_DATABASE_URL": f"sqlite+aiosqlite:///{missing}"})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"ideaengine: there is no SQLite file {missing} (is IDEAENGINE_DATABASE_URL set as for `serve`?)\n"
    )
    assert list(tmp_path.iterdir()) == []


async def test_the_operators_listings_read_the_same_on_both_databases(services: Any) -> None:
    """What `workspace list`, `board list` and `apikey list` print, read on SQLite and PostgreSQL alike."""
    from ideaengine import apikeys, workspaces

    async with services.transaction() as session:
        acme = await workspaces.create_workspace(session, services.box, "acme", "Acme Inc")
        await workspaces.create_workspace(session, services.box, "globex")
        admin = await identity.actor_for_api_key(session, acme.api_key)
        await boards.create_board(session, admin, acme.workspace.id, "ideas", "Ideas")
        old = await boards.create_board(session, admin, acme.workspace.id, "old", "Old")
        await boards.update_board(session, admin, old.id, archived=True)
        await apikeys.create(session, acme.workspace.id, "ci")

    async with services.db.read() as session:
        listed = [(s.workspace.slug, s.boards) for s in await workspaces.list_all(session)]
        every = [(slug, b.slug, b.archived_at is not None) for b, slug in await boards.list_all(session)]
        of_globex = await boards.list_all(session, acme.workspace.id + 1)
        keys = [(k.name, k.revoked_at) for k in await apikeys.all_keys(session, acme.workspace.id)]
    assert listed == [("acme", 2), ("globex", 0)]
    assert every == [("acme", "ideas", False), ("acme", "old", True)]
    assert of_globex == []
    assert keys == [("workspace admin", None), ("ci", None)]
