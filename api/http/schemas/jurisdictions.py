"""Wire models of the served jurisdictions and of a township's three lists."""

from __future__ import annotations

from pydantic import BaseModel, Field


class JurisdictionLayerV1(BaseModel):
    id: str
    title: str
    version: str
    digest: str


class JurisdictionV1(BaseModel):
    """One served jurisdiction: its policy and the layers it is built from."""

    id: str
    name: str
    title: str
    default: bool
    layers: list[JurisdictionLayerV1]
    version: str
    digest: str
    loaded_at: str
    counts: dict[str, int]


class JurisdictionsV1(BaseModel):
    items: list[JurisdictionV1]
    total: int
    default: str


class ListEntryV1(BaseModel):
    matter: dict[str, str]
    township_duties: list[str]
    department: dict[str, str] | None = Field(default=None, description="对应上级部门 (配合履职事项)")
    receiver: dict[str, str] | None = Field(default=None, description="承接部门 (上级部门收回事项)")
    department_duties: list[str] | None = None
    method: str | None = Field(default=None, description="工作方式 (上级部门收回事项)")
    clause: str | None = Field(default=None, description="the recall or delegation that put the matter on this list")
    basis: list[dict[str, str]]


class ThreeListsV1(BaseModel):
    """A township's three lists: 基本履职事项, 配合履职事项, 上级部门收回事项."""

    jurisdiction: str
    township: dict[str, str]
    as_of: str
    basic: list[ListEntryV1]
    cooperative: list[ListEntryV1]
    recalled: list[ListEntryV1]
    counts: dict[str, int]
