"""`tiaokuai audit verify` passes on an intact log and names the first altered record."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app as cli
from engine.log.store import open_log
from engine.runtime import Runtime
from tests.engine.log.test_store import drop_append_only_triggers, fill

runner = CliRunner()


def test_verify_passes_then_names_the_tampered_record(log_url: str, seed_runtime: Runtime) -> None:
    log = open_log(log_url)
    ids = fill(log, seed_runtime.policy, 6)
    result = runner.invoke(cli, ["audit", "verify", "--db", log_url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 6 records, chain intact")

    drop_append_only_triggers(log.db)
    with log.db.begin() as conn:
        conn.execute(text("UPDATE decisions SET request = :r WHERE id = :i"), {"r": '{"township":"hunan"}', "i": ids[3]})
    log.close()
    result = runner.invoke(cli, ["audit", "verify", "--db", log_url])
    assert result.exit_code == 1
    assert f"broken: record #4 ({ids[3]}): its content does not match its hash" in result.output
    data = json.loads(runner.invoke(cli, ["audit", "verify", "--json", "--db", log_url]).output)
    assert data["ok"] is False and data["records"] == 3 and data["broken"]["id"] == ids[3]


def test_verify_and_migrate_usage(tmp_path: Path) -> None:
    missing = tmp_path / "absent.sqlite3"
    result = runner.invoke(cli, ["audit", "verify", "--db", str(missing)])
    assert result.exit_code == 2 and "no decision log" in result.output and not missing.exists()
    result = runner.invoke(cli, ["audit", "migrate", "--db", str(missing)])
    assert result.exit_code == 0 and missing.exists()
    assert runner.invoke(cli, ["audit", "verify", "--db", str(missing)]).output.startswith("ok: 0 records")
