"""The decision log: append-only, hash-chained records in SQLite or PostgreSQL, the policy
versions they were decided under, and their verification; migrations by Alembic.
"""

from engine.log.store import (
    DecisionLog,
    Record,
    describe_url,
    format_time,
    new_record_id,
    open_log,
    policy_versions,
    sqlite_path,
)

__all__ = ["DecisionLog", "describe_url", "format_time", "new_record_id", "open_log", "policy_versions", "Record", "sqlite_path"]
