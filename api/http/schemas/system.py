"""Wire models of the service itself: the active policy, a reload."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from api.http.schemas.common import PolicyRefV1


class PolicyInfoV1(BaseModel):
    id: str
    version: str
    digest: str
    title: str
    jurisdiction: str
    illustrative: bool
    loaded_at: str
    source: str
    counts: dict[str, int]


class ReloadV1(BaseModel):
    status: Literal["reloaded", "unchanged"]
    policy: PolicyRefV1
    previous: PolicyRefV1
    took_ms: float
