"""One Settings object read from IDEAENGINE_* variables; nothing else reads os.environ."""

from __future__ import annotations

import re
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ideaengine.platform.ratelimit import KINDS, parse_rate

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./ideaengine.db"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
MAX_QUERY_DEPTH, MAX_ALIASES, MAX_TOKENS = 12, 30, 2_000
MAX_QUERY_COST_ANONYMOUS, MAX_QUERY_COST = 10_000, 25_000
"""Defaults of the GraphQL query limits (README: Safety), for the server and `build_schema` alike. Costs
(schema/cost.py): a 100-idea page with every field fits; thirty aliases of one do not."""


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
    sso_max_token_lifetime_seconds: Annotated[float, Field(gt=0)] = 24 * 3600
    "An SSO token whose exp lies further than this past its iat (or now) is refused."
    sso_rotation_grace_seconds: Annotated[float, Field(ge=0)] = 24 * 3600
    "After an SSO secret rotation, tokens signed with the replaced secret verify this long (0: not at all)."
    rate_limits_enabled: bool = True
    "False turns every rate limit off: for benchmarks, or behind a proxy that limits already."
    rate_submit: str = "10/minute"
    "Ideas one user may submit (per IP: that times rate_limit_ip_factor); RATE_LIMITED beyond, with a wait."
    rate_comment: str = "30/minute"
    rate_vote: str = "120/minute"
    rate_compare: str = "120/minute"
    rate_react: str = "120/minute"
    rate_report: str = "20/minute"
    rate_read: str = "600/minute"
    "Anonymous requests per IP (HTTP 429 with Retry-After beyond)."
    rate_limit_ip_factor: Annotated[int, Field(ge=1)] = 5
    "An IP may do this many times what one user may: people share addresses (offices, mobile carriers)."
    max_request_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    "Largest request body accepted (413 beyond it): a GraphQL document and its variables need far less."
    max_concurrent_operations: Annotated[int, Field(ge=1)] | None = None
    "GraphQL operations over HTTP one server process runs at once; more wait in line (not refused). Unset: 32\n"
    "on PostgreSQL, 8 on SQLite (one writer at a time, and a pool of a few connections). On PostgreSQL it also\n"
    "sizes the process's connection pools (`db.pool_sizes`)."
    database_pool_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    "Longest a request waits for a pooled connection before it is answered SERVICE_UNAVAILABLE (retry)."
    response_cache_bytes: Annotated[int, Field(ge=0)] = 32 * 1024 * 1024
    "Memory for whole answers to anonymous queries, kept until the data changes (0 turns the cache off)."
    max_subscriptions_per_connection: Annotated[int, Field(ge=1)] = 10
    "A board page needs two or three (its activity, an idea's status); more is refused with an `error` message."
    max_subscriptions_per_ip: Annotated[int, Field(ge=1)] = 100
    max_subscriptions_per_user: Annotated[int, Field(ge=1)] = 30
    max_subscriptions_per_server: Annotated[int, Field(ge=1)] = 10_000
    max_query_depth: int = MAX_QUERY_DEPTH
    "Deepest nesting of selections a query may have."
    max_aliases: int = MAX_ALIASES
    "Most aliases in one operation."
    max_tokens: int = MAX_TOKENS
    "Most tokens in one document."
    max_query_cost_anonymous: Annotated[int, Field(ge=1)] = MAX_QUERY_COST_ANONYMOUS
    "Largest cost (schema/cost.py) of an anonymous caller's operation; QUERY_TOO_COMPLEX beyond."
    max_query_cost: Annotated[int, Field(ge=1)] = MAX_QUERY_COST
    "Largest cost of a signed-in caller's operation."
    smtp_url: str | None = None
    "Mail server: `smtp://[user:password@]host[:port]` (STARTTLS when the server offers it) or `smtps://` (TLS\n"
    "from the start). Set with mail_from and public_url, notifications also go by email (README: Email)."
    mail_from: str | None = None
    "The From of every message, e.g. `Acme ideas <ideas@acme.example>`."
    public_url: str | None = None
    "Where people reach this server (often behind the host app's domain): unsubscribe links point here."
    mail_idea_url: str | None = None
    "Optional link to an idea in the host app, with `{idea}` (its global id) and `{board}` (the board's slug)."
    mail_retry_base_seconds: Annotated[float, Field(gt=0)] = 60.0
    "A message the mail server did not take is tried again after this many seconds, then twice as long each time."
    mail_max_attempts: Annotated[int, Field(ge=1, le=30)] = 12
    "Attempts of one message before it is given up (12: the last about 34 hours after the first, 68 in all)."
    mail_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    "How long the mail server has to answer each command."
    unsubscribe_link_days: Annotated[int, Field(ge=1)] = 90
    "How long an unsubscribe link in a message keeps working."
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    "Any case (`info` is INFO)."
    log_format: Literal["text", "json"] = "text"
    "One line per record in `serve` and `worker` alike: readable text, or a JSON object per line."

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

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises ValueError on a bad port)
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc})") from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must look like smtp://host:587 or smtps://host:465")
        return value

    @field_validator("mail_from")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        _, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError("must be an address, e.g. `Acme ideas <ideas@acme.example>`")
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an http(s) URL such as https://ideas.example.com (a path is allowed)")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _mail_complete(self) -> Settings:
        if self.smtp_url and not (self.mail_from and self.public_url):
            missing = "IDEAENGINE_MAIL_FROM" if not self.mail_from else "IDEAENGINE_PUBLIC_URL"
            raise ValueError(f"{missing}: required with IDEAENGINE_SMTP_URL (messages need a sender and links)")
        return self

    @property
    def mail_enabled(self) -> bool:
        """Notifications also go by email: a mail server, a sender and a public URL are configured."""
        return bool(self.smtp_url and self.mail_from and self.public_url)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_any_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _normalise_origins(cls, value: list[str]) -> list[str]:
        """One spelling per origin, as browsers send it, so HTTP CORS and WebSocket checks agree."""
        return [normalise_origin(origin) for origin in value]

    @field_validator(
        "rate_submit", "rate_comment", "rate_vote", "rate_compare", "rate_react", "rate_report", "rate_read"
    )
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    def rate_limits(self) -> dict[str, str]:
        return {kind: getattr(self, f"rate_{kind}") for kind in KINDS}

    @property
    def concurrent_operations(self) -> int:
        """`max_concurrent_operations`, or its default for the database."""
        return self.max_concurrent_operations or (8 if self.is_sqlite else 32)

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


ORIGIN_HOST = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|[0-9A-Fa-f:.]+")
"A host as browsers send it in an Origin header: ASCII labels (IDNs in punycode) or an IP address."


def normalise_origin(origin: str) -> str:
    """`scheme://host[:port]` in lower case, as a browser's Origin header has it (no path, no trailing slash)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
        or not ORIGIN_HOST.fullmatch(parts.hostname)
    ):
        raise ValueError(f"{origin!r} is not an origin like https://app.example.com (scheme, host, optional port)")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host  # an IPv6 address, bracketed as browsers send it
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across variables: its message names them
            raise SettingsError(str(first["msg"]).removeprefix("Value error, ")) from None
        name = "IDEAENGINE_" + str(first["loc"][0]).upper()
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
