"""The ASGI app: GraphQL at /graphql (HTTP and graphql-transport-ws), /healthz. A composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from ideaengine import identity, scores, sweep
from ideaengine.identity import Actor
from ideaengine.platform import logs, media
from ideaengine.platform.body_limit import BodyLimit
from ideaengine.platform.jobs import InProcessQueue
from ideaengine.platform.ratelimit import AnonymousReads
from ideaengine.platform.services import Services
from ideaengine.platform.settings import Settings
from schema import Context, SharedReads, build_schema
from schema.websocket import SubscriptionCaps, TransportWSHandler

log = logging.getLogger("ideaengine.app")

GRAPHIQL = Path(__file__).parent / "static" / "graphiql"
"GraphiQL, React and the explorer plugin, shipped with the package (versions, licences and hashes beside them)."


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, JSON for every error and token auth on WebSockets."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ide_html = (GRAPHIQL / "index.html").read_text()
    "GraphiQL with its scripts served from /graphiql: the IDE works without internet (strawberry's loads a CDN)."

    def __init__(self, services: Services) -> None:
        settings = services.settings
        super().__init__(
            build_schema(
                settings.max_query_depth,
                settings.max_aliases,
                settings.max_tokens,
                settings.max_query_cost_anonymous,
                settings.max_query_cost,
            ),
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # never legacy graphql-ws (DECISIONS.md 3)
            allowed_origins=tuple(settings.cors_origins),
            keep_alive=True,
            keep_alive_interval=15,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        )
        self.subscription_caps = SubscriptionCaps(
            per_ip=settings.max_subscriptions_per_ip,
            per_user=settings.max_subscriptions_per_user,
            per_server=settings.max_subscriptions_per_server,
        )
        self.services = services
        self.actors = ActorCache()
        self.max_token_lifetime = settings.sso_max_token_lifetime_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        graphql_response = request.state.graphql_response = media.wants_graphql_response(request.headers.get("accept"))
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # DECISIONS.md 6: a 400 carries a JSON body, never text/plain.
            response = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                status_code=exc.status_code,
            )
        if graphql_response and response.media_type == media.JSON:
            response.headers["content-type"] = f"{media.GRAPHQL_RESPONSE}; charset=utf-8"
            if getattr(request.state, "request_error", False):
                response.status_code = 400
        await response(scope, receive, send)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        request.state.graphql_errors = len(processed.get("errors") or ())  # for the access log
        if getattr(request.state, "graphql_response", False) and media.is_request_error(
            processed.get("data"), processed.get("errors")
        ):
            processed.pop("data", None)  # the spec's request error: nothing ran, so there is no data entry
            request.state.request_error = True
        return processed

    def parse_json(self, data: str | bytes) -> Any:
        """orjson refuses nesting past 1,024 levels at once (json.loads recursed until it crashed); anything
        but a JSON object (a bare string, say) is the client's mistake, not a server error."""
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"The request is not valid JSON: {exc}.") from None
        if not isinstance(parsed, dict):
            raise HTTPException(400, "The request body, and `variables` and `extensions`, must be JSON objects.")
        return parsed

    def encode_json(self, data: object) -> str:
        # A str, not bytes: strawberry sends bytes over a WebSocket as binary frames, which graphql-ws
        # clients in browsers and Node reject ("Message is missing the 'type' property").
        return orjson.dumps(data).decode()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        authorization = request.headers.get("authorization")
        actor = await self._actor(authorization)
        # An HTTP request reads through one connection; a WebSocket's context lives as long as the socket.
        reads = SharedReads(self.services.db) if isinstance(request, Request) else None
        return Context(services=self.services, actor=actor, request=request, response=response, shared_reads=reads)

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        token = params.get("authorization") or params.get("Authorization")
        if isinstance(token, str) and token:
            context.actor = await self._actor(token)
        return None

    async def _actor(self, authorization: str | None) -> Actor:
        if not authorization:
            return identity.ANONYMOUS
        if (known := self.actors.get(authorization)) is not None:
            return known
        # A read first: most requests come from known users, and a write transaction takes SQLite's lock.
        async with self.services.db.read() as session:
            try:
                actor = await identity.resolve_actor(
                    session, authorization, self.services.box, write=False, max_lifetime=self.max_token_lifetime
                )
            except identity.WriteNeeded:
                actor = None
        if actor is None:
            async with self.services.transaction() as session:  # a first SSO token provisions its user
                actor = await identity.resolve_actor(
                    session, authorization, self.services.box, max_lifetime=self.max_token_lifetime
                )
        self.actors.put(authorization, actor)
        return actor


class ActorCache:
    """Who a credential is, remembered for a few seconds: resolving it costs a database round trip (and for
    SSO tokens a JWT check and a decryption) on every request, more than the vote it carries.

    Safe because an actor is a function of the credential: an SSO token carries the user's role, name and
    email, and an API key is its workspace's admin until it is deleted. A deleted key or workspace is
    noticed within TTL_SECONDS; an SSO token is never served past its `exp`. Rejected credentials are not
    kept (their errors are cheap to find again and must not pin memory).
    """

    TTL_SECONDS = 10.0
    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Actor]] = {}

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
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()  # a flood of distinct credentials: start over rather than grow
        until = time.time() + self.TTL_SECONDS
        if actor.expires_at is not None:
            until = min(until, actor.expires_at)
        self._entries[authorization] = (until, actor)


async def _sweep_forever(services: Services) -> None:
    """The in-process runner's timer: refresh stale boards at start and every sweep interval."""
    while True:
        try:
            await sweep.sweep(services.db, services.queue)
        except Exception:  # the next sweep tries again
            log.exception("sweep failed")
        await asyncio.sleep(services.settings.sweep_interval_seconds)


async def _job_health(services: Services, session: AsyncSession) -> dict[str, Any]:
    """Queue depth and the age of the stalest board score (None where it cannot be read)."""
    try:
        # The in-process count is a len(); only Redis needs a thread, and the shared executor may be busy with
        # in-process jobs (score refreshes), which made a health check wait behind them under a burst of votes.
        queue = services.queue
        depth: int | None = queue.depth() if isinstance(queue, InProcessQueue) else await asyncio.to_thread(queue.depth)
    except Exception as exc:  # Redis down: say so rather than fail the whole check
        log.warning("health check: queue unreadable: %s", exc)
        depth = None
    stalest = await scores.stalest_age_seconds(session)
    return {"queueDepth": depth, "stalestScoreAgeSeconds": round(stalest, 3)}


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The app; `services` may be given (tests) and is then closed by its owner, not by the app."""
    own = services is None
    services = services or Services.create(settings)
    graphql = GraphQLApp(services)

    async def healthz(request: Request) -> JSONResponse:
        # One session, two statements: every round trip waits its turn on a busy event loop.
        async with services.db.read() as session:
            try:
                await session.execute(text("SELECT 1"))
            except Exception as exc:  # the point of this endpoint is to say so, not to raise
                log.warning("health check: database unreachable: %s", exc)
                return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
            return JSONResponse({"status": "ok", "database": "ok", **await _job_health(services, session)})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = None
        if not settings.redis_url:  # distributed: the workers sweep
            sweeper = asyncio.get_running_loop().create_task(_sweep_forever(services))
        yield
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        if own:
            await services.close()

    middleware = [
        Middleware(logs.AccessLog),
        Middleware(BodyLimit, max_bytes=settings.max_request_bytes),
        Middleware(AnonymousReads, limits=services.limits),
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
                max_age=600,
            )
        )
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST", "OPTIONS"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Mount("/graphiql", StaticFiles(directory=GRAPHIQL), name="graphiql"),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.services = services
    return app
