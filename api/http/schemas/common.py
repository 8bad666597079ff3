"""Wire types every resource shares: ids, dates, organizations, basis, the policy reference, errors."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, Strict, StrictStr
from pydantic_core import PydanticCustomError

ShortId = Annotated[StrictStr, Field(min_length=1, max_length=64)]


def _iso_date_only(value: object) -> object:
    # NOTE: lax pydantic also reads numbers as Unix timestamps (`0` → 1970-01-01); a date
    # on the wire is only ever the string YYYY-MM-DD, as the OpenAPI schema says.
    if isinstance(value, date) or (isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"):
        return value
    raise PydanticCustomError("date_parsing", "input should be a date as YYYY-MM-DD")


IsoDate = Annotated[date, Strict(False), BeforeValidator(_iso_date_only)]


class OrgV1(BaseModel):
    id: str
    name: str
    name_en: str | None = None
    kind: str | None = None
    succeeded: list[str] | None = None


class BasisV1(BaseModel):
    document: str
    article: str | None = None
    issuer: str | None = None
    url: str | None = None


class PolicyRefV1(BaseModel):
    id: str
    version: str
    digest: str


class ItemsV1(BaseModel):
    items: list[dict[str, Any]]
    total: int


class ErrorBodyV1(BaseModel):
    code: str
    message: str
    field: str | None = None
    hint: str | None = None


class ErrorV1(BaseModel):
    error: ErrorBodyV1


# NOTE: the wire limit on a ticket text is above intake's (2,000 characters) so that a long
# ticket gets intake's own 422 (text_too_long, with a hint); beyond 10,000 it is a schema error,
# and a body over the size limit a 413.
TicketText = Annotated[StrictStr, Field(max_length=10_000)]
PlaceText = Annotated[StrictStr, Field(max_length=200)]
