"""The server key that encrypts SSO secrets at rest (they must stay usable for HMAC, so they are not hashed), and
seals the short-lived tokens the server hands out and alone can read (unsubscribe links)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ideaengine.platform.settings import Settings, SettingsError


def key_file_for(settings: Settings) -> Path | None:
    path = settings.sqlite_path
    return None if path is None else path.with_name(path.name + ".key")


def load_server_key(settings: Settings) -> bytes:
    """The configured key; on the embedded default, one generated beside the SQLite file (DECISIONS.md 5)."""
    if settings.secret_key:
        key = settings.secret_key.encode()
    elif not settings.is_sqlite:
        raise SettingsError(
            "IDEAENGINE_SECRET_KEY: required with PostgreSQL (generate one with "
            "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
        )
    elif (path := key_file_for(settings)) is None:
        return Fernet.generate_key()  # in-memory database: its secrets die with it
    else:
        if not path.exists():  # its folder is the database's, which the caller has checked exists
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
        key = path.read_bytes().strip()
    try:
        Fernet(key)
    except ValueError:
        raise SettingsError("IDEAENGINE_SECRET_KEY: not a Fernet key (32 url-safe base64-encoded bytes)") from None
    return key


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError("the SSO secret cannot be decrypted with this server key") from None

    def seal_token(self, payload: str, at: float | None = None) -> str:
        """A URL-safe token only this server can read, stamped with its time of issue (`at`, default now)."""
        return self._fernet.encrypt_at_time(payload.encode(), int(time.time() if at is None else at)).decode()

    def open_token(self, token: str, max_age_seconds: float) -> str:
        """The payload of a token sealed here at most `max_age_seconds` ago; ValueError when it was forged,
        altered or sealed with another key, or is too old."""
        try:
            return self._fernet.decrypt(token.encode(), ttl=int(max_age_seconds)).decode()
        except (InvalidToken, UnicodeError):
            raise ValueError("not a token of this server, or expired") from None
