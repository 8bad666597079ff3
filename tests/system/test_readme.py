"""The README's examples, run as a reader would run them, so they cannot drift.

Every command in a ```sh block of README.md is either run here — against `tiaokuai serve`
started the way `make run` starts it, in a scratch directory that holds a git-committed copy
of policy/ — or listed in NOT_RUN with the reason. A new example that is neither fails.
The tour's answer is compared with the README's abridged JSON.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, SEED_POLICY
from tests.support.git_repo import committed_policy

README = ROOT / "README.md"
BIN = Path(sys.executable).parent
EXAMPLE_ID = "01a2148e7fef3beb4e6ee2"  # the README's decision id; replaced by the tour's real one
EXAMPLE_CASE = "01a2…"  # the README's case id; replaced by the one POST /v1/cases opened
NOT_RUN = {
    "make run": "what the server fixture runs (`tiaokuai serve`), minus the venv set-up",
    "make test": "the command that runs this test",
    "make run &": "as `make run`",
    ".venv/bin/tiaokuai serve --policy other/dir": "other/dir is a placeholder; the fixture runs `tiaokuai serve`",
    ".venv/bin/tiaokuai diff --base /srv/policy-now --head policy/ --log var/tiaokuai.sqlite3 --json": "/srv/policy-now is a placeholder; diff --base git:HEAD runs",
    "openapi-python-client generate --url http://127.0.0.1:8000/openapi.json --meta setup": "tests/system/test_generated_client.py generates and installs this client",
    "pip install ./tiaokuai-client": "tests/system/test_generated_client.py installs the generated client",
}
EXIT = {".venv/bin/tiaokuai review task.yaml": 1}  # the README's task is rejected (GA-03): exit 1
# Examples whose answer in this sequence is an error the README explains: the return just before
# is answered by the rules (the corrected case goes to the claimed lead), so 编办 has no dispute.
EXPECTED_ERROR = {"/ruling": "dispute_state"}


def commands(text: str) -> list[str]:
    """Every command of the README's sh blocks: continuation lines joined, quotes kept whole, comments dropped."""
    out: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        pending, joiner = "", "\n"
        for line in block.splitlines():
            pending = f"{pending}{joiner}{line}" if pending else line
            joiner = "\n"  # inside an open quote the newline belongs to the argument
            if pending.rstrip().endswith("\\"):
                pending, joiner = pending.rstrip()[:-1].rstrip(), " "  # a continuation line
                continue
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # a quote still open: the command goes on
                continue
            if words:
                out.append(_strip_comment(pending))  # as written: quoting and $VARIABLES intact
            pending = ""
    return out


def _shell_syntax(command: str) -> bool:
    return any(token in command for token in ("$(", "until ", "&&", ";", ">/dev/null", " &"))


def _strip_comment(command: str) -> str:
    position = _comment_start(command)
    return (command[:position] if position is not None else command).strip()


def _comment_start(command: str) -> int | None:
    quote: str | None = None
    for index, char in enumerate(command):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or command[index - 1].isspace()):
            return index
    return None


def key(command: str) -> str:
    return " ".join(shlex.split(command, comments=True)) if not _shell_syntax(command) else command


def subset(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` differs from the README's abridged `expected` (lists: same length, item by item)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: not an object"]
        return [p for k, v in expected.items() for p in (subset(v, actual[k], f"{path}.{k}") if k in actual else [f"{path}.{k}: missing"])]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {len(expected)} items in the README, {len(actual) if isinstance(actual, list) else 'none'} answered"]
        return [p for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for p in subset(e, a, f"{path}[{i}]")]
    if isinstance(expected, str) and expected.endswith("…"):
        return [] if isinstance(actual, str) and actual.startswith(expected[:-1]) else [f"{path}: {actual!r} does not start with {expected[:-1]!r}"]
    return [] if expected == actual else [f"{path}: README {expected!r}, answered {actual!r}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reader's checkout: policy/ committed in git, var/ for the log and the tokens file."""
    root = committed_policy(tmp_path_factory.mktemp("reader"), SEED_POLICY, SEED_POLICY.parent / "jurisdictions")
    (root / "var").mkdir()
    return root


def shell(command: str, cwd: Path, env: dict[str, str], port: int) -> subprocess.CompletedProcess[str]:
    command = command.replace(".venv/bin/", f"{BIN}/").replace("localhost:8000", f"127.0.0.1:{port}")
    return subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """`tiaokuai serve` (supervised, as `make run`) with the token the README's `tiaokuai token` line made."""
    port = _free_port()
    env = {**os.environ, "TIAOKUAI_DATABASE_URL": f"sqlite:///{workdir / 'var' / 'tiaokuai.sqlite3'}", "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    token_line = next(c for c in commands(README.read_text(encoding="utf-8")) if c.startswith("TOKEN=$("))
    made = shell(token_line.removeprefix("TOKEN=$(").removesuffix(")"), workdir, env, port)
    assert made.returncode == 0, made.stderr
    env = {**env, "TOKEN": made.stdout.strip(), "TIAOKUAI_TOKENS_FILE": str(workdir / "var" / "tokens.yaml")}
    log = (workdir / "var" / "serve.log").open("wb")
    proc = subprocess.Popen([f"{BIN}/tiaokuai", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--jurisdictions", "jurisdictions"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (workdir / "var" / "serve.log").read_text()
            time.sleep(0.3)
        yield port, env
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_every_readme_command_runs_as_written(workdir: Path, server: tuple[int, dict[str, str]]) -> None:
    port, env = server
    text = README.read_text(encoding="utf-8")
    tour_answer = json.loads(re.search(r"The answer \(abridged.*?```json\n(.*?)```", text, re.S).group(1))  # type: ignore[union-attr]
    ran, decision_id, case_id = [], None, None
    for command in commands(text):
        name = key(command)
        if name in NOT_RUN or command.startswith("TOKEN=$(") or (name in ran and name.startswith(".venv/bin/tiaokuai check")):
            continue  # not runnable here (see NOT_RUN), already run by the fixture, or the same proof again
        if decision_id is not None:
            command = command.replace(EXAMPLE_ID, decision_id)
        if case_id is not None:
            command = command.replace(EXAMPLE_CASE, case_id)
        if name.startswith(".venv/bin/tiaokuai review "):
            body = re.search(r"admission-reviews -H 'content-type: application/json' -d '(\{.*?\})'", text, re.S).group(1)  # type: ignore[union-attr]
            (workdir / "task.yaml").write_text(json.dumps(json.loads(body), ensure_ascii=False), encoding="utf-8")
        done = shell(command, workdir, env, port)
        status = EXIT.get(name, 0)
        assert done.returncode == status, f"`{command}` exited {done.returncode}: {done.stdout[-1500:]}{done.stderr[-1500:]}"
        if name.startswith("curl ") and "/healthz >/dev/null" not in command:
            answer = json.loads(done.stdout)
            expected_error = next((code for part, code in EXPECTED_ERROR.items() if part in command), None)
            if expected_error is not None:
                assert answer.get("error", {}).get("code") == expected_error, f"`{command}` answered {answer}"
                ran.append(name)
                continue
            assert "error" not in answer, f"`{command}` answered {answer}"
            if re.search(r"localhost:8000/v1/cases -H", command):
                case_id = answer["case_id"]
            if "/v1/cases/lead" in command and decision_id is None:  # the tour's case, the first one
                # a new id per decision; the digest changes with every edit of policy/ (the version is compared)
                expected = {k: v for k, v in tour_answer.items() if k != "decision_id"}
                expected["policy"] = {k: v for k, v in expected["policy"].items() if k != "digest"}
                assert subset(expected, answer, "answer") == [], "the tour's answer drifted from the README"
                assert re.fullmatch(r"[0-9a-f]{22}", answer["decision_id"])
                decision_id = answer["decision_id"]
        if name == "git diff policy/":
            assert done.stdout == "", "an unchanged sheet must reproduce the policy byte for byte"
        ran.append(name)
    assert decision_id is not None, "the tour's POST /v1/cases/lead did not run"
    assert len(ran) >= 25, ran
