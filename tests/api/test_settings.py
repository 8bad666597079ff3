"""Where a log's signing key and checkpoints live when nothing is configured."""

from __future__ import annotations

from pathlib import Path

from api.settings import checkpoint_paths


def test_an_sqlite_log_keeps_them_beside_its_file(tmp_path: Path) -> None:
    key, checkpoints = checkpoint_paths(f"sqlite:///{tmp_path / 'log.sqlite3'}") or (None, None)
    assert key == tmp_path / "log.sqlite3.checkpoint.key"
    assert checkpoints == tmp_path / "log.sqlite3.checkpoints.jsonl"
    assert checkpoint_paths("sqlite://") is None


def test_each_postgresql_database_has_its_own_checkpoints_and_replicas_share_them() -> None:
    one = checkpoint_paths("postgresql+psycopg://tk:secret@127.0.0.1:5433/log")
    again = checkpoint_paths("postgresql+psycopg://tk:other-password@127.0.0.1:5433/log")
    other_port = checkpoint_paths("postgresql+psycopg://tk:secret@127.0.0.1:5434/log")
    other_schema = checkpoint_paths("postgresql+psycopg://tk:secret@127.0.0.1:5433/log?options=-csearch_path%3Dtk_a")
    assert one is not None and again is not None and other_port is not None and other_schema is not None
    key, checkpoints = one
    assert key == Path("var") / "checkpoint.key"
    assert checkpoints.parent == Path("var") / "checkpoints"
    assert checkpoints.name.startswith("postgresql-127.0.0.1-5433-log-") and checkpoints.suffix == ".jsonl"
    assert again == one  # the password is not part of a log's identity
    assert len({checkpoints, other_port[1], other_schema[1]}) == 3
    assert "secret" not in str(checkpoints)


def test_configured_paths_win() -> None:
    assert checkpoint_paths("postgresql://h/db", Path("/k"), Path("/c.jsonl")) == (Path("/k"), Path("/c.jsonl"))
