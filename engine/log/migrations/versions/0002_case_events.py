"""Case events (hash-chained, append-only) and the cases projection for the board.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "case events are append-only"
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("operator", sa.String(64)),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.String(128), unique=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("policy_digest", sa.String(64), sa.ForeignKey("policy_versions.digest"), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("case_id", "n", name="uq_case_events_case_n"),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("decision_id", sa.String(64), unique=True),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("lead", sa.String(64), nullable=False),
        sa.Column("township", sa.String(64), nullable=False),
        sa.Column("matter", sa.String(64)),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("due_at", sa.String(32)),
        sa.Column("due_limit", sa.String(32)),
        sa.Column("warn_at", sa.String(32)),
        sa.Column("assumed", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("dispute", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("returns", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_seq", SEQ, nullable=False),
    )
    op.create_index("ix_cases_state", "cases", ["state"])
    op.create_index("ix_cases_due_at", "cases", ["due_at"])
    op.create_index("ix_cases_lead", "cases", ["lead"])
    # `cases` is derived (rebuilt from the events); only the events are append-only.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE FUNCTION tiaokuai_case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"""
        )
        op.execute(
            "CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events "
            "FOR EACH ROW EXECUTE FUNCTION tiaokuai_case_events_append_only()"
        )
    else:
        for action in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER case_events_no_{action} BEFORE {action.upper()} ON case_events "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )


def downgrade() -> None:
    op.drop_table("cases")
    op.drop_table("case_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tiaokuai_case_events_append_only()")
