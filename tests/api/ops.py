"""Small factories that build data through the public GraphQL surface."""

from __future__ import annotations

from typing import Any

IDEA_FIELDS = "id title body status tags votes { up down } followerCount viewerVote viewerFollows"


async def create_board(api: Any, key: str, slug: str = "ideas", visibility: str = "PUBLIC") -> str:
    body = await api(
        """mutation($i: CreateBoardInput!) { createBoard(input: $i) {
        board { id } userErrors { code field message } } }""",
        {"i": {"slug": slug, "name": slug.title(), "visibility": visibility}},
        auth=key,
    )
    payload = body["data"]["createBoard"]
    assert payload["userErrors"] == [], payload
    return str(payload["board"]["id"])


async def submit(
    api: Any, auth: str, board_id: str, title: str, body: str = "", tags: list[str] | None = None
) -> dict[str, Any]:
    result = await api(
        f"""mutation($i: SubmitIdeaInput!) {{ submitIdea(input: $i) {{
        idea {{ {IDEA_FIELDS} }} similarIdeas {{ idea {{ id title }} similarity }}
        userErrors {{ code field message }} }} }}""",
        {"i": {"boardId": board_id, "title": title, "body": body, "tags": tags or []}},
        auth=auth,
    )
    payload: dict[str, Any] = result["data"]["submitIdea"]
    assert payload["userErrors"] == [], payload
    return payload


async def idea_id(api: Any, auth: str, board_id: str, title: str, **kw: Any) -> str:
    return str((await submit(api, auth, board_id, title, **kw))["idea"]["id"])


async def vote(api: Any, auth: str | None, idea: str, value: str | None) -> dict[str, Any]:
    result = await api(
        """mutation($i: VoteInput!) { vote(input: $i) {
        idea { id votes { up down } viewerVote } userErrors { code field message } } }""",
        {"i": {"ideaId": idea, "value": value}},
        auth=auth,
    )
    return result["data"]["vote"]  # type: ignore[no-any-return]


async def change_status(api: Any, auth: str, idea: str, status: str, note: str | None = None) -> dict[str, Any]:
    result = await api(
        """mutation($i: ChangeIdeaStatusInput!) { changeIdeaStatus(input: $i) {
        idea { id status statusHistory { from to note actor { name } } } userErrors { code field message } } }""",
        {"i": {"ideaId": idea, "status": status, "note": note}},
        auth=auth,
    )
    return result["data"]["changeIdeaStatus"]  # type: ignore[no-any-return]


async def compare(api: Any, auth: str, winner: str, loser: str) -> dict[str, Any]:
    result = await api(
        """mutation($i: CompareIdeasInput!) { compareIdeas(input: $i) {
        winner { id } loser { id } next { left { id } right { id } } userErrors { code field message } } }""",
        {"i": {"winnerId": winner, "loserId": loser}},
        auth=auth,
    )
    return result["data"]["compareIdeas"]  # type: ignore[no-any-return]


async def idea(api: Any, auth: str | None, idea_id: str, fields: str = IDEA_FIELDS) -> dict[str, Any]:
    """The idea as `auth` reads it; fails the test if it is not visible."""
    result = await api(f"query($id: ID!) {{ idea(id: $id) {{ {fields} }} }}", {"id": idea_id}, auth=auth)
    found: dict[str, Any] | None = result["data"]["idea"]
    assert found is not None, f"idea {idea_id} is not visible"
    return found


async def board_ideas(api: Any, auth: str | None, args: str, fields: str = "title") -> dict[str, Any]:
    result = await api(
        f"""{{ board(workspace: "acme", slug: "ideas") {{ ideas({args}) {{
        totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
        edges {{ cursor node {{ {fields} }} }} }} }} }}""",
        auth=auth,
    )
    return result["data"]["board"]["ideas"]  # type: ignore[no-any-return]


async def drain(services: Any) -> None:
    """Run the jobs the in-process queue holds (score refreshes, the duplicate index) to the end."""
    from ideaengine.platform.jobs import InProcessQueue

    assert isinstance(services.queue, InProcessQueue)
    await services.queue.drain()


async def quiesce(services: Any) -> None:
    """Before DDL (a migration down and up): let the jobs writes queued finish, then close every pooled
    connection, so neither a refresh nor a pooled session holds a lock the DDL waits on (or deadlocks with)."""
    await drain(services)
    await services.db.dispose()


def pk(global_id: str) -> int:
    """The primary key behind one of the API's global ids."""
    from schema.relay import parse_id

    parsed = parse_id(global_id)
    assert parsed is not None, global_id
    return parsed[1]


REPORTS_AND_THEME = ("Export reports to CSV", "Night theme for the dashboard")
"Two ideas a draft about downloading reports tells apart: by meaning with embeddings, by words without."


async def board_of_reports_and_theme(api: Any, ws: Any, services: Any) -> str:
    """A new board with REPORTS_AND_THEME by alice, its duplicate index built (embedded, with the extra)."""
    board = await create_board(api, ws.api_key)
    for title in REPORTS_AND_THEME:
        await idea_id(api, ws.token("alice"), board, title)
    await drain(services)
    return board


async def similar_titles(api: Any, board: str, text: str = "Download reports as CSV files") -> list[str]:
    """The titles "did you mean" (`similarIdeas`) offers for a draft, most similar first."""
    query = "query($b: ID!, $t: String!) { similarIdeas(boardId: $b, text: $t) { idea { title } } }"
    found = (await api(query, {"b": board, "t": text}))["data"]["similarIdeas"]
    return [f["idea"]["title"] for f in found]
