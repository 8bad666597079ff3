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
mutant is reported as stale and the mutant counts as a survivor.

Each module's result is committed as bench/mutation/<slug>.json (the commit it was measured at,
when, how long, the load average, every survivor with its diff, every equivalent with its
reason); bench/mutation.md is regenerated from all of them after every module, so a run of
some modules rewrites only their rows. A tree with uncommitted changes to what is mutated or
tested is refused (`--allow-dirty` measures it anyway and marks the row).

    python -m bench.mutation                 # every module (tens of minutes on 2 cores)
    python -m bench.mutation review matcher  # some of them (make mutation MODULES="review matcher")
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "out" / "mutation"
REPORT = ROOT / "bench" / "mutation.md"
RESULTS = ROOT / "bench" / "mutation"  # one <slug>.json per module
EQUIVALENTS = ROOT / "bench" / "mutation_equivalents.toml"
COPIED = ("engine", "api", "tests", "policy", "jurisdictions", "features", "pyproject.toml", "README.md")


def slug(name: str) -> str:
    """A module's name as a file or directory name: `log chain and verify` → `log-chain-and-verify`."""
    return name.replace(" ", "-")


@dataclass(frozen=True)
class Module:
    """One module under test: the file mutmut mutates, the mutants counted, the tests run."""

    name: str
    path: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()  # mutmut keys (x_name, xǁClassǁmethod); empty = the whole file

    @property
    def slug(self) -> str:
        return slug(self.name)

    @property
    def dotted(self) -> str:
        return self.path.removesuffix(".py").replace("/", ".")

    def patterns(self) -> list[str]:
        return [f"{self.dotted}.{f}__mutmut_*" for f in self.functions] or [f"{self.dotted}.*"]


# Smallest first, so a run stopped midway has reported the most modules. Review, the matcher and
# the transitions run against their Runtime-free unit tests: mutmut runs a mutant's tests in no
# fixed order, and the other tests of those packages build a whole Runtime first (≈10 s for
# nearly every mutant on the shared machine).
MODULES = (
    Module(
        "log chain and verify",
        "engine/log/store.py",
        # not test_checkpoint_key.py: the checkpoint signing key's file, never the chain (26 s a mutant)
        ("tests/engine/log/test_chain.py", "tests/engine/log/test_store.py", "tests/engine/log/test_tamper_evidence.py"),
        ("x_canonical", "x_chain_hash", "xǁRecordǁhashed_fields", "xǁRecordǁcomputed_hash", "xǁDecisionLogǁverify",
         "x__check_link", "xǁVerificationǁok"),
    ),
    Module("facts", "engine/lead/facts.py", ("tests/engine/lead", "tests/features")),
    # the lead tests only: they compare whole decisions on fixtures made for each rule of the
    # semantics (variants and layers included). With the features each of its 631 mutants'
    # fresh sessions also compiles the seed policy and collects 25 feature files: hours on the
    # shared 2-core machine
    Module("decide", "engine/lead/decide.py", ("tests/engine/lead",)),
    Module("review", "engine/admission/review.py",
           ("tests/engine/admission/test_proposal.py", "tests/engine/admission/test_review_findings.py")),
    Module("intake matcher", "engine/intake/matcher.py", ("tests/engine/intake/test_bm25.py",)),
    Module("lifecycle transitions", "engine/cases/machine.py", ("tests/engine/cases/test_events.py",)),
)  # fmt: skip

# mutmut stops a mutant's session after (its tests' measured seconds + 1) × this, wall clock,
# and counts it as killed (timed out). Its default, 15, is met by a session merely starved of
# CPU on the shared machine (load 10, nice 15), which would count surviving mutants as killed:
# 60 leaves that to real endless loops.
TIMEOUT_MULTIPLIER = 60

# mutmut's exit codes (mutmut.stats.status_by_exit_code), as the report names them
KILLED = {1: "killed", 3: "killed"}
TIMEOUT = {-24: "timeout", 24: "timeout", 36: "timeout", 152: "timeout", 255: "timeout"}


@dataclass
class Result:
    """What one module's run measured; stored as bench/mutation/<slug>.json."""

    module: str
    path: str
    functions: list[str]
    tests: list[str]
    commit: str  # `git rev-parse --short HEAD`, "+dirty" when measured with --allow-dirty on changes
    started: str  # UTC, ISO 8601 to the minute
    postgresql: bool = False  # a test PostgreSQL was configured: the decision-log tests ran on it too
    minutes: float = 0.0
    load_average: list[float] = field(default_factory=list)  # 1, 5, 15 min, when the module finished
    mutants: int = 0
    killed: int = 0
    timeout: int = 0
    survivors: list[dict[str, str]] = field(default_factory=list)  # mutant, diff
    untested: list[dict[str, str]] = field(default_factory=list)  # no test reaches it
    equivalents: list[dict[str, str]] = field(default_factory=list)  # mutant, diff, reason
    stale: list[str] = field(default_factory=list)
    other: dict[str, int] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        return self.mutants - len(self.equivalents)

    @property
    def score(self) -> float:
        return 100.0 * (self.killed + self.timeout) / self.counted if self.counted else 100.0

    def save(self, directory: Path = RESULTS) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{slug(self.module)}.json"
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Result:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def _config(module: Module) -> str:
    tests = json.dumps(list(module.tests))
    return f"""

[tool.mutmut]
source_paths = ["engine"]
only_mutate = ["{module.path}"]
also_copy = {json.dumps([n for n in COPIED if n not in ("engine", "tests", "pyproject.toml")])}
pytest_add_cli_args_test_selection = {tests}
pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
process_isolation = "forkserver"
forkserver_warmup = "collect"
use_git_change_detection = false
timeout_multiplier = {TIMEOUT_MULTIPLIER}
"""


def measured_commit() -> tuple[str, bool]:
    """The commit a run measures, and whether what it copies has uncommitted changes."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", *COPIED], capture_output=True, text=True, check=False).stdout.strip()
    return commit or "unknown", bool(dirty)


def snapshot() -> Path:
    """Copy the tree once per run, so every module is tested against the same code and tests
    (edits made while a run goes on do not leak into it)."""
    WORK.mkdir(parents=True, exist_ok=True)
    source = Path(tempfile.mkdtemp(prefix="snapshot-", dir=WORK))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in COPIED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    return source


def _prepare(module: Module, source: Path) -> Path:
    work = WORK / module.slug
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


def _postgresql() -> bool:
    """Whether the tests will find a PostgreSQL (tests/support/logdb.py reads the same variables):
    `make mutation` runs under scripts/with-postgres.sh, as `make test` does, so that the log's
    tests also run where row order is not the rowid's (SQLite returns rows by `seq` unasked)."""
    urls = (os.environ.get(v, "") for v in ("TIAOKUAI_TEST_POSTGRES_URL", "TIAOKUAI_DATABASE_URL"))
    return any(u.startswith("postgresql") for u in urls)


def run_module(module: Module, children: int, source: Path, commit: str) -> Result:
    work = _prepare(module, source)
    result = Result(module.name, module.path, list(module.functions), list(module.tests), commit,
                    datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"), postgresql=_postgresql())
    started = time.monotonic()
    # First pass: mutants and stats only (a filter that matches no mutant stops mutmut there).
    _mutmut(work, "run", "--max-children", str(children), "no.such.x_mutant__mutmut_0")
    _widen_test_mapping(work, module)
    run = _mutmut(work, "run", "--max-children", str(children), *module.patterns())
    result.minutes = round((time.monotonic() - started) / 60, 1)
    result.load_average = [round(x, 2) for x in os.getloadavg()]
    (work / "mutmut-run.log").write_text(run.stdout + run.stderr, encoding="utf-8")
    meta = work / "mutants" / (module.path + ".meta")
    if run.returncode != 0 or not meta.exists():
        raise SystemExit(f"mutmut failed for {module.path} (see {work / 'mutmut-run.log'}):\n{run.stderr[-2000:]}")
    codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    equivalents = _equivalents()
    for mutant, code in sorted(codes.items(), key=lambda kv: _order(kv[0])):
        if not any(fnmatch.fnmatchcase(mutant, p) for p in module.patterns()):
            continue
        result.mutants += 1
        if code in KILLED:
            result.killed += 1
        elif code in TIMEOUT:
            result.timeout += 1
        elif code in (0, 5, 33):
            diff = _diff(work, mutant)
            known = equivalents.get(mutant)
            if known is not None and known["diff"].strip() == diff.strip():
                result.equivalents.append({"mutant": mutant, "diff": diff, "reason": known["reason"]})
            else:
                if known is not None:
                    result.stale.append(mutant)
                (result.survivors if code == 0 else result.untested).append({"mutant": mutant, "diff": diff})
        else:
            status = f"exit code {code}"
            result.other[status] = result.other.get(status, 0) + 1
    return result


def _order(mutant: str) -> tuple[str, int]:
    name, _, number = mutant.rpartition("__mutmut_")
    return name, int(number) if number.isdigit() else 0


def report(results: dict[str, Result]) -> str:
    """bench/mutation.md from every module's stored result, in MODULES order."""
    rows = [results[m.name] for m in MODULES if m.name in results]
    pending = [m.name for m in MODULES if m.name not in results]
    commits = sorted({r.commit for r in rows})
    lines = [
        "# Mutation testing of the decision core",
        "",
        "Regenerated by `make mutation` (every module) or `make mutation MODULES=\"…\"` (some: only their",
        "rows change) from bench/mutation/<module>.json. mutmut 3.8.1 under `nice -n 15` on the shared",
        "2-core machine; each mutant in a fresh pytest session of its own, forked from mutmut's fork",
        "server, which has collected the tests but run none. Score = (killed + timed out) /",
        "(mutants − equivalent). Equivalent mutants are listed below with their reason",
        "(bench/mutation_equivalents.toml) and not counted. Load = the 1/5/15-minute load average when",
        "the module finished.",
        "",
        (f"Every row was measured at the same commit, {commits[0]}." if len(commits) == 1
         else f"**Not all rows are from the same commit**: {', '.join(commits)}." if commits else "No module measured yet."),
        *([f"**Not measured yet**: {', '.join(pending)}."] if pending else []),
        *(["**Measured with uncommitted changes** (`--allow-dirty`): rows whose commit ends in +dirty."]
          if any(c.endswith("+dirty") for c in commits) else []),
        "",
        "| module | tests | mutants | killed | timeout | survived | no test | equivalent | score | commit | started | time | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        shown = (f.removeprefix("x_").removeprefix("xǁ").replace("ǁ", ".") for f in r.functions)
        what = r.path + (f" ({', '.join(shown)})" if r.functions else "")
        lines.append(
            f"| {r.module}: `{what}` | {', '.join(f'`{t}`' for t in r.tests)}{' (SQLite and PostgreSQL)' if r.postgresql else ''} | "
            f"{r.mutants} | {r.killed} | "
            f"{r.timeout} | {len(r.survivors)} | {len(r.untested)} | {len(r.equivalents)} | **{r.score:.1f} %** | "
            f"{r.commit} | {r.started.replace('T', ' ').replace('Z', ' UTC')} | {r.minutes:.1f} min | "
            f"{' / '.join(f'{x:.1f}' for x in r.load_average)} |"
        )
    for r in rows:
        lines += ["", f"## {r.module}", ""]
        if r.other:
            lines += [f"Other outcomes: {', '.join(f'{k}: {v}' for k, v in sorted(r.other.items()))}", ""]
        if r.stale:
            lines += [f"Stale equivalence entries (the mutant's diff changed; counted as survivors): {', '.join(r.stale)}", ""]
        for title, items in (("Surviving mutants", r.survivors), ("Mutants no test reaches", r.untested)):
            lines += [f"### {title} ({len(items)})", ""]
            lines += [b for i in items for b in (f"`{i['mutant']}`", "```diff", i["diff"], "```", "")] or ["none", ""]
        lines += [f"### Equivalent mutants ({len(r.equivalents)})", ""]
        lines += [b for i in r.equivalents for b in (f"`{i['mutant']}`: {i['reason']}", "```diff", i["diff"], "```", "")] or ["none", ""]
    return "\n".join(lines).rstrip() + "\n"


def stored_results(directory: Path = RESULTS) -> dict[str, Result]:
    results = (Result.load(p) for p in sorted(directory.glob("*.json")))
    return {r.module: r for r in results}


def choose(names: list[str]) -> list[Module]:
    """Modules by name, slug or one word of the name (`log`, `matcher`); none = every module."""
    return [m for m in MODULES if not names or any(n in (m.name, m.slug, *m.name.split()) for n in names)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all): " + ", ".join(m.name for m in MODULES))
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--min-score", type=float, default=90.0, help="exit 1 if a module run scores lower")
    parser.add_argument("--allow-dirty", action="store_true", help="measure uncommitted changes (rows marked +dirty)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.modules if not choose([n])]
    if unknown:
        parser.error(f"no such module: {', '.join(unknown)}; choose from {[m.name for m in MODULES]}")
    chosen = choose(args.modules)
    commit, dirty = measured_commit()
    if dirty and not args.allow_dirty:
        parser.error(f"uncommitted changes under {', '.join(COPIED)}: commit them (the report names the commit measured) or pass --allow-dirty")
    commit += "+dirty" if dirty else ""
    source = snapshot()
    results: list[Result] = []
    try:
        for module in chosen:
            print(f"mutating {module.path} against {' '.join(module.tests)} at {commit} …", flush=True)
            result = run_module(module, args.max_children, source, commit)
            print(f"  {result.mutants} mutants, {result.killed + result.timeout} killed, {len(result.survivors)} survived, "
                  f"{len(result.untested)} untested, {len(result.equivalents)} equivalent: {result.score:.1f} % "
                  f"in {result.minutes:.1f} min", flush=True)
            results.append(result)
            # stored and reported after each module, so a run stopped midway keeps what it measured
            result.save()
            REPORT.write_text(report(stored_results()), encoding="utf-8")
    finally:
        shutil.rmtree(source, ignore_errors=True)
    print(f"wrote {REPORT.relative_to(ROOT)} and {len(results)} result(s) in {RESULTS.relative_to(ROOT)}/")
    return 0 if all(r.score >= args.min_score for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
