"""bench/mutation.py's report: one row per stored module result, named by the commit it was measured at."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import mutation
from bench.mutation import Result


def _result(module: str, path: str, commit: str, killed: int, survivors: int, equivalents: int = 0) -> Result:
    return Result(
        module=module, path=path, functions=[], tests=["tests/engine/lead"], commit=commit,
        started="2026-12-02T00:10Z", minutes=12.34, load_average=[3.0, 2.5, 2.25],
        mutants=killed + survivors + equivalents, killed=killed, timeout=0,
        survivors=[{"mutant": f"engine.lead.facts.x_f__mutmut_{i}", "diff": f"-a\n+b{i}"} for i in range(survivors)],
        equivalents=[{"mutant": "engine.lead.facts.x_g__mutmut_1", "diff": "-x\n+y", "reason": "same answers"}] * equivalents,
    )  # fmt: skip


def test_a_stored_result_reads_back_whole(tmp_path: Path) -> None:
    result = _result("facts", "engine/lead/facts.py", "abc1234", killed=9, survivors=1, equivalents=1)
    path = result.save(tmp_path)
    assert path.name == "facts.json"
    assert Result.load(path) == result
    assert result.score == pytest.approx(90.0)  # 9 killed of 10 counted; the equivalent one not counted


def test_the_report_has_a_row_per_module_in_module_order_and_says_which_are_missing(tmp_path: Path) -> None:
    _result("facts", "engine/lead/facts.py", "abc1234", killed=9, survivors=1).save(tmp_path)
    _result("log chain and verify", "engine/log/store.py", "abc1234", killed=4, survivors=0, equivalents=1).save(tmp_path)
    text = mutation.report(mutation.stored_results(tmp_path))
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| module")]
    assert [row.split(":")[0] for row in rows] == ["| log chain and verify", "| facts"]
    assert rows[1] == ("| facts: `engine/lead/facts.py` | `tests/engine/lead` | 10 | 9 | 0 | 1 | 0 | 0 | **90.0 %** | "
                       "abc1234 | 2026-12-02 00:10 UTC | 12.3 min | 3.0 / 2.5 / 2.2 |")  # fmt: skip
    assert "Every row was measured at the same commit, abc1234." in text
    missing = [m.name for m in mutation.MODULES if m.name not in ("facts", "log chain and verify")]
    assert f"**Not measured yet**: {', '.join(missing)}." in text
    assert "`engine.lead.facts.x_f__mutmut_0`\n```diff\n-a\n+b0\n```" in text
    assert "`engine.lead.facts.x_g__mutmut_1`: same answers\n```diff\n-x\n+y\n```" in text


def test_the_report_says_when_rows_come_from_different_or_uncommitted_trees(tmp_path: Path) -> None:
    _result("facts", "engine/lead/facts.py", "abc1234", killed=1, survivors=0).save(tmp_path)
    _result("decide", "engine/lead/decide.py", "def5678+dirty", killed=1, survivors=0).save(tmp_path)
    text = mutation.report(mutation.stored_results(tmp_path))
    assert "**Not all rows are from the same commit**: abc1234, def5678+dirty." in text
    assert "**Measured with uncommitted changes**" in text


def test_modules_are_chosen_by_name_or_by_a_word_of_it() -> None:
    assert [m.name for m in mutation.choose(["review", "matcher"])] == ["review", "intake matcher"]
    assert [m.name for m in mutation.choose(["log"])] == ["log chain and verify"]
    assert [m.name for m in mutation.choose([])] == [m.name for m in mutation.MODULES]
    with pytest.raises(SystemExit):
        mutation.main(["no-such-module"])


def test_a_tree_with_uncommitted_changes_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(mutation, "measured_commit", lambda: ("abc1234", True))
    monkeypatch.setattr(mutation, "snapshot", lambda: pytest.fail("a dirty tree must not be measured"))
    with pytest.raises(SystemExit) as refused:
        mutation.main(["facts"])
    assert refused.value.code == 2
    assert "uncommitted changes" in capsys.readouterr().err
