"""The TOP rank the score worker stores is the idea's position in the TOP listing, ties included."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, Workspace
from tests.api.ops import board_ideas, create_board, idea, idea_id, vote


async def test_top_rank_is_the_position_in_the_top_listing(api: Api, ws: Workspace, services: Any) -> None:
    board = await create_board(api, ws.api_key)
    alice = ws.token("alice")
    a, b, c, d, e = [
        await idea_id(api, alice, board, title)
        for title in ("Oat milk", "Longer opening hours", "Recyclable cups", "Loyalty card app", "Quieter music")
    ]
    for voter, target in (("v1", c), ("v2", c), ("v1", b), ("v2", d)):
        await vote(api, ws.token(voter), target, "UP")
    merged = await api(
        "mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }",
        {"i": {"sourceId": e, "targetId": a}},
        auth=ws.api_key,
    )
    assert merged["data"]["mergeIdeas"]["userErrors"] == []
    await services.queue.drain()
    listing = await board_ideas(api, None, "sort: TOP", fields="id score { rank stale }")
    nodes = [edge["node"] for edge in listing["edges"]]
    # c has two votes; b and d one each (a tie: newest first); a none; e is merged into a and not listed.
    assert [(n["id"], n["score"]["rank"], n["score"]["stale"]) for n in nodes] == [
        (c, 1, False),
        (d, 2, False),
        (b, 3, False),
        (a, 4, False),
    ]
    assert await idea(api, None, e, "score { rank }") == {"score": {"rank": None}}


async def test_a_hidden_idea_leaves_the_top_ranks_and_takes_none(api: Api, ws: Workspace, services: Any) -> None:
    board = await create_board(api, ws.api_key)
    alice = ws.token("alice")
    a, b, c = [await idea_id(api, alice, board, title) for title in ("Oat milk", "Longer opening hours", "Quiet music")]
    await vote(api, ws.token("v1"), a, "UP")
    await vote(api, ws.token("v2"), a, "UP")
    await vote(api, ws.token("v1"), b, "UP")
    hidden = await api(
        "mutation($i: ModerateContentInput!) { moderateContent(input: $i) { userErrors { code } } }",
        {"i": {"subjectId": a, "action": "HIDE"}},
        auth=ws.api_key,
    )
    assert hidden["data"]["moderateContent"]["userErrors"] == []
    await services.queue.drain()
    listing = await board_ideas(api, None, "sort: TOP", fields="id score { rank stale }")
    assert [(e["node"]["id"], e["node"]["score"]["rank"]) for e in listing["edges"]] == [(b, 1), (c, 2)]
    assert await idea(api, ws.api_key, a, "score { rank }") == {"score": {"rank": None}}
