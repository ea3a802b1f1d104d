"""Worker tests drive the system through the same API fixtures as the API tests."""

from tests.api.conftest import api, client, other_ws, ws  # noqa: F401  (fixtures)
