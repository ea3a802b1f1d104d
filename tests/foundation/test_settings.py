"""Settings: the defaults the README promises."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.pool import QueuePool

from ideaengine.platform.db import Database
from ideaengine.platform.settings import Settings, SettingsError, load_settings


def test_with_nothing_set_the_database_is_ideaengine_db_in_the_current_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEAENGINE_DATABASE_URL", raising=False)
    assert Settings().database_url == "sqlite+aiosqlite:///./ideaengine.db"


def test_cors_origins_are_spelled_as_browsers_send_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "IDEAENGINE_CORS_ORIGINS", " http://A.example/ , https://app.example.com:8443, http://[::1]:8000"
    )
    assert load_settings().cors_origins == ["http://a.example", "https://app.example.com:8443", "http://[::1]:8000"]


@pytest.mark.parametrize(
    "origin",
    [
        "app.example.com",
        "ftp://app.example.com",
        "https://app.example.com/board",
        "https://",
        "https://x:notaport",
        "http://a b.example",
        "https://app.exämple.com",
    ],
)
def test_a_malformed_cors_origin_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, origin: str) -> None:
    monkeypatch.setenv("IDEAENGINE_CORS_ORIGINS", origin)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value) == (
        f"IDEAENGINE_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com"
        " (scheme, host, optional port)"
    )


def test_log_level_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEAENGINE_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMTP_URL": "mail.example.com"}, "IDEAENGINE_SMTP_URL: must look like smtp://host:587 or smtps://host:465"),
        ({"SMTP_URL": "smtp://mail.example.com"}, "IDEAENGINE_MAIL_FROM: required with IDEAENGINE_SMTP_URL"),
        (
            {"SMTP_URL": "smtp://mail.example.com", "MAIL_FROM": "ideas@acme.example"},
            "IDEAENGINE_PUBLIC_URL: required with IDEAENGINE_SMTP_URL",
        ),
        ({"MAIL_FROM": "Acme ideas"}, "IDEAENGINE_MAIL_FROM: must be an address"),
        ({"PUBLIC_URL": "ideas.example.com"}, "IDEAENGINE_PUBLIC_URL: must be an http(s) URL"),
    ],
    ids=["not_smtp", "no_sender", "no_public_url", "sender_without_address", "public_url_without_scheme"],
)
def test_mail_settings_are_complete_or_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"IDEAENGINE_{name}", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(message)


def test_mail_is_on_with_a_server_a_sender_and_a_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().mail_enabled is False
    monkeypatch.setenv("IDEAENGINE_SMTP_URL", "smtps://me%40acme:p%40ss@mail.example.com:465")
    monkeypatch.setenv("IDEAENGINE_MAIL_FROM", "Acme ideas <ideas@acme.example>")
    monkeypatch.setenv("IDEAENGINE_PUBLIC_URL", "https://acme.example/ideas/")
    settings = load_settings()
    assert settings.mail_enabled is True and settings.public_url == "https://acme.example/ideas"


@pytest.mark.parametrize(
    ("operations", "reads", "writes"),
    [(None, (20, 12), (32, 8)), (8, (5, 3), (8, 2)), (1, (1, 0), (1, 1))],
)
def test_the_operations_limit_sizes_the_postgresql_pools(
    operations: int | None, reads: tuple[int, int], writes: tuple[int, int]
) -> None:
    """One knob for an operator: lowering IDEAENGINE_MAX_CONCURRENT_OPERATIONS lowers the connections a process
    may open, so several processes fit under PostgreSQL's max_connections (README)."""
    settings = Settings(
        database_url="postgresql+asyncpg://root@127.0.0.1:5432/test", max_concurrent_operations=operations
    )
    db = Database(settings)  # engines connect on first use: nothing is opened here
    try:
        for engine, (kept, overflow) in ((db.read_engine, reads), (db.engine, writes)):
            pool = engine.sync_engine.pool
            assert isinstance(pool, QueuePool)
            assert (pool.size(), pool._max_overflow) == (kept, overflow)
        assert settings.concurrent_operations == (operations or 32)
    finally:
        asyncio.run(db.dispose())
