"""Native query API: ``/api/query`` and ``/api/tables``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response, StreamingResponse

from skydock.server.handlers.deps import Caller, Services
from skydock.server.services.auth import Principal
from skydock.server.services.query import QueryAnswer, QueryService

router = APIRouter(prefix="/api", tags=["query"])

Lang = Literal["sql", "adql"]


def _respond(answer: QueryAnswer) -> Response:
    headers = {
        "X-Skydock-Rows": str(answer.rows),
        "X-Skydock-Overflow": "true" if answer.overflow else "false",
        "Content-Disposition": f'inline; filename="result.{answer.extension}"',
    }
    # A small answer goes out in one piece: no chunked encoding, no thread hop per chunk.
    body = answer.small_body()
    if body is not None:
        return Response(body, media_type=answer.media_type, headers=headers)
    return StreamingResponse(answer.chunks(), media_type=answer.media_type, headers=headers)


def _answer(
    service: QueryService,
    caller: Principal,
    q: str,
    lang: Lang,
    fmt: str,
    maxrec: int | None,
    timeout: float | None,
    out: str | None,
    drop: bool,
) -> Any:
    if out:
        saved = service.save(
            q, lang, fmt, out, principal=caller, drop=drop, max_rows=maxrec, timeout_s=timeout
        )
        return {"out": saved.out, "rows": saved.rows, "overflow": saved.overflow}
    if service.streams(fmt):
        # Arrow streams while it is produced; rows and overflow come in its trailer.
        streamed = service.stream_arrow(
            q, lang, principal=caller, max_rows=maxrec, timeout_s=timeout
        )
        headers = {
            "X-Skydock-Streamed": "true",
            "Content-Disposition": f'inline; filename="result.{streamed.extension}"',
        }
        return StreamingResponse(streamed.chunks, media_type=streamed.media_type, headers=headers)
    answer = service.run(q, lang, fmt, principal=caller, max_rows=maxrec, timeout_s=timeout)
    return _respond(answer)


@router.get("/query", summary="Run a query (GET)", description="Run one SQL or ADQL query.")
def run_query(
    services: Services,
    caller: Caller,
    q: Annotated[str, Query(description="The SQL or ADQL text.", min_length=1)],
    lang: Annotated[Lang, Query(description="sql (PostgreSQL-flavoured) or adql.")] = "sql",
    format: Annotated[str, Query(description="Output format, e.g. csv, votable, parquet.")] = "csv",
    maxrec: Annotated[int | None, Query(ge=0, description="Return at most this many rows.")] = None,
    timeout: Annotated[float | None, Query(gt=0, description="Seconds before giving up.")] = None,
    out: Annotated[str | None, Query(description="Save to vos://path or mydb://table.")] = None,
    drop: Annotated[bool, Query(description="Replace an existing out target.")] = False,
) -> Any:
    return _answer(services.query_service(), caller, q, lang, format, maxrec, timeout, out, drop)


@router.post("/query", summary="Run a query (POST)", description="Same as GET, as a form.")
def run_query_form(
    services: Services,
    caller: Caller,
    q: Annotated[str, Form(min_length=1)],
    lang: Annotated[Lang, Form()] = "sql",
    format: Annotated[str, Form()] = "csv",
    maxrec: Annotated[int | None, Form(ge=0)] = None,
    timeout: Annotated[float | None, Form(gt=0)] = None,
    out: Annotated[str | None, Form()] = None,
    drop: Annotated[bool, Form()] = False,
) -> Any:
    return _answer(services.query_service(), caller, q, lang, format, maxrec, timeout, out, drop)


@router.get("/tables", summary="List catalog tables", description="Tables with their columns.")
def list_tables(services: Services) -> list[dict[str, Any]]:
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
        for t in services.query_service().tables()
    ]
