"""The decision log and the stored policy versions; UPDATE and DELETE refused by triggers.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

APPEND_ONLY = "decision log is append-only"


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("stored_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "decisions",
        # INTEGER on SQLite: the rowid itself, so no second index
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(128)),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("policy_digest", sa.String(64), sa.ForeignKey("policy_versions.digest"), nullable=False),
        sa.Column("engine_version", sa.String(32), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_decisions_time", "decisions", ["time"])
    op.create_index("ix_decisions_reference", "decisions", ["reference"])
    # The hash chain makes tampering visible; the triggers make it deliberate (whoever
    # alters a record must first drop a trigger).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""CREATE FUNCTION tiaokuai_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"""
        )
        for table in ("decisions", "policy_versions"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tiaokuai_append_only()"
            )
    else:
        for table in ("decisions", "policy_versions"):
            for action in ("update", "delete"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action} BEFORE {action.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
                )


def downgrade() -> None:
    op.drop_table("decisions")
    op.drop_table("policy_versions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tiaokuai_append_only()")
