"""`ideaengine`: serve, migrate, worker, workspace, board, apikey, demo, export-user, export, export-schema.

The composition root with app.py: the one module besides it that imports every package.
Bad arguments and expected failures print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn, TypeVar

from ideaengine.errors import DomainError
from ideaengine.platform import logs
from ideaengine.platform.services import Services
from ideaengine.platform.settings import Settings, SettingsError, get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ideaengine.platform.models import ApiKey

log = logging.getLogger("ideaengine")
T = TypeVar("T")


class CliError(Exception):
    """An expected failure: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ideaengine: {message} (see `ideaengine --help`)\n")


def _database_problem(exc: BaseException, settings: Settings) -> str | None:
    """One line for a database that is missing, unreachable or refuses us; None when it is something else."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, (OperationalError, DBAPIError, OSError, ConnectionError)) or "asyncpg" in type(exc).__module__:
        return f"cannot use {describe_database(settings)}: {text}"
    return None


def describe_database(settings: Settings) -> str:
    """The database URL without its password, and with a SQLite file's absolute path."""
    from sqlalchemy.engine import make_url

    if (path := settings.sqlite_path) is not None:
        return f"the SQLite file {path.resolve()}"
    return "the database at " + make_url(settings.database_url).render_as_string(hide_password=True)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine.platform import migrate

    _ensure_sqlite_dir(settings)
    migrate.upgrade(settings.database_url)
    print(f"migrated {describe_database(settings)} to the latest schema")
    return 0


def _ensure_sqlite_dir(settings: Settings) -> None:
    path = settings.sqlite_path
    if path is not None and not path.parent.exists():
        raise CliError(f"the directory of the SQLite file {path} does not exist")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from ideaengine.app import create_app
    from ideaengine.platform import migrate
    from ideaengine.platform.secrets_box import load_server_key

    if not 0 < args.port < 65536:
        raise CliError(f"--port must be between 1 and 65535, not {args.port}")
    _ensure_sqlite_dir(settings)  # before anything writes beside the database file
    load_server_key(settings)  # a missing key on PostgreSQL fails here, before the loop starts
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)  # the embedded default needs no setup step
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # logs.configure has set up every logger, uvicorn's included
        access_log=False,  # AccessLog writes one richer line per request
        ws="websockets-sansio",
        lifespan="on",
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.redis_url:
        raise CliError("`ideaengine worker` needs IDEAENGINE_REDIS_URL: without it jobs run inside `ideaengine serve`")
    from workers.runner import run_worker, worker_status

    if args.status:
        from redis.exceptions import RedisError

        try:
            status = worker_status(settings)
        except RedisError as exc:
            raise CliError(f"cannot read the queue: Redis at IDEAENGINE_REDIS_URL is unreachable ({exc})") from None
        print(json.dumps(status, indent=2))
        return 0
    run_worker(settings, burst=args.burst)
    return 0


def cmd_workspace_create(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import workspaces

    async def run() -> dict[str, str]:
        services = Services.create(settings)
        try:
            async with services.transaction() as session:
                created = await workspaces.create_workspace(session, services.box, args.slug, args.name)
            return {"workspace": created.workspace.slug, "apiKey": created.api_key, "ssoSecret": created.sso_secret}
        finally:
            await services.close()

    _require_schema(settings)
    print(json.dumps(asyncio.run(run())))
    _wrote_to(settings)
    return 0


def _require_schema(settings: Settings) -> None:
    """Commands that write need a migrated database; the embedded default migrates itself."""
    from ideaengine.platform import migrate
    from ideaengine.platform.secrets_box import load_server_key

    _ensure_sqlite_dir(settings)
    load_server_key(settings)
    if settings.is_sqlite:
        migrate.upgrade(settings.database_url)
    elif not asyncio.run(migrate.is_current(settings.database_url)):
        raise CliError("the database schema is not up to date: run `ideaengine migrate` first")


def _wrote_to(settings: Settings) -> None:
    """Run from another folder, the default SQLite file is another file: say which one a command wrote."""
    print(f"ideaengine: wrote to {describe_database(settings)}", file=sys.stderr)


def _run(settings: Settings, work: Callable[[Services, AsyncSession], Awaitable[T]], *, write: bool) -> T:
    """Run `work(services, session)` in one transaction (or one read), then say which database it used."""
    if write:
        _require_schema(settings)
    else:
        _require_existing(settings)

    async def run() -> T:
        services = Services.create(settings)
        try:
            if write:
                async with services.transaction() as session:
                    return await work(services, session)
            async with services.db.read() as session:
                return await work(services, session)
        finally:
            await services.close()

    result = asyncio.run(run())
    if write:
        _wrote_to(settings)
    else:
        print(f"ideaengine: read from {describe_database(settings)}", file=sys.stderr)
    return result


def _require_existing(settings: Settings) -> None:
    """A listing never creates a database: run from another folder, the default file would be a new one."""
    path = settings.sqlite_path
    if path is not None and not path.exists():
        raise CliError(f"there is no SQLite file {path.resolve()} (is IDEAENGINE_DATABASE_URL set as for `serve`?)")
    _require_schema(settings)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _print_json(value: object, *, indent: int | None = None) -> None:
    print(json.dumps(value, indent=indent, ensure_ascii=False))


def cmd_workspace_list(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import workspaces

    async def work(services: Services, session: AsyncSession) -> list[dict[str, object]]:
        return [
            {
                "workspace": s.workspace.slug,
                "name": s.workspace.name,
                "boards": s.boards,
                "createdAt": _time(s.workspace.created_at),
            }
            for s in await workspaces.list_all(session)
        ]

    _print_json(_run(settings, work, write=False), indent=2)
    return 0


def cmd_workspace_rotate_sso(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import workspaces

    async def work(services: Services, session: AsyncSession) -> dict[str, object]:
        workspace = await workspaces.require_by_slug(session, args.slug)
        rotated = await workspaces.rotate_sso_secret(
            session, services.box, workspace.id, settings.sso_rotation_grace_seconds
        )
        return {
            "workspace": workspace.slug,
            "ssoSecret": rotated.sso_secret,
            "previousSecretValidUntil": _time(rotated.previous_valid_until),
        }

    _print_json(_run(settings, work, write=True))
    return 0


def cmd_board_list(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import boards, workspaces

    async def work(services: Services, session: AsyncSession) -> list[dict[str, object]]:
        workspace_id = None
        if args.workspace is not None:
            workspace_id = (await workspaces.require_by_slug(session, args.workspace)).id
        return [
            {
                "workspace": slug,
                "board": board.slug,
                "name": board.name,
                "visibility": board.visibility.value,
                "archived": board.archived_at is not None,
                "createdAt": _time(board.created_at),
            }
            for board, slug in await boards.list_all(session, workspace_id)
        ]

    _print_json(_run(settings, work, write=False), indent=2)
    return 0


def _key_json(key: ApiKey) -> dict[str, object]:
    from ideaengine.platform.ids import global_id

    return {
        "id": global_id("ApiKey", key.id),
        "name": key.name,
        "prefix": key.prefix,
        "createdAt": _time(key.created_at),
        "revokedAt": _time(key.revoked_at),
    }


def cmd_apikey_list(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import apikeys, workspaces

    async def work(services: Services, session: AsyncSession) -> list[dict[str, object]]:
        workspace = await workspaces.require_by_slug(session, args.workspace)
        return [_key_json(key) for key in await apikeys.all_keys(session, workspace.id)]

    _print_json(_run(settings, work, write=False), indent=2)
    return 0


def cmd_apikey_create(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import apikeys, workspaces

    async def work(services: Services, session: AsyncSession) -> dict[str, object]:
        workspace = await workspaces.require_by_slug(session, args.workspace)
        created = await apikeys.create(session, workspace.id, args.name)
        return {"workspace": workspace.slug, **_key_json(created.api_key), "apiKey": created.secret}

    _print_json(_run(settings, work, write=True))
    return 0


def cmd_apikey_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import apikeys, workspaces
    from ideaengine.platform.ids import parse_global_id

    parsed = parse_global_id(args.id)
    if parsed is None or parsed[0] != "ApiKey":
        raise CliError(f"{args.id!r} is not an API key id (`ideaengine apikey list {args.workspace}` shows them)")

    async def work(services: Services, session: AsyncSession) -> dict[str, object]:
        workspace = await workspaces.require_by_slug(session, args.workspace)
        key = await apikeys.revoke(session, workspace.id, parsed[1])
        return {"workspace": workspace.slug, **_key_json(key)}

    _print_json(_run(settings, work, write=True))
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import demo

    _require_schema(settings)
    host = f"[{args.host}]" if ":" in args.host else args.host
    result = asyncio.run(demo.seed(settings, f"http://{host}:{args.port}/graphql", _demo_progress))
    print(json.dumps(result, indent=2))
    _wrote_to(settings)
    return 0


def _demo_progress(step: str, done: int, total: int) -> None:
    """Seeding takes seconds on PostgreSQL: say how far it is, on stderr (stdout is the JSON answer)."""
    print(f"ideaengine: demo: {step} {done}/{total}", file=sys.stderr, flush=True)


def cmd_export_user(args: argparse.Namespace, settings: Settings) -> int:
    from ideaengine import exports, workspaces

    async def work(services: Services, session: AsyncSession) -> dict[str, object]:
        workspace = await workspaces.require_by_slug(session, args.workspace)
        return {"workspace": workspace.slug, **await exports.user_data(session, workspace.id, args.external_id)}

    _print_json(_run(settings, work, write=False), indent=2)
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Streams rows to stdout batch by batch (bounded memory), with progress on stderr."""
    from ideaengine import boards, exports, workspaces
    from ideaengine.identity import Actor, ActorRole

    async def work(services: Services, session: AsyncSession) -> int:
        workspace = await workspaces.require_by_slug(session, args.workspace)
        board_id = None
        if args.board is not None:
            found = await boards.get_visible(
                session, Actor(workspace.id, None, ActorRole.ADMIN), workspace.slug, args.board
            )
            if found is None:
                raise CliError(f"no board {args.board!r} in the workspace {workspace.slug!r}")
            board_id = found.id
        total = await exports.count_ideas(session, workspace.id, board_id)
        sys.stdout.write(exports.header(args.format))
        done = 0
        async for rows in exports.idea_rows(session, workspace.id, board_id):
            sys.stdout.write(exports.render(rows, args.format))
            sys.stdout.flush()
            done += len(rows)
            print(f"ideaengine: export: {done}/{total} ideas", file=sys.stderr, flush=True)
        return done

    _run(settings, work, write=False)
    return 0


def cmd_export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from schema import export_sdl

    sys.stdout.write(export_sdl())
    return 0


def exports_formats() -> tuple[str, ...]:
    from ideaengine.exports import FORMATS

    return FORMATS


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ideaengine", description="Idea crowdsourcing ranking engine with a GraphQL API.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the GraphQL API (migrates the embedded SQLite file itself)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="upgrade the configured database to the latest schema").set_defaults(
        run=cmd_migrate
    )

    worker = commands.add_parser("worker", help="run an rq worker for the background jobs (needs Redis)")
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.add_argument("--status", action="store_true", help="print queue depth and failed jobs, then exit")
    worker.set_defaults(run=cmd_worker)

    workspace = commands.add_parser("workspace", help="manage workspaces")
    workspace_commands = workspace.add_subparsers(
        dest="workspace_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    create = workspace_commands.add_parser("create", help="create a workspace; prints its API key and SSO secret")
    create.add_argument("slug")
    create.add_argument("--name")
    create.set_defaults(run=cmd_workspace_create)
    workspace_commands.add_parser("list", help="list every workspace (JSON)").set_defaults(run=cmd_workspace_list)
    rotate = workspace_commands.add_parser(
        "rotate-sso",
        help="replace a workspace's SSO secret; prints the new one (old tokens verify for the grace period)",
    )
    rotate.add_argument("slug")
    rotate.set_defaults(run=cmd_workspace_rotate_sso)

    board = commands.add_parser("board", help="list boards")
    board_commands = board.add_subparsers(dest="board_command", required=True, parser_class=_Parser, metavar="ACTION")
    board_list = board_commands.add_parser("list", help="list the boards of one workspace or of all (JSON)")
    board_list.add_argument("workspace", nargs="?", help="a workspace slug; all workspaces without it")
    board_list.set_defaults(run=cmd_board_list)

    apikey = commands.add_parser("apikey", help="manage a workspace's admin API keys")
    apikey_commands = apikey.add_subparsers(
        dest="apikey_command", required=True, parser_class=_Parser, metavar="ACTION"
    )
    key_create = apikey_commands.add_parser("create", help="create a key; prints it once")
    key_create.add_argument("workspace")
    key_create.add_argument("--name", default="", help="a label to tell keys apart")
    key_create.set_defaults(run=cmd_apikey_create)
    key_list = apikey_commands.add_parser("list", help="list a workspace's keys: ids, names, prefixes (JSON)")
    key_list.add_argument("workspace")
    key_list.set_defaults(run=cmd_apikey_list)
    key_revoke = apikey_commands.add_parser("revoke", help="revoke a key by the id `apikey list` shows")
    key_revoke.add_argument("workspace")
    key_revoke.add_argument("id")
    key_revoke.set_defaults(run=cmd_apikey_revoke)

    demo = commands.add_parser(
        "demo",
        help="seed a demo workspace and board (idempotent); prints a fresh API key, replacing the last one, "
        "and SSO tokens to paste into the board's try page",
    )
    demo.add_argument("--host", default="127.0.0.1", help="where `serve` will listen, for the URL it prints")
    demo.add_argument("--port", type=int, default=8000, help="where `serve` will listen, for the URL it prints")
    demo.set_defaults(run=cmd_demo)
    export_user = commands.add_parser(
        "export-user", help="print everything stored about one user as JSON (a data-access request)"
    )
    export_user.add_argument("workspace")
    export_user.add_argument("external_id", metavar="EXTERNAL_ID", help="the host app's id for the user (SSO sub)")
    export_user.set_defaults(run=cmd_export_user)
    export = commands.add_parser(
        "export", help="write a workspace's ideas with tallies, scores, statuses and dates to stdout (streamed)"
    )
    export.add_argument("workspace")
    export.add_argument("--board", metavar="SLUG", help="only this board's ideas")
    export.add_argument(
        "--format", required=True, choices=exports_formats(), help="csv, or jsonl: one JSON object a line"
    )
    export.set_defaults(run=cmd_export)
    commands.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(run=cmd_export_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    long_running = args.command in ("serve", "worker")
    run: Callable[[argparse.Namespace, Settings], int] = args.run
    try:
        settings = get_settings()
        logs.configure(settings.log_level if long_running else "WARNING", settings.log_format)
        if long_running:
            one_blas_thread()
        return run(args, settings)
    except (SettingsError, CliError) as exc:
        return _fail(str(exc))
    except DomainError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        problem = _database_problem(exc, get_settings()) if not isinstance(exc, SettingsError) else None
        if problem is None:
            raise
        return _fail(problem)


def one_blas_thread() -> None:
    """Numeric work in a service process runs on one BLAS thread, as each request and job is one task on a host
    shared with others: OpenBLAS's extra threads spin while they wait, so they doubled the CPU time of a "did you
    mean" lookup (bench/duplicates_speed.py) and made a small LAPACK call 7 times slower under load (docs/ranking.md).
    Forked rq work horses inherit the setting."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _fail(message: str) -> int:
    print(f"ideaengine: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
