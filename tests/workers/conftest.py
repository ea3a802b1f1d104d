"""Worker tests drive the system through the same API fixtures as the API tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import api, client, other_ws, ws  # noqa: F401  (fixtures)
from tests.conftest import new_database


@pytest.fixture
def pg_url(templates: Any, tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database: the distributed runner needs a database that several processes share."""
    url, drop = new_database(templates, "postgres", tmp_path)
    yield url
    drop()
