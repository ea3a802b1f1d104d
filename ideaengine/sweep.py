"""The sweep: what makes background work converge even when a job was lost (a crashed worker, an emptied Redis).

Run at start and every sweep interval by the in-process runner's timer, or by `ideaengine worker`.
It ignores pending markers (a marker may belong to a lost job); with `period` set (distributed),
one job per board or delivery (and one mail sender) per period, however many workers sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ideaengine import boards, campaigns, mail, scores, webhooks
from ideaengine.platform.db import Database
from ideaengine.platform.jobs import JobQueue, JobRequest
from ideaengine.platform.models import utcnow

DELIVERY_GRACE = timedelta(seconds=60)
"A pending webhook delivery this long past its due time is taken as lost and enqueued again."


async def sweep(db: Database, queue: JobQueue, period: str | None = None, now: datetime | None = None) -> int:
    """Enqueue a refresh for every stale board and every overdue webhook delivery, a move for every campaign
    whose dates passed (or that CLOSED without results), and the mail sender when a message is due (a digest
    whose time came, a retry, a lost job's); returns how many."""
    now = now or utcnow()
    async with db.read() as session:
        score_ids, text_ids = await scores.stale_boards(session)
        delivery_ids = await webhooks.overdue_deliveries(session, now - DELIVERY_GRACE)
        campaign_ids = await campaigns.due(session, now)
        mail_due = db.settings.mail_enabled and await mail.anything_due(session, now)

    def request(name: str, kind: str, pk: int) -> JobRequest:
        return JobRequest(
            name, (pk,), coalesce=period is None, job_id=None if period is None else f"sweep-{kind}-{pk}-{period}"
        )

    requests = [request(boards.REFRESH_SCORES, "scores", b) for b in score_ids]
    requests += [request(boards.INDEX_TEXTS, "texts", b) for b in text_ids]
    requests += [request(webhooks.DELIVER, "delivery", d) for d in delivery_ids]
    requests += [request(campaigns.ADVANCE, "campaign", c) for c in campaign_ids]
    if mail_due:
        job_id = None if period is None else f"sweep-mail-{period}"
        requests.append(JobRequest(mail.SEND_DUE, (), coalesce=period is None, job_id=job_id))
    if requests:
        await queue.submit(requests)
    return len(requests)
