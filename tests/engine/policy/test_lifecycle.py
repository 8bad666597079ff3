"""The case chapter is checked like the rest of the policy: errors block activation, graph
and calendar problems are findings of `tiaokuai check` with file, line and a hint."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from engine.analysis.check import check_files
from engine.errors import PolicyError
from engine.policy import policy_from_files
from tests.conftest import SEED_POLICY, runtime_for


def edited(section: str, change: Any) -> dict[str, str]:
    """The seed policy's files with `change(data)` applied to the file holding `section`."""
    files = dict(runtime_for(SEED_POLICY).policy.files)
    name = next(n for n, text in files.items() if f"\n{section}:" in text or text.startswith(f"{section}:"))
    data = yaml.safe_load(files[name])
    change(data[section])
    files[name] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return files


def findings(files: dict[str, str]) -> dict[str, list[str]]:
    report = check_files(files, full=False)
    out: dict[str, list[str]] = {}
    for f in report.findings:
        out.setdefault(f.code, []).append(f.render())
    return out


def test_the_seed_lifecycle_and_calendar_are_clean() -> None:
    policy = runtime_for(SEED_POLICY).policy
    assert policy.lifecycle is not None and policy.calendar is not None
    assert [y.year for y in policy.calendar.years] == list(range(2004, 2027))
    report = check_files(dict(policy.files), full=False)
    assert not [f for f in report.findings if f.file in ("lifecycle.yaml", "calendar.yaml")]


def test_every_time_limit_the_clauses_name_has_a_clock() -> None:
    policy = runtime_for(SEED_POLICY).policy
    assert policy.lifecycle is not None
    clocks = {c.limit for c in policy.lifecycle.clocks}
    named = {k for m in policy.matters.values() for k in m.time_limits} | {k for r in policy.rules for k in r.then.time_limits}
    assert named | set(policy.manifest.dispatch.time_limits) <= clocks


def test_an_unknown_state_is_an_error_naming_file_line_and_a_fix() -> None:
    def change(lifecycle: dict[str, Any]) -> None:
        lifecycle["transitions"][0]["to"] = "sined"

    with pytest.raises(PolicyError) as caught:
        policy_from_files(edited("lifecycle", change))
    rendered = [f.render() for f in caught.value.findings]
    assert any("lifecycle.yaml:" in r and "unknown state `sined`" in r and "did you mean `signed`" in r for r in rendered), rendered


def test_an_unreachable_state_and_a_dead_end_are_warnings() -> None:
    def change(lifecycle: dict[str, Any]) -> None:
        lifecycle["states"].append({"id": "archived", "name": "已归档"})
        lifecycle["transitions"] = [t for t in lifecycle["transitions"] if t["event"] != "handle"]

    found = findings(edited("lifecycle", change))
    assert any("`archived`" in r for r in found["unreachable_state"]), found
    assert any("`reported`" in r for r in found["no_way_out"]), found


def test_a_limit_no_clock_runs_is_reported_where_it_is_named() -> None:
    def change(lifecycle: dict[str, Any]) -> None:
        lifecycle["clocks"] = [c for c in lifecycle["clocks"] if c["limit"] != "repair"]

    found = findings(edited("lifecycle", change))
    assert any("`repair`" in r and "matters/city.yaml:" in r for r in found["limit_never_started"]), found


def test_a_clock_running_only_in_unreachable_states_never_starts() -> None:
    def change(lifecycle: dict[str, Any]) -> None:
        lifecycle["states"].append({"id": "parked", "name": "挂账"})
        lifecycle["clocks"].append({"limit": "park", "runs_in": ["parked"]})

    found = findings(edited("lifecycle", change))
    assert any("`park`" in r for r in found["limit_never_started"]), found


def test_calendar_problems_are_found() -> None:
    def change(calendar: dict[str, Any]) -> None:
        calendar["years"] = [y for y in calendar["years"] if y["year"] != 2015]
        last = calendar["years"][-1]
        last["workdays"].append({"date": "2026-10-08", "for": "国庆节"})  # a Thursday, and a holiday? no: a weekday
        last["workdays"].append({"date": "2026-10-03", "for": "国庆节"})  # inside the holiday

    with pytest.raises(PolicyError) as caught:
        policy_from_files(edited("calendar", change))
    assert [f.code for f in caught.value.findings] == ["workday_is_holiday"]

    def warnings_only(calendar: dict[str, Any]) -> None:
        calendar["years"] = [y for y in calendar["years"] if y["year"] != 2015]
        calendar["years"][-1]["workdays"].append({"date": "2026-10-08", "for": "国庆节"})

    found = findings(edited("calendar", warnings_only))
    assert any("no schedule for 2015:" in r for r in found["calendar_gap"]), found
    assert any("2026-10-08 is a weekday" in r for r in found["calendar_gap"]), found
