"""Settings: the defaults the README promises."""

from __future__ import annotations

import pytest

from ideaengine.platform.settings import Settings


def test_with_nothing_set_the_database_is_ideaengine_db_in_the_current_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEAENGINE_DATABASE_URL", raising=False)
    assert Settings().database_url == "sqlite+aiosqlite:///./ideaengine.db"
