"""A board's page on PostgreSQL's driver (`ideaengine.board_pages`) reads what the ORM's `ideas.list_boards` and
`scores.scores_many` read, row for row and figure for figure: every sort, forward and back through cursors,
for readers with different rights, on a board whose ideas tie on their keys and differ in state."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ideaengine import board_pages, boards, ideas, scores
from ideaengine.ideas import IdeaFilter, IdeaSort
from ideaengine.identity import ANONYMOUS, Actor, ActorRole
from ideaengine.platform import driver
from ideaengine.platform.models import BoardScore, Idea, IdeaStatus, ModerationState, utcnow
from ideaengine.platform.queries import Window
from ideaengine.platform.services import Services
from ideaengine.platform.unit_of_work import UnitOfWork
from tests.api.conftest import Api, Workspace
from tests.api.ops import create_board, drain, idea_id


async def seed(api: Api, ws: Workspace, services: Services) -> tuple[int, int, list[int]]:
    """A board of 40 ideas in mixed states and figures, with ties; its id, workspace id and users' ids."""
    board = await create_board(api, ws.api_key)
    for name in ("alice", "bob"):
        await idea_id(api, ws.token(name), board, f"An idea by {name}")
    await drain(services)  # the refresh those queued: nothing writes figures behind the comparisons
    rng = random.Random(18)
    async with services.db.write() as session:
        board_id, workspace_id = (await session.execute(text("SELECT id, workspace_id FROM boards"))).one()
        users = list((await session.execute(text("SELECT id FROM users ORDER BY id"))).scalars())
        base = utcnow()
        for n in range(40):
            session.add(
                Idea(
                    board_id=board_id,
                    author_id=rng.choice([*users, None]),
                    title=f"Idea {n}",
                    body="",
                    search_text=f"idea {n}",
                    status=rng.choice([IdeaStatus.SUBMITTED] * 4 + [IdeaStatus.MERGED, IdeaStatus.PLANNED]),
                    moderation_state=rng.choice(
                        [ModerationState.VISIBLE] * 5 + [ModerationState.PENDING, ModerationState.HIDDEN]
                    ),
                    created_at=base - timedelta(minutes=rng.randrange(6)),  # ties on the time
                    updated_at=base,
                    follower_count=0,
                    up_count=rng.randrange(4),
                )
            )
        await session.flush()
        seq = (await session.execute(text("SELECT coalesce(sum(seq), 0) FROM board_score_seqs"))).scalar_one()
        for idea in (await session.execute(text("SELECT id FROM ideas"))).scalars():
            if rng.random() < 0.7:  # the others keep their placeholder row: no figures yet
                await session.execute(
                    text(
                        "UPDATE idea_scores SET computed_seq = :seq, wilson_lower_bound = :w, trending = :t, "
                        "elo = :e, bradley_terry = :b, rank = :r, computed_at = :at WHERE idea_id = :id"
                    ),
                    {
                        "id": idea,
                        "seq": seq,
                        "w": rng.choice([0.1, 0.2, 0.3]),
                        "t": rng.choice([0.0, 1.5]),
                        "e": rng.choice([1480.0, 1500.0, 1520.0]),
                        "b": rng.choice([-0.5, 0.0, 0.5]),
                        "r": rng.randrange(1, 40),
                        "at": base.replace(tzinfo=None),
                    },
                )
        await session.execute(text("DELETE FROM board_scores"))
        # Fresh (not stale), so no refresh is due to rewrite the figures while the test reads them.
        session.add(BoardScore(board_id=board_id, computed_seq=seq, computed_at=base, trending_at=base))
    return board_id, workspace_id, users


def columns(entity: Any) -> tuple[Any, ...] | None:
    if entity is None:
        return None
    return tuple(getattr(entity, c.key) for c in driver.loaded_columns(type(entity)))


def figures(stored: scores.Stored) -> tuple[Any, ...]:
    return (columns(stored.score), columns(stored.refresh), stored.behind, stored.stale, stored.trending)


async def both(services: Services, actor: Actor, board_id: int, sort: IdeaSort, window: Window) -> board_pages.IdeaPage:
    """The page both ways; they must agree on rows, keys, totals and figures."""
    async with services.db.reader() as session:
        orm = (await ideas.list_boards(session, actor, [board_id], sort, IdeaFilter(), window))[board_id]
        stored = await scores.scores_many(session, [idea.id for idea in orm.rows])
    async with services.db.reader() as session:
        page = (await board_pages.list_boards(session, actor, [board_id], sort, IdeaFilter(), window))[board_id]
    where = (actor, sort, window)
    assert [columns(idea) for idea in page.rows] == [columns(idea) for idea in orm.rows], where
    assert (page.keys, page.more, page.total) == (orm.keys, orm.more, orm.total), where
    assert isinstance(page, board_pages.IdeaPage)
    assert [figures(page.scores[i.id]) for i in page.rows] == [figures(stored[i.id]) for i in orm.rows], where
    return page


async def test_the_drivers_page_reads_what_the_orms_does(api: Api, ws: Workspace, services: Services) -> None:
    board_id, workspace_id, users = await seed(api, ws, services)
    readers = [
        ANONYMOUS,
        Actor(workspace_id=workspace_id, user_id=users[0], role=ActorRole.MEMBER),  # sees their PENDING ideas
        Actor(workspace_id=workspace_id, user_id=users[1], role=ActorRole.MODERATOR),  # sees every state
        Actor(workspace_id=workspace_id + 1000, user_id=users[0] + 1000, role=ActorRole.ADMIN),  # another's
    ]
    for actor in readers:
        for sort in IdeaSort:
            seen: list[int] = []
            window = Window(size=4, counted=True)
            while True:  # forward, four at a time
                page = await both(services, actor, board_id, sort, window)
                seen += [idea.id for idea in page.rows]
                if not page.more:
                    break
                window = Window(size=4, after=page.keys[-1], counted=False)
            assert len(seen) == len(set(seen)) and len(seen) > 10, (actor, sort)
            back: list[int] = []
            window = Window(size=5, backward=True)
            while True:  # and back from the end, five at a time
                page = await both(services, actor, board_id, sort, window)
                back = [idea.id for idea in page.rows] + back
                if not page.more:
                    break
                window = Window(size=5, backward=True, before=page.keys[0])
            assert back == seen, (actor, sort)
            first = await both(services, actor, board_id, sort, Window(size=2))
            middle = await both(services, actor, board_id, sort, Window(size=3, after=first.keys[1]))
            assert [idea.id for idea in middle.rows] == seen[2:5]
    anonymous = await both(services, ANONYMOUS, board_id, IdeaSort.TOP, Window(size=100))
    moderator = await both(services, readers[2], board_id, IdeaSort.TOP, Window(size=100))
    assert len(anonymous.rows) < len(moderator.rows)  # the rights are the reader's
    assert not any(anonymous.scores[idea.id].behind for idea in anonymous.rows)
    # A vote since the refresh (its refresh queued nowhere): every figure on the board is behind.
    async with UnitOfWork(services.db, queue=None, broker=None).transaction() as session:
        await boards.changed(session, board_id, anonymous.rows[0].id, scores=True)
    behind = await both(services, ANONYMOUS, board_id, IdeaSort.TOP, Window(size=100))
    assert all(behind.scores[idea.id].behind for idea in behind.rows)


async def test_the_drivers_page_is_for_one_unfiltered_board_only(api: Api, ws: Workspace, services: Services) -> None:
    """Filters and several boards at once read through the ORM (the driver's page does not know them)."""
    board_id, _, _ = await seed(api, ws, services)
    async with services.db.reader() as session:
        planned = await board_pages.list_boards(
            session, ANONYMOUS, [board_id], IdeaSort.TOP, IdeaFilter(statuses=(IdeaStatus.PLANNED,)), Window()
        )
        unfiltered = await board_pages.list_boards(session, ANONYMOUS, [board_id], IdeaSort.TOP, IdeaFilter(), Window())
    assert not isinstance(planned[board_id], board_pages.IdeaPage)
    assert {idea.status for idea in planned[board_id].rows} == {IdeaStatus.PLANNED}
    assert isinstance(unfiltered[board_id], board_pages.IdeaPage)
    idea = unfiltered[board_id].rows[0]
    with pytest.raises(Exception, match=r"lazy=.raise.|not bound to a Session"):
        _ = idea.board  # a page's idea is loaded, not live: it never reads the database behind a resolver's back
