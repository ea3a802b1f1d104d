"""Notification settings

`notification_settings` holds a user's choices (email, digest, follow on vote); a user without a row has the
defaults, so existing users need none. The notification kinds of issue 15 (SUPPORTED_IDEA_LAUNCHED among them)
and the wider kind column came with 0010_threads. Downgrading drops the settings (everyone is back to the
defaults).

Revision ID: 0011_supporters
Revises: 0010_threads
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_supporters"
down_revision: str | None = "0010_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
