"""TRENDING kept per idea, and what a board's last score refresh covered (issue 18)

ideas gain `trending` and `trending_at`: the idea's decayed net votes as of its last vote write, which every
vote moves from now on (ideaengine/trending.py); existing ideas get theirs computed from their votes, as of
the upgrade. board_scores holds, per board, the sequence its last refresh included, when it ran, and the time
its stored TRENDING figures are expressed at; it starts from the scores already stored (the oldest sequence
of a board's rows, so a board is never taken for fresher than it was, and the latest time, to which every
row's TRENDING figure is moved). Downgrading moves each stored TRENDING figure back to the time of the board's
last refresh, which each row then carries with its sequence, and drops the new columns and table.

Revision ID: 0012_scale
Revises: 0011_supporters
Create Date: 2026-12-12 10:00:00
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0012_scale"
down_revision: str | None = "0011_supporters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HALF_LIFE_SECONDS = 72 * 3600.0
"RANKING.md's TRENDING half-life (ranking.TRENDING_HALF_LIFE_HOURS), fixed here as this revision knows it."
BATCH = 50_000
"Votes read per statement: memory stays about one batch, whatever the database's size."

votes = sa.table(
    "votes",
    sa.column("id", sa.Integer()),
    sa.column("idea_id", sa.Integer()),
    sa.column("value", sa.Integer()),
    sa.column("updated_at", sa.DateTime()),
)
ideas = sa.table(
    "ideas", sa.column("id", sa.Integer()), sa.column("trending", sa.Float()), sa.column("trending_at", sa.DateTime())
)
scores = sa.table(
    "idea_scores",
    sa.column("idea_id", sa.Integer()),
    sa.column("trending", sa.Float()),
    sa.column("computed_at", sa.DateTime()),
    sa.column("computed_seq", sa.Integer()),
)
NEGLIGIBLE_HALVINGS = 990.0
"A vote older than this many half-lives weighs below 1e-298: 0 (ideaengine.trending.NEGLIGIBLE_HALVINGS)."


def upgrade() -> None:
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trending", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("trending_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.alter_column("trending", server_default=None)
    op.create_table(
        "board_scores",
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("computed_seq", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.Column("trending_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_board_scores_board_id_boards"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("board_id", name=op.f("pk_board_scores")),
    )
    op.execute(
        "INSERT INTO board_scores (board_id, computed_seq, computed_at, trending_at) "
        "SELECT board_id, MIN(computed_seq), MAX(computed_at), MAX(computed_at) FROM idea_scores "
        "WHERE computed_at IS NOT NULL GROUP BY board_id"
    )
    _compute_trending()
    _move_stored_trending(to_board=True)


def _move_stored_trending(*, to_board: bool) -> None:
    """idea_scores.trending from each row's computed_at to its board's trending_at (or back, with the
    board's refresh time and sequence stamped on every row): the figure decays as a whole, so this is exact."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT s.idea_id, s.trending, s.computed_at, b.trending_at, b.computed_at, b.computed_seq "
            "FROM idea_scores s JOIN board_scores b ON b.board_id = s.board_id WHERE s.computed_at IS NOT NULL"
        ).columns(
            sa.column("idea_id", sa.Integer()),
            sa.column("trending", sa.Float()),
            sa.column("row_at", sa.DateTime()),
            sa.column("board_at", sa.DateTime()),
            sa.column("refreshed_at", sa.DateTime()),
            sa.column("seq", sa.Integer()),
        )
    ).all()
    moved = []
    for idea_id, figure, row_at, board_at, refreshed_at, seq in rows:
        start, end = (row_at, board_at) if to_board else (board_at, refreshed_at)
        halvings = (end - start).total_seconds() / HALF_LIFE_SECONDS
        weight = 0.0 if halvings > NEGLIGIBLE_HALVINGS else math.pow(2.0, -halvings)
        moved.append({"idea": idea_id, "t": figure * weight, "at": refreshed_at if to_board else end, "seq": seq})
    if not moved:
        return
    stmt = scores.update().where(scores.c.idea_id == sa.bindparam("idea")).values(trending=sa.bindparam("t"))
    if not to_board:
        stmt = stmt.values(computed_at=sa.bindparam("at"), computed_seq=sa.bindparam("seq"))
    conn.execute(stmt, moved)


def _compute_trending() -> None:
    """Each voted idea's figure as of now: the sum of value * 2^(-age / half-life) over its votes."""
    conn = op.get_bind()
    now = datetime.now(UTC).replace(tzinfo=None)
    figures: dict[int, float] = {}
    last = 0
    while True:
        rows = conn.execute(
            sa.select(votes.c.id, votes.c.idea_id, votes.c.value, votes.c.updated_at)
            .where(votes.c.id > last)
            .order_by(votes.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for _, idea_id, value, at in rows:
            halvings = max((now - at).total_seconds(), 0.0) / HALF_LIFE_SECONDS
            weight = 0.0 if halvings > NEGLIGIBLE_HALVINGS else math.pow(2.0, -halvings)
            figures[idea_id] = figures.get(idea_id, 0.0) + value * weight
        last = rows[-1][0]
    if figures:
        stmt = ideas.update().where(ideas.c.id == sa.bindparam("idea")).values(trending=sa.bindparam("t"))
        conn.execute(stmt.values(trending_at=now), [{"idea": i, "t": t} for i, t in figures.items()])


def downgrade() -> None:
    _move_stored_trending(to_board=False)
    op.drop_table("board_scores")
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.drop_column("trending_at")
        batch_op.drop_column("trending")
