"""Every list costs a constant number of statements, however long its page (N+1 stays out)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import change_status, create_board, drain, idea_id, vote

PAGE = """{ board(workspace: "acme", slug: "ideas") { ideas(first: 100) { totalCount edges { node {
    id title tags author { name externalId } votes { up down } viewerVote viewerFollows viewerCanEdit
    followerCount status statusHistory { to } board { slug }
    score { wilsonLowerBound rank stale } } } } } }"""


def engines(services: Any) -> list[Engine]:
    """Where statements run: the engine, and on PostgreSQL the read engine with its own pool."""
    engine, reads = services.db.engine.sync_engine, services.db.read_engine.sync_engine
    return [engine] if reads.pool is engine.pool else [engine, reads]


@pytest.fixture
def statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(statement)

    for engine in engines(services):
        event.listen(engine, "before_cursor_execute", record)
    yield seen
    for engine in engines(services):
        event.remove(engine, "before_cursor_execute", record)


async def selects_for_page(api: Api, auth: str | None, statements: list[str]) -> list[str]:
    statements.clear()
    body = await api(PAGE, auth=auth)
    assert body["data"]["board"]["ideas"]["edges"]
    return [s.split(" WHERE ")[0][:200] for s in statements if s.lstrip().upper().startswith("SELECT")]


async def test_page_of_ideas_costs_the_same_queries_for_3_or_60_ideas(
    api: Api, ws: Workspace, statements: list[str]
) -> None:
    board = await create_board(api, ws.api_key)
    authors = [ws.token(f"author{n}") for n in range(6)]
    viewer = ws.token("viewer")
    for n in range(3):
        await vote(api, viewer, await idea_id(api, authors[n], board, f"Idea number {n}", tags=["x"]), "UP")
    small = await selects_for_page(api, viewer, statements)
    for n in range(3, 60):
        target = await idea_id(api, authors[n % 6], board, f"Idea number {n}", tags=["x", f"t{n}"])
        if n % 2:
            await vote(api, viewer, target, "DOWN")
    large = await selects_for_page(api, viewer, statements)
    assert len(large) == len(small), (small, large)  # the statements themselves, should a difference need reading
    assert len(large) <= 15, large


async def test_a_known_users_read_takes_no_write_lock(
    api: Api, ws: Workspace, statements: list[str], database_url: str
) -> None:
    """Identity is read in a read session; only a first (or changed) token provisions in a write transaction."""
    alice = ws.token("alice")
    await api("{ viewer { role } }", auth=alice)  # provisions alice
    statements.clear()
    body = await api("{ viewer { role user { name } } }", auth=alice)
    assert body["data"]["viewer"] == {"role": "MEMBER", "user": {"name": "Alice"}}
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE"))]
    assert writes == []
    statements.clear()
    await api("{ viewer { role } }", auth=ws.token("alice", name="Alice Liddell"))  # a changed name is written
    assert any(s.lstrip().upper().startswith("UPDATE USERS") for s in statements)


async def test_a_sign_in_not_seen_lately_is_one_statement(api: Api, ws: Workspace, statements: list[str]) -> None:
    """Under a stream of votes from many voters, most votes carry a token the server has not seen in the last few
    seconds: its workspace and its user are read in one statement, with no transaction around it."""
    await api("{ viewer { role } }", auth=ws.token("alice"))  # provisions alice
    statements.clear()
    body = await api("{ viewer { role } }", auth=ws.token("alice", ttl=1800))  # a token this server has not seen
    assert body["data"]["viewer"] == {"role": "MEMBER"}
    assert len(statements) == 1, statements
    assert statements[0].lstrip().upper().startswith("SELECT")
    assert "workspaces" in statements[0] and "users" in statements[0]


async def test_a_page_of_ideas_reads_through_one_pooled_connection_without_begin(
    api: Api, ws: Workspace, services: Any, statements: list[str]
) -> None:
    """One checkout per request, not one per DataLoader batch; reads run in autocommit (no BEGIN/ROLLBACK)."""
    board = await create_board(api, ws.api_key)
    for n in range(3):
        await idea_id(api, ws.token(f"author{n}"), board, f"Idea number {n}", tags=["x"])
    pool = services.db.read_engine.sync_engine.pool
    checkouts: list[object] = []

    def checkout(*args: Any) -> None:
        checkouts.append(args)

    event.listen(pool, "checkout", checkout)
    statements.clear()
    try:
        body = await api(PAGE)  # anonymous: no identity lookup before the page's reads
    finally:
        event.remove(pool, "checkout", checkout)
    assert len(body["data"]["board"]["ideas"]["edges"]) == 3
    assert len(checkouts) == 1
    probes = [s for s in statements if "pg_current_snapshot" in s]
    # The response cache's data version is asked on a connection of its own, outside the engine (both databases).
    assert probes == []
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT") and s not in probes]
    # board, count (the query asks totalCount), the page with its ideas' scores (one statement:
    # ideaengine.board_pages), then one batch each: tags, authors, status history, boards.
    assert len(selects) == 7, selects
    assert [s for s in statements if s.strip().upper() in ("BEGIN", "ROLLBACK")] == []


IDEA_FIELDS = """id board { id slug name } title body tags author { id name externalId } status
    statusHistory { from to note at actor { name } idea { id } } mergedInto { id title }
    createdAt updatedAt votes { up down }
    score { wilsonLowerBound trending elo bradleyTerry bradleyTerryLow bradleyTerryHigh comparisons rank
        computedAt stale }
    comments(first: 5) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id body official createdAt author { id name } idea { id } accepted parent { id }
            reactions { reaction count viewerReacted }
            replies(first: 1) { totalCount edges { node { id body } } } } } }
    followerCount viewerVote viewerFollows viewerCanEdit similar(first: 2) { similarity idea { id title } }
    supporterCount supporters(first: 2) { totalCount edges { cursor node { id name
        contributions { ideasSubmitted ideasLaunched supportedLaunched } } } }"""
PAGE_INFO = "totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

# One request per list: sibling root fields race each other to the shared loaders (which batch merges
# depends on which I/O finishes first), so a request per list keeps the count a property of the list.
LISTS = {
    "board ideas": f"""{{ board(workspace: "acme", slug: "ideas") {{
        ideas(first: 100, statuses: [SUBMITTED, UNDER_REVIEW, MERGED]) {{ {PAGE_INFO}
        edges {{ cursor node {{ {IDEA_FIELDS} }} }} }} }} }}""",
    "following": f"""{{ viewer {{ role user {{ id name externalId }} unreadNotificationCount
        notificationSettings {{ email digest followOnVote }}
        following(first: 100) {{ {PAGE_INFO} edges {{ cursor node {{ {IDEA_FIELDS} }} }} }} }} }}""",
    "notifications": f"""{{ viewer {{ notifications(first: 100) {{ {PAGE_INFO} edges {{ cursor node {{
        id kind message createdAt read idea {{ id title viewerFollows author {{ name }} }} }} }} }} }} }}""",
    "duplicate clusters": """{ board(workspace: "acme", slug: "ideas") { duplicateClusters(first: 100) {
        totalCount edges { cursor node { cohesion ideas { id title author { name } } } } } } }""",
    "boards": f"""{{ boards(workspace: "acme", first: 100) {{ {PAGE_INFO} edges {{ cursor node {{
        id slug name description visibility tags
        ideas(first: 5, sort: NEWEST) {{ {PAGE_INFO} edges {{ node {{ id title author {{ name }}
            comments(last: 2) {{ totalCount edges {{ node {{ body author {{ name }} }} }} }} }} }} }} }} }} }} }}""",
}

COMMENT = """mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } userErrors { code } } }"""
REACT = """mutation($i: ReactToCommentInput!) { reactToComment(input: $i) { userErrors { code } } }"""
MERGE = """mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }"""
WRITES = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE")


async def test_every_list_costs_the_same_statements_for_3_30_or_100_ideas(
    api: Api, ws: Workspace, services: Services, statements: list[str]
) -> None:
    """Each idea has tags, an author, a comment and a follow; some have votes and status changes (so the viewer
    has notifications) and one is merged: every nested list and field is batched, so no count grows."""
    await create_board(api, ws.api_key, slug="early")
    board = await create_board(api, ws.api_key, slug="ideas")
    await create_board(api, ws.api_key, slug="more")
    mia, max_ = ws.token("mia", role="moderator"), ws.token("max", role="moderator")
    ideas: list[str] = []

    async def grow(size: int) -> dict[str, int]:
        while len(ideas) < size:
            n = len(ideas)
            # Two ideas alike among many templated ones: a duplicate cluster at every size.
            title = {0: "Export reports to CSV", 2: "Export the reports to CSV"}.get(n, f"Idea number {n}")
            ideas.append(await idea_id(api, mia, board, title, body=f"Body {n}", tags=["x", f"t{n % 5}"]))
            added = await api(COMMENT, {"i": {"ideaId": ideas[n], "body": f"Comment on {n}"}}, auth=max_)
            top = added["data"]["addComment"]["comment"]["id"]
            await api(COMMENT, {"i": {"ideaId": ideas[n], "body": "A reply", "parentId": top}}, auth=mia)
            await api(REACT, {"i": {"commentId": top, "reaction": "HEART", "on": True}}, auth=mia)
            if n % 2 == 0:
                await vote(api, mia, ideas[n], "UP")
            if n % 3 == 0:
                assert (await change_status(api, max_, ideas[n], "UNDER_REVIEW", "Looking"))["userErrors"] == []
            if n == 1:
                await api(MERGE, {"i": {"sourceId": ideas[1], "targetId": ideas[0]}}, auth=max_)
        await drain(services)  # scores and the duplicate index are built
        counts: dict[str, int] = {}
        for name, query in LISTS.items():
            await api(query, auth=mia)  # warms the duplicate index cache, as any earlier request would
            runs = []
            for _ in range(3):
                statements.clear()
                await api(query, auth=mia)
                assert [s for s in statements if s.lstrip().upper().startswith(WRITES)] == [], name
                runs.append(len(statements))  # SELECTs, and the BEGIN of each short read session
            # A request reads through one connection, lent to one batch at a time: while one batch waits on
            # it, a loader's next keys may form a batch of their own, so a run can take a statement or two
            # more than the fully batched count (the fewest), never a number that grows with the page.
            assert max(runs) <= 2 * min(runs), (name, runs)
            counts[name] = min(runs)
        body = await api(LISTS["duplicate clusters"], auth=mia)
        assert body["data"]["board"]["duplicateClusters"]["totalCount"] >= 1
        body = await api(LISTS["board ideas"], auth=mia)
        assert len(body["data"]["board"]["ideas"]["edges"]) == size
        supported = [e["node"]["supporters"]["totalCount"] for e in body["data"]["board"]["ideas"]["edges"]]
        assert sum(supported) == (size + 1) // 2  # mia's UP votes, on every other idea
        body = await api(LISTS["following"], auth=mia)
        assert body["data"]["viewer"]["following"]["totalCount"] == size - 1  # the merged idea's follow moved
        body = await api(LISTS["notifications"], auth=mia)
        assert body["data"]["viewer"]["notifications"]["totalCount"] == (size + 2) // 3 + 1  # statuses, the merge
        return counts

    small, medium, large = await grow(3), await grow(30), await grow(100)
    assert small == medium == large


async def test_a_page_that_does_not_ask_its_total_does_not_count_the_list(
    api: Api, ws: Workspace, statements: list[str]
) -> None:
    """Counting a long list scans it (a 10,000-idea board's count took 3.5 ms): only `totalCount` asks for it."""
    board = await create_board(api, ws.api_key)
    for n in range(3):
        await idea_id(api, ws.token(f"author{n}"), board, f"Idea number {n}")
    for query, counted in ((PAGE, True), (PAGE.replace("totalCount ", ""), False)):
        statements.clear()
        body = await api(query)
        assert len(body["data"]["board"]["ideas"]["edges"]) == 3
        assert any("count(*)" in s.lower() for s in statements) is counted
        assert body["data"]["board"]["ideas"].get("totalCount", 3) == 3
