"""Data Lab ``/query``: queries (sync and async), job status, MyDB and metadata as plain text."""

from __future__ import annotations

import json
from typing import Literal

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from skydock.errors import InvalidRequestError, NotFoundError, SkydockError
from skydock.server.handlers.datalab.common import flag, hello_routes, required, text
from skydock.server.handlers.deps import Caller, Services
from skydock.server.services.query import QueryAnswer

router = APIRouter(prefix="/query", include_in_schema=False)
hello_routes(router, "query")

# Seconds taken off the client's own read timeout, so our clean error arrives first.
TIMEOUT_MARGIN_S = 2.0
SERVER_SIDE_OUT = ("vos://", "mydb://")


def _timeout(request: Request) -> float | None:
    raw = request.headers.get("X-DL-TimeoutRequest")
    try:
        seconds = float(raw) if raw else 0.0
    except ValueError:
        return None
    if seconds <= 0:  # 0: "stream, no limit" — the server's own limit applies
        return None
    return max(1.0, seconds - TIMEOUT_MARGIN_S)


def _language(sql: str | None, adql: str | None) -> tuple[str, Literal["sql", "adql"]]:
    if adql:
        return adql, "adql"
    if sql:
        return sql, "sql"
    raise InvalidRequestError("No query specified: send sql= or adql=")


def _out_target(out: str | None) -> str | None:
    """Only vos:// and mydb:// are the server's business; a local path is the client's."""
    if out and out != "None" and out.startswith(SERVER_SIDE_OUT):
        return out
    return None


def _stream(answer: QueryAnswer) -> Response:
    # No Content-Encoding ever: the client reads raw bytes.
    body = answer.small_body()
    if body is not None:
        return Response(body, media_type=answer.media_type)
    return StreamingResponse(answer.chunks(), media_type=answer.media_type)


@router.get("/query")
def query(
    request: Request,
    caller: Caller,
    services: Services,
    sql: str | None = None,
    adql: str | None = None,
    ofmt: str | None = "csv",
    out: str | None = None,
    drop: str | None = None,
    profile: str | None = None,
) -> Response:
    text_, language = _language(sql, adql)
    fmt = ofmt or "csv"
    target = _out_target(out)
    async_ = flag(request.query_params.get("async"))
    if async_:
        job = services.job_service().submit(
            caller, text_, language, fmt, out=target, drop=flag(drop), run=True
        )
        return text(job.id)
    timeout = _timeout(request)
    service = services.query_service()
    if target:
        service.save(
            text_, language, fmt, target, principal=caller, drop=flag(drop), timeout_s=timeout
        )
        return text("OK")
    return _stream(service.run(text_, language, fmt, principal=caller, timeout_s=timeout))


# Data Lab knows no PENDING (its jobs start at once) and no ARCHIVED (results that
# expired are an error to its client).
_DL_PHASE = {"PENDING": "QUEUED", "ARCHIVED": "ERROR"}


@router.get("/status")
def status(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    """The bare phase word: the client compares it exactly."""
    try:
        job = services.job_service().get(jobid or "", caller)
    except SkydockError as exc:
        return text(f"Error: {exc.message}", exc.status)
    return text(_DL_PHASE.get(job.phase, job.phase))


@router.get("/results")
def results(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    """The result, again and again: the client's ``delete=True`` is ignored on purpose."""
    found = services.job_service().result(jobid or "", caller)
    return FileResponse(found.path, media_type=found.media_type)


@router.get("/error")
def error(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    try:
        return text(services.job_service().error(jobid or "", caller))
    except SkydockError as exc:
        return text(f"Error: {exc.message}", exc.status)


@router.get("/abort")
def abort(caller: Caller, services: Services, jobid: str | None = None) -> Response:
    try:
        services.job_service().abort(jobid or "", caller)
    except SkydockError as exc:
        return text(f"Error: {exc.message}", exc.status)
    return text("OK")


@router.get("/profiles")
def profiles(request: Request, profile: str | None = None, format: str | None = None) -> Response:
    if profile:
        base = str(request.base_url).rstrip("/")
        return text(
            json.dumps(
                {
                    "accessURL": f"{base}/query",
                    "description": "Skydock catalogs (DuckDB over HATS)",
                    "database": "skydock",
                    "vosRoot": "vos://",
                    "type": "public",
                }
            )
        )
    return text("default\n")


@router.get("/services")
def services_list(services: Services) -> Response:
    return text("")


@router.get("/schema")
def schema(services: Services, value: str | None = None, format: str | None = None) -> Response:
    """Schemas, then a schema's tables, a table's columns, or one column's description."""
    tables = services.query_service().tables()
    parts = [p for p in (value or "").strip().split(".") if p]
    if not parts:
        names = sorted({t.schema for t in tables})
        return text("".join(f"{n}\n" for n in names))
    if len(parts) == 1:
        names = sorted(t.name for t in tables if t.schema == parts[0])
        if not names:
            return text(f'Error: schema "{parts[0]}" not known', 404)
        return text("".join(f"{n}\n" for n in names))
    table = next((t for t in tables if (t.schema, t.name) == (parts[0], parts[1])), None)
    if table is None:
        return text(f'Error: table "{parts[0]}.{parts[1]}" not known', 404)
    if len(parts) == 2:
        lines = [
            f"{c.name},{c.datatype},{c.unit or ''},{c.description or ''}" for c in table.columns
        ]
        return text("column_name,datatype,unit,description\n" + "".join(f"{ln}\n" for ln in lines))
    col = next((c for c in table.columns if c.name == parts[2]), None)
    if col is None:
        return text(f'Error: column "{parts[2]}" not known in {parts[0]}.{parts[1]}', 404)
    return text(
        f"column_name: {col.name}\ntable_name: {table.qualified}\ndatatype: {col.datatype}\n"
        f"unit: {col.unit or ''}\nucd: {col.ucd or ''}\ndescription: {col.description or ''}\n"
    )


# --- MyDB ------------------------------------------------------------------------------
# The client reads these bodies as text and rarely looks at the status; an unknown table
# is the plain sentence it knows from NOIRLab, with 200.


def _not_known(table: str) -> Response:
    return text(f'relation "{table}" not known')


def _mydb_name(raw: str | None, what: str = "table") -> str:
    name = required(raw, what)
    return name.removeprefix("mydb://")


@router.get("/list")
def mydb_list(caller: Caller, services: Services, table: str | None = None) -> Response:
    mydb = services.mydb_service()
    if not table:
        return text("".join(f"{name}\n" for name in mydb.list_tables(caller)))
    name = _mydb_name(table)
    try:
        cols = mydb.columns(caller, name)
    except NotFoundError:
        return _not_known(name)
    return text("".join(f"{col},{typ}\n" for col, typ in cols))


@router.get("/delete")
def mydb_delete(caller: Caller, services: Services, table: str | None = None) -> Response:
    name = _mydb_name(table)
    try:
        services.mydb_service().drop(caller, name)
    except NotFoundError:
        return _not_known(name)
    return text("OK")


@router.get("/truncate")
def mydb_truncate(caller: Caller, services: Services, table: str | None = None) -> Response:
    services.mydb_service().truncate(caller, _mydb_name(table))
    return text("OK")


@router.get("/index")
def mydb_index(
    caller: Caller,
    services: Services,
    tbl: str | None = None,
    col: str | None = None,
    q3c: str | None = None,
) -> Response:
    mydb = services.mydb_service()
    name = _mydb_name(tbl, "tbl")
    if q3c and q3c != "None":
        mydb.index(caller, name, q3c)
    if col and col != "None":
        mydb.index(caller, name, col)
    return text("OK")


@router.get("/rename")
def mydb_rename(
    caller: Caller, services: Services, source: str | None = None, target: str | None = None
) -> Response:
    services.mydb_service().rename(
        caller, _mydb_name(source, "source"), _mydb_name(target, "target")
    )
    return text("OK")


@router.get("/copy")
def mydb_copy(
    caller: Caller, services: Services, source: str | None = None, target: str | None = None
) -> Response:
    services.mydb_service().copy(caller, _mydb_name(source, "source"), _mydb_name(target, "target"))
    return text("OK")


@router.get("/flush")
def mydb_flush(caller: Caller, services: Services) -> Response:
    """NOIRLab empties a session cache here; Skydock writes through, so nothing to do."""
    services.mydb_service().list_tables(caller)  # still refuses anonymous callers
    return text("OK")


_PG_ARROW = {
    "smallint": pa.int16(),
    "int2": pa.int16(),
    "integer": pa.int32(),
    "int": pa.int32(),
    "int4": pa.int32(),
    "bigint": pa.int64(),
    "int8": pa.int64(),
    "real": pa.float32(),
    "float4": pa.float32(),
    "double precision": pa.float64(),
    "double": pa.float64(),
    "float8": pa.float64(),
    "float": pa.float64(),
    "numeric": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "character varying": pa.string(),
    "char": pa.string(),
    "boolean": pa.bool_(),
    "bool": pa.bool_(),
}


def _schema(text_: str) -> pa.Schema:
    """``col,type`` lines (PostgreSQL type names) as an Arrow schema."""
    fields = []
    for n, line in enumerate(text_.strip().splitlines(), 1):
        if not line.strip():
            continue
        name, _, typ = line.partition(",")
        key = typ.strip().lower().split("(")[0].strip()
        if not name.strip() or key not in _PG_ARROW:
            raise InvalidRequestError(
                f"schema line {n} ({line.strip()!r}) is not 'column,type' with a type among "
                f"{', '.join(sorted(_PG_ARROW))}"
            )
        fields.append(pa.field(name.strip().lower(), _PG_ARROW[key]))
    if not fields:
        raise InvalidRequestError("the schema names no columns; send 'column,type' lines")
    return pa.schema(fields)


@router.post("/create")
def mydb_create(
    caller: Caller,
    services: Services,
    table: str | None = None,
    schema: str | None = None,
    drop: str | None = None,
) -> Response:
    columns = _schema(required(schema, "schema"))
    services.mydb_service().import_arrow(
        caller, _mydb_name(table), columns.empty_table(), drop=flag(drop, default=True)
    )
    return text("OK")


_EXTENSIONS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
    ".vot": "votable",
    ".xml": "votable",
    ".votable": "votable",
    ".parquet": "parquet",
    ".tsv": "tsv",
    ".csv": "csv",
}


def _import_format(filename: str, delimiter: str | None, csv_header: str | None) -> str:
    """The client sends temporary files without an extension: those are CSV text."""
    lower = filename.lower()
    for ext, kind in _EXTENSIONS.items():
        if lower.endswith(ext):
            if kind in ("csv", "tsv"):
                break
            return kind
    if not flag(csv_header, default=True):
        raise InvalidRequestError(
            "CSV without a header row cannot be imported: the header names the columns"
        )
    if delimiter in (None, "", ","):
        return "csv"
    if delimiter in ("\t", "\\t", "tab"):
        return "tsv"
    raise InvalidRequestError(f"delimiter {delimiter!r} is not supported; use ',' or a tab")


def _import(
    caller: Caller,
    services: Services,
    table: str | None,
    filename: str | None,
    delimiter: str | None,
    csv_header: str | None,
    *,
    append: bool,
) -> Response:
    name = _mydb_name(table)
    source = required(filename, "filename")
    if source.startswith(("http://", "https://")):
        raise InvalidRequestError(
            "this server does not fetch URLs; upload the file, or put it in your storage "
            "and import vos://path"
        )
    kind = _import_format(source, delimiter, csv_header)
    mydb, storage = services.mydb_service(), services.storage_service()
    if "://" in source:
        with storage.open_read(caller, source) as fh:
            mydb.import_file(
                caller, name, fh, kind, filename=source, drop=not append, append=append
            )
        return text("OK")
    staged = storage.staging_path(caller, source)
    if not staged.is_file():
        raise NotFoundError(f"no uploaded file named {source!r}; upload it first")
    try:
        mydb.import_file(
            caller, name, staged, kind, filename=source, drop=not append, append=append
        )
    finally:
        staged.unlink(missing_ok=True)
    return text("OK")


@router.post("/import")
def mydb_import(
    caller: Caller,
    services: Services,
    table: str | None = None,
    filename: str | None = None,
    delimiter: str | None = None,
    append: str | None = None,
    csv_header: str | None = None,
) -> Response:
    """``mydb_import``: a file staged through ``/storage/xfer``, or a ``vos://`` file."""
    return _import(caller, services, table, filename, delimiter, csv_header, append=flag(append))


@router.post("/ingest")
def mydb_ingest(
    caller: Caller,
    services: Services,
    table: str | None = None,
    filename: str | None = None,
    csv_header: str | None = None,
) -> Response:
    """``mydb_insert``: rows added to a table, which is created when it is missing."""
    name = _mydb_name(table)
    exists = name in services.mydb_service().list_tables(caller)
    return _import(caller, services, name, filename, ",", csv_header, append=exists)
