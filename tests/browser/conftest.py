"""Browser tests run against a real `ideaengine serve` (the realtime suite's embedded server)."""

from tests.realtime.conftest import embedded  # noqa: F401  (fixture)
