"""Operations: archived boards and SSO secret rotation

boards.archived_at marks an archived (read-only) board; workspaces keep the SSO secret a rotation replaced,
and until when tokens signed with it still verify. All three columns are nullable, so existing rows need
no value: no board is archived and no workspace is in a rotation's grace period. Downgrading drops them:
archived boards take writes again, and a replaced secret still in its grace period stops verifying.

Revision ID: 0005_operations
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_operations"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_sso_secret_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("previous_sso_secret_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("previous_sso_secret_until")
        batch_op.drop_column("previous_sso_secret_encrypted")
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.drop_column("archived_at")
