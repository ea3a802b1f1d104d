"""Foundation tests that need data build it through the same API fixtures as the API tests."""

from tests.api.conftest import api, client, ws  # noqa: F401  (fixtures)
