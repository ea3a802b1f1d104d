"""Campaigns and budgets (issue 14)

`campaigns` holds a board's time-boxed contests (phase, windows, ballot kind and its rules); ideas gain
`campaign_id` (the campaign they were entered into), `cost` (BUDGET campaigns) and `finalist` (false for
every existing idea); `campaign_ballots` holds the ideas on each voter's APPROVAL or BUDGET ballot and
`campaign_results` a closed campaign's standings. Notifications may be CAMPAIGN_PHASE_CHANGED and
CAMPAIGN_RESULT. Downgrading drops all of it, with the notifications of the new kinds.

Revision ID: 0013_campaigns
Revises: 0014_email
Create Date: 2026-12-14 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_campaigns"
down_revision: str | None = "0014_email"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = (
    "STATUS_CHANGED",
    "MERGED",
    "OFFICIAL_COMMENT",
    "CONTENT_HIDDEN",
    "REPLY",
    "MENTION",
    "ANSWER_ACCEPTED",
    "SUPPORTED_IDEA_LAUNCHED",
)
NEW_KINDS = ("CAMPAIGN_PHASE_CHANGED", "CAMPAIGN_RESULT")
PHASES = ("SCHEDULED", "SUBMISSION", "SHORTLIST", "VOTING", "CLOSED")
BALLOTS = ("VOTES", "APPROVAL", "BUDGET", "PAIRWISE")


def _kinds(values: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("board_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "phase",
            sa.Enum(*PHASES, name="campaign_phase", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column(
            "ballot",
            sa.Enum(*BALLOTS, name="campaign_ballot", native_enum=False, create_constraint=True, length=20),
            nullable=False,
        ),
        sa.Column("submission_starts_at", sa.DateTime(), nullable=True),
        sa.Column("submission_ends_at", sa.DateTime(), nullable=True),
        sa.Column("voting_starts_at", sa.DateTime(), nullable=True),
        sa.Column("voting_ends_at", sa.DateTime(), nullable=True),
        sa.Column("max_choices", sa.Integer(), nullable=True),
        sa.Column("budget", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("winner_count", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("phase_changed_at", sa.DateTime(), nullable=False),
        sa.Column("results_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("budget IS NULL OR budget >= 0", name=op.f("ck_campaigns_budget_nonnegative")),
        sa.CheckConstraint("max_choices IS NULL OR max_choices >= 1", name=op.f("ck_campaigns_max_choices_positive")),
        sa.CheckConstraint("winner_count >= 1", name=op.f("ck_campaigns_winner_count_positive")),
        sa.ForeignKeyConstraint(
            ["board_id"], ["boards.id"], name=op.f("fk_campaigns_board_id_boards"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_campaigns_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_board_created", "campaigns", ["board_id", "created_at", "id"], unique=False)
    op.create_index("ix_campaigns_results_at", "campaigns", ["results_at"], unique=False)
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cost", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("finalist", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key(
            batch_op.f("fk_ideas_campaign_id_campaigns"), "campaigns", ["campaign_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index(batch_op.f("ix_ideas_campaign_id"), ["campaign_id"], unique=False)
    # The default only filled existing rows: new rows get theirs from the model, as every other column does.
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.alter_column("finalist", server_default=None)
    op.create_table(
        "campaign_ballots",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_ballots_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_campaign_ballots_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_campaign_ballots_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", "idea_id", name=op.f("pk_campaign_ballots")),
    )
    op.create_index("ix_campaign_ballots_campaign_idea", "campaign_ballots", ["campaign_id", "idea_id"], unique=False)
    op.create_table(
        "campaign_results",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("support", sa.Float(), nullable=False),
        sa.Column("winner", sa.Boolean(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_results_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_campaign_results_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "idea_id", name=op.f("pk_campaign_results")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.create_check_constraint("notification_kind", _kinds((*KINDS, *NEW_KINDS)))


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind IN (" + ", ".join(f"'{k}'" for k in NEW_KINDS) + ")")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_notifications_notification_kind"), type_="check")
        batch_op.create_check_constraint("notification_kind", _kinds(KINDS))
    op.drop_table("campaign_results")
    op.drop_index("ix_campaign_ballots_campaign_idea", table_name="campaign_ballots")
    op.drop_table("campaign_ballots")
    with op.batch_alter_table("ideas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ideas_campaign_id"))
        batch_op.drop_constraint(batch_op.f("fk_ideas_campaign_id_campaigns"), type_="foreignkey")
        batch_op.drop_column("finalist")
        batch_op.drop_column("cost")
        batch_op.drop_column("campaign_id")
    op.drop_index("ix_campaigns_results_at", table_name="campaigns")
    op.drop_index("ix_campaigns_board_created", table_name="campaigns")
    op.drop_table("campaigns")
