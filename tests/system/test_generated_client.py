"""Integrators generate a client from /openapi.json: it installs under an ASCII name, its
functions carry our operation ids, and it decides the README's case against a real server.

The generator (openapi-python-client, pinned in the Makefile) lives in its own venv,
`.venv/openapi-client`: it needs an older typer than the CLI's. `make test` creates it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.http.app import create_app
from api.http.operation_ids import OPERATION_IDS
from api.settings import Settings
from tests.conftest import SEED_POLICY
from tests.support.live import serve

TOOL = Path(sys.prefix) / "openapi-client"

CLIENT_SCRIPT = """
import json, sys
from tiaokuai_client import Client
from tiaokuai_client.api.cases import decide_lead
from tiaokuai_client.api.list_ import list_matters
from tiaokuai_client.models import LeadRequestV1

client = Client(base_url=sys.argv[1], raise_on_unexpected_status=True)
case = LeadRequestV1.from_dict(json.loads(sys.argv[2]))
decision = decide_lead.sync(client=client, body=case)
found = list_matters.sync(client=client, q="采砂")
print(json.dumps({"type": type(decision).__name__, "outcome": decision.outcome.value, "lead": decision.lead.id,
                  "rule": decision.rule.id, "matters": [m["id"] for m in found.to_dict()["items"]]}, ensure_ascii=False))
"""
README_CASE = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}


def test_operation_ids_are_unique_camel_case_and_pinned() -> None:
    document = create_app(Settings(SEED_POLICY, "sqlite://")).openapi()
    assert document["info"]["title"].isascii()
    ids = {f"{method.upper()} {path}": op["operationId"] for path, ops in document["paths"].items() for method, op in ops.items()}
    assert len(set(ids.values())) == len(ids)
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", op) for op in ids.values()), ids
    assert {k: ids[k] for k in OPERATION_IDS} == OPERATION_IDS  # every pinned id is in the document, unchanged


def test_a_generated_client_installs_and_decides_the_readme_case(tmp_path: Path) -> None:
    generator = TOOL / "bin" / "openapi-python-client"
    if not generator.exists():
        pytest.fail(f"{generator} is missing: `make test` (or `make openapi-client`) installs it")
    app = create_app(Settings(SEED_POLICY, "sqlite://"))
    (tmp_path / "openapi.json").write_text(json.dumps(app.openapi(), ensure_ascii=False), encoding="utf-8")
    (tmp_path / "config.yaml").write_text("post_hooks: []\n", encoding="utf-8")
    generated = subprocess.run(
        [str(generator), "generate", "--path", "openapi.json", "--meta", "setup", "--config", "config.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout
    project = tmp_path / "tiaokuai-client"
    assert sorted(p.name for p in (project / "tiaokuai_client" / "api" / "cases").glob("*.py")) == [
        "__init__.py", "decide_lead.py", "decide_lead_batch.py",
    ]
    site = tmp_path / "site"
    installed = subprocess.run(
        [str(TOOL / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(project)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    with serve(app) as url:
        ran = subprocess.run(
            [str(TOOL / "bin" / "python"), "-c", CLIENT_SCRIPT, url, json.dumps(README_CASE)],
            capture_output=True, text=True, timeout=120, check=False, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "type": "DecisionV1", "outcome": "assigned", "lead": "qj-water", "rule": "YJS-SAND-RIVER", "matters": ["WAT-01"],
    }
