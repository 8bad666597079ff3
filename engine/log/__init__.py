"""The decision log: append-only, hash-chained records in SQLite or PostgreSQL, the policy
versions they were decided under, and their verification; migrations by Alembic.
"""

from engine.log.checkpoint import (
    Checkpoint,
    Checkpointer,
    CheckpointFile,
    Heads,
    Signer,
    load_or_create_key,
    load_public_key,
    verify_against,
)
from engine.log.store import (
    DecisionLog,
    Record,
    describe_url,
    format_time,
    new_record_id,
    open_log,
    policy_versions,
    sqlite_path,
    utc_now,
)

__all__ = [
    "Checkpoint", "CheckpointFile", "Checkpointer", "Heads", "Signer", "load_or_create_key", "load_public_key", "verify_against", "utc_now",
    "DecisionLog", "describe_url", "format_time", "new_record_id", "open_log", "policy_versions", "Record", "sqlite_path"]
