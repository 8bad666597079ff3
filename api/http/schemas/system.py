"""Wire models of the service itself: the active policy, a reload."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
    layers: list[str] | None = Field(default=None, description="layer ids from the template to this policy, when it extends one")


class ClauseChangeV1(BaseModel):
    section: str
    id: str
    change: Literal["added", "removed", "changed"]
    fields: list[str] | None = None
    where: str | None = None


class ClauseChangesV1(BaseModel):
    added: list[ClauseChangeV1]
    removed: list[ClauseChangeV1]
    changed: list[ClauseChangeV1]


class ReloadV1(BaseModel):
    status: Literal["reloaded", "unchanged"]
    policy: PolicyRefV1
    previous: PolicyRefV1
    took_ms: float
    changes: ClauseChangesV1 = Field(description="the clauses the new policy adds, removes and changes")
    warnings: list[str] = Field(
        default_factory=list, description="e.g. `version_unchanged`: the content changed but `policy.version` did not"
    )
