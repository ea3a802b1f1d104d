"""A board's duplicate sensitivity (issue 17)

boards gain `duplicate_sensitivity` (LOW, MEDIUM or HIGH; existing boards MEDIUM, the default): how readily
the board's duplicate clusters join ideas (ranking.SENSITIVITY_THRESHOLDS). Clusters already stored stay as
they are until the board's next text change or sensitivity change rebuilds them. Downgrading drops the column.

Revision ID: 0016_duplicate_sensitivity
Revises: 0015_campaign_brigades
Create Date: 2026-12-14 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_duplicate_sensitivity"
down_revision: str | None = "0015_campaign_brigades"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sensitivity = sa.Enum(
        "LOW", "MEDIUM", "HIGH", name="duplicate_sensitivity", native_enum=False, create_constraint=True, length=20
    )
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duplicate_sensitivity", sensitivity, nullable=False, server_default="MEDIUM"))
    # The default only filled existing rows: new rows get theirs from the model, as every other column does.
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.alter_column("duplicate_sensitivity", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_boards_duplicate_sensitivity"), type_="check")
        batch_op.drop_column("duplicate_sensitivity")
