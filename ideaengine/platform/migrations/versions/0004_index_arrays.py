"""Board indexes as versioned arrays instead of pickles

The table is emptied both ways: a pickle must never be loaded again, and the code before this revision
cannot read the arrays. With no index rows every board with ideas is stale, so the sweep rebuilds them
all; until then "did you mean" matches each board's ideas per request.

Revision ID: 0004
Revises: 0003_score_seqs
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003_score_seqs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create(*extra: sa.Column[int]) -> None:
    op.create_table(
        "board_indexes",
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("text_seq", sa.Integer(), nullable=False),
        sa.Column("max_idea_id", sa.Integer(), nullable=False),
        *extra,
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_board_indexes_board_id_boards"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("board_id", name=op.f("pk_board_indexes")),
    )


def upgrade() -> None:
    # Dropped and created again rather than altered: every row goes anyway, and SQLite cannot add a NOT NULL
    # column without a default.
    op.drop_table("board_indexes")
    _create(sa.Column("format_version", sa.Integer(), nullable=False))


def downgrade() -> None:
    op.drop_table("board_indexes")
    _create()
