"""Fresh accounts in campaign results (issue 14, item 5)

`campaigns` gains `fresh_accounts` (COUNT for every existing campaign: its results count every ballot, as
before) and `voting_opened_at`, when voting opened: for campaigns already in VOTING or CLOSED, their
votingStartsAt, or when they entered VOTING if that was earlier or the date is not set (the best the rows
say). Accounts first
seen at or after it are fresh. `campaign_results` gains `fresh_support` (null for existing results).
Downgrading drops the three columns.

Revision ID: 0015_campaign_brigades
Revises: 0013_campaigns
Create Date: 2026-12-15 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_campaign_brigades"
down_revision: str | None = "0013_campaigns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODES = ("COUNT", "SEPARATE", "IGNORE")


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "fresh_accounts",
                sa.Enum(*MODES, name="campaign_fresh_accounts", native_enum=False, create_constraint=True, length=20),
                nullable=False,
                server_default="COUNT",
            )
        )
        batch_op.add_column(sa.Column("voting_opened_at", sa.DateTime(), nullable=True))
    # The default only filled existing rows: new rows get theirs from the model, as every other column does.
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.alter_column("fresh_accounts", server_default=None)
    op.execute(
        "UPDATE campaigns SET voting_opened_at = CASE "
        "WHEN phase = 'VOTING' AND (voting_starts_at IS NULL OR voting_starts_at > phase_changed_at) "
        "THEN phase_changed_at ELSE voting_starts_at END "
        "WHERE phase IN ('VOTING', 'CLOSED')"
    )
    with op.batch_alter_table("campaign_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fresh_support", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign_results", schema=None) as batch_op:
        batch_op.drop_column("fresh_support")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_campaigns_campaign_fresh_accounts"), type_="check")
        batch_op.drop_column("voting_opened_at")
        batch_op.drop_column("fresh_accounts")
