"""Fixtures of the lead tests."""

from __future__ import annotations

import pytest

from engine import Runtime
from tests.conftest import FIXTURES, runtime_for


@pytest.fixture(scope="session")
def shanhai() -> Runtime:
    """The made-up county of tests/fixtures/shanhai/: each clause pins one rule of the semantics."""
    return runtime_for(FIXTURES / "shanhai")
