"""Refuse INSERT OR REPLACE on the log; record which policy version is active.

Revision ID: 0003
Revises: 0002

SQLite's `INSERT OR REPLACE` deletes the conflicting row without firing DELETE triggers
(recursive triggers are off by default), so the append-only triggers alone let a record
be swapped in place. A BEFORE INSERT trigger refuses any row whose key is already
present. (PostgreSQL's `ON CONFLICT DO UPDATE` fires the UPDATE trigger, refused already.)

`activations` is the append-only history of activated policy versions (by digest): a
restarted worker serves the newest one, never an unchecked policy directory.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

APPEND_ONLY = "decision log is append-only"
KEYS = {
    "decisions": "seq = NEW.seq OR id = NEW.id",
    "policy_versions": "digest = NEW.digest",
    "activations": "seq = NEW.seq",
    "case_events": "seq = NEW.seq OR id = NEW.id OR (case_id = NEW.case_id AND n = NEW.n) OR idempotency_key = NEW.idempotency_key",  # the case lifecycle's chained events (0002) have the same hole
}


def upgrade() -> None:
    op.create_table(
        "activations",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("digest", sa.String(64), sa.ForeignKey("policy_versions.digest"), nullable=False),
        sa.Column("time", sa.String(32), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER activations_append_only BEFORE UPDATE OR DELETE ON activations "
            "FOR EACH ROW EXECUTE FUNCTION tiaokuai_append_only()"
        )
        return
    for table, key in KEYS.items():
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key}) "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
    for action in ("update", "delete"):
        op.execute(f"CREATE TRIGGER activations_no_{action} BEFORE {action.upper()} ON activations BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for table in KEYS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
    op.drop_table("activations")
