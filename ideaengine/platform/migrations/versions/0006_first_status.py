"""Every idea's status history starts with its first status

`StatusChange.from` is null for the first status, but until now nothing wrote that entry: a history began
with the first change. Submitting now writes it; this revision writes it for the ideas submitted before,
as submitting would have: from null, by the author, at the idea's creation. The first status is what the
earliest recorded change moved the idea from, or, for an idea that never changed, its status now.
Downgrading deletes exactly these entries (no other change has a null `from_status`).

Revision ID: 0006_first_status
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_first_status"
down_revision: str | None = "0005_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO status_changes (idea_id, from_status, to_status, note, actor_id, created_at)
        SELECT ideas.id, NULL,
               COALESCE(
                   (SELECT earliest.from_status FROM status_changes AS earliest
                    WHERE earliest.idea_id = ideas.id
                    ORDER BY earliest.created_at, earliest.id LIMIT 1),
                   ideas.status),
               NULL, ideas.author_id, ideas.created_at
        FROM ideas
        WHERE NOT EXISTS (
            SELECT 1 FROM status_changes AS recorded
            WHERE recorded.idea_id = ideas.id AND recorded.from_status IS NULL)
        ORDER BY ideas.id
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM status_changes WHERE from_status IS NULL")
