"""Campaign phases move by their dates through the periodic sweep: in-process, and with real rq workers.

The in-process test moves the clock by moving the campaign's dates back (nothing else reads them), with every
job the writes queued lost, so only the sweep can find what is due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ideaengine import campaigns, sweep
from ideaengine.platform.models import Campaign, utcnow
from ideaengine.platform.services import Services
from tests.api.conftest import Api, Workspace, make_workspace
from tests.api.ops import create_board, pk, vote
from tests.api.test_campaigns import CAMPAIGN, NOTIFICATIONS, UPDATE, enter, new_campaign, read, run, to_phase
from tests.conftest import eventually, in_process
from tests.workers.test_rq import settings_for, system

HOUR = timedelta(hours=1)


async def hours_pass(services: Services, campaign: str, hours: float) -> None:
    """The clock moves on: every date of the campaign comes `hours` closer (no job is queued by this)."""
    async with services.db.write() as session:
        row = (await session.execute(select(Campaign).where(Campaign.id == pk(campaign)))).scalar_one()
        for name in ("submission_starts_at", "submission_ends_at", "voting_starts_at", "voting_ends_at"):
            setattr(row, name, getattr(row, name) - hours * HOUR)


async def swept(services: Services) -> int:
    """Sweep and run what it enqueued; returns how many campaigns were due (stale boards are swept too)."""
    async with services.db.read() as session:
        due = await campaigns.due(session, utcnow())
    await sweep.sweep(services.db, services.queue)
    await in_process(services).drain()
    return len(due)


async def test_the_sweep_moves_a_campaign_through_its_windows_and_closes_it_once(
    api: Api, ws: Workspace, services: Services
) -> None:
    board = await create_board(api, ws.api_key)
    now = datetime.now(UTC)
    dates = {
        "submissionStartsAt": (now + HOUR).isoformat(),
        "submissionEndsAt": (now + 2 * HOUR).isoformat(),
        "votingStartsAt": (now + 3 * HOUR).isoformat(),
        "votingEndsAt": (now + 4 * HOUR).isoformat(),
    }
    cid = await new_campaign(api, ws, board, **dates)
    await in_process(services).drain()
    assert (await read(api, cid))["phase"] == "SCHEDULED"
    assert await swept(services) == 0  # nothing due yet
    queue, services.work.queue = services.work.queue, None  # from here on, every job a write queues is lost
    try:
        phases = []
        for step in range(4):
            await hours_pass(services, cid, 1)
            assert await swept(services) == 1
            phases.append((await read(api, cid))["phase"])
            if step == 0:
                a = await enter(api, ws.token("alice"), board, cid, "Alice's entry")
                b = await enter(api, ws.token("bob"), board, cid, "Bob's entry")
            if step == 2:
                assert (await vote(api, ws.token("carol"), b, "UP"))["userErrors"] == []
    finally:
        services.work.queue = queue
    assert phases == ["SUBMISSION", "SHORTLIST", "VOTING", "CLOSED"]
    results = (await read(api, cid))["results"]
    assert [(r["idea"]["id"], r["winner"], r["idea"]["status"]) for r in results] == [
        (b, True, "PLANNED"),
        (a, False, "SUBMITTED"),
    ]
    assert await swept(services) == 0  # closed with results: never due again
    kinds = [
        e["node"]["kind"]
        for e in (await api(NOTIFICATIONS, auth=ws.token("bob")))["data"]["viewer"]["notifications"]["edges"]
    ]
    assert kinds.count("CAMPAIGN_PHASE_CHANGED") == 3 and kinds.count("CAMPAIGN_RESULT") == 1


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.slow
async def test_real_workers_close_a_campaign_when_its_voting_ends_and_compute_its_results(
    pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with system(settings_for(pg_url, redis_url, f"ie-{uuid.uuid4().hex}"), tmp_path) as (api, services, workers):
        acme = await make_workspace(services, "acme")
        board = await create_board(api, acme.api_key)
        cid = await new_campaign(api, acme, board)
        await to_phase(api, acme, cid, "SUBMISSION")
        a = await enter(api, acme.token("alice"), board, cid, "Alice's entry")
        b = await enter(api, acme.token("bob"), board, cid, "Bob's entry")
        await to_phase(api, acme, cid, "VOTING")
        assert (await vote(api, acme.token("carol"), a, "UP"))["userErrors"] == []
        workers.start()
        ends = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        assert (await run(api, UPDATE, acme.api_key, campaignId=cid, votingEndsAt=ends))["userErrors"] == []

        async def closed() -> Any:
            found = (await api(CAMPAIGN, {"id": cid}))["data"]["node"]
            return found if found["phase"] == "CLOSED" and found["results"] else None

        found = await eventually(closed, 60, "the workers to close the campaign", workers.output)
        assert [(r["idea"]["id"], r["rank"], r["winner"], r["idea"]["status"]) for r in found["results"]] == [
            (a, 1, True, "PLANNED"),
            (b, 2, False, "SUBMITTED"),
        ]
