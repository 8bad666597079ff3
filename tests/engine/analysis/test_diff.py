"""`tiaokuai diff`: the clauses a change touches and exactly the decisions it changes.

Each expected set is computed independently of engine/analysis/diff.py, from the base policy's own
decisions and explanations, so a diff that lists one case too many or too few fails. The
diff decides only the matters a change can reach; `test_unreached_matters_really_do_not_change`
checks that against deciding every matter.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli
from api.http.app import create_app
from api.settings import Settings
from engine.analysis import space
from engine.analysis.diff import affected_matters, case_key, impact
from engine.policy.load import load_policy
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY
from tests.support.git_repo import committed_policy

runner = CliRunner()

# YJS-BUILD-PERMIT (CON-02 with a planning permit): lead 规划 → 综合执法
PERMIT_RULE = ("rules/integrated.yaml", "      matter: CON-02\n      permit: true\n    then:\n      lead: qj-nrp", "      matter: CON-02\n      permit: true\n    then:\n      lead: qj-enforce")
# 机构改革: the forestry bureau ends on 2020-01-01 instead of 2019-03-01
FORESTRY_LATER = ("organizations.yaml", "valid_until: 2019-03-01", "valid_until: 2020-01-01")


def edited_copy(root: Path, name: str, *edits: tuple[str, str, str]) -> Path:
    target = root / name
    shutil.copytree(SEED_POLICY, target)
    for file, old, new in edits:
        path = target / file
        content = path.read_text(encoding="utf-8")
        assert content.count(old) == 1, f"`{old}` is not once in {file}"
        path.write_text(content.replace(old, new), encoding="utf-8")
    return target


def key(case: dict[str, Any]) -> tuple[Any, ...]:
    return (case["matter"], case["township"], tuple(sorted(case["attributes"].items())), case["as_of"])


def run_diff(*args: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["diff", "--json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


@pytest.fixture(scope="module")
def permit_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edited_copy(tmp_path_factory.mktemp("diff"), "head", PERMIT_RULE)


def test_one_rule_lead_change_lists_exactly_the_cases_that_rule_decides(permit_head: Path, seed_runtime: Runtime) -> None:
    data = run_diff("--base", str(SEED_POLICY), "--head", str(permit_head))
    assert data["clauses"] == {
        "added": [], "removed": [],
        "changed": [{"section": "rules", "id": "YJS-BUILD-PERMIT", "change": "changed", "fields": ["then"], "where": "rules/integrated.yaml:35"}],
    }
    assert data["matters_decided"] == ["CON-02"] and len(data["matters_unreached"]) == len(seed_runtime.policy.matters) - 1
    # Oracle: every case of CON-02 in which YJS-BUILD-PERMIT won or tied for the lead.
    expected, total = set(), 0
    for case in space.cases(seed_runtime.policy, matters={"CON-02"}):
        total += 1
        decision = seed_runtime.decide(case)
        if any(e.rule == "YJS-BUILD-PERMIT" and e.result in ("won", "tied", "conflict") for e in decision.explanation):
            expected.add(case_key(case)[:3] + (case.as_of.isoformat(),))
    changed = {key(d["case"]) for d in data["decisions"]}
    assert expected and changed == expected
    assert data["cases_checked"] == total and data["changed_cases"] == len(expected)
    for d in data["decisions"]:
        assert (d["before"]["lead"], d["after"]["lead"]) == ("qj-nrp", "qj-enforce") and "lead" in d["changed"]
        assert d["before"]["rule"] == d["after"]["rule"] == "YJS-BUILD-PERMIT" and d["case"]["attributes"]["permit"] is True


def test_table_groups_by_matter_and_township(permit_head: Path, seed_runtime: Runtime) -> None:
    result = runner.invoke(cli, ["diff", "--base", str(SEED_POLICY), "--head", str(permit_head), "--exit-code", "--limit", "0"])
    assert result.exit_code == 1  # --exit-code: something changes
    out = result.output.split("\nclauses:\n", 1)[1]  # the details, after the summary
    assert "~ rules/YJS-BUILD-PERMIT (then)  rules/integrated.yaml:35" in out
    assert f"(1 matter decided; the change cannot reach the other {len(seed_runtime.policy.matters) - 1}" in out
    matter = seed_runtime.policy.matters["CON-02"].name
    lines = out.splitlines()
    group = lines.index(next(line for line in lines if line.startswith(f"  CON-02 {matter} × gaojia 高家镇: ")))
    count = int(lines[group].rsplit(": ", 1)[1])
    rows = lines[group + 1 : group + 1 + count]
    assert count > 0 and all(r.startswith("    ") and "permit=true" in r for r in rows)
    assert all("lead 衢州市自然资源和规划局衢江分局 → 衢江区综合行政执法局" in r and r.endswith("[YJS-BUILD-PERMIT]") for r in rows)
    assert sum(1 for line in lines if line.startswith("  CON-02 ")) == len(seed_runtime.policy.townships())


def test_text_starts_with_a_summary_and_lists_at_most_limit_cases(permit_head: Path) -> None:
    data = run_diff("--base", str(SEED_POLICY), "--head", str(permit_head))
    result = runner.invoke(cli, ["diff", "--base", str(SEED_POLICY), "--head", str(permit_head), "--limit", "5"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    total = data["changed_cases"]
    assert lines[2] == f"summary: 1 clause changed; {total} of {data['cases_checked']} enumerated cases change"
    summary = lines[3 : lines.index("clauses:") - 1]
    counted = [re.fullmatch(r"  CON-02 \S+ × (\w+) \S+: (\d+) cases?  lead 衢州市自然资源和规划局衢江分局 → 衢江区综合行政执法局; supports -衢江区综合行政执法局  \[YJS-BUILD-PERMIT\]", line) for line in summary]
    assert all(counted), summary
    per_township = Counter(d["case"]["township"] for d in data["decisions"])
    assert {m.group(1): int(m.group(2)) for m in counted if m} == per_township  # every township, its own count
    assert sum(1 for line in lines if line.startswith("    ") and "permit=true" in line) == 5
    assert lines[-1] == f"… {total - 5} more changed cases not listed (--limit 0 lists all; --json has everything)"
    assert len(lines) < 60


def test_a_later_reorganisation_date_changes_only_the_cases_in_between(tmp_path: Path, seed_runtime: Runtime) -> None:
    """机构改革 resolves by date: moving the forestry bureau's end from 2019-03-01 to 2020-01-01
    reaches exactly the matters that name it, and changes exactly their cases dated in between."""
    head = edited_copy(tmp_path, "head", FORESTRY_LATER)
    base_policy, head_policy = seed_runtime.policy, load_policy(head)
    naming = {m.id for m in base_policy.matters.values() if "qj-forestry" in (m.lead, *m.supports)}
    for rule in base_policy.rules:
        if "qj-forestry" in (rule.then.lead, *rule.then.supports):
            naming |= set(rule.tests()["matter"].operator[1])  # type: ignore[arg-type]
    assert "FOR-03" in naming and affected_matters(base_policy, head_policy) == naming

    data = run_diff("--base", str(SEED_POLICY), "--head", str(head), "--matter", "FOR-03")
    assert [c["id"] for c in data["clauses"]["changed"]] == ["qj-forestry"]
    days = sorted(set(space.boundary_dates(base_policy)) | set(space.boundary_dates(head_policy)))
    expected = set()
    for case in space.cases(base_policy, days, matters={"FOR-03"}):
        if not "2019-03-01" <= case.as_of.isoformat() < "2020-01-01":
            continue
        decision = seed_runtime.decide(case)
        if any("qj-forestry" in org.succeeded for org in (decision.lead, *decision.supports)):
            expected.add(case_key(case)[:3] + (case.as_of.isoformat(),))
    changed = {key(d["case"]) for d in data["decisions"]}
    assert expected and changed == expected
    assert {d["case"]["as_of"] for d in data["decisions"]} == {"2019-03-01", "2019-12-31"}
    assert all(d["after"]["lead"] == "qj-forestry" for d in data["decisions"])


@pytest.mark.parametrize(
    ("edit", "matters"),
    [
        (("rules/delegation.yaml", "supports: [qj-enforce, qj-market]", "supports: [qj-market]"), {"URB-01", "AGR-01"}),
        (FORESTRY_LATER, {"FOR-03", "AGR-01"}),
        (("matters/agriculture.yaml", "lead: qj-agri\n    supports: [qj-police, qj-water]", "lead: qj-agri\n    supports: [qj-police]"), {"AGR-01", "AGR-02"}),
        (("rules/delegation.yaml", "matters: [URB-01, URB-07]\n    valid_from: 2021-07-01", "matters: [URB-01, URB-07]\n    valid_from: 2022-01-01"), {"URB-01", "AGR-01"}),
        (("organizations.yaml", "name: 衢江区综合行政执法局,", "name: 衢江区综合执法局,"), {"URB-01", "AGR-01"}),
    ],
    ids=["rule-supports", "successor-date", "matter-supports", "delegation-date", "body-renamed"],
)
def test_unreached_matters_really_do_not_change(tmp_path: Path, seed_runtime: Runtime, edit: tuple[str, str, str], matters: set[str]) -> None:
    head = Runtime.from_dir(edited_copy(tmp_path, "head", edit))
    base = seed_runtime
    pruned = impact(base.policy, base.decide, head.policy, head.decide, matters=matters)
    every = impact(base.policy, base.decide, head.policy, head.decide, matters=matters, exhaustive=True)
    assert every.matters_decided == tuple(sorted(matters)) and every.cases_checked > pruned.cases_checked
    assert [c.to_dict() for c in pruned.changes] == [c.to_dict() for c in every.changes]
    # a renamed body changes no lead id; every other edit here changes some decision
    assert bool(every.changes) == ("name:" not in edit[1])


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
    head = edited_copy(tmp_path, "head", ("rules/delegation.yaml", "matters: [LND-02]\n    valid_from: 2021-07-01", "matters: [LND-02]\n    valid_from: 2021-07-01\n    valid_until: 2025-01-01"))
    data = run_diff("--base", str(SEED_POLICY), "--head", str(head), "--log", url, "--no-space")
    assert data["logged_checked"] == 4 and data["cases_checked"] == 0
    assert [d["decision_id"] for d in data["decisions"]] == [ids[0]]
    change = data["decisions"][0]
    assert change["source"] == "log" and change["before"]["rule"] == "DEL-BUILD-TEAM" and change["after"]["rule"] == "LND-02"
    assert change["after"]["lead"] == "qj-enforce"


def test_base_from_a_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed_runtime: Runtime) -> None:
    repo = committed_policy(tmp_path / "repo", SEED_POLICY)
    integrated = repo / "policy" / "rules" / "integrated.yaml"
    integrated.write_text(integrated.read_text(encoding="utf-8").replace("priority: 10", "priority: 15", 1), encoding="utf-8")
    monkeypatch.chdir(repo)
    data = run_diff("--base", "git:HEAD", "--head", str(repo / "policy"), "--no-space")  # PATH defaults to policy
    assert data["clauses"]["changed"] == [
        {"section": "rules", "id": "YJS-SAND-FARMLAND", "change": "changed", "fields": ["priority"], "where": "rules/integrated.yaml:20"}
    ]
    assert data["base"]["digest"] == seed_runtime.policy.digest
    result = runner.invoke(cli, ["diff", "--base", "git:no-such-rev", "--head", str(repo / "policy")])
    assert result.exit_code == 2 and "no-such-rev" in result.output


def test_added_and_removed_clauses(tmp_path: Path) -> None:
    head = edited_copy(tmp_path, "head", ("rules/integrated.yaml", "  - id: YJS-BUILD-PERMIT\n", "  - id: YJS-BUILD-PERMIT2\n"))
    data = run_diff("--base", str(SEED_POLICY), "--head", str(head), "--no-space")
    assert [c["id"] for c in data["clauses"]["added"]] == ["YJS-BUILD-PERMIT2"]
    assert [c["id"] for c in data["clauses"]["removed"]] == ["YJS-BUILD-PERMIT"]
    assert data["clauses"]["changed"] == []
