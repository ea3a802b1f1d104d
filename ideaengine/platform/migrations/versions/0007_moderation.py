"""Moderation: states on ideas and comments, reports, decisions, pre-moderation per board

ideas and comments get `moderation_state` (every existing row is VISIBLE, as it was); boards get
`requires_approval` (off) and `report_threshold` (3); `moderation_cases` holds what moderators look at,
with its `reports` and the `moderation_decisions` audit trail. Notifications may be CONTENT_HIDDEN (an
author told that reports hid their content). Downgrading drops all of it, with the CONTENT_HIDDEN
notifications: hidden and pending content becomes visible again.

Revision ID: 0007_moderation
Revises: 0006_first_status
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_moderation"
down_revision: str | None = "0006_first_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("VISIBLE", "PENDING", "HIDDEN")
KINDS = ("STATUS_CHANGED", "MERGED", "OFFICIAL_COMMENT")


def _state(name: str) -> sa.Enum:
    return sa.Enum(*STATES, name=name, native_enum=False, create_constraint=True, length=20)


def _kinds(values: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moderation_state", _state("idea_moderation_state"), nullable=False, server_default="VISIBLE")
        )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moderation_state", _state("comment_moderation_state"), nullable=False, server_default="VISIBLE")
        )
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requires_approval", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("report_threshold", sa.Integer(), nullable=False, server_default="3"))
    # The defaults only filled existing rows: new rows get theirs from the models, as every other column does.
    for table, column in (
        ("ideas", "moderation_state"),
        ("comments", "moderation_state"),
        ("boards", "requires_approval"),
        ("boards", "report_threshold"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, server_default=None)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.create_check_constraint("notification_kind", _kinds((*KINDS, "CONTENT_HIDDEN")))

    op.create_table(
        "moderation_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=True),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("(idea_id IS NULL) <> (comment_id IS NULL)", name=op.f("ck_moderation_cases_one_subject")),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_moderation_cases_board_id_boards"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_moderation_cases_comment_id_comments"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_moderation_cases_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_cases")),
        sa.UniqueConstraint("comment_id", name=op.f("uq_moderation_cases_comment_id")),
        sa.UniqueConstraint("idea_id", name=op.f("uq_moderation_cases_idea_id")),
    )
    with op.batch_alter_table("moderation_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_moderation_cases_board_open", ["board_id", "open", "report_count", "opened_at", "id"], unique=False
        )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "SPAM",
                "ABUSE",
                "OFF_TOPIC",
                "PERSONAL_DATA",
                "OTHER",
                name="report_reason",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["moderation_cases.id"], name=op.f("fk_reports_case_id_moderation_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_reports_reporter_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("case_id", "reporter_id", name=op.f("uq_reports_case_id_reporter_id")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_reporter_id"), ["reporter_id"], unique=False)
    op.create_table(
        "moderation_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "APPROVE",
                "HIDE",
                "RESTORE",
                name="moderation_action",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("from_state", _state("decision_from_state"), nullable=False),
        sa.Column("to_state", _state("decision_to_state"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_moderation_decisions_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["moderation_cases.id"],
            name=op.f("fk_moderation_decisions_case_id_moderation_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_decisions")),
    )
    with op.batch_alter_table("moderation_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_decisions_case", ["case_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("moderation_decisions")
    op.drop_table("reports")
    op.drop_table("moderation_cases")
    op.execute("DELETE FROM notifications WHERE kind = 'CONTENT_HIDDEN'")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.create_check_constraint("notification_kind", _kinds(KINDS))
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.drop_column("report_threshold")
        batch_op.drop_column("requires_approval")
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_comments_comment_moderation_state"), type_="check")
        batch_op.drop_column("moderation_state")
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_ideas_idea_moderation_state"), type_="check")
        batch_op.drop_column("moderation_state")
