"""Comment edits and deletes; merges record what they moved

comments gain edited_at and deleted_at (nullable: no existing comment was edited or deleted);
comment_revisions keeps the bodies edits replaced and deletes removed, for moderators; idea_merges
records each merge from now on with what it moved, which unmergeIdea puts back. Merges made before this
revision have no record and cannot be undone. Downgrading drops the tables and columns: deleted comments
keep their placeholder body, edit history is gone, and no merge can be undone.

Revision ID: 0008_comments_unmerge
Revises: 0006_first_status
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_comments_unmerge"
down_revision: str | None = "0007_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = ("SUBMITTED", "UNDER_REVIEW", "PLANNED", "IN_PROGRESS", "LAUNCHED", "DECLINED", "MERGED")


def upgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(), nullable=True))
    op.create_table(
        "comment_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("replaced_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_comment_revisions_comment_id_comments"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["users.id"], name=op.f("fk_comment_revisions_editor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_revisions")),
    )
    with op.batch_alter_table("comment_revisions", schema=None) as batch_op:
        batch_op.create_index("ix_comment_revisions_comment", ["comment_id", "id"], unique=False)
    op.create_table(
        "idea_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column(
            "source_status",
            sa.Enum(*STATUSES, name="idea_merge_source_status", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["ideas.id"], name=op.f("fk_idea_merges_source_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["ideas.id"], name=op.f("fk_idea_merges_target_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_idea_merges_actor_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_merges")),
    )
    with op.batch_alter_table("idea_merges", schema=None) as batch_op:
        batch_op.create_index("ix_idea_merges_source", ["source_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idea_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_idea_merges_source")
    op.drop_table("idea_merges")
    with op.batch_alter_table("comment_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_comment_revisions_comment")
    op.drop_table("comment_revisions")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("edited_at")
