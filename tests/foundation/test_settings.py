"""Settings: the defaults the README promises."""

from __future__ import annotations

import pytest

from ideaengine.platform.settings import Settings, SettingsError, load_settings


def test_with_nothing_set_the_database_is_ideaengine_db_in_the_current_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEAENGINE_DATABASE_URL", raising=False)
    assert Settings().database_url == "sqlite+aiosqlite:///./ideaengine.db"


def test_cors_origins_are_spelled_as_browsers_send_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEAENGINE_CORS_ORIGINS", " http://A.example/ , https://app.example.com:8443")
    assert load_settings().cors_origins == ["http://a.example", "https://app.example.com:8443"]


@pytest.mark.parametrize(
    "origin",
    ["app.example.com", "ftp://app.example.com", "https://app.example.com/board", "https://", "https://x:notaport"],
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
