"""`tiaokuai diff`: the clauses a change touches and exactly the decisions it changes.

Each expected set is computed independently of engine/diff.py, from the base policy's own
decisions and their explanations, so a diff that lists one case too many or too few fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from engine import space
from engine.load import load_policy
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY

runner = CliRunner()


def edited_copy(tmp_path: Path, name: str, file: str, old: str, new: str) -> Path:
    target = tmp_path / name
    shutil.copytree(SEED_POLICY, target)
    path = target / file
    content = path.read_text(encoding="utf-8")
    assert content.count(old) >= 1, f"`{old}` not in {file}"
    path.write_text(content.replace(old, new, 1), encoding="utf-8")
    return target


def key(case: dict[str, Any]) -> tuple[Any, ...]:
    return (case["matter"], case["township"], tuple(sorted(case["attributes"].items())), case["as_of"])


def run_diff(*args: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["diff", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def test_one_rule_lead_change_lists_exactly_the_cases_that_rule_decides(tmp_path: Path, seed_runtime: Runtime) -> None:
    head = edited_copy(tmp_path, "head", "rules/integrated.yaml", "lead: qj-water", "lead: qj-nrp")  # YJS-SAND-RIVER
    data = run_diff("--base", str(SEED_POLICY), "--head", str(head))

    assert data["clauses"] == {
        "added": [], "removed": [],
        "changed": [{"section": "rules", "id": "YJS-SAND-RIVER", "change": "changed", "fields": ["then"], "where": "rules/integrated.yaml:3"}],
    }
    # Oracle: every case of the space in which YJS-SAND-RIVER won or tied for the lead.
    expected = set()
    for case in space.cases(seed_runtime.policy):
        decision = seed_runtime.decide(case)
        if any(e.rule == "YJS-SAND-RIVER" and e.result in ("won", "tied", "conflict") for e in decision.explanation):
            expected.add((case.matter, case.township, tuple(sorted(case.attributes.items())), case.as_of.isoformat()))
    changed = {key(d["case"]) for d in data["decisions"]}
    assert expected and changed == expected
    assert data["cases_checked"] == space.count(seed_runtime.policy) and data["changed_cases"] == len(expected)
    for d in data["decisions"]:
        assert d["before"]["lead"] == "qj-water" and d["after"]["lead"] == "qj-nrp" and "lead" in d["changed"]
        assert d["before"]["rule"] == d["after"]["rule"] == "YJS-SAND-RIVER"


def test_table_groups_by_matter_and_township(tmp_path: Path, seed_runtime: Runtime) -> None:
    head = edited_copy(tmp_path, "head", "rules/integrated.yaml", "lead: qj-nrp\n", "lead: qj-water\n")  # YJS-SAND-FARMLAND
    result = runner.invoke(cli, ["diff", "--base", str(SEED_POLICY), "--head", str(head), "--exit-code", "--matter", "WAT-01"])
    assert result.exit_code == 1  # --exit-code: something changes
    out = result.output
    assert "~ rules/YJS-SAND-FARMLAND (then)  rules/integrated.yaml:" in out
    lines = out.splitlines()
    group = lines.index(next(line for line in lines if line.startswith("  WAT-01 河道非法采砂 × gaojia 高家镇: ")))
    count = int(lines[group].rsplit(": ", 1)[1])
    rows = lines[group + 1 : group + 1 + count]
    assert all(r.startswith("    ") and "site_type=" in r for r in rows)
    assert all("lead 衢州市自然资源和规划局衢江分局 → 衢江区水利局" in r and "[YJS-SAND-FARMLAND]" in r for r in rows)
    assert {r.split("site_type=")[1].split()[0] for r in rows} == {"farmland", "forest"}
    water_cases = sum(1 for c in space.cases(seed_runtime.policy) if c.matter == "WAT-01")
    assert f"case space: {out.count(' [YJS-SAND-FARMLAND]')} of {water_cases} cases change" in out  # --matter WAT-01


def test_a_later_reorganisation_date_changes_only_the_cases_in_between(tmp_path: Path, seed_runtime: Runtime) -> None:
    """机构改革 resolves by date: moving the forestry bureau's end from 2019-03-01 to 2020-01-01
    changes exactly the cases dated in between that the successor would have handled."""
    head = edited_copy(tmp_path, "head", "organizations.yaml", "valid_until: 2019-03-01", "valid_until: 2020-01-01")
    data = run_diff("--base", str(SEED_POLICY), "--head", str(head))
    assert [c["id"] for c in data["clauses"]["changed"]] == ["qj-forestry"]

    # both policies' boundary dates: the head adds 2020-01-01 and the day before it
    days = sorted(set(space.boundary_dates(seed_runtime.policy)) | set(space.boundary_dates(load_policy(head))))
    expected = set()
    for case in space.cases(seed_runtime.policy, days):
        if not date(2019, 3, 1) <= case.as_of < date(2020, 1, 1):
            continue
        decision = seed_runtime.decide(case)
        if any("qj-forestry" in org.succeeded for org in (decision.lead, *decision.supports)):
            expected.add((case.matter, case.township, tuple(sorted(case.attributes.items())), case.as_of.isoformat()))
    changed = {key(d["case"]) for d in data["decisions"]}
    assert expected and changed == expected
    assert {d["case"]["as_of"] for d in data["decisions"]} == {"2019-03-01", "2019-12-31"}
    assert all(d["after"]["lead"] == "qj-forestry" for d in data["decisions"] if "lead" in d["changed"])


def test_logged_requests_are_re_decided_under_both_policies(tmp_path: Path, seed_runtime: Runtime) -> None:
    """A take-back (收回) of the LND-02 delegation on 2025-01-01 changes the logged cases after it."""
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    bodies = [
        {"matter": "LND-02", "township": "lianhua", "as_of": "2025-06-01"},  # delegated, after the take-back
        {"matter": "LND-02", "township": "lianhua", "as_of": "2024-06-01"},  # delegated, before it
        {"matter": "LND-02", "township": "zhangtan", "as_of": "2025-06-01"},  # never delegated
        {"matter": "WAT-01", "township": "gaojia", "as_of": "2025-06-01"},
    ]
    with TestClient(create_app(Settings(SEED_POLICY, url), runtime=seed_runtime)) as client:
        ids = [client.post("/v1/cases/lead", json=b).json()["decision_id"] for b in bodies]
    head = edited_copy(tmp_path, "head", "rules/delegation.yaml", "valid_from: 2021-07-01", "valid_from: 2021-07-01\n    valid_until: 2025-01-01")
    data = run_diff("--base", str(SEED_POLICY), "--head", str(head), "--log", url, "--no-space")
    assert data["logged_checked"] == 4 and data["cases_checked"] == 0
    assert [d["decision_id"] for d in data["decisions"]] == [ids[0]]
    change = data["decisions"][0]
    assert change["source"] == "log" and change["before"]["rule"] == "DEL-BUILD-TEAM" and change["after"]["rule"] == "LND-02"
    assert change["after"]["lead"] == "qj-enforce"


def test_base_from_a_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(SEED_POLICY, repo / "policy")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "policy"], check=True)
    subprocess.run([*git, "commit", "-qm", "seed"], check=True)
    integrated = repo / "policy" / "rules" / "integrated.yaml"
    integrated.write_text(integrated.read_text(encoding="utf-8").replace("priority: 10", "priority: 20"), encoding="utf-8")
    monkeypatch.chdir(repo)
    for base in ("git:HEAD", "git:HEAD:policy"):
        data = run_diff("--base", base, "--head", str(repo / "policy"), "--no-space")
        assert data["clauses"]["changed"][0]["id"] == "YJS-SAND-FARMLAND" and data["clauses"]["changed"][0]["fields"] == ["priority"]
        assert data["base"]["digest"] == Runtime.from_dir(SEED_POLICY).policy.digest
    result = runner.invoke(cli, ["diff", "--base", "git:no-such-rev", "--head", str(repo / "policy")])
    assert result.exit_code == 2 and "no-such-rev" in result.output


def test_added_and_removed_clauses(tmp_path: Path) -> None:
    head = edited_copy(tmp_path, "head", "rules/integrated.yaml", "  - id: YJS-BUILD-PERMIT", "  - id: YJS-BUILD-PERMIT2")
    data = run_diff("--base", str(SEED_POLICY), "--head", str(head), "--no-space")
    assert [c["id"] for c in data["clauses"]["added"]] == ["YJS-BUILD-PERMIT2"]
    assert [c["id"] for c in data["clauses"]["removed"]] == ["YJS-BUILD-PERMIT"]
    assert data["clauses"]["changed"] == []
