"""`ideaengine demo`: a realistic board seeded through the services, the same data each run, a fresh key each time
(which replaces the last one)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ideaengine import demo, demo_campaigns, identity
from ideaengine.identity import ActorRole
from ideaengine.platform.jobs import run_job
from ideaengine.platform.models import (
    ApiKey,
    BallotKind,
    Board,
    Campaign,
    CampaignBallot,
    CampaignPhase,
    Comment,
    Comparison,
    DuplicateLink,
    DuplicateSensitivity,
    Follow,
    Idea,
    IdeaStatus,
    IdeaTag,
    Notification,
    Role,
    StatusChange,
    User,
    Vote,
    Workspace,
)
from tests.api.conftest import Api

SEEDED = (Workspace, Board, Idea, IdeaTag, Vote, Comparison, Comment, StatusChange, Follow, Notification)
TITLES = {spec.key: spec.title for spec in demo.IDEAS}
ENTRIES = len(demo_campaigns.CONTEST_ENTRIES) + len(demo_campaigns.BUDGET_ENTRIES)
"The campaigns' entries: ideas of the board too."


async def _count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def _snapshot(session: AsyncSession) -> dict[str, Any]:
    """Row counts of everything the demo seeds, and each idea's status and tally."""
    counts = {m.__tablename__: await _count(session, m) for m in SEEDED}
    counts["people"] = await _count(session, User, User.external_id.not_like("apikey:%"))
    rows = await session.execute(select(Idea.title, Idea.status, Idea.up_count, Idea.down_count).order_by(Idea.id))
    return {"counts": counts, "ideas": [tuple(r) for r in rows]}


async def _board_ideas(session: AsyncSession) -> dict[str, Idea]:
    rows = await session.execute(
        select(Idea)
        .join(Board, Board.id == Idea.board_id)
        .join(Workspace, Workspace.id == Board.workspace_id)
        .where(Workspace.slug == "demo", Board.slug == "ideas")
    )
    return {idea.title: idea for idea in rows.scalars()}


async def test_demo_seeds_people_votes_comparisons_answers_statuses_and_a_merge(settings: Any, services: Any) -> None:
    result = await demo.seed(settings)

    assert set(result) == {"workspace", "board", "apiKey", "ssoSecret", "tokens", "graphql", "embed", "try"}
    assert (result["workspace"], result["board"], result["graphql"], result["embed"], result["try"]) == (
        "demo",
        "ideas",
        "http://127.0.0.1:8000/graphql",
        "http://127.0.0.1:8000/embed/demo/ideas",
        "http://127.0.0.1:8000/embed/demo/ideas/try",
    )
    async with services.db.read() as session:
        board = (await session.execute(select(Board).where(Board.slug == "ideas"))).scalar_one()
        assert (board.name, board.visibility.value) == ("Driftwood Coffee customer ideas", "PUBLIC")
        by_title = await _board_ideas(session)
        assert len(by_title) == len(demo.IDEAS) + ENTRIES == 37 + 8
        assert Counter(i.status for i in by_title.values()) == {
            IdeaStatus.SUBMITTED: 26 + ENTRIES,
            IdeaStatus.UNDER_REVIEW: 3,
            IdeaStatus.PLANNED: 3,
            IdeaStatus.IN_PROGRESS: 2,
            IdeaStatus.LAUNCHED: 1,
            IdeaStatus.DECLINED: 1,
            IdeaStatus.MERGED: 1,
        }
        source, target = by_title[TITLES["oat-milk-all"]], by_title[TITLES["oat-milk"]]
        assert (source.status, source.merged_into_id, source.up_count, source.down_count) == (
            IdeaStatus.MERGED,
            target.id,
            0,
            0,
        )
        assert await _count(session, Vote, Vote.idea_id == source.id) == 0

        roles = Counter(
            (await session.execute(select(User.role).where(User.external_id.not_like("apikey:%")))).scalars()
        )
        assert roles == {Role.MEMBER: 15, Role.MODERATOR: 1}
        assert len({i.author_id for i in by_title.values()}) == 15

        # Tallies agree with the vote rows, and the skew is realistic: favourites far ahead of new ideas.
        vote_count = await _count(session, Vote)
        assert vote_count == sum(i.up_count + i.down_count for i in by_title.values()) > 200
        tallies = sorted(i.up_count + i.down_count for i in by_title.values() if i.status != IdeaStatus.MERGED)
        assert tallies[-1] >= 12 and tallies[0] <= 3
        assert max(by_title.values(), key=lambda i: i.up_count - i.down_count).title in (
            TITLES["oat-milk"],
            TITLES["order-ahead"],
        )
        controversial = by_title[TITLES["tipping"]]
        assert abs(controversial.up_count - controversial.down_count) <= 2 < controversial.down_count

        comparisons = await _count(session, Comparison)
        assert 100 < comparisons <= 15 * demo.COMPARISONS_PER_MEMBER
        assert await _count(session, Comparison, Comparison.winner_id == source.id) == 0
        assert await _count(session, Comparison, Comparison.loser_id == source.id) == 0

        moderator = (await session.execute(select(User.id).where(User.role == Role.MODERATOR))).scalar_one()
        official = (await session.execute(select(Comment).where(Comment.official.is_(True)))).scalars().all()
        assert len(official) == len(demo.OFFICIAL_ANSWERS) == 5
        assert {c.author_id for c in official} == {moderator}
        assert await _count(session, Comment) == len(demo.MEMBER_COMMENTS) + 5

        declined = (
            await session.execute(select(StatusChange).where(StatusChange.to_status == IdeaStatus.DECLINED))
        ).scalar_one()
        assert declined.idea_id == by_title[TITLES["late-night"]].id and "11pm" in (declined.note or "")
        launched = by_title[TITLES["favourites"]]
        history = (
            await session.execute(
                select(StatusChange.to_status).where(StatusChange.idea_id == launched.id).order_by(StatusChange.id)
            )
        ).scalars()
        assert list(history) == [
            IdeaStatus.SUBMITTED,
            IdeaStatus.UNDER_REVIEW,
            IdeaStatus.PLANNED,
            IdeaStatus.IN_PROGRESS,
            IdeaStatus.LAUNCHED,
        ]
        assert await _count(session, Notification) > 0

        for first, second in demo.DUPLICATES:
            assert TITLES[first] in by_title and TITLES[second] in by_title
        open_pairs = [p for p in demo.DUPLICATES if all(by_title[TITLES[k]].status != IdeaStatus.MERGED for k in p)]
        assert len(open_pairs) == 4  # left for the duplicate finder to cluster
        assert board.duplicate_sensitivity == DuplicateSensitivity.HIGH

        running = {c.title: c for c in (await session.execute(select(Campaign))).scalars()}
        contest, budget = running[demo_campaigns.CONTEST], running[demo_campaigns.BUDGET]
        assert (contest.phase, contest.ballot, budget.phase, budget.ballot) == (
            CampaignPhase.VOTING,
            BallotKind.VOTES,
            CampaignPhase.VOTING,
            BallotKind.BUDGET,
        )
        finalists = await _count(session, Idea, Idea.campaign_id == contest.id, Idea.finalist.is_(True))
        assert finalists == demo_campaigns.CONTEST_FINALISTS
        assert await _count(session, CampaignBallot, CampaignBallot.campaign_id == budget.id) == 14

    # The sweep would index the board; the job itself, here. The obvious pair shows as a cluster.
    await asyncio.to_thread(run_job, "workers.duplicates.index_board", [board.id], None, settings)
    async with services.db.read() as session:
        links = (await session.execute(select(DuplicateLink.cluster_id, DuplicateLink.idea_id))).all()
    clusters: dict[int, set[int]] = {}
    for cluster_id, idea in links:
        clusters.setdefault(cluster_id, set()).add(idea)
    assert {by_title[TITLES[k]].id for k in demo.CLUSTERED} in clusters.values()


SEED_PROGRESS = [
    ("submitting ideas", 10, 37),
    ("submitting ideas", 20, 37),
    ("submitting ideas", 30, 37),
    ("submitting ideas", 37, 37),
    ("voting on ideas", 10, 37),
    ("voting on ideas", 20, 37),
    ("voting on ideas", 30, 37),
    ("voting on ideas", 37, 37),
    ("comparing ideas (per member)", 10, 15),
    ("comparing ideas (per member)", 15, 15),
    ("commenting", 10, 14),
    ("commenting", 14, 14),
    ("moving statuses", 10, 10),
    ("answering", 5, 5),
]
"What a fresh seed reports: each step after every tenth item and after its last."


async def test_seeding_reports_how_far_each_long_step_is_and_a_top_up_reports_nothing(
    settings: Any, services: Any
) -> None:
    heard: list[tuple[str, int, int]] = []

    def progress(step: str, done: int, total: int) -> None:
        heard.append((step, done, total))

    await demo.seed(settings, progress=progress)

    assert heard == SEED_PROGRESS
    heard.clear()
    await demo.seed(settings, progress=progress)
    assert heard == []  # every idea is there already: no step has anything to do


async def test_each_run_issues_a_new_admin_key_in_place_of_the_last_and_adds_no_data(
    settings: Any, services: Any
) -> None:
    first = await demo.seed(settings)
    async with services.db.read() as session:
        before = await _snapshot(session)
        keys_before = await _count(session, ApiKey)

    second = await demo.seed(settings)

    assert second["apiKey"] != first["apiKey"]
    assert second["ssoSecret"] == first["ssoSecret"]
    async with services.transaction() as session:
        assert await _snapshot(session) == before
        assert before["counts"]["ideas"] == len(demo.IDEAS) + ENTRIES
        # One key for the workspace (never printed) and one the demo prints: runs do not pile keys up.
        assert keys_before == await _count(session, ApiKey) == 2
        assert await _count(session, User, User.external_id.like("apikey:%")) == 2
        workspace = (await session.execute(select(Workspace).where(Workspace.slug == "demo"))).scalar_one()
        admin = await identity.actor_for_api_key(session, second["apiKey"])
        assert (admin.workspace_id, admin.role, admin.auth_errors) == (workspace.id, ActorRole.ADMIN, ())
        replaced = await identity.actor_for_api_key(session, first["apiKey"])
        assert (replaced.workspace_id, replaced.auth_errors) == (None, ("The API key is unknown or revoked.",))
        claims = {"iss": "demo", "sub": "dw-1001", "exp": int(time.time()) + 60}
        token = jwt.encode(claims, second["ssoSecret"], "HS256")
        member = await identity.actor_for_sso_token(session, token, services.box)
        assert (member.workspace_id, member.role) == (workspace.id, ActorRole.MEMBER)


VIEWER = "{ viewer { role user { name } } }"


async def test_the_printed_tokens_sign_in_the_visitor_and_the_moderator_for_a_day_at_most(
    settings: Any, services: Any, api: Api
) -> None:
    """What a newcomer pastes into the try page: a customer's token and a moderator's, both for the demo
    workspace, living a day (or the server's longest token life, if that is shorter)."""
    tokens = (await demo.seed(settings))["tokens"]

    assert set(tokens) == {"visitor", "moderator"}
    visitor = (await api(VIEWER, auth=tokens["visitor"]))["data"]["viewer"]
    assert visitor == {"role": "MEMBER", "user": {"name": "Priya Natarajan"}}
    moderator = (await api(VIEWER, auth=tokens["moderator"]))["data"]["viewer"]
    assert moderator == {"role": "MODERATOR", "user": {"name": "Sam Rivera (Driftwood Coffee)"}}
    for token in (tokens["visitor"], tokens["moderator"]):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["iss"], claims["exp"] - claims["iat"]) == ("demo", 24 * 3600)
        assert abs(claims["iat"] - time.time()) < 60

    shorter = settings.model_copy(update={"sso_max_token_lifetime_seconds": 3600.5})
    again = (await demo.seed(shorter))["tokens"]
    for token in (again["visitor"], again["moderator"]):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 3600
        assert (await api(VIEWER, auth=token))["data"]["viewer"]["role"] != "ANONYMOUS"


def test_cli_demo_prints_json_with_a_fresh_key_each_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAENGINE_")}
    env["IDEAENGINE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"

    errors: list[list[str]] = []

    def run(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "ideaengine.cli", "demo", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        out: dict[str, Any] = json.loads(done.stdout)
        errors.append(done.stderr.splitlines())
        return out

    first, second = run(), run("--port", "8123")

    assert first["apiKey"].startswith("iek_") and second["apiKey"].startswith("iek_")
    assert first["apiKey"] != second["apiKey"]
    assert (first["workspace"], first["board"], first["ssoSecret"]) == ("demo", "ideas", second["ssoSecret"])
    assert (tmp_path / "x.db.key").exists()  # the embedded default made its own server key (DECISIONS.md 5)
    # Where `serve` answers: the defaults, or the host and port it is told (`make run` passes its own).
    assert (first["graphql"], second["graphql"]) == ("http://127.0.0.1:8000/graphql", "http://127.0.0.1:8123/graphql")
    # The try page, and the tokens to paste into it: a visitor's and a moderator's.
    assert second["try"] == "http://127.0.0.1:8123/embed/demo/ideas/try"
    assert set(first["tokens"]) == set(second["tokens"]) == {"visitor", "moderator"}
    # Progress goes to stderr, stdout stays the JSON answer; a top-up has no step to report.
    wrote = f"ideaengine: wrote to the SQLite file {(tmp_path / 'x.db').resolve()}"
    assert errors == [
        [*(f"ideaengine: demo: {step} {done}/{total}" for step, done, total in SEED_PROGRESS), wrote],
        [wrote],
    ]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_the_demo_leaves_postgresql_statistics_of_what_it_seeded(settings: Any, services: Any) -> None:
    """autovacuum would not analyze a board of 45 ideas for a long while, and without statistics PostgreSQL planned
    the board's page as if each table held one row (its statement ran nearly twice as long)."""
    from sqlalchemy import text

    await demo.seed(settings)
    async with services.db.read() as session:
        analyzed = dict(
            (await session.execute(text("SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables"))).all()
        )
        seeded_ideas = (
            await session.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'ideas'::regclass"))
        ).scalar_one()
    assert analyzed["ideas"] and analyzed["votes"] and analyzed["idea_scores"] and analyzed["boards"]
    assert seeded_ideas == len(demo.IDEAS) + ENTRIES
