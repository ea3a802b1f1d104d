"""The in-process runner (embedded default): jobs run off the event loop with the same functions."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select

import ranking
from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, idea, idea_id, submit, vote
from tests.conftest import in_process

SCORE = "score { wilsonLowerBound trending elo bradleyTerry bradleyTerryLow bradleyTerryHigh comparisons rank stale }"


def job_lines(caplog: pytest.LogCaptureFixture, job: str) -> list[dict[str, Any]]:
    """The figures of each finished `job`, as its log line carries them (`fields`: text or JSON alike)."""
    lines: list[dict[str, Any]] = [getattr(r, "fields", {}) for r in caplog.records if r.name == "ideaengine.jobs"]
    return [line for line in lines if line.get("job") == job]


@pytest.fixture
async def board(api: Api, ws: Workspace) -> str:
    return await create_board(api, ws.api_key)


async def test_votes_and_comparisons_lead_to_fresh_exact_scores(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    alice = ws.token("alice")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    b = await idea_id(api, alice, board, "Longer opening hours")
    c = await idea_id(api, alice, board, "Loyalty card app")
    for n in range(6):
        await vote(api, ws.token(f"v{n}"), a, "UP")
    await vote(api, ws.token("v0"), b, "UP")
    await vote(api, ws.token("v1"), b, "DOWN")
    for n in range(4):
        await api(
            "mutation($i: CompareIdeasInput!) { compareIdeas(input: $i) { userErrors { code } } }",
            {"i": {"winnerId": c, "loserId": a}},
            auth=ws.token(f"v{n}"),
        )
    await in_process(services).drain()
    scores = {i: (await idea(api, None, i, SCORE))["score"] for i in (a, b, c)}
    assert all(not s["stale"] for s in scores.values())
    assert scores[a]["wilsonLowerBound"] == pytest.approx(ranking.wilson_lower_bound([6], [0])[0], abs=1e-12)
    assert scores[b]["wilsonLowerBound"] == pytest.approx(ranking.wilson_lower_bound([1], [1])[0], abs=1e-12)
    assert scores[a]["trending"] == pytest.approx(6.0, abs=1e-3)
    assert scores[b]["trending"] == pytest.approx(0.0, abs=1e-3)
    assert [scores[i]["rank"] for i in (a, b, c)] == [1, 2, 3]
    assert scores[c]["comparisons"] == 4 and scores[b]["comparisons"] == 0
    expected = ranking.bradley_terry(3, [2, 2, 2, 2], [0, 0, 0, 0])
    assert scores[c]["bradleyTerry"] == pytest.approx(expected.strength[2], abs=1e-6)
    assert scores[b]["bradleyTerryLow"] == pytest.approx(expected.low[1], abs=1e-6)
    assert scores[c]["elo"] > 1500 > scores[a]["elo"]
    top = await api('{ board(workspace: "acme", slug: "ideas") { ideas(sort: TOP) { edges { node { id } } } } }')
    assert [e["node"]["id"] for e in top["data"]["board"]["ideas"]["edges"]] == [a, b, c]
    pairwise = await api(
        '{ board(workspace: "acme", slug: "ideas") { ideas(sort: PAIRWISE) { edges { node { id } } } } }'
    )
    assert pairwise["data"]["board"]["ideas"]["edges"][0]["node"]["id"] == c


async def test_a_burst_of_votes_folds_into_a_handful_of_refreshes(
    api: Api, ws: Workspace, board: str, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ideaengine.jobs")
    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await in_process(services).drain()
    caplog.clear()
    in_process(services).delay = 1.0  # the production default (DECISIONS.md 13)
    tokens = [ws.token(f"v{n}") for n in range(60)]
    started = time.monotonic()
    await asyncio.gather(*(vote(api, t, target, "UP") for t in tokens))
    burst = time.monotonic() - started
    await in_process(services).drain()
    refreshes = job_lines(caplog, "refresh_board")
    assert 1 <= len(refreshes) <= burst / in_process(services).delay + 2, (len(refreshes), burst)
    assert (await idea(api, None, target, SCORE))["score"]["stale"] is False


async def test_sweep_refreshes_boards_whose_job_was_lost(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    from ideaengine import scores, sweep

    target = await idea_id(api, ws.token("alice"), board, "Oat milk in every store")
    await in_process(services).drain()
    queue, services.work.queue = services.work.queue, None  # the job of the next vote is lost
    await vote(api, ws.token("bob"), target, "UP")
    services.work.queue = queue
    assert (await idea(api, None, target, SCORE))["score"]["stale"] is True
    async with services.db.read() as session:
        assert (await scores.stale_boards(session))[0] != []
    assert await sweep.sweep(services.db, services.queue) >= 1
    await in_process(services).drain()
    score = (await idea(api, None, target, SCORE))["score"]
    assert score["stale"] is False and score["wilsonLowerBound"] > 0


async def test_similar_ideas_and_clusters_come_from_the_index(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    alice = ws.token("alice")
    oat = await idea_id(api, alice, board, "Oat milk in every store", body="Stock oat milk at every location")
    await idea_id(api, alice, board, "Longer opening hours on Sundays", body="Open until 8pm on Sundays")
    await idea_id(api, alice, board, "Recyclable coffee cups", body="Compostable cups and lids")
    await in_process(services).drain()
    # Close enough to clear the clustering threshold chosen for precision (docs/ranking.md).
    payload = await submit(
        api, alice, board, "Oat milk in every store please", body="Stock oat milk at every one of your locations"
    )
    assert payload["similarIdeas"][0]["idea"]["id"] == oat
    await in_process(services).drain()
    found = await api(
        """query($b: ID!) { similarIdeas(boardId: $b, text: "oat milk everywhere") {
        idea { id } similarity } }""",
        {"b": board},
    )
    assert found["data"]["similarIdeas"][0]["idea"]["id"] in {oat, payload["idea"]["id"]}
    clusters = await api(
        """{ board(workspace: "acme", slug: "ideas") { duplicateClusters {
        totalCount edges { node { cohesion ideas { id } } } } } }""",
        auth=ws.api_key,
    )
    connection = clusters["data"]["board"]["duplicateClusters"]
    assert connection["totalCount"] == 1
    [edge] = connection["edges"]
    assert {i["id"] for i in edge["node"]["ideas"]} == {oat, payload["idea"]["id"]}
    assert 0 < edge["node"]["cohesion"] <= 1


async def test_jobs_for_a_board_that_no_longer_exists_finish_quietly(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    from ideaengine.platform.jobs import run_job

    caplog.set_level(logging.INFO, logger="ideaengine.jobs")
    assert await asyncio.to_thread(run_job, "workers.scores.refresh_board", [987654], None, services.settings) == {
        "skipped": "board no longer exists"
    }
    assert await asyncio.to_thread(run_job, "workers.duplicates.index_board", [987654], None, services.settings) == {
        "skipped": "board no longer exists"
    }
    assert [line["board"] for line in job_lines(caplog, "refresh_board")] == [987654]


async def test_a_malformed_job_payload_raises_a_clear_error(services: Services) -> None:
    from ideaengine.platform.jobs import run_job

    with pytest.raises(TypeError, match="board_id must be an int"):
        await asyncio.to_thread(run_job, "workers.scores.refresh_board", ["not-a-board"], None, services.settings)
    with pytest.raises(ValueError, match="names nothing callable"):
        await asyncio.to_thread(run_job, "workers.scores.no_such_job", [1], None, services.settings)


async def test_scores_of_a_merged_pair_move_and_the_source_leaves_the_ranking(
    api: Api, ws: Workspace, board: str, services: Services
) -> None:
    from ideaengine.platform.models import IdeaScore

    alice = ws.token("alice")
    a = await idea_id(api, alice, board, "Oat milk in every store")
    b = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    for n in range(3):
        await vote(api, ws.token(f"v{n}"), b, "UP")
    await api(
        "mutation($i: MergeIdeasInput!) { mergeIdeas(input: $i) { userErrors { code } } }",
        {"i": {"sourceId": b, "targetId": a}},
        auth=ws.api_key,
    )
    await in_process(services).drain()
    target = (await idea(api, None, a, SCORE))["score"]
    assert target["rank"] == 1 and target["stale"] is False
    assert target["wilsonLowerBound"] == pytest.approx(float(ranking.wilson_lower_bound([3], [0])[0]))
    async with services.db.read() as session:
        ranks = dict((await session.execute(select(IdeaScore.idea_id, IdeaScore.rank))).all())
    assert sorted(r for r in ranks.values() if r is not None) == [1]
    assert np.isclose((await idea(api, None, b, SCORE))["score"]["wilsonLowerBound"], 0.0)


async def test_with_embeddings_paraphrases_are_found(
    api: Api, ws: Workspace, board: str, services: Services, semantic: None
) -> None:
    """Lexical similarity misses these (RANKING.md); the `semantic` extra's vectors find them."""
    alice = ws.token("alice")
    oat = await idea_id(api, alice, board, "Oat milk in every store")
    others = [
        await idea_id(api, alice, board, t)
        for t in (
            "Every store should have free parking",
            "Open every store earlier on Sundays",
            "Add a dark mode to the mobile app",
            "Sell more vegan cheese",
        )
    ]
    please = await idea_id(api, alice, board, "Please stock oat milk at all locations")
    await in_process(services).drain()
    async with services.db.read() as session:
        from ideaengine.platform.models import Idea

        stored = (await session.execute(select(Idea.embedding))).scalars().all()
    assert len(stored) == 6 and all(v is not None and len(v) == 384 * 4 for v in stored)
    found = await api(
        """query($b: ID!) { similarIdeas(boardId: $b, text: "Could all your shops carry oat milk?")
        { idea { id } } }""",
        {"b": board},
    )
    assert {found["data"]["similarIdeas"][0]["idea"]["id"], found["data"]["similarIdeas"][1]["idea"]["id"]} == {
        oat,
        please,
    }
    similar = await idea(api, None, oat, "similar(first: 1) { idea { id } }")
    assert similar["similar"][0]["idea"]["id"] == please
    clusters = await api(
        """{ board(workspace: "acme", slug: "ideas") { duplicateClusters {
        edges { node { ideas { id } } } } } }""",
        auth=ws.api_key,
    )
    edges = clusters["data"]["board"]["duplicateClusters"]["edges"]
    # Clusters put precision first (threshold chosen on labelled data): this looser paraphrase pair is left
    # to "did you mean", and no unrelated idea that shares words ("every store") is ever clustered.
    assert all({i["id"] for i in e["node"]["ideas"]} <= {oat, please} for e in edges)
    assert len(others) == 4


SIMILAR = """query($b: ID!, $t: String!) { similarIdeas(boardId: $b, text: $t, first: 5) { idea { id } similarity } }"""
CLUSTERS = """{ board(workspace: "acme", slug: "ideas") { duplicateSensitivity
  duplicateClusters { edges { node { ideas { id } } } } } }"""
SENSITIVITY = """mutation($i: UpdateBoardInput!) { updateBoard(input: $i) {
  board { duplicateSensitivity } userErrors { code field } } }"""


async def test_did_you_mean_has_a_floor_and_one_scale_and_sensitivity_sets_the_clusters(
    api: Api, ws: Workspace, board: str, services: Services, semantic: None
) -> None:
    """Scores are calibrated: the same before and after the board's index is built, unrelated or nonsense drafts
    get nothing, and the board's duplicate sensitivity moves the cluster threshold (docs/ranking.md)."""
    alice = ws.token("alice")
    export = await idea_id(
        api, alice, board, "Export reports to CSV", body="Let me export my monthly spending reports to a CSV file."
    )
    download = await idea_id(
        api, alice, board, "CSV download of reports", body="A CSV download of my monthly spending reports, please."
    )
    theme = await idea_id(api, alice, board, "Night theme for dashboard")
    oat = await idea_id(api, alice, board, "Oat milk in every store")
    for title in ("Longer opening hours on Sundays", "Recyclable coffee cups"):
        await idea_id(api, alice, board, title)
    lattes = await idea_id(api, alice, board, "Oat milk lattes")  # like oat milk, yet not the same request

    async def similar(text: str) -> dict[str, float]:
        body = await api(SIMILAR, {"b": board, "t": text})
        return {f["idea"]["id"]: f["similarity"] for f in body["data"]["similarIdeas"]}

    drafts = ("Export reports to CSV", "Download the reports as CSV", "blorp fizzle wug", "asdf qwerty zxcv")
    await in_process(services).drain()
    after = {d: await similar(d) for d in drafts}  # from the board's index, embeddings and all
    async with services.db.write() as session:  # as before the first build: every idea matched per request
        from ideaengine.platform.models import BoardIndex

        await session.execute(delete(BoardIndex))
    before = {d: await similar(d) for d in drafts}

    assert list(before["Export reports to CSV"])[:2] == [export, download]
    assert theme not in before["Export reports to CSV"] and theme not in after["Export reports to CSV"]
    assert before["blorp fizzle wug"] == after["blorp fizzle wug"] == {}
    assert before["asdf qwerty zxcv"] == after["asdf qwerty zxcv"] == {}
    for draft in drafts:
        assert before[draft].keys() == after[draft].keys()
        for found, score in after[draft].items():
            assert score == pytest.approx(before[draft][found], abs=1e-3)
            assert ranking.SUGGESTION_FLOOR <= score < 1

    async def clusters(level: str, change: bool = True) -> list[set[str]]:
        if change:
            body = await api(SENSITIVITY, {"i": {"boardId": board, "duplicateSensitivity": level}}, auth=ws.api_key)
            assert body["data"]["updateBoard"] == {"board": {"duplicateSensitivity": level}, "userErrors": []}
            await in_process(services).drain()  # the change rebuilds the clusters
        body = await api(CLUSTERS, auth=ws.api_key)
        assert body["data"]["board"]["duplicateSensitivity"] == level
        edges = body["data"]["board"]["duplicateClusters"]["edges"]
        return [{i["id"] for i in e["node"]["ideas"]} for e in edges]

    medium = await clusters("MEDIUM", change=False)
    assert medium == [{export, download}]
    assert {frozenset(c) for c in await clusters("HIGH")} == {frozenset({export, download}), frozenset({oat, lattes})}
    low = await clusters("LOW")
    assert all(cluster in medium for cluster in low)
    refused = await api(SENSITIVITY, {"i": {"boardId": board, "duplicateSensitivity": "HIGH"}}, auth=alice)
    assert refused["data"]["updateBoard"]["userErrors"][0]["code"] == "FORBIDDEN"
    bad = await api(
        SENSITIVITY, {"i": {"boardId": board, "duplicateSensitivity": "EXTREME"}}, auth=ws.api_key, expect_errors=True
    )
    assert bad["data"] is None and "'EXTREME' does not exist in 'DuplicateSensitivity'" in bad["errors"][0]["message"]
    assert await clusters("LOW", change=False) == low  # neither refusal changed it
