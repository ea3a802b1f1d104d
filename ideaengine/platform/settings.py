"""One Settings object read from IDEAENGINE_* variables; nothing else reads os.environ."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ideaengine.platform.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
MAX_QUERY_DEPTH, MAX_ALIASES, MAX_TOKENS = 12, 30, 2_000
"Defaults of the GraphQL query limits (README: Safety), for the server and `build_schema` alike."


class SettingsError(ValueError):
    """A malformed setting: its message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDEAENGINE_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    "SQLAlchemy async URL; SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when distributed."
    redis_url: str | None = None
    "Unset: jobs and live events run in-process. Set: rq queues and Redis pub/sub."
    secret_key: str | None = None
    "Fernet key that encrypts SSO secrets at rest; generated beside the SQLite file when unset."
    cors_origins: Annotated[list[str], NoDecode] = []
    "Origins of embedding apps allowed to call the API from a browser (and open WebSockets)."
    queue_name: str = "ideaengine"
    "rq queue that `ideaengine worker` listens on."
    refresh_delay_seconds: float = 1.0
    "How long a score refresh waits so a burst of votes folds into one job (DECISIONS.md 13)."
    sweep_interval_seconds: float = 30.0
    "How often stale boards are re-enqueued, so scores converge even if a job was lost."
    webhook_allow_private: bool = False
    "Allow webhooks to loopback/private addresses (tests, local development)."
    webhook_retry_base_seconds: Annotated[float, Field(gt=0)] = 10.0
    "A failed webhook delivery is retried after this many seconds, then twice as long each time."
    webhook_max_attempts: Annotated[int, Field(ge=1, le=20)] = 6
    "Attempts of one delivery before it is given up as FAILED (6: retries after 10, 20, 40, 80, 160 s)."
    webhook_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    "How long a webhook receiver has to answer one attempt."
    max_query_depth: int = MAX_QUERY_DEPTH
    "Deepest nesting of selections a query may have."
    max_aliases: int = MAX_ALIASES
    "Most aliases in one operation."
    max_tokens: int = MAX_TOKENS
    "Most tokens in one document."
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(f"driver {url.drivername!r} is not one of {', '.join(SUPPORTED_DRIVERS)}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL and in-memory databases."""
        if not self.is_sqlite:
            return None
        database = make_url(self.database_url).database
        if not database or database == ":memory:":
            return None
        return Path(database)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "IDEAENGINE_" + str(first["loc"][0]).upper() if first["loc"] else "IDEAENGINE_*"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
