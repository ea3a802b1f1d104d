"""The ASGI app: GraphQL at /graphql (HTTP and graphql-transport-ws), /healthz, the embeddable board at
/embed/{workspace}/{board} (and its try page). A composition root."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, overload

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
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from ideaengine import embed, identity, mail, scores, sweep, unsubscribe
from ideaengine.identity import Actor
from ideaengine.platform import embeddings, logs, media, replay
from ideaengine.platform.body_limit import MAX_LIST_ITEMS, BodyLimit, longest_list
from ideaengine.platform.db import unavailable
from ideaengine.platform.jobs import InProcessQueue
from ideaengine.platform.ratelimit import AnonymousReads
from ideaengine.platform.response_cache import Cached, ResponseCache
from ideaengine.platform.services import Services
from ideaengine.platform.settings import Settings
from schema import Context, SharedReads, authentication_report, build_schema
from schema.websocket import SubscriptionCaps, TransportWSHandler

log = logging.getLogger("ideaengine.app")

GRAPHIQL = Path(__file__).parent / "static" / "graphiql"
"GraphiQL, React and the explorer plugin, shipped with the package (versions, licences and hashes beside them)."

CACHE_HEADER = "x-ideaengine-cache"
"Set to `hit` on an answer served from the response cache (ideaengine/platform/response_cache.py)."


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
        self.actors = identity.ActorCache()
        self.responses = ResponseCache(settings.response_cache_bytes)
        self.operations = asyncio.Semaphore(settings.concurrent_operations)
        """HTTP operations that run at once; the rest wait their turn. Hundreds at once on one event loop made
        every loop turn long (a health check waited seconds behind a burst of 300 voters) and emptied the
        connection pools, when the database serves a few dozen at a time no slower."""
        self.max_token_lifetime = settings.sso_max_token_lifetime_seconds
        self.plain_posts = (
            not self._stream_transport_map and not self.schema.config.enable_experimental_incremental_execution
        )
        "Whether `run` may take a POST of one JSON operation the short way: no stream transport or deferred delivery."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        graphql_response = request.state.graphql_response = media.wants_graphql_response(request.headers.get("accept"))
        reads = request.state.shared_reads = SharedReads(self.services.db)
        try:
            key = await self._cache_key(request, graphql_response)
            version = None if key is None else await self._data_version(reads)
            hit: Cached | None = None
            known: Sequence[replay.Read] = ()
            if key is not None and version is not None:
                hit = self.responses.get(key, version)
                if hit is None:
                    hit, known = await self._still_holds(key, version, reads)
            if hit is not None:
                await reads.close()
                request.state.graphql_operation, request.state.graphql_errors = hit.operation, 0
                headers = {"content-type": hit.media_type, CACHE_HEADER: "hit"}
                await Response(hit.body, headers=headers)(scope, receive, send)
                return
            try:
                # Only an answer the cache may keep records its reads: the rest (signed in, too long) would copy
                # every row they read for nothing.
                with replay.recording(known) if key is not None else contextlib.nullcontext() as recorded:
                    async with self.operations:
                        response = await self.run(request)
            except HTTPException as exc:
                # DECISIONS.md 6: a 400 carries a JSON body, never text/plain.
                response = JSONResponse(
                    {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                    status_code=exc.status_code,
                )
            except Exception as exc:
                # Before the operation runs (who the caller is), the database may be out of reach: say so
                # with 503 and Retry-After rather than a 500. Anything else is a bug and propagates.
                if (message := unavailable(exc)) is None:
                    raise
                log.warning("answered 503: %s", exc)
                response = JSONResponse(
                    {"errors": [{"message": message, "extensions": {"code": "SERVICE_UNAVAILABLE"}}]},
                    status_code=503,
                    headers={"retry-after": "1"},
                )
        finally:
            await reads.close()  # the request's read connection, once its answer is made (or it never ran)
        if graphql_response and response.media_type == media.JSON:
            response.headers["content-type"] = f"{media.GRAPHQL_RESPONSE}; charset=utf-8"
            if getattr(request.state, "request_error", False):
                response.status_code = 400
        if key is not None and version is not None and _cacheable(request, response):
            operation = request.state.graphql_operation
            body, media_type = bytes(response.body), response.headers["content-type"]
            recipe = None if recorded is None else recorded.recipe()
            self.responses.put(key, Cached(version, body, media_type, operation, recipe))
        await response(scope, receive, send)

    @overload
    async def run(self, request: Request, context: Context = UNSET, root_value: None = UNSET) -> Response: ...

    @overload
    async def run(self, request: WebSocket, context: Context = UNSET, root_value: None = UNSET) -> WebSocket: ...

    async def run(
        self, request: Request | WebSocket, context: Context = UNSET, root_value: None = UNSET
    ) -> Response | WebSocket:
        """strawberry's `run`, the usual request taken the short way: an HTTP POST of one JSON operation
        (`_plain_operation`) skips the questions strawberry asks every request (a WebSocket? the IDE? a batch?
        a stream? a subscription's result, by a Protocol isinstance check, 11 us; the content type, parsed by
        the email package, 6 us), where a vote costs the server 0.6-0.8 ms of CPU. The steps it takes are
        strawberry's own methods, in strawberry's order; any other request, and any it would refuse, goes through
        strawberry."""
        if not isinstance(request, Request) or context is not UNSET or root_value is not UNSET:
            return await super().run(request, context, root_value)
        if (request_data := await self._plain_operation(request)) is None:
            return await super().run(request)
        request_adapter = self.request_adapter_class(request)
        root_value = await self.get_root_value(request)
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        result = await self.execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data,
        )
        response_data = await self.process_result(request=request, result=result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    async def _plain_operation(self, request: Request) -> GraphQLRequestData | None:
        """The operation of an HTTP POST of one JSON operation as strawberry reads it, when strawberry would
        take it as it is (a query string; variables and extensions objects or absent) and run it with
        `execute_single` (`plain_posts`). None for anything else."""
        if request.method != "POST" or not self.plain_posts:
            return None
        media_type = request.headers.get("content-type", "")
        if media_type != media.JSON and not media_type.startswith(f"{media.JSON};"):
            return None
        try:
            data = self.parse_json(await request.body())
        except HTTPException:  # strawberry refuses it, after the steps that come first
            return None
        query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None
        if not isinstance(extensions, dict | None):
            return None
        return GraphQLRequestData(
            query=query, variables=variables, operation_name=data.get("operationName"), extensions=extensions
        )

    async def _cache_key(self, request: Request, graphql_response: bool) -> bytes | None:
        """What an anonymous answer depends on besides the data: the request as sent and the media type asked
        for. None for requests no other caller's answer may serve (a credential) or that are too long."""
        if not self.responses.enabled or "authorization" in request.headers:
            return None
        if request.method == "GET":
            sent = request.scope.get("query_string", b"")
        elif request.method == "POST":
            if int(request.headers.get("content-length") or 0) > self.responses.MAX_KEY_BYTES:
                return None
            sent = await request.body()
        else:
            return None
        kind = request.headers.get("content-type", "").encode("latin-1")
        key = b"\0".join((request.method.encode(), kind, b"1" if graphql_response else b"0", sent))
        return key if self.responses.keeps(key) else None

    async def _still_holds(
        self, key: bytes, version: str, reads: SharedReads
    ) -> tuple[Cached | None, Sequence[replay.Read]]:
        """The entry under `key`, now kept under `version`, if the data version moved but every read behind the
        answer returns the same rows (`replay`); else None, and the reads run meanwhile, for the operation to
        use rather than run again."""
        if self.responses.replayable(key) is None:
            return None, ()
        async with self.responses.checking(key):
            if (confirmed := self.responses.get(key, version)) is not None:  # by the check this one waited for
                return confirmed, ()
            entry = self.responses.replayable(key)
            if entry is None or entry.reads is None:
                return None, ()
            try:
                async with reads.session() as session:
                    same, now = await replay.again(session, entry.reads)
            except Exception as exc:  # the database is out of reach: the operation will say so, uncached
                log.debug("replay failed, answering afresh: %s", exc)
                return None, ()
            if not same:
                return None, now
            entry = dataclasses.replace(entry, version=version)
            self.responses.put(key, entry)  # before the next in line looks
            return entry, ()

    @staticmethod
    async def _data_version(reads: SharedReads) -> str | None:
        try:
            return await reads.data_version()
        except Exception as exc:  # the database is down: the operation will say so, uncached
            log.debug("no data version, answering uncached: %s", exc)
            return None

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
        but a JSON object (a bare string, say) is the client's mistake, not a server error; and so is a list
        too long for any input, refused before GraphQL coerces its every item."""
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise HTTPException(400, f"The request is not valid JSON: {exc}.") from None
        if not isinstance(parsed, dict):
            raise HTTPException(400, "The request body, and `variables` and `extensions`, must be JSON objects.")
        if (length := longest_list(parsed)) is not None:  # the body, or a GET's `variables` alone
            raise HTTPException(400, f"A list in the request holds {length} items; at most {MAX_LIST_ITEMS}.")
        return parsed

    def encode_json(self, data: object) -> str:
        # A str, not bytes: strawberry sends bytes over a WebSocket as binary frames, which graphql-ws
        # clients in browsers and Node reject ("Message is missing the 'type' property").
        return orjson.dumps(data).decode()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        authorization = request.headers.get("authorization")
        actor = await self._actor(authorization)
        # An HTTP request reads through one connection; a WebSocket's context lives as long as the socket.
        reads = request.state.shared_reads if isinstance(request, Request) else None
        return Context(
            services=self.services,
            actor=actor,
            request=request,
            response=response,
            shared_reads=reads,
            actors=self.actors,
        )

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        token = params.get("authorization") or params.get("Authorization")
        if isinstance(token, str) and token:
            context.actor = await self._actor(token)
        # A refused token leaves the connection anonymous: the ack says why, as an HTTP answer's extensions do.
        return authentication_report(context.actor) or None

    async def _actor(self, authorization: str | None) -> Actor:
        if not authorization:
            return identity.ANONYMOUS
        if (known := self.actors.get(authorization)) is not None:
            return known
        # A read first: most requests come from known users, and a write transaction takes SQLite's lock. It is
        # one statement, so it needs no transaction of its own (no BEGIN and ROLLBACK round trips).
        async with self.services.db.reader() as session:
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


def _cacheable(request: Request, response: Response) -> bool:
    """A query that ran and answered without errors: never a mutation, a refusal or a failure."""
    return (
        response.status_code == 200
        and getattr(request.state, "graphql_errors", None) == 0
        and getattr(request.state, "graphql_operation_type", None) == OperationType.QUERY
    )


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


def _warm_embeddings() -> None:
    """`embeddings.warm` in the background of a start: a failure is logged here and met again by the first draft."""
    try:
        embeddings.warm()
    except Exception:
        log.exception("loading the sentence-embedding model failed; the first draft will try again")


GC_YOUNG_THRESHOLD = 10_000
"Allocations (net of frees) between the collector's young passes; CPython's default is 700."


def gc_freeze() -> None:
    """Leave what the server holds for good (modules, the schema, compiled statements) out of the collector's
    full passes, and let its young passes wait longer. The full passes walked every object the process held: on a
    10,000-idea board's page, one pass in a hundred requests, 120 ms each, which came to 1.4 ms of each page's 9
    and stalled every request in flight meanwhile. A request's objects die with it (`Context.release` breaks the
    cycle that kept them), but a page holds more than 700 at once, so at the default threshold each page still
    paid a young pass, and a middle one every tenth (about 0.25 ms a page; at 10,000, 0.06). Collected first, so
    garbage is not kept for good."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The app; `services` may be given (tests) and is then closed by its owner, not by the app."""
    own = services is None
    services = services or Services.create(settings)
    graphql = GraphQLApp(services)

    async def healthz(request: Request) -> JSONResponse:
        # One session, two statements: every round trip waits its turn on a busy event loop. A pool of its own,
        # in autocommit: a burst holds every connection of the API's pools, and no BEGIN is needed.
        async with services.db.health_reader() as session:
            try:
                await session.execute(text("SELECT 1"))
            except Exception as exc:  # the point of this endpoint is to say so, not to raise
                log.warning("health check: database unreachable: %s", exc)
                return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
            jobs = await _job_health(services, session)
            return JSONResponse({"status": "ok", "database": "ok", **jobs, "embeddings": embeddings.state()})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sweeper = None
        if not settings.redis_url:  # distributed: the workers sweep
            sweeper = asyncio.get_running_loop().create_task(_sweep_forever(services))
        if embeddings.available():  # the model loads beside the requests, not in the first draft's
            asyncio.get_running_loop().run_in_executor(None, _warm_embeddings)
        gc_freeze()
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
            Route(mail.UNSUBSCRIBE_PATH, unsubscribe.unsubscribe_page, methods=["GET", "POST"]),
            Mount("/graphiql", StaticFiles(directory=GRAPHIQL), name="graphiql"),
            Route("/embed/{workspace}/{board}", embed.embed_page(settings.cors_origins)),
            Route("/embed/{workspace}/{board}/try", embed.try_page(settings.cors_origins)),
            Mount(embed.STATIC_PATH, StaticFiles(directory=embed.STATIC), name="embed"),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.services = services
    return app
