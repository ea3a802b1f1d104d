"""Board score sequences in shards instead of one column every vote updates

boards.score_seq was the hot row of a board: every vote and comparison updated it and held its lock
until commit. The sequence moves to board_score_seqs (one row per board and shard; the sequence is
their sum); a board's current value becomes its shard 0, so no score turns stale or fresh by this.

Revision ID: 0003_score_seqs
Revises: 0002
Create Date: 2026-12-01 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_score_seqs"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board_score_seqs",
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_board_score_seqs_board_id_boards"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("board_id", "shard", name=op.f("pk_board_score_seqs")),
    )
    op.execute(
        "INSERT INTO board_score_seqs (board_id, shard, seq) SELECT id, 0, score_seq FROM boards WHERE score_seq > 0"
    )
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.drop_column("score_seq")


def downgrade() -> None:
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score_seq", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE boards SET score_seq = "
        "(SELECT COALESCE(SUM(seq), 0) FROM board_score_seqs WHERE board_score_seqs.board_id = boards.id)"
    )
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.alter_column("score_seq", server_default=None)
    op.drop_table("board_score_seqs")
