"""Every idea has its score row, and the scored sorts have indexes they can stop early in (issue 18)

A scored sort (TOP, TRENDING, PAIRWISE, ELO) read an idea never scored as a neutral figure, across a left join
no index served: every page sorted the whole board (on a 10,000-idea board under a stream of votes, the TOP
page took 13 times `{__typename}`). Now:
- idea_scores gain `created_at` (the idea's, filled from ideas);
- every idea without a row gets one with the neutral figures and `computed_seq` -1 (no figures yet), and a
  trigger on ideas writes that row for every idea inserted from now on, whoever inserts it;
- the two (board, figure) indexes become one (board, figure, created_at, idea_id) index per scored sort.
Downgrading drops the trigger, the placeholder rows, the indexes and the column, and restores the old indexes.

Revision ID: 0018_score_rows
Revises: 0017_pairs_digest
Create Date: 2026-12-05 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ranking import ELO_INITIAL

revision: str = "0018_score_rows"
down_revision: str | None = "0017_pairs_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = (
    "up, down, wilson_lower_bound, trending, elo, bradley_terry, bt_low, bt_high, comparisons, rank, computed_at, "
    "computed_seq"
)
NEUTRAL = f"0, 0, 0.0, 0.0, {float(ELO_INITIAL)!r}, 0.0, 0.0, 0.0, 0, NULL, NULL, -1"
"What an idea never scored sorted as before this revision (ideas.SCORED_SORTS), and no figures yet."
SORTS = {"top": "wilson_lower_bound", "trending": "trending", "pairwise": "bradley_terry", "elo": "elo"}

POSTGRES_TRIGGER = (
    f"""
CREATE FUNCTION idea_score_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO idea_scores (idea_id, board_id, created_at, {FIGURES})
    VALUES (NEW.id, NEW.board_id, NEW.created_at, {NEUTRAL})
    ON CONFLICT (idea_id) DO NOTHING;
    RETURN NEW;
END
$$
""",
    "CREATE TRIGGER idea_score_row AFTER INSERT ON ideas FOR EACH ROW EXECUTE FUNCTION idea_score_row()",
)
"One statement each: asyncpg runs one per call."
SQLITE_TRIGGER = f"""
CREATE TRIGGER idea_score_row AFTER INSERT ON ideas FOR EACH ROW
BEGIN
    INSERT OR IGNORE INTO idea_scores (idea_id, board_id, created_at, {FIGURES})
    VALUES (NEW.id, NEW.board_id, NEW.created_at, {NEUTRAL});
END
"""


def upgrade() -> None:
    with op.batch_alter_table("idea_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE idea_scores SET created_at = (SELECT created_at FROM ideas WHERE ideas.id = idea_scores.idea_id)"
    )
    op.execute(
        f"INSERT INTO idea_scores (idea_id, board_id, created_at, {FIGURES}) "
        f"SELECT id, board_id, created_at, {NEUTRAL} FROM ideas "
        "WHERE NOT EXISTS (SELECT 1 FROM idea_scores WHERE idea_scores.idea_id = ideas.id)"
    )
    with op.batch_alter_table("idea_scores", schema=None) as batch_op:
        batch_op.alter_column("created_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.drop_index("ix_idea_scores_board_wilson")
        batch_op.drop_index("ix_idea_scores_board_bt")
        for name, figure in SORTS.items():
            batch_op.create_index(f"ix_idea_scores_{name}", ["board_id", figure, "created_at", "idea_id"])
    for statement in (SQLITE_TRIGGER,) if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGER:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER idea_score_row")
    else:
        op.execute("DROP TRIGGER idea_score_row ON ideas")
        op.execute("DROP FUNCTION idea_score_row()")
    op.execute("DELETE FROM idea_scores WHERE computed_seq < 0")
    with op.batch_alter_table("idea_scores", schema=None) as batch_op:
        for name in SORTS:
            batch_op.drop_index(f"ix_idea_scores_{name}")
        batch_op.create_index("ix_idea_scores_board_wilson", ["board_id", "wilson_lower_bound"])
        batch_op.create_index("ix_idea_scores_board_bt", ["board_id", "bradley_terry"])
        batch_op.drop_column("created_at")
