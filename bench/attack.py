"""Replays every attack of issue 12 against a live `ideaengine serve` and prints, for each, the answer, its time
and the worst `/healthz` latency a concurrent poller saw while it ran (the server must keep answering its health
check within 200 ms whatever one visitor does).

The server runs as deployed, on a scratch database seeded by `ideaengine demo`, with the default limits (rate
limits on, in memory). Every attack comes from 127.0.0.1, so it spends one address's budgets, as a single
attacker would; each attack starts on fresh budgets (a new server process) only where the README says so.

    .venv/bin/python -m bench.attack [--database sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench.api_bench import database, demo_database, serve, settle

HEALTH_BUDGET_MS = 200.0
"The worst /healthz latency allowed while any one attack runs."
POLL_SECONDS = 0.02


@dataclass
class Target:
    url: str
    "The /graphql URL."
    workspace: str
    api_key: str
    sso_secret: str
    board_id: str = ""
    idea_ids: list[str] = field(default_factory=list)
    pid: int = 0
    "The server process, whose memory some attacks report."

    @property
    def base(self) -> str:
        return self.url.removesuffix("/graphql")

    def token(self, sub: str, **claims: Any) -> str:
        payload = {"iss": self.workspace, "sub": sub, "name": sub.title(), "exp": int(time.time()) + 3600}
        return jwt.encode(payload | claims, self.sso_secret, algorithm="HS256")


class HealthPoller:
    """Polls /healthz on its own connection, back to back, and keeps the worst latency of the current window."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.worst = 0.0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> HealthPoller:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    def reset(self) -> None:
        self.worst, self.failures = 0.0, 0

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            while True:
                started = time.perf_counter()
                try:
                    ok = (await client.get(self.base + "/healthz")).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.worst = max(self.worst, (time.perf_counter() - started) * 1000)
                self.failures += not ok
                await asyncio.sleep(POLL_SECONDS)


async def post(
    client: httpx.AsyncClient, target: Target, query: str, variables: Any = None, auth: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {auth}"} if auth else {}
    return await client.post(target.url, json={"query": query, "variables": variables or {}}, headers=headers)


def code_of(response: httpx.Response) -> str:
    """What a client sees: the HTTP status and the first error code (or userError code), else "ok"."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} {response.headers.get('content-type', '')}"
    errors = body.get("errors") or []
    if errors:
        extensions = errors[0].get("extensions") or {}
        return f"{response.status_code} {extensions.get('code') or errors[0]['message'][:48]}"
    data = body.get("data") or {}
    for value in data.values():
        if isinstance(value, dict) and value.get("userErrors"):
            return f"{response.status_code} {value['userErrors'][0]['code']}"
    auth = (body.get("extensions") or {}).get("authentication")
    if auth:
        return f"{response.status_code} anonymous: {auth['errors'][0][:44]}"
    return f"{response.status_code} ok"


def tally(codes: list[str]) -> str:
    counts: dict[str, int] = {}
    for c in codes:
        counts[c] = counts.get(c, 0) + 1
    return ", ".join(f"{n} x {c}" for c, n in sorted(counts.items(), key=lambda kv: -kv[1]))


# --- the attacks ----------------------------------------------------------------------------------------------

HEAVY_PAGE = 'board(workspace: "demo", slug: "ideas") { ideas(first: 100) { edges { node { title similar(first: 20) { idea { title } } } } } }'  # noqa: E501


async def expensive_nested_query(client: httpx.AsyncClient, t: Target) -> str:
    """1: thirty aliases of a 100-idea page with 20 similar ideas each, twice at once, anonymous."""
    query = "{ " + " ".join(f"a{i}: {HEAVY_PAGE}" for i in range(30)) + " }"
    answers = await asyncio.gather(post(client, t, query), post(client, t, query))
    return tally([code_of(a) for a in answers])


async def thirty_one_aliases(client: httpx.AsyncClient, t: Target) -> str:
    """1: one alias past the limit."""
    query = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(31)) + " }"
    return code_of(await post(client, t, query))


async def thirty_thousand_tags(client: httpx.AsyncClient, t: Target) -> str:
    """2: submitIdea with 30,000 distinct tags (a quadratic check once froze the server for 29 s)."""
    variables = {"i": {"boardId": t.board_id, "title": "Tags galore", "tags": [f"t{n}" for n in range(30_000)]}}
    query = "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { userErrors { code message } } }"
    return code_of(await post(client, t, query, variables, t.token("tagger")))


async def huge_bodies(client: httpx.AsyncClient, t: Target) -> str:
    """3: forty anonymous 5 MB queries at once, then one of 10 MB."""
    padded = b'{"query": "{ __typename }' + b" " * 5_000_000 + b'"}'
    headers = {"content-type": "application/json"}
    answers = await asyncio.gather(*(client.post(t.url, content=padded, headers=headers) for _ in range(40)))
    bigger = await client.post(t.url, content=b'{"query": "{ __typename }' + b" " * 10_000_000 + b'"}', headers=headers)
    return tally([code_of(a) for a in [*answers, bigger]])


async def deep_json(client: httpx.AsyncClient, t: Target) -> str:
    """5: JSON nested 100,000 levels, and a body that is a bare string."""
    deep = await client.post(
        t.url, content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"}
    )
    bare = await client.post(t.url, content=b'"str"', headers={"content-type": "application/json"})
    return tally([code_of(deep), code_of(bare)])


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def bad_tokens(client: httpx.AsyncClient, t: Target) -> str:
    """5, 11: a lone surrogate in an unsigned token's iss, NUL in a signed sub and name, exp as a string and 1e30."""
    tokens = [
        _unsigned({"iss": "\ud800", "sub": "x", "exp": int(time.time()) + 60}),
        t.token("nul\x00sub"),
        t.token("alice", name="Al\x00ice"),
        t.token("alice", exp=str(int(time.time()) + 60)),
        t.token("alice", exp=1e30),
    ]
    answers = [await post(client, t, "{ viewer { role } }", auth=token) for token in tokens]
    return tally([code_of(a) for a in answers])


async def odd_input(client: httpx.AsyncClient, t: Target) -> str:
    """6: Unicode digits in an id, an id past 2^31, NUL in a workspace and a search, an unknown enum variable,
    a subscription over HTTP."""
    cases = [
        ('{ idea(id: "SWRlYTrCsg") { id } }', None),
        ('{ idea(id: "SWRlYTo0Mjk0OTY3Mjk2") { id } }', None),
        ('{ board(workspace: "de\\u0000mo", slug: "ideas") { id } }', None),
        (
            'query($q: String) { board(workspace: "demo", slug: "ideas") { ideas(search: $q) { totalCount } } }',
            {"q": "a\x00"},
        ),
        (
            'query($s: IdeaSort) { board(workspace: "demo", slug: "ideas") { ideas(sort: $s) { totalCount } } }',
            {"s": "NOPE"},
        ),
        (f'subscription {{ boardActivity(boardId: "{t.board_id}") {{ __typename }} }}', None),
    ]
    answers = [await post(client, t, query, variables) for query, variables in cases]
    return tally([code_of(a) for a in answers])


async def invisible_text(client: httpx.AsyncClient, t: Target) -> str:
    """11: titles of three zero-width spaces, with a bidi override, and a comment of control characters."""
    query = "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { userErrors { code } } }"
    titles = ["\u200b\u200b\u200b", "Cheaper \u202eettal", "\u2066abc\u2069"]
    answers = [
        await post(client, t, query, {"i": {"boardId": t.board_id, "title": title}}, t.token("writer"))
        for title in titles
    ]
    comment = "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }"
    answers.append(await post(client, t, comment, {"i": {"ideaId": t.idea_ids[0], "body": "\x00\x01"}}, t.token("w")))
    return tally([code_of(a) for a in answers])


async def rate_limit_burst(client: httpx.AsyncClient, t: Target) -> str:
    """10: one user sends 300 comments, 150 ideas and 300 votes as fast as it can; 700 anonymous reads."""
    token = t.token("spammer")
    comment = "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }"
    submit = "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { userErrors { code } } }"
    vote = "mutation($i: VoteInput!) { vote(input: $i) { userErrors { code } } }"
    codes = []
    for n in range(300):
        codes.append(
            code_of(await post(client, t, comment, {"i": {"ideaId": t.idea_ids[0], "body": f"Spam {n}"}}, token))
        )
    for n in range(150):
        body = {"i": {"boardId": t.board_id, "title": f"Spam idea number {n}"}}
        codes.append(code_of(await post(client, t, submit, body, token)))
    for n in range(300):
        body = {"i": {"ideaId": t.idea_ids[n % len(t.idea_ids)], "value": "UP" if n % 2 else "DOWN"}}
        codes.append(code_of(await post(client, t, vote, body, token)))
    reads = [(await client.post(t.url, json={"query": "{ __typename }"})).status_code for _ in range(700)]
    return f"{tally(codes)}; reads: {tally([str(r) for r in reads])}"


async def first_time_voters(client: httpx.AsyncClient, t: Target) -> str:
    """7: 300 first-time SSO voters at once, then the tally read back: it must have grown by the votes taken."""
    vote = "mutation($i: VoteInput!) { vote(input: $i) { userErrors { code } } }"
    target = t.idea_ids[-1]
    tokens = [t.token(f"first-timer-{n}-{time.time_ns()}") for n in range(300)]
    before = await up_votes(client, t, target)
    answers = await asyncio.gather(
        *(post(client, t, vote, {"i": {"ideaId": target, "value": "UP"}}, k) for k in tokens)
    )
    codes = [code_of(a) for a in answers]
    taken, after = codes.count("200 ok"), await up_votes(client, t, target)
    verdict = "tally exact" if after - before == taken else f"TALLY WRONG: {after - before} for {taken} votes"
    return f"{tally(codes)}; {verdict} ({before} -> {after} up)"


async def up_votes(client: httpx.AsyncClient, t: Target, idea: str) -> int:
    """The idea's up votes as its admin reads them (the API key: never a cached anonymous answer)."""
    answer = await post(client, t, "query($id: ID!) { idea(id: $id) { votes { up } } }", {"id": idea}, t.api_key)
    return int(answer.json()["data"]["idea"]["votes"]["up"])


async def private_webhooks(client: httpx.AsyncClient, t: Target) -> str:
    """8: webhooks to loopback, a private range through NAT64 and 6to4, port 0, and a URL with CR/LF."""
    query = "mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { userErrors { code message } } }"
    urls = [
        "http://127.0.0.1:8000/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://example.com:0/hook",
        "http://example.com/\r\nX-Evil: 1",
    ]
    answers = [
        await post(client, t, query, {"i": {"url": url, "events": ["IDEA_SUBMITTED"]}}, t.api_key) for url in urls
    ]
    return tally([code_of(a) for a in answers])


async def user_enumeration(client: httpx.AsyncClient, t: Target) -> str:
    """9: anonymous node(id: "User:N") for N = 1..80."""
    names = 0
    for n in range(1, 81):
        user_id = base64.urlsafe_b64encode(f"User:{n}".encode()).rstrip(b"=").decode()
        answer = (
            await post(client, t, "query($id: ID!) { node(id: $id) { ... on User { name } } }", {"id": user_id})
        ).json()
        names += bool((answer.get("data") or {}).get("node"))
    return f"{names} of 80 users named"


async def subscription_flood(client: httpx.AsyncClient, t: Target) -> str:
    """4: 30 anonymous connections x 100 subscriptions to one board, then a vote: how long it takes."""
    from websockets.asyncio.client import connect

    ws_url = t.base.replace("http://", "ws://") + "/graphql"
    accepted = refused = 0
    sockets = []
    try:
        for _ in range(30):
            socket = await connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
            sockets.append(socket)
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            if json.loads(await socket.recv())["type"] != "connection_ack":
                refused += 100
                continue
            for n in range(100):
                query = f'subscription {{ boardActivity(boardId: "{t.board_id}") {{ __typename }} }}'
                await socket.send(json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": query}}))
        await asyncio.sleep(1.0)
        closed = 0
        for socket in sockets:
            errors = 0
            while True:
                try:
                    message = json.loads(await asyncio.wait_for(socket.recv(), 0.05))
                except TimeoutError:
                    break
                except Exception:  # closed by the server (4429): none of its subscriptions is held
                    closed += 1
                    errors = 100
                    break
                errors += message.get("type") == "error"
            refused += errors
        accepted = 30 * 100 - refused
        started = time.perf_counter()
        vote = "mutation($i: VoteInput!) { vote(input: $i) { userErrors { code } } }"
        answer = await post(client, t, vote, {"i": {"ideaId": t.idea_ids[1], "value": "UP"}}, t.token("flood-voter"))
        took = (time.perf_counter() - started) * 1000
        return (
            f"{accepted} subscriptions held, {refused} refused ({closed} connections closed); "
            f"a vote: {code_of(answer)} in {took:.0f} ms"
        )
    finally:
        for socket in sockets:
            await socket.close()


async def stalled_subscriber(client: httpx.AsyncClient, t: Target) -> str:
    """4: a subscriber that stops reading while 150 status changes fire on its board; each change's time."""
    from websockets.asyncio.client import connect

    ws_url = t.base.replace("http://", "ws://") + "/graphql"
    socket = await connect(ws_url, subprotocols=["graphql-transport-ws"], max_queue=1)  # type: ignore[list-item]
    try:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        await socket.recv()
        query = f'subscription {{ boardActivity(boardId: "{t.board_id}") {{ __typename at }} }}'
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        socket.transport.pause_reading()  # stalled: nothing more is read from the socket
        change = "mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) { userErrors { code } } }"
        times = []
        for n in range(150):
            status = "DECLINED" if n % 2 == 0 else "UNDER_REVIEW"
            started = time.perf_counter()
            answer = await post(client, t, change, {"i": {"ideaId": t.idea_ids[2], "status": status}}, t.api_key)
            times.append((time.perf_counter() - started) * 1000)
            assert code_of(answer) == "200 ok", answer.text
        return f"150 x 200 ok; each change {statistics.median(times):.0f} ms median, {max(times):.0f} ms worst"
    finally:
        socket.transport.resume_reading()
        await socket.close()


def rss_mb(pid: int) -> float:
    """The server's resident memory (Linux /proc), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def padded_documents(client: httpx.AsyncClient, t: Target) -> str:
    """3: 150 anonymous `{__typename}` documents of ~1 MB each (padded with whitespace, each to its own length):
    the parse and validation caches once kept every one, +180 MB never given back. The server's RSS before and
    after."""
    before = rss_mb(t.pid)
    codes = []
    for n in range(150):
        document = "{ __typename }" + " " * (999_000 - n)  # each of its own length: a cache entry of its own
        codes.append(code_of(await client.post(t.url, json={"query": document})))
    await asyncio.sleep(1.0)
    return f"{tally(codes)}; server RSS {before:.0f} -> {rss_mb(t.pid):.0f} MB"


def _surrogate_body(query: str, variables: dict[str, Any]) -> bytes:
    """JSON as a careless client writes it: lone surrogates as `\\ud800` escapes (valid JSON, invalid Unicode)."""
    return json.dumps({"query": query, "variables": variables}).encode()


async def surrogate_text(client: httpx.AsyncClient, t: Target) -> str:
    """6: lone surrogates in a title, a comment and a search (once "Unexpected error.")."""
    headers = {"content-type": "application/json", "authorization": f"Bearer {t.token('surrogate-writer')}"}
    cases: list[tuple[str, dict[str, Any]]] = [
        (
            "mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) { userErrors { code } } }",
            {"i": {"boardId": t.board_id, "title": "Oat \ud800 milk"}},
        ),
        (
            "mutation($i: AddCommentInput!) { addComment(input: $i) { userErrors { code } } }",
            {"i": {"ideaId": t.idea_ids[0], "body": "Yes \udfff please"}},
        ),
        (
            'query($q: String) { board(workspace: "demo", slug: "ideas") { ideas(search: $q) { totalCount } } }',
            {"q": "milk \ud83d"},
        ),
    ]
    answers = [await client.post(t.url, content=_surrogate_body(q, v), headers=headers) for q, v in cases]
    return tally([code_of(a) for a in answers])


async def surrogate_ws_token(client: httpx.AsyncClient, t: Target) -> str:
    """5: the lone-surrogate token in a WebSocket `connection_init` (once a dropped connection, no close code)."""
    from websockets.asyncio.client import connect

    ws_url = t.base.replace("http://", "ws://") + "/graphql"
    outcomes = []
    for token in (_unsigned({"iss": "\ud800", "sub": "x", "exp": int(time.time()) + 60}), "ey\ud800.\ud800.x"):
        socket = await connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        try:
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            await socket.send(json.dumps(init))  # ensure_ascii: the surrogate travels as \\ud800
            try:
                ack = json.loads(await asyncio.wait_for(socket.recv(), 10))
            except Exception:  # closed instead of answered
                outcomes.append(f"closed {socket.close_code}")
                continue
            errors = ((ack.get("payload") or {}).get("authentication") or {}).get("errors") or []
            outcomes.append(f"{ack['type']}, anonymous: {errors[0][:36]}" if errors else ack["type"])
        finally:
            await socket.close()
    return tally(outcomes)


ATTACKS: list[tuple[str, Callable[[httpx.AsyncClient, Target], Awaitable[str]]]] = [
    ("30 aliases x 100 ideas x 20 similar, twice at once", expensive_nested_query),
    ("31 aliases", thirty_one_aliases),
    ("submitIdea with 30,000 tags", thirty_thousand_tags),
    ("40 x 5 MB bodies at once, then 10 MB", huge_bodies),
    ("150 anonymous ~1 MB padded {__typename}", padded_documents),
    ("JSON nested 100,000 deep; a bare string body", deep_json),
    ("bad tokens (surrogate iss, NUL sub/name, odd exp)", bad_tokens),
    ("lone-surrogate tokens in WebSocket connection_init", surrogate_ws_token),
    ("odd ids, NUL, unknown enum, subscription over HTTP", odd_input),
    ("lone surrogates in a title, a comment, a search", surrogate_text),
    ("invisible and bidi titles, control-character comment", invisible_text),
    ("webhooks to private addresses, port 0, CR/LF", private_webhooks),
    ("anonymous node(User:1..80)", user_enumeration),
    ("30 connections x 100 subscriptions, then a vote", subscription_flood),
    ("a stalled subscriber under 150 status changes", stalled_subscriber),
    ("300 first-time voters at once", first_time_voters),
    ("one user: 300 comments, 150 ideas, 300 votes; 700 reads", rate_limit_burst),
]


async def seed(target: Target) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        page = await post(
            client,
            target,
            '{ board(workspace: "demo", slug: "ideas") { id ideas(first: 5, statuses: [SUBMITTED, UNDER_REVIEW]) {'
            " edges { node { id } } } } }",
        )
        board = page.json()["data"]["board"]
        target.board_id = board["id"]
        target.idea_ids = [e["node"]["id"] for e in board["ideas"]["edges"]]


async def run(target: Target, only: set[str] | None) -> list[tuple[str, str, float, float, int]]:
    rows = []
    await seed(target)
    async with httpx.AsyncClient(timeout=120) as client, HealthPoller(target.base) as health:
        await asyncio.sleep(0.5)
        for name, attack in ATTACKS:
            if only and attack.__name__ not in only:
                continue
            health.reset()
            started = time.perf_counter()
            try:
                answer = await attack(client, target)
            except Exception as exc:  # report and go on: one broken attack must not hide the others
                answer = f"FAILED: {type(exc).__name__}: {exc}"[:120]
            took = time.perf_counter() - started
            await asyncio.sleep(POLL_SECONDS * 3)  # let the poller's last round trip finish inside the window
            rows.append((name, answer, took, health.worst, health.failures))
            print(f"{name:<56} {took:7.2f} s {health.worst:7.0f} ms  {answer}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--only", nargs="*", help="attack function names (default: all)")
    options = parser.parse_args()
    cli = str(Path(sys.executable).parent / "ideaengine")
    kinds = ["sqlite", "postgres"] if options.database == "both" else [options.database]
    worst_overall = 0.0
    for kind in kinds:
        print(f"-- {kind}: {'attack':<50} {'time':>9} {'healthz':>10}  answer")
        with tempfile.TemporaryDirectory() as tmp, database(kind, tmp) as url:
            env, seeded = demo_database(cli, kind, url)
            proc, url_ = serve([cli, "serve"], env, tmp)
            try:
                settle(url_)
                target = Target(url_, seeded["workspace"], seeded["apiKey"], seeded["ssoSecret"], pid=proc.pid)
                rows = asyncio.run(run(target, set(options.only) if options.only else None))
                worst_overall = max([worst_overall, *(r[3] for r in rows)])
            finally:
                proc.terminate()
                proc.wait(30)
    verdict = "within" if worst_overall <= HEALTH_BUDGET_MS else "OVER"
    print(f"worst /healthz latency: {worst_overall:.0f} ms ({verdict} the {HEALTH_BUDGET_MS:.0f} ms budget)")


if __name__ == "__main__":
    main()
