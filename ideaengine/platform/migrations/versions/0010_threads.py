"""Threads, reactions and accepted answers

comments gain `parent_id` (the thread a reply is in; every existing comment is top-level) and `accepted`
(false for all; a partial unique index allows one accepted answer per idea); `comment_reactions` holds one
row per user, comment and reaction kind. Notifications may be REPLY, MENTION, ANSWER_ACCEPTED and
SUPPORTED_IDEA_LAUNCHED (the full set of issue 15, whichever branch lands first; the kind column widens
to 40 characters for the longest). Downgrading drops all of it with the
notifications of the new kinds: replies become top-level comments again, in the order they were written.

Revision ID: 0010_threads
Revises: 0009_bans_labels_erase
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_threads"
down_revision: str | None = "0009_bans_labels_erase"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("STATUS_CHANGED", "MERGED", "OFFICIAL_COMMENT", "CONTENT_HIDDEN")
NEW_KINDS = ("REPLY", "MENTION", "ANSWER_ACCEPTED", "SUPPORTED_IDEA_LAUNCHED")
REACTIONS = ("THUMBS_UP", "HEART", "HOORAY", "LAUGH", "CONFUSED")


def _kinds(values: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("accepted", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key(
            batch_op.f("fk_comments_parent_id_comments"), "comments", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_comments_parent_created", ["parent_id", "created_at", "id"], unique=False)
        batch_op.create_index(
            "uq_comments_one_accepted_per_idea",
            ["idea_id"],
            unique=True,
            sqlite_where=sa.text("accepted"),
            postgresql_where=sa.text("accepted"),
        )
    # The default only filled existing rows: new rows get theirs from the model, as every other column does.
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.alter_column("accepted", server_default=None)
    op.create_table(
        "comment_reactions",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "reaction",
            sa.Enum(*REACTIONS, name="comment_reaction", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_comment_reactions_comment_id_comments"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_comment_reactions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("comment_id", "user_id", "reaction", name=op.f("pk_comment_reactions")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.alter_column("kind", existing_type=sa.String(20), type_=sa.String(40), existing_nullable=False)
        batch_op.create_check_constraint("notification_kind", _kinds((*KINDS, *NEW_KINDS)))


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind IN (" + ", ".join(f"'{k}'" for k in NEW_KINDS) + ")")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.alter_column("kind", existing_type=sa.String(40), type_=sa.String(20), existing_nullable=False)
        batch_op.create_check_constraint("notification_kind", _kinds(KINDS))
    op.drop_table("comment_reactions")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("uq_comments_one_accepted_per_idea")
        batch_op.drop_index("ix_comments_parent_created")
        batch_op.drop_constraint(batch_op.f("fk_comments_parent_id_comments"), type_="foreignkey")
        batch_op.drop_column("accepted")
        batch_op.drop_column("parent_id")
