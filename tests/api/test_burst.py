"""A burst of first-time voters: no error and an exact tally, on the embedded default and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea_id

pytestmark = pytest.mark.usefixtures("pool_filling")

VOTE = "mutation($i: VoteInput!) { vote(input: $i) { userErrors { code message } } }"
VOTERS = 300


async def test_300_first_time_voters_at_once_all_count(api: Api, ws: Workspace) -> None:
    """Each voter's first token provisions their user (a write) before the vote (another): on SQLite they
    used to outwait the 5 s busy timeout and answer HTTP 500 'database is locked'."""
    board = await create_board(api, ws.api_key)
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    tokens = [ws.token(f"first-timer-{n}") for n in range(VOTERS)]
    answers = await asyncio.gather(
        *(api(VOTE, {"i": {"ideaId": target, "value": "UP"}}, auth=token) for token in tokens)
    )
    assert [a["data"]["vote"]["userErrors"] for a in answers] == [[]] * VOTERS
    tally = await api("query($id: ID!) { idea(id: $id) { votes { up down } } }", {"id": target})
    assert tally["data"]["idea"]["votes"] == {"up": VOTERS, "down": 0}
