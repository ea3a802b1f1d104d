"""A board index's payload becomes the last column of its row on SQLite

Every "did you mean" reads the board index's small columns (`text_seq`, `max_idea_id`, `format_version`,
`built_at`) to know whether the index it holds in memory is current. SQLite keeps a row's columns in order and a
large value on a chain of overflow pages, so reading `built_at`, which came after the payload (tens of MB on a
board of 10,000 ideas), walked that whole chain: 5.2 of a lookup's 15 ms on such a board. With the payload
last, the small columns are read from the row's first page. PostgreSQL stores large values out of line
(TOAST) whatever the order, so nothing changes there. The rows are kept as they are; downgrading restores the
old order.

Revision ID: 0020_index_payload_last
Revises: 0019_integer_embeddings
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020_index_payload_last"
down_revision: str | None = "0019_integer_embeddings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _order(*columns: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Batch mode copies the table into a new one with the columns in this order, then renames it.
    with op.batch_alter_table("board_indexes", recreate="always", partial_reordering=[columns]):
        pass


def upgrade() -> None:
    _order("board_id", "text_seq", "max_idea_id", "format_version", "built_at", "payload")


def downgrade() -> None:
    _order("board_id", "text_seq", "max_idea_id", "format_version", "payload", "built_at")
