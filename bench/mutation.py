"""`make mutation`: mutation testing of the decision core with mutmut, one module at a time.

Each module is mutated in a scratch copy of the repository (out/mutation/<name>/) and tested
against the tests that exercise it. Every mutant runs in a fresh pytest session in a process
of its own, forked from mutmut's fork server (`process_isolation = "forkserver"`), which has
imported the libraries and collected the tests (`forkserver_warmup = "collect"`) but run no
test: no Runtime exists there, so the runtime cache in tests/conftest.py and the memo in
`engine.lead.decide.Prepared` start empty for every mutant. mutmut's default instead forks
each mutant from the process that has already run the whole suite, where those caches hold
results computed by the unmutated code and mask mutants.

Equivalent mutants (no observable behaviour changes) are listed with their reason in
bench/mutation_equivalents.toml and not counted; an entry whose diff no longer matches the
mutant is reported as stale and the mutant counts as a survivor. The report is written to
bench/mutation.md: score per module, every survivor with its diff, every equivalent mutant
with its reason, the command and the time it took.

    python -m bench.mutation                 # every module (tens of minutes on 2 cores)
    python -m bench.mutation facts review    # some of them
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "out" / "mutation"
REPORT = ROOT / "bench" / "mutation.md"
EQUIVALENTS = ROOT / "bench" / "mutation_equivalents.toml"
COPIED = ("engine", "api", "tests", "policy", "features", "pyproject.toml", "README.md")


@dataclass(frozen=True)
class Module:
    """One module under test: the file mutmut mutates, the mutants counted, the tests run."""

    name: str
    path: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()  # mutmut keys (x_name, xǁClassǁmethod); empty = the whole file

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        return [f"{self.dotted}.{f}__mutmut_*" for f in self.functions] or [f"{self.dotted}.*"]


# Smallest first, so a run stopped midway has reported the most modules.
MODULES = (
    Module(
        "log chain and verify",
        "engine/log/store.py",
        ("tests/engine/log",),
        ("x_canonical", "x_chain_hash", "xǁRecordǁhashed_fields", "xǁRecordǁcomputed_hash", "xǁDecisionLogǁverify",
         "x__check_link", "xǁVerificationǁok"),
    ),
    Module("facts", "engine/lead/facts.py", ("tests/engine/lead", "tests/features")),
    Module("decide", "engine/lead/decide.py", ("tests/engine/lead", "tests/features")),
    Module("review", "engine/admission/review.py", ("tests/engine/admission", "tests/features")),
    Module("intake matcher", "engine/intake/matcher.py", ("tests/engine/intake", "tests/features")),
    Module("lifecycle transitions", "engine/cases/machine.py",
           ("tests/engine/cases", "tests/api/http/test_cases.py", "tests/features")),
)  # fmt: skip

# mutmut's exit codes (mutmut.stats.status_by_exit_code), as the report names them
KILLED = {1: "killed", 3: "killed"}
TIMEOUT = {-24: "timeout", 24: "timeout", 36: "timeout", 152: "timeout", 255: "timeout"}


@dataclass
class Result:
    module: Module
    seconds: float
    total: int = 0
    killed: int = 0
    timeout: int = 0
    survived: list[tuple[str, str]] = field(default_factory=list)  # (mutant, diff)
    untested: list[tuple[str, str]] = field(default_factory=list)  # no test reaches it
    equivalent: list[tuple[str, str, str]] = field(default_factory=list)  # (mutant, diff, reason)
    stale: list[str] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        return self.total - len(self.equivalent)

    @property
    def score(self) -> float:
        return 100.0 * (self.killed + self.timeout) / self.counted if self.counted else 100.0


def _config(module: Module) -> str:
    tests = json.dumps(list(module.tests))
    return f"""

[tool.mutmut]
source_paths = ["engine"]
only_mutate = ["{module.path}"]
also_copy = ["api", "policy", "features", "README.md"]
pytest_add_cli_args_test_selection = {tests}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
process_isolation = "forkserver"
forkserver_warmup = "collect"
use_git_change_detection = false
"""


def snapshot() -> tuple[Path, str]:
    """Copy the tree once per run, so every module is tested against the same code and tests
    (edits made while a run goes on do not leak into it); and name the commit it was taken at."""
    source = WORK / "snapshot"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in COPIED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", *COPIED], capture_output=True, text=True, check=False).stdout.strip()
    return source, f"{commit or 'unknown'}{' with uncommitted changes' if dirty else ''}"


def _prepare(module: Module, source: Path) -> Path:
    work = WORK / module.name.replace(" ", "-")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    with (work / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write(_config(module))
    return work


def _mutmut(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    binary = str(Path(sys.executable).with_name("mutmut"))
    return subprocess.run([binary, *args], cwd=work, env=env, capture_output=True, text=True, check=False)


def _diff(work: Path, mutant: str) -> str:
    shown = _mutmut(work, "show", mutant).stdout
    return "\n".join(line for line in shown.splitlines()[1:] if line.startswith(("-", "+")) and not line.startswith(("---", "+++")))


def _equivalents() -> dict[str, dict[str, str]]:
    with EQUIVALENTS.open("rb") as f:
        return {e["mutant"]: e for e in tomllib.load(f).get("equivalent", [])}


def _widen_test_mapping(work: Path, module: Module) -> None:
    """Give every function of the module every test that reaches the module.

    mutmut runs a mutant only against the tests that called its function while it collected
    stats, in one process. There the caches are warm after the first test: `Prepared` (and the
    clauses it builds) is made once per policy, and a case decided before is answered from the
    decision cache, so only the first test that reaches them is recorded. Without this, the
    mutants of those functions run against a test that asserts nothing about them.
    """
    path = work / "mutants" / "mutmut-stats.json"
    stats = json.loads(path.read_text(encoding="utf-8"))
    mapping: dict[str, list[str]] = stats["tests_by_mangled_function_name"]
    prefix = module.dotted + "."
    reaching = sorted({t for name, tests in mapping.items() if name.startswith(prefix) for t in tests})
    for name in mapping:
        if name.startswith(prefix):
            mapping[name] = reaching
    path.write_text(json.dumps(stats), encoding="utf-8")


def run_module(module: Module, children: int, source: Path) -> Result:
    work = _prepare(module, source)
    started = time.monotonic()
    # First pass: mutants and stats only (a filter that matches no mutant stops mutmut there).
    _mutmut(work, "run", "--max-children", str(children), "no.such.x_mutant__mutmut_0")
    _widen_test_mapping(work, module)
    run = _mutmut(work, "run", "--max-children", str(children), *module.patterns())
    result = Result(module, time.monotonic() - started)
    (work / "mutmut-run.log").write_text(run.stdout + run.stderr, encoding="utf-8")
    meta = work / "mutants" / (module.path + ".meta")
    if run.returncode != 0 or not meta.exists():
        raise SystemExit(f"mutmut failed for {module.path} (see {work / 'mutmut-run.log'}):\n{run.stderr[-2000:]}")
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    equivalents = _equivalents()
    for mutant, code in sorted(codes.items(), key=lambda kv: _order(kv[0])):
        if not any(fnmatch.fnmatchcase(mutant, p) for p in module.patterns()):
            continue
        result.total += 1
        if code in KILLED:
            result.killed += 1
        elif code in TIMEOUT:
            result.timeout += 1
        elif code in (0, 5, 33):
            diff = _diff(work, mutant)
            known = equivalents.get(mutant)
            if known is not None and known["diff"].strip() == diff.strip():
                result.equivalent.append((mutant, diff, known["reason"]))
            else:
                if known is not None:
                    result.stale.append(mutant)
                (result.survived if code == 0 else result.untested).append((mutant, diff))
        else:
            status = f"exit code {code}"
            result.other[status] = result.other.get(status, 0) + 1
    return result


def _order(mutant: str) -> tuple[str, int]:
    name, _, number = mutant.rpartition("__mutmut_")
    return name, int(number) if number.isdigit() else 0


def _report(results: list[Result], command: str, commit: str, elapsed: float, pending: list[str]) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Mutation testing of the decision core",
        "",
        f"Written by `{command}` at commit {commit} on {now}; the run took {elapsed / 60:.1f} min on the shared",
        "2-core machine",
        "(mutmut 3.8.1 under `nice -n 15`; each mutant in a fresh pytest session of its own, forked from",
        "mutmut's fork server, which has collected the tests but run none). Score = (killed + timed out) /",
        "(mutants − equivalent). Equivalent mutants are listed below with their reason",
        "(bench/mutation_equivalents.toml) and not counted.",
        "",
        *([f"**Incomplete**: not run yet: {', '.join(pending)}.", ""] if pending else []),
        "| module | tests | mutants | killed | timeout | survived | no test | equivalent | score | time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        shown = (f.removeprefix("x_").removeprefix("xǁ").replace("ǁ", ".") for f in r.module.functions)
        what = r.module.path + (f" ({', '.join(shown)})" if r.module.functions else "")
        lines.append(
            f"| {r.module.name}: `{what}` | {', '.join(f'`{t}`' for t in r.module.tests)} | {r.total} | {r.killed} | "
            f"{r.timeout} | {len(r.survived)} | {len(r.untested)} | {len(r.equivalent)} | **{r.score:.1f} %** | "
            f"{r.seconds / 60:.1f} min |"
        )
    for r in results:
        lines += ["", f"## {r.module.name}", ""]
        if r.other:
            lines += [f"Other outcomes: {', '.join(f'{k}: {v}' for k, v in sorted(r.other.items()))}", ""]
        if r.stale:
            lines += [f"Stale equivalence entries (the mutant's diff changed; counted as survivors): {', '.join(r.stale)}", ""]
        for title, items in (("Surviving mutants", r.survived), ("Mutants no test reaches", r.untested)):
            lines += [f"### {title} ({len(items)})", ""]
            lines += [block for mutant, diff in items for block in (f"`{mutant}`", "```diff", diff, "```", "")] or ["none", ""]
        lines += [f"### Equivalent mutants ({len(r.equivalent)})", ""]
        lines += [block for mutant, diff, reason in r.equivalent for block in (f"`{mutant}`: {reason}", "```diff", diff, "```", "")] or ["none", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all): " + ", ".join(m.name for m in MODULES))
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--min-score", type=float, default=90.0, help="exit 1 if a module scores lower")
    args = parser.parse_args(argv)
    chosen = [m for m in MODULES if not args.modules or m.name in args.modules or m.name.split()[0] in args.modules]
    if not chosen:
        parser.error(f"no such module; choose from {[m.name for m in MODULES]}")
    # Only a run of every module rewrites the committed report; a partial run writes beside its work.
    command = "make mutation" if not args.modules else f"python -m bench.mutation {' '.join(args.modules)}"
    report = REPORT if not args.modules else WORK / "partial.md"
    started = time.monotonic()
    source, commit = snapshot()
    results: list[Result] = []
    for module in chosen:
        print(f"mutating {module.path} against {' '.join(module.tests)} …", flush=True)
        result = run_module(module, args.max_children, source)
        print(f"  {result.total} mutants, {result.killed + result.timeout} killed, {len(result.survived)} survived, "
              f"{len(result.untested)} untested, {len(result.equivalent)} equivalent: {result.score:.1f} % "
              f"in {result.seconds / 60:.1f} min", flush=True)
        results.append(result)
        # rewritten after each module, so a run stopped midway still reports what it measured
        pending = [m.name for m in chosen[len(results):]]
        report.write_text(_report(results, command, commit, time.monotonic() - started, pending), encoding="utf-8")
    print(f"wrote {report.relative_to(ROOT)}")
    return 0 if all(r.score >= args.min_score for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
