"""Native query API: ``/api/query`` and ``/api/tables``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import StreamingResponse

from skydock.server.services.query import QueryAnswer, QueryService

router = APIRouter(prefix="/api", tags=["query"])


def query_service(request: Request) -> QueryService:
    service: QueryService = request.app.state.factory.query_service()
    return service


Service = Annotated[QueryService, Depends(query_service)]
Lang = Literal["sql", "adql"]


def _respond(answer: QueryAnswer) -> StreamingResponse:
    headers = {
        "X-Skydock-Rows": str(answer.rows),
        "X-Skydock-Overflow": "true" if answer.overflow else "false",
        "Content-Disposition": f'inline; filename="result.{answer.extension}"',
    }
    return StreamingResponse(answer.chunks(), media_type=answer.media_type, headers=headers)


@router.get("/query", summary="Run a query (GET)", description="Run one SQL or ADQL query.")
def run_query(
    service: Service,
    q: Annotated[str, Query(description="The SQL or ADQL text.", min_length=1)],
    lang: Annotated[Lang, Query(description="sql (PostgreSQL-flavoured) or adql.")] = "sql",
    format: Annotated[str, Query(description="Output format, e.g. csv, votable, parquet.")] = "csv",
    maxrec: Annotated[int | None, Query(ge=0, description="Return at most this many rows.")] = None,
) -> StreamingResponse:
    return _respond(service.run(q, lang, format, max_rows=maxrec))


@router.post("/query", summary="Run a query (POST)", description="Same as GET, as a form.")
def run_query_form(
    service: Service,
    q: Annotated[str, Form(min_length=1)],
    lang: Annotated[Lang, Form()] = "sql",
    format: Annotated[str, Form()] = "csv",
    maxrec: Annotated[int | None, Form(ge=0)] = None,
) -> StreamingResponse:
    return _respond(service.run(q, lang, format, max_rows=maxrec))


@router.get("/tables", summary="List catalog tables", description="Tables with their columns.")
def list_tables(service: Service) -> list[dict[str, Any]]:
    return [
        {
            "name": t.qualified,
            "description": t.description,
            "rows": t.nrows,
            "ra": t.ra,
            "dec": t.dec,
            "columns": [
                {
                    "name": c.name,
                    "datatype": c.datatype,
                    "unit": c.unit,
                    "ucd": c.ucd,
                    "description": c.description,
                }
                for c in t.columns
            ],
        }
        for t in service.tables()
    ]
