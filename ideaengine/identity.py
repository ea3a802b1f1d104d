"""Who is calling: API keys (workspace admins), SSO tokens signed by the host app, or nobody."""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt
from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import validation
from ideaengine.errors import DomainError, ErrorCode
from ideaengine.platform.models import ApiKey, Role, User, Workspace, utcnow
from ideaengine.platform.secrets_box import SecretBox
from ideaengine.platform.upsert import insert_ignore

API_KEY_PREFIX = "iek_"
SSO_ALGORITHM = "HS256"
"The only algorithm accepted: `none` and asymmetric algorithms are refused (algorithm confusion)."
SSO_LEEWAY_SECONDS = 30
SSO_MAX_LIFETIME_SECONDS = 24 * 3600
"Default longest life of an SSO token (exp past iat, or past now): a leaked token stops working within it."
RESERVED_SUBJECTS = ("apikey:", "erased:")
"External ids the engine gives its own users (API keys' service users, erased users): no token may claim one."
SUBJECT_MAX = 200
"Width of `users.external_id`: a longer `sub` is refused, never cut (two ids sharing a prefix would merge)."


class ActorRole(enum.IntEnum):
    """Roles in the order of what they may do; the API exposes them as `Role`."""

    ANONYMOUS = 0
    MEMBER = 1
    MODERATOR = 2
    ADMIN = 3


_ROLE_OF_USER = {Role.MEMBER: ActorRole.MEMBER, Role.MODERATOR: ActorRole.MODERATOR, Role.ADMIN: ActorRole.ADMIN}


@dataclass(frozen=True)
class Ban:
    """Why a signed-in user is treated as anonymous: a moderator banned them from their workspace."""

    workspace_id: int
    user_id: int
    until: datetime | None
    "When the ban ends by itself; None: until a moderator lifts it."

    @property
    def message(self) -> str:
        until = "until a moderator lifts the ban" if self.until is None else f"until {self.until.isoformat()}"
        return f"You are banned from this workspace {until}: you can read like anyone, but not write."


def active_ban(user: User, now: datetime | None = None) -> Ban | None:
    """The user's ban if one holds now (a timed ban ends by itself at banned_until)."""
    if user.banned_at is None or (user.banned_until is not None and user.banned_until <= (now or utcnow())):
        return None
    return Ban(workspace_id=user.workspace_id, user_id=user.id, until=user.banned_until)


@dataclass(frozen=True)
class Actor:
    """The caller as seen by the domain. An actor is anonymous in every workspace but its own."""

    workspace_id: int | None = None
    user_id: int | None = None
    role: ActorRole = ActorRole.ANONYMOUS
    auth_errors: tuple[str, ...] = field(default=())
    "Why a presented credential was not accepted (reported in the response's extensions)."
    expires_at: float | None = None
    "When the credential expires (an SSO token's exp, Unix seconds): a long-lived subscription ends then."
    banned: Ban | None = None
    "Set for a banned user: the actor is otherwise anonymous (reads like anyone), and every write is FORBIDDEN."

    def refuse_if_banned(self, workspace_id: int | None = None) -> None:
        """FORBIDDEN, saying why, for a banned user writing in their workspace (any workspace when None)."""
        if self.banned is not None and workspace_id in (None, self.banned.workspace_id):
            raise DomainError(ErrorCode.FORBIDDEN, self.banned.message)

    def role_in(self, workspace_id: int) -> ActorRole:
        return self.role if self.workspace_id == workspace_id else ActorRole.ANONYMOUS

    def is_member_of(self, workspace_id: int) -> bool:
        return self.role_in(workspace_id) >= ActorRole.MEMBER

    def is_moderator_of(self, workspace_id: int) -> bool:
        return self.role_in(workspace_id) >= ActorRole.MODERATOR

    def is_foreign_to(self, workspace_id: int) -> bool:
        """Signed in, but to another workspace: anonymous in this one (DECISIONS.md 1)."""
        return self.user_id is not None and self.workspace_id != workspace_id

    def require(self, workspace_id: int, needed: ActorRole, what: str, *, workspace_slug: str | None = None) -> int:
        """The user id, if the actor holds `needed` in the workspace; else UNAUTHENTICATED or FORBIDDEN.

        An actor of another workspace is told which workspace to sign in to (`workspace_slug`, which
        `require_in` looks up), or it would read "Sign in" while signed in. A banned user hears why."""
        self.refuse_if_banned(workspace_id)
        role = self.role_in(workspace_id)
        if role < needed:
            if self.is_foreign_to(workspace_id):
                where = f"workspace {workspace_slug!r}" if workspace_slug else "this board's workspace"
                raise DomainError(ErrorCode.UNAUTHENTICATED, f"Sign in to {where} to {what}.")
            if role == ActorRole.ANONYMOUS or self.user_id is None:
                raise DomainError(ErrorCode.UNAUTHENTICATED, f"Sign in to {what}.")
            raise DomainError(ErrorCode.FORBIDDEN, f"Only {needed.name.lower()}s and above may {what}.")
        assert self.user_id is not None
        return self.user_id

    def require_admin(self, what: str) -> int:
        """The workspace the actor administers (admins are API keys); UNAUTHENTICATED or FORBIDDEN otherwise."""
        self.refuse_if_banned()
        if self.workspace_id is None:
            raise DomainError(ErrorCode.UNAUTHENTICATED, f"Sign in with an API key to {what}.")
        self.require(self.workspace_id, ActorRole.ADMIN, what)
        return self.workspace_id


ANONYMOUS = Actor()


def actor_of(user: User) -> Actor:
    """How `user` reads when they sign in (a banned user as anonymous), to ask what they could see: whom a
    mention may notify."""
    if (ban := active_ban(user)) is not None or user.erased_at is not None:
        return Actor(banned=ban)
    return Actor(workspace_id=user.workspace_id, user_id=user.id, role=_ROLE_OF_USER[user.role])


async def require_in(session: AsyncSession, actor: Actor, workspace_id: int, needed: ActorRole, what: str) -> int:
    """`actor.require` for a workspace that may not be the actor's own: a refused actor of another workspace
    learns the workspace's slug (read only then, so an allowed write costs no statement)."""
    slug = None
    if actor.role_in(workspace_id) < needed and actor.is_foreign_to(workspace_id):
        slug = (await session.execute(select(Workspace.slug).where(Workspace.id == workspace_id))).scalar_one_or_none()
    return actor.require(workspace_id, needed, what, workspace_slug=slug)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def key_prefix(key: str) -> str:
    """What a listing shows of a key: `iek_` and 8 characters, enough to tell keys apart, useless to sign in."""
    return key[:12]


def new_sso_secret() -> str:
    return secrets.token_urlsafe(32)


async def issue_api_key(session: AsyncSession, workspace: Workspace, name: str = "") -> str:
    """Create a key and its service user (DECISIONS.md 2); the key is returned once and stored hashed."""
    key = new_api_key()
    user = User(
        workspace_id=workspace.id, external_id=f"apikey:{secrets.token_hex(8)}", name=name or "API key", role=Role.ADMIN
    )
    session.add(user)
    await session.flush()
    session.add(
        ApiKey(
            workspace_id=workspace.id, user_id=user.id, key_hash=hash_api_key(key), prefix=key_prefix(key), name=name
        )
    )
    await session.flush()
    return key


async def actor_for_api_key(session: AsyncSession, key: str) -> Actor:
    digest = hash_api_key(key)
    row = (
        await session.execute(
            select(ApiKey.key_hash, ApiKey.workspace_id, ApiKey.user_id).where(
                ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)
            )
        )
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return Actor(auth_errors=("The API key is unknown or revoked.",))
    return Actor(workspace_id=row.workspace_id, user_id=row.user_id, role=ActorRole.ADMIN)


_USER_BY_SUBJECT = select(User).where(
    User.workspace_id == bindparam("workspace_id"), User.external_id == bindparam("sub")
)
_SIGN_IN = (
    select(Workspace, User)
    .outerjoin(User, and_(User.workspace_id == Workspace.id, User.external_id == bindparam("sub")))
    .where(Workspace.slug == bindparam("slug"))
)
"Built once: a sign-in not seen in the last few seconds (`ActorCache`) reads its workspace and its user in this one\n"
"statement (building it cost about as much as running it). Under a stream of votes most voters are such sign-ins,\n"
"and a second round trip for the user was a third of a sign-in's cost. The user row is trusted only once the\n"
"token verifies."


async def actor_for_sso_token(
    session: AsyncSession,
    token: str,
    box: SecretBox,
    *,
    write: bool = True,
    max_lifetime: float = SSO_MAX_LIFETIME_SECONDS,
) -> Actor:
    """Verify a host app's HS256 token and provision its user on first sight; any fault is anonymous.

    Claims are untrusted text until checked: `iss` must look like a slug before it reaches a query, `sub`
    may hold no control characters, `exp` must be a number no further than `max_lifetime` past `iat` (or now).
    """
    try:
        # One parse for the header and the claims (the verified decode below parses once more).
        unverified_token = jwt.decode_complete(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        return Actor(auth_errors=("The token is not a JWT.",))
    header, unverified = unverified_token["header"], unverified_token["payload"]
    if header.get("alg") != SSO_ALGORITHM:
        return Actor(auth_errors=(f"SSO tokens must be signed with {SSO_ALGORITHM}.",))
    slug = unverified.get("iss")
    found = (
        (await session.execute(_SIGN_IN, {"slug": slug, "sub": _subject(unverified.get("sub"))})).one_or_none()
        if isinstance(slug, str) and validation.SLUG.fullmatch(slug)
        else None
    )
    if found is None:
        return Actor(auth_errors=("The token's issuer (iss) names no workspace.",))
    workspace, known = found
    try:
        claims = _verified_claims(token, workspace, box)
    except jwt.ExpiredSignatureError:
        return Actor(auth_errors=("The SSO token has expired.",))
    except (jwt.PyJWTError, ValueError) as exc:
        return Actor(auth_errors=(f"The SSO token is invalid: {exc}.",))
    if (problem := _lifetime_problem(claims, max_lifetime)) is not None:
        return Actor(auth_errors=(problem,))
    role_claim = claims.get("role", "member")
    if role_claim not in ("member", "moderator"):
        return Actor(auth_errors=("The token's role must be 'member' or 'moderator'.",))
    sub, name, email = _subject(claims["sub"]), _printable(claims.get("name")), _printable(claims.get("email"))
    if sub is None:
        return Actor(auth_errors=("The token's subject (sub) is not a valid user id.",))
    user = await _provision(
        session,
        known,  # read with the workspace, for the same `sub`: the verified claims are the ones read unverified
        workspace.id,
        sub,
        Role(role_claim),
        str(name)[:200] if name else None,
        str(email)[:320] if email else None,
        write,
    )
    if (ban := active_ban(user)) is not None:
        return Actor(banned=ban, auth_errors=(ban.message,))
    return Actor(
        workspace_id=workspace.id, user_id=user.id, role=_ROLE_OF_USER[user.role], expires_at=float(claims["exp"])
    )


def _verified_claims(token: str, workspace: Workspace, box: SecretBox) -> dict[str, Any]:
    """The token's claims, verified with the workspace's SSO secret or, during a rotation's grace period, with
    the secret it replaced; raises what jwt.decode raises."""
    try:
        return _decode(token, box.open(workspace.sso_secret_encrypted), workspace.slug)
    except jwt.InvalidSignatureError:
        previous = _previous_sealed_secret(workspace)
        if previous is None:
            raise
    return _decode(token, box.open(previous), workspace.slug)


def _decode(token: str, secret: str, issuer: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[SSO_ALGORITHM],
        issuer=issuer,
        leeway=SSO_LEEWAY_SECONDS,
        options={"require": ["exp", "iss", "sub"]},
    )
    return claims


def _previous_sealed_secret(workspace: Workspace) -> str | None:
    """The sealed secret a rotation replaced, while its grace period lasts; None after it (or never rotated)."""
    until = workspace.previous_sso_secret_until
    if workspace.previous_sso_secret_encrypted is None or until is None or utcnow() >= until:
        return None
    return workspace.previous_sso_secret_encrypted


def _lifetime_problem(claims: dict[str, Any], max_lifetime: float) -> str | None:
    exp, iat = claims["exp"], claims.get("iat")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        return "The SSO token's exp must be a number of seconds since 1970."
    start = iat if isinstance(iat, int | float) and not isinstance(iat, bool) and math.isfinite(iat) else None
    if exp - time.time() > max_lifetime or (start is not None and exp - start > max_lifetime):
        return f"The SSO token lives too long: at most {_duration(max_lifetime)} past iat (or now)."
    return None


def _duration(seconds: float) -> str:
    """A configured lifetime as an operator wrote it: `24 hours`, `10 minutes`, `90 seconds`."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' * (count != 1)}"
    return f"{seconds:g} second{'s' * (seconds != 1)}"


def _subject(claim: object) -> str | None:
    """The token's `sub` as a user id; None for one that cannot be (empty, too long, reserved, control characters),
    which must not reach a query either (PostgreSQL refuses a NUL)."""
    sub = str(claim)
    if not sub or len(sub) > SUBJECT_MAX or sub.startswith(RESERVED_SUBJECTS) or _printable(sub) != sub:
        return None
    return sub


def _printable(value: object) -> str | None:
    """Claim text without control characters or lone surrogates (a NUL is refused by PostgreSQL)."""
    if value is None:
        return None
    return "".join(c for c in str(value) if unicodedata.category(c) not in ("Cc", "Cs")) or None


class WriteNeeded(Exception):
    """Raised instead of writing when a token was checked in a read-only session and its user must be
    provisioned or updated: the caller retries in a write transaction."""


async def _provision(
    session: AsyncSession,
    user: User | None,
    workspace_id: int,
    sub: str,
    role: Role,
    name: str | None,
    email: str | None,
    write: bool,
) -> User:
    """The token is the host app's word on who the user is now (`user`, None before its first sign-in): keep
    name, email and role in step."""
    outdated = user is None or ((user.name, user.email, user.role) != (name, email, role) and user.role != Role.ADMIN)
    if outdated and not write:
        raise WriteNeeded
    if user is None:
        await insert_ignore(
            session,
            User,
            dict(workspace_id=workspace_id, external_id=sub, name=name, email=email, role=role),
            ["workspace_id", "external_id"],
        )
        user = (await session.execute(_USER_BY_SUBJECT, {"workspace_id": workspace_id, "sub": sub})).scalar_one()
    elif (user.name, user.email, user.role) != (name, email, role) and user.role != Role.ADMIN:
        user.name, user.email, user.role = name, email, role
        await session.flush()
    return user


def authorization_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def resolve_actor(
    session: AsyncSession,
    authorization: str | None,
    box: SecretBox,
    *,
    write: bool = True,
    max_lifetime: float = SSO_MAX_LIFETIME_SECONDS,
) -> Actor:
    """The caller; with write=False nothing is written and WriteNeeded says a user must be provisioned."""
    token = authorization_token(authorization)
    if authorization and token is None:
        return Actor(auth_errors=("The Authorization header must be 'Bearer <API key or SSO token>'.",))
    if token is None:
        return ANONYMOUS
    if token.startswith(API_KEY_PREFIX):
        return await actor_for_api_key(session, token)
    return await actor_for_sso_token(session, token, box, write=write, max_lifetime=max_lifetime)


class ActorCache:
    """Who a credential is, remembered for a few seconds: resolving it costs a database round trip (and for
    SSO tokens a JWT check and a decryption) on every request, more than the vote it carries.

    Safe because an actor is a function of the credential: an SSO token carries the user's role, name and
    email, and an API key is its workspace's admin until it is revoked. A key revoked through this server is
    forgotten at once (`forget_user`); one revoked elsewhere (another server, the CLI) is noticed within
    TTL_SECONDS. An SSO token is never served past its `exp`. Rejected credentials are not kept (their errors
    are cheap to find again and must not pin memory).
    """

    TTL_SECONDS = 10.0
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Actor]] = {}
        # User ids forgotten lately, and until when: a request that read the credential just before the
        # revoke committed must not put it back.
        self._forgotten: dict[int, float] = {}

    def get(self, authorization: str) -> Actor | None:
        entry = self._entries.get(authorization)
        if entry is None:
            return None
        if entry[0] <= time.time():
            del self._entries[authorization]
            return None
        return entry[1]

    def put(self, authorization: str, actor: Actor) -> None:
        if actor.auth_errors or actor.user_id is None:
            return
        now = time.time()
        if (until := self._forgotten.get(actor.user_id)) is not None:
            if until > now:
                return
            del self._forgotten[actor.user_id]
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()  # a flood of distinct credentials: start over rather than grow
        until = now + self.TTL_SECONDS
        if actor.expires_at is not None:
            until = min(until, actor.expires_at)
        self._entries[authorization] = (until, actor)

    def forget_user(self, user_id: int) -> None:
        """Drop every credential of one user (an API key's service user, when the key is revoked)."""
        now = time.time()
        self._forgotten = {u: t for u, t in self._forgotten.items() if t > now}
        self._forgotten[user_id] = now + self.TTL_SECONDS
        for authorization in [a for a, (_, actor) in self._entries.items() if actor.user_id == user_id]:
            del self._entries[authorization]
