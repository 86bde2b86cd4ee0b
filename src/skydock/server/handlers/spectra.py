"""Spectra API: ``POST /api/spectra`` (many, by ids or query), ``GET /api/spectra/{id}``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, StrictInt, StrictStr, model_validator

from skydock.errors import InvalidRequestError
from skydock.server.handlers.deps import Caller, Services
from skydock.server.services.spectra import ARROW_MEDIA_TYPE, arrow_stream, json_row

router = APIRouter(prefix="/api", tags=["spectra"])


class SpectraRequest(BaseModel):
    """Exactly one of ``ids``, ``sql`` or ``adql``."""

    model_config = {"extra": "forbid"}

    ids: list[StrictInt | StrictStr] | None = Field(
        default=None,
        description="targetids as integers or decimal strings (strings survive JavaScript).",
    )
    sql: str | None = Field(default=None, description="A query selecting a targetid column.")
    adql: str | None = Field(default=None, description="The same, in ADQL.")
    collection: str | None = Field(
        default=None, description="Catalog table of the spectra (default demo.specobj)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> SpectraRequest:
        given = [k for k in ("ids", "sql", "adql") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of ids, sql or adql"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


def _arrow(table: pa.Table) -> StreamingResponse:
    headers = {
        "X-Skydock-Rows": str(table.num_rows),
        "Content-Disposition": 'inline; filename="spectra.arrow"',
    }
    return StreamingResponse(arrow_stream(table), media_type=ARROW_MEDIA_TYPE, headers=headers)


@router.post(
    "/spectra",
    summary="Many spectra at once",
    description="Spectra by id list or by a query selecting targetid, as an Arrow IPC stream: "
    "catalog columns, then flux, ivar, mask and model as fixed-size lists; the wavelength "
    "grid (float64 bytes) and units are in the schema metadata.",
)
def get_spectra(services: Services, caller: Caller, request: SpectraRequest) -> Response:
    service = services.spectra_service()
    if request.ids is not None:
        table = service.by_ids(request.ids, collection=request.collection, principal=caller)
    else:
        lang: Literal["sql", "adql"] = "sql" if request.sql is not None else "adql"
        text = request.sql if request.sql is not None else request.adql
        if not text or not text.strip():
            raise InvalidRequestError(f"{lang} is empty; give a query selecting targetid")
        table = service.by_query(text, lang, collection=request.collection, principal=caller)
    return _arrow(table)


@router.get(
    "/spectra",
    summary="Spectra collections",
    description="The catalog tables that have spectra.",
)
def list_spectra_collections(services: Services) -> dict[str, Any]:
    service = services.spectra_service()
    return {"collections": service.collections(), "default": service.limits.default_collection}


@router.get(
    "/spectra/{targetid}",
    summary="One spectrum",
    description="One spectrum as Arrow (default) or JSON (ids as strings, arrays as lists).",
)
def get_spectrum(
    services: Services,
    caller: Caller,
    targetid: Annotated[str, Path(description="The spectrum's targetid.")],
    collection: Annotated[str | None, Query(description="Catalog table of the spectra.")] = None,
    format: Annotated[Literal["arrow", "json"], Query(description="arrow or json.")] = "arrow",
) -> Response:
    table = services.spectra_service().by_ids([targetid], collection=collection, principal=caller)
    if format == "arrow":
        return _arrow(table)
    return JSONResponse(json_row(table))
