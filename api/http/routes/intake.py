"""POST /v1/matters:classify and GET /v1/attributes: the list and its vocabulary for callers
that hold a ticket's words, not our ids."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.http.deps import RuntimeDep, today
from api.http.schemas.common import ErrorV1
from api.http.schemas.intake import CLASSIFY_EXAMPLE, AttributesV1, ClassifyRequestV1, ClassifyResponseV1
from engine.intake import cue_table

router = APIRouter(prefix="/v1", tags=["list"])


@router.post(
    "/matters:classify",
    summary="Which matter of the list is this ticket",
    response_model=ClassifyResponseV1,
    responses={422: {"model": ErrorV1}, 400: {"model": ErrorV1}, 404: {"model": ErrorV1}, 413: {"model": ErrorV1}},
)
async def classify(
    runtime: RuntimeDep,
    body: Annotated[ClassifyRequestV1, Body(openapi_examples={"noise": {"summary": "楼上噪声", "value": CLASSIFY_EXAMPLE}})],
) -> dict[str, Any]:
    """The matters in force ranked for the text (BM25 over names, aliases, examples and duties;
    jieba words and character bigrams), each with its score and evidence: which words matched,
    in which field. `confidence` says what POST /v1/cases/lead would do with the first one."""
    found = runtime.intake.classify(body.text, body.as_of or today(), body.limit)
    return {
        "items": [c.to_dict() for c in found.candidates],
        "confidence": found.confidence.value,
        "reason": found.reason,
    }


@router.get("/attributes", response_model=AttributesV1, summary="The case vocabulary: attributes, values, cues", responses={404: {"model": ErrorV1}})
async def list_attributes(runtime: RuntimeDep) -> dict[str, Any]:
    """Every attribute a request may give, the values it allows (with labels) and the cue words
    intake reads each value from."""
    items = []
    for attribute in runtime.policy.attributes.values():
        cues = cue_table(attribute)
        values: list[dict[str, Any]]
        if attribute.values:
            values = [
                {"id": v.id, "name": v.name, "name_en": v.name_en, "cues": list(v.cues)} for v in attribute.values
            ]
        else:
            values = [{"id": value, "cues": list(words)} for value, words in cues.items()]
        items.append(
            {
                "id": attribute.id,
                "name": attribute.name,
                "name_en": attribute.name_en,
                "type": attribute.type.value,
                "values": values,
                "minimum": attribute.minimum,
                "maximum": attribute.maximum,
                "default": attribute.default,
            }
        )
    return {"items": items, "total": len(items)}
