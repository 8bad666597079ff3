"""One hash chain per jurisdiction: index the log by (policy_id, seq) for each chain's head.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decisions_chain", "decisions", ["policy_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_decisions_chain", table_name="decisions")
