"""Loading and validating policies: errors name the file, line, id and a fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import PolicyError
from engine.policy.load import load_policy
from tests.conftest import FIXTURES, SEED_POLICY


def copy_policy(tmp_path: Path, source: Path = SEED_POLICY) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(source, target)
    return target


def findings_of(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    return [f.render() for f in info.value.findings]


def test_seed_policy_loads_with_counts() -> None:
    policy = load_policy(SEED_POLICY)
    counts = policy.counts()
    assert counts["matters"] >= 8 and counts["rules"] >= 5 and counts["townships"] >= 20
    assert policy.manifest.illustrative is True
    assert len(policy.digest) == 64


def test_digest_changes_with_content_and_not_with_order(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    before = load_policy(target).digest
    (target / "matters" / "water.yaml").write_text(
        (target / "matters" / "water.yaml").read_text(encoding="utf-8").replace("偷挖河砂", "偷采河砂"), encoding="utf-8"
    )
    assert load_policy(target).digest != before


def test_unknown_lead_names_file_line_id_and_suggestion(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    path = target / "matters" / "water.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("lead: qj-water", "lead: qj-watr", 1), encoding="utf-8")
    lines = findings_of(target)
    assert len(lines) == 1
    assert lines[0].startswith("matters/water.yaml:9: WAT-01: unknown organization `qj-watr`")  # the `lead:` line
    assert "did you mean `qj-water`?" in lines[0]


def test_each_reference_is_reported_at_its_own_key(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    path = target / "rules" / "integrated.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("supports: [qj-police, qj-nrp, qj-transport", "supports: [qj-police, qj-nrpp, qj-transport", 1), encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "supports: [qj-police, qj-nrp, qj-transport" in t)
    assert findings_of(target) == [
        f"rules/integrated.yaml:{line}: YJS-SAND-RIVER: unknown organization `qj-nrpp` (did you mean `qj-nrp`?)"
    ]


@pytest.mark.parametrize(
    ("written", "reason"), [("2021-13-01", "month must be in 1..12"), ("2021-02-30", "day is out of range for month")]
)
def test_an_impossible_date_is_a_finding_at_its_line(tmp_path: Path, written: str, reason: str) -> None:
    target = copy_policy(tmp_path)
    path = target / "rules" / "delegation.yaml"
    text = path.read_text(encoding="utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "valid_from: 2021-07-01" in t)
    path.write_text(text.replace("valid_from: 2021-07-01", f"valid_from: {written}", 1), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(target)
    (finding,) = caught.value.findings
    assert (finding.code, finding.file, finding.line, finding.id) == ("invalid_date", "rules/delegation.yaml", line, "FQ-2021-01")
    assert f"`{written}` is not a calendar date ({reason})" in finding.message
    assert finding.hint is not None and "YYYY-MM-DD" in finding.hint


def test_an_unclosed_bracket_is_reported_where_it_opened(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    path = target / "matters" / "water.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("supports: [qj-police, qj-nrp, qj-transport]", "supports: [qj-police, qj-nrp, qj-transport", 1), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(target)
    (finding,) = caught.value.findings
    assert (finding.code, finding.line) == ("yaml_syntax", 10)
    assert "opened at line 10, column 15 is not closed" in finding.message
    assert finding.hint is not None and "`]`" in finding.hint


def test_unknown_condition_attribute_and_value_are_reported(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    path = target / "rules" / "integrated.yaml"
    text = path.read_text(encoding="utf-8").replace("site_type: river", "site_typ: river").replace("permit: true", "permit: maybe")
    path.write_text(text, encoding="utf-8")
    lines = findings_of(target)
    assert any("YJS-SAND-RIVER: condition on unknown attribute `site_typ`" in line and "site_type" in line for line in lines)
    assert any("YJS-BUILD-PERMIT" in line and "`maybe` is not an allowed value of `permit`" in line for line in lines)


def test_schema_error_points_at_the_line(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    path = target / "rules" / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("kind: escalation", "kind: escalate"), encoding="utf-8")
    lines = findings_of(target)
    assert any(line.startswith("rules/escalation.yaml:6: ESC-SEVERE: `rules.kind`") for line in lines), lines


def test_unknown_key_and_duplicate_id(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    (target / "matters" / "extra.yaml").write_text(
        (target / "matters" / "city.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    lines = findings_of(target)
    assert any("duplicate" not in line and "URB-01" in line and "defined twice" in line for line in lines)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    (target / "broken.yaml").write_text("matters:\n  - id: X\n    name: a: b\n", encoding="utf-8")
    assert findings_of(target) == ["broken.yaml:3: invalid YAML: mapping values are not allowed here"]


def test_missing_directory_is_a_policy_error(tmp_path: Path) -> None:
    assert "does not exist" in findings_of(tmp_path / "nope")[0]


def test_amendment_may_not_name_a_lead(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    path = target / "rules" / "escalation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("coordinator: qj-centre\n      supports", "lead: qj-centre\n      supports"), encoding="utf-8")
    lines = findings_of(target)
    assert any("amendment rule adds to the winner" in line for line in lines), lines


def test_fixture_policy_loads() -> None:
    assert set(load_policy(FIXTURES / "haiwan").matters) == {"HW-01", "HW-02"}


def test_exported_json_schema_is_current() -> None:
    import json

    from engine.policy.model import PolicyFile

    committed = json.loads((SEED_POLICY / "schema" / "policy.schema.json").read_text(encoding="utf-8"))
    committed.pop("title", None)
    generated = PolicyFile.model_json_schema(by_alias=True)
    generated.pop("title", None)
    assert committed == generated, "run `make schema` and commit policy/schema/policy.schema.json"


def test_duplicate_id_within_one_file(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    path = target / "matters" / "water.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - id: WAT-02", "  - id: WAT-01", 1), encoding="utf-8")
    lines = findings_of(target)
    assert any("WAT-01: matter id `WAT-01` is defined twice (first defined at matters/water.yaml:2)" in line for line in lines), lines
