"""advance_campaign: move a campaign to the phase its dates say, and compute its results once it CLOSED."""

from __future__ import annotations

from typing import Any

from ideaengine import campaign_results
from ideaengine.platform.db import Database
from workers.base import job_work, run


def advance_campaign(campaign_id: int) -> dict[str, Any]:
    """Enqueued by the sweep when a window's date passed, and after every campaign write. Idempotent: the
    campaign's row lock orders two runs, and the second finds nothing to move and its results written."""
    return run("advance_campaign", campaign_id, lambda db: _advance(db, campaign_id))


async def _advance(db: Database, campaign_id: int) -> dict[str, Any]:
    async with job_work(db).transaction() as session:
        return await campaign_results.advance(session, campaign_id)
