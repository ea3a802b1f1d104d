"""Notification settings and the notification kinds of conversations and launch credit

`notification_settings` holds a user's choices (email, digest, follow on vote); a user without a row has the
defaults, so existing users need none. Notifications may be REPLY, MENTION, ANSWER_ACCEPTED and
SUPPORTED_IDEA_LAUNCHED (the full set of issue 15, so either branch of it accepts every kind); the kind
column grows from 20 to 40 characters for the longest. Downgrading
drops the settings (everyone is back to the defaults) and the notifications of the new kinds.

Revision ID: 0011_supporters
Revises: 0009_bans_labels_erase
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_supporters"
down_revision: str | None = "0009_bans_labels_erase"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("STATUS_CHANGED", "MERGED", "OFFICIAL_COMMENT", "CONTENT_HIDDEN")
NEW_KINDS = ("REPLY", "MENTION", "ANSWER_ACCEPTED", "SUPPORTED_IDEA_LAUNCHED")


def _kinds(values: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.alter_column("kind", existing_type=sa.String(20), type_=sa.String(40), existing_nullable=False)
        batch_op.create_check_constraint("notification_kind", _kinds((*KINDS, *NEW_KINDS)))
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column(
            "digest",
            sa.Enum(
                "INSTANT",
                "DAILY",
                "WEEKLY",
                "NEVER",
                name="digest_frequency",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("follow_on_vote", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_settings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_settings")),
    )


def downgrade() -> None:
    op.drop_table("notification_settings")
    op.execute("DELETE FROM notifications WHERE kind IN (" + ", ".join(f"'{v}'" for v in NEW_KINDS) + ")")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.alter_column("kind", existing_type=sa.String(40), type_=sa.String(20), existing_nullable=False)
        batch_op.create_check_constraint("notification_kind", _kinds(KINDS))
