"""What a board's pairwise figures were computed from (issue 18)

board_scores gain `pairs_digest`: a digest of the board's ideas and counted comparisons at its last refresh
(workers.scores.pairs_digest). A refresh whose digest is unchanged keeps the stored Elo and Bradley-Terry
figures instead of fitting again. Existing rows start without one, so each board's next refresh fits as
before. Downgrading drops the column.

Revision ID: 0017_pairs_digest
Revises: 0016_duplicate_sensitivity
Create Date: 2026-12-05 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_pairs_digest"
down_revision: str | None = "0016_duplicate_sensitivity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("board_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pairs_digest", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("board_scores", schema=None) as batch_op:
        batch_op.drop_column("pairs_digest")
