"""The ASGI app: GraphQL at /graphql (HTTP and graphql-transport-ws), /healthz. A composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text
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
from ideaengine.platform.services import Services
from ideaengine.platform.settings import Settings
from schema import Context, build_schema
from schema.websocket import TransportWSHandler

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
            build_schema(settings.max_query_depth, settings.max_aliases, settings.max_tokens),
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),  # never legacy graphql-ws (DECISIONS.md 3)
            allowed_origins=tuple(settings.cors_origins),
            keep_alive=True,
            keep_alive_interval=15,
        )
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        from cross_web import HTTPException

        request = Request(scope, receive=receive)
        graphql_response = media.wants_graphql_response(request.headers.get("accept"))
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
        if media.wants_graphql_response(request.headers.get("accept")) and media.is_request_error(
            processed.get("data"), processed.get("errors")
        ):
            processed.pop("data", None)  # the spec's request error: nothing ran, so there is no data entry
            request.state.request_error = True
        return processed

    def encode_json(self, data: object) -> str:
        # A str, not bytes: strawberry sends bytes over a WebSocket as binary frames, which graphql-ws
        # clients in browsers and Node reject ("Message is missing the 'type' property").
        return orjson.dumps(data).decode()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        authorization = request.headers.get("authorization")
        actor = await self._actor(authorization)
        return Context(services=self.services, actor=actor, request=request, response=response)

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        token = params.get("authorization") or params.get("Authorization")
        if isinstance(token, str) and token:
            context.actor = await self._actor(token)
        return None

    async def _actor(self, authorization: str | None) -> Actor:
        if not authorization:
            return identity.ANONYMOUS
        # A read first: most requests come from known users, and a write transaction takes SQLite's lock.
        async with self.services.db.read() as session:
            try:
                return await identity.resolve_actor(session, authorization, self.services.box, write=False)
            except identity.WriteNeeded:
                pass
        async with self.services.db.transaction() as session:  # a first SSO token provisions its user
            return await identity.resolve_actor(session, authorization, self.services.box)


async def _sweep_forever(services: Services) -> None:
    """The in-process runner's timer: refresh stale boards at start and every sweep interval."""
    while True:
        try:
            await sweep.sweep(services.db, services.queue)
        except Exception:  # the next sweep tries again
            log.exception("sweep failed")
        await asyncio.sleep(services.settings.sweep_interval_seconds)


async def _job_health(services: Services) -> dict[str, Any]:
    """Queue depth and the age of the stalest board score (None where it cannot be read)."""
    try:
        depth: int | None = await asyncio.to_thread(services.queue.depth)
    except Exception as exc:  # Redis down: say so rather than fail the whole check
        log.warning("health check: queue unreadable: %s", exc)
        depth = None
    async with services.db.read() as session:
        stalest = await scores.stalest_age_seconds(session)
    return {"queueDepth": depth, "stalestScoreAgeSeconds": round(stalest, 3)}


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The app; `services` may be given (tests) and is then closed by its owner, not by the app."""
    own = services is None
    services = services or Services.create(settings)
    graphql = GraphQLApp(services)

    async def healthz(request: Request) -> JSONResponse:
        try:
            async with services.db.read() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:  # the point of this endpoint is to say so, not to raise
            log.warning("health check: database unreachable: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", **await _job_health(services)})

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

    middleware = [Middleware(logs.AccessLog)]
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
