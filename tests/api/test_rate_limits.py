"""Rate limits: per user and per IP for each mutation kind, per IP for anonymous reads; in memory or on Redis."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id

VOTE = """mutation($i: VoteInput!) { vote(input: $i) {
  idea { votes { up } } userErrors { code field message retryAfterSeconds } } }"""


@pytest.fixture
async def limited(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The app with tight limits: 3 votes a minute per user (15 per IP), 20 anonymous requests a minute per IP."""
    from ideaengine.app import create_app

    settings = services.settings.model_copy(
        update={"rate_limits_enabled": True, "rate_vote": "3/minute", "rate_read": "20/minute"}
    )
    tight = Services.create(settings)
    app = create_app(settings, tight)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield client
    finally:
        await tight.close()


async def test_a_fourth_vote_in_a_minute_is_rate_limited_and_changes_nothing(
    limited: httpx.AsyncClient, api: Api, ws: Workspace
) -> None:
    board = await create_board(api, ws.api_key)
    ideas = [await idea_id(api, ws.token("alice"), board, f"Idea number {n}") for n in range(4)]
    bob = Api(limited)
    for target in ideas[:3]:
        answer = (await bob(VOTE, {"i": {"ideaId": target, "value": "UP"}}, auth=ws.token("bob")))["data"]["vote"]
        assert answer == {"idea": {"votes": {"up": 1}}, "userErrors": []}
    refused = (await bob(VOTE, {"i": {"ideaId": ideas[3], "value": "UP"}}, auth=ws.token("bob")))["data"]["vote"]
    assert refused["idea"] is None
    [error] = refused["userErrors"]
    assert error["code"] == "RATE_LIMITED" and error["field"] == []
    assert 1 <= error["retryAfterSeconds"] <= 60
    assert error["message"] == f"Too many votes for now: try again in {error['retryAfterSeconds']} seconds."
    fourth = await api("query($id: ID!) { idea(id: $id) { votes { up } } }", {"id": ideas[3]})
    assert fourth["data"]["idea"]["votes"] == {"up": 0}
    # Another user is not held back by bob's budget.
    carol = (await bob(VOTE, {"i": {"ideaId": ideas[3], "value": "UP"}}, auth=ws.token("carol")))["data"]["vote"]
    assert carol["userErrors"] == []


async def test_one_address_is_limited_across_users(limited: httpx.AsyncClient, api: Api, ws: Workspace) -> None:
    """Per IP, five times a user's budget: fresh accounts from one address cannot multiply it."""
    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    client = Api(limited)
    codes = []
    for n in range(16):
        answer = await client(VOTE, {"i": {"ideaId": target, "value": "UP"}}, auth=ws.token(f"sock{n}"))
        codes.append([e["code"] for e in answer["data"]["vote"]["userErrors"]])
    assert codes == [[]] * 15 + [["RATE_LIMITED"]]


async def test_anonymous_reads_past_the_limit_get_429_with_retry_after(limited: httpx.AsyncClient) -> None:
    answers = [await limited.post("/graphql", json={"query": "{ __typename }"}) for _ in range(21)]
    assert [a.status_code for a in answers] == [200] * 20 + [429]
    refused = answers[-1]
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 60
    assert refused.json() == {
        "errors": [
            {
                "message": f"Too many requests from this address: try again in {wait} seconds.",
                "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": wait},
            }
        ]
    }
    assert (await limited.get("/healthz")).status_code == 200  # health checks are never limited


async def test_limits_are_shared_through_redis(redis_url: str, services: Services) -> None:
    """Two servers (two RateLimits) on one Redis spend one budget."""
    from ideaengine.platform.ratelimit import RateLimits

    namespace = uuid.uuid4().hex
    one, two = (RateLimits({"vote": "2/minute"}, redis_url=redis_url, namespace=namespace) for _ in range(2))
    try:
        spent: list[Any] = [await one.hit("vote", "7", None), await two.hit("vote", "7", None)]
        assert spent == [None, None]
        wait = await one.hit("vote", "7", None)
        assert wait is not None and 1 <= wait <= 60
        assert await two.hit("vote", "8", None) is None
    finally:
        await one.close()
        await two.close()


async def test_reactions_and_reports_have_budgets_of_their_own(services: Services, api: Api, ws: Workspace) -> None:
    """Reacting and reporting are cheap clicks a script can repeat: each is limited like the other mutations."""
    from ideaengine.app import create_app

    settings = services.settings.model_copy(
        update={"rate_limits_enabled": True, "rate_react": "1/minute", "rate_report": "1/minute"}
    )
    tight = Services.create(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, tight)), base_url="http://t"
        ) as c:
            client = Api(c)
            board = await create_board(api, ws.api_key)
            ideas = [await idea_id(api, ws.token("alice"), board, f"Idea number {n}") for n in range(2)]
            add = "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } } }"
            comment = (await api(add, {"i": {"ideaId": ideas[0], "body": "Yes"}}, auth=ws.token("alice")))["data"][
                "addComment"
            ]["comment"]["id"]
            react = "mutation($i: ReactToCommentInput!) { reactToComment(input: $i) { userErrors { code message } } }"
            report = "mutation($i: ReportContentInput!) { reportContent(input: $i) { userErrors { code message } } }"
            codes = []
            for reaction in ("HEART", "LAUGH"):
                answer = await client(
                    react, {"i": {"commentId": comment, "reaction": reaction, "on": True}}, auth=ws.token("bob")
                )
                codes.append([e["code"] for e in answer["data"]["reactToComment"]["userErrors"]])
            for target in ideas:
                answer = await client(report, {"i": {"subjectId": target, "reason": "SPAM"}}, auth=ws.token("bob"))
                codes.append([e["code"] for e in answer["data"]["reportContent"]["userErrors"]])
            assert codes == [[], ["RATE_LIMITED"], [], ["RATE_LIMITED"]]
            counts = (
                "query($id: ID!) { idea(id: $id) { comments { edges { node { reactions { reaction count } } } } } }"
            )
            reactions = (await api(counts, {"id": ideas[0]}))["data"]["idea"]["comments"]["edges"][0]["node"]
            assert {r["reaction"]: r["count"] for r in reactions["reactions"]}[
                "LAUGH"
            ] == 0  # the refusal wrote nothing
    finally:
        await tight.close()


@contextlib.asynccontextmanager
async def tight_client(services: Services, **rates: str) -> AsyncIterator[Api]:
    """The app with these rates (e.g. rate_submit="2/minute") and limits on."""
    from ideaengine.app import create_app

    settings = services.settings.model_copy(update={"rate_limits_enabled": True, **rates})
    tight = Services.create(settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, tight))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield Api(client)
    finally:
        await tight.close()


SUBMIT = """mutation($i: SubmitIdeaInput!) { submitIdea(input: $i) {
  idea { id } userErrors { code field message retryAfterSeconds } } }"""
COMMENT = """mutation($i: AddCommentInput!) { addComment(input: $i) {
  comment { id } userErrors { code field message retryAfterSeconds } } }"""
COMPARE = """mutation($i: CompareIdeasInput!) { compareIdeas(input: $i) {
  winner { id } userErrors { code field message retryAfterSeconds } } }"""


@pytest.mark.parametrize(("kind", "noun"), [("submit", "ideas"), ("comment", "comments"), ("compare", "comparisons")])
async def test_submissions_comments_and_comparisons_each_have_a_budget(
    services: Services, api: Api, ws: Workspace, kind: str, noun: str
) -> None:
    """Two of a kind a minute: the third is RATE_LIMITED with a wait and writes nothing; the other kinds are
    not spent by it (bob still votes)."""
    from sqlalchemy import func, select

    from ideaengine.platform.models import Comment, Comparison, Idea

    board = await create_board(api, ws.api_key)
    ideas = [await idea_id(api, ws.token("alice"), board, f"Idea number {n}") for n in range(3)]
    requests: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
        "submit": (SUBMIT, "submitIdea", [{"boardId": board, "title": f"Bob's idea {n}"} for n in range(3)]),
        "comment": (COMMENT, "addComment", [{"ideaId": ideas[0], "body": f"Comment {n}"} for n in range(3)]),
        "compare": (
            COMPARE,
            "compareIdeas",
            [{"winnerId": ideas[w], "loserId": ideas[loser]} for w, loser in ((0, 1), (0, 2), (1, 2))],
        ),
    }
    document, name, inputs = requests[kind]
    rows = {"submit": Idea, "comment": Comment, "compare": Comparison}[kind]

    async def count() -> int:
        async with services.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(rows)) or 0)

    before = await count()
    async with tight_client(services, **{f"rate_{kind}": "2/minute"}) as client:
        answers = [(await client(document, {"i": i}, auth=ws.token("bob")))["data"][name] for i in inputs]
        assert [a["userErrors"] for a in answers[:2]] == [[], []]
        [error] = answers[2]["userErrors"]
        assert error["code"] == "RATE_LIMITED" and error["field"] == []
        assert 1 <= error["retryAfterSeconds"] <= 60
        assert error["message"] == f"Too many {noun} for now: try again in {error['retryAfterSeconds']} seconds."
        assert await count() == before + 2  # the refusal wrote nothing
        vote = await client(VOTE, {"i": {"ideaId": ideas[2], "value": "UP"}}, auth=ws.token("bob"))
        assert vote["data"]["vote"]["userErrors"] == []
