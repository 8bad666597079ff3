"""Replicas starting together on one key path all end up with the same, complete key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

START = """
import sys
from pathlib import Path
from cryptography.hazmat.primitives import serialization
from engine.log.checkpoint import load_or_create_key
signer = load_or_create_key(Path(sys.argv[1]))
print(signer.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex())
"""


def test_replicas_creating_the_key_at_once_share_one_complete_key(tmp_path: Path) -> None:
    key = tmp_path / "checkpoint.key"
    starters = [
        subprocess.Popen([sys.executable, "-c", START, str(key)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    results = [p.communicate(timeout=120) for p in starters]
    assert all(p.returncode == 0 for p in starters), [err for _, err in results]
    assert len({out.strip() for out, _ in results}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.key", "checkpoint.key.pub"]
