"""Retired rulesets give their memory back: RSS stays flat over many reloads with decisions
between them (durable_rules' delete_ruleset alone leaked the fixed session's state,
~2.7 MB per reload of the seed policy). `make soak` measures 1,000 reloads."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import re
from datetime import date
from pathlib import Path
from engine.lead.decision import Case
from engine.policy.load import policy_from_files, read_policy_dir
from engine.runtime import Runtime

def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024

files = read_policy_dir(Path("policy"))
runtime = Runtime.from_files(files, cache_size=0)
township = runtime.policy.townships()[0].id
samples = []
for i in range(1, 71):
    runtime.swap(policy_from_files({**files, "policy.yaml": files["policy.yaml"] + f"\\n# {i}\\n"}), "test")
    for m in runtime.policy.matters.values():
        runtime.decide(Case(township=township, matter=m.id, as_of=m.valid_from or date(2026, 11, 1)))
    if i in (20, 70):  # after the warm-up: per-policy caches (intake) are full by then
        samples.append(rss())
print(samples[1] - samples[0])
"""


def test_fifty_reloads_with_decisions_do_not_grow_memory() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    growth = float(done.stdout.strip().splitlines()[-1])
    assert growth < 10, f"RSS grew {growth:.1f} MB over 50 reloads"
