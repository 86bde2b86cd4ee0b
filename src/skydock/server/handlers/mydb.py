"""Native MyDB API: ``/api/mydb`` (the caller's own tables only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile

from skydock.errors import InvalidRequestError
from skydock.server.handlers.deps import Caller, Services
from skydock.server.storage.mydb import TableInfo

router = APIRouter(prefix="/api/mydb", tags=["mydb"])


def _table(info: TableInfo, *, indexes: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": info.name,
        "rows": info.rows,
        "columns": [{"name": n, "datatype": t} for n, t in info.columns],
    }
    if indexes:
        body["indexes"] = info.indexes
    return body


@router.get("", summary="List your MyDB tables", description="Each table with rows and columns.")
def list_mydb_tables(services: Services, caller: Caller) -> list[dict[str, Any]]:
    return [_table(t, indexes=False) for t in services.mydb_service().tables(caller)]


@router.get("/{table}", summary="Describe a MyDB table", description="Rows, columns, indexes.")
def describe_mydb_table(services: Services, caller: Caller, table: str) -> dict[str, Any]:
    return _table(services.mydb_service().describe(caller, table))


@router.delete("/{table}", status_code=204, summary="Drop a MyDB table")
def drop_mydb_table(services: Services, caller: Caller, table: str) -> Response:
    services.mydb_service().drop(caller, table)
    return Response(status_code=204)


@router.post(
    "/{table}/import",
    status_code=201,
    summary="Import a file into a MyDB table",
    description="CSV, TSV, Parquet, FITS or VOTable, by file extension or `format`. "
    "`drop` replaces an existing table, `append` adds rows to it; a bad file changes nothing.",
)
def import_mydb_table(
    services: Services,
    caller: Caller,
    table: str,
    file: Annotated[UploadFile | None, File(description="The file to import.")] = None,
    path: Annotated[str | None, Form(description="A file in your storage.")] = None,
    format: Annotated[str | None, Form(description="csv, tsv, parquet, fits, votable.")] = None,
    drop: Annotated[bool, Form()] = False,
    append: Annotated[bool, Form()] = False,
) -> dict[str, Any]:
    service = services.mydb_service()
    if file is None:
        if not path:
            raise InvalidRequestError(
                "send the file to import as multipart field 'file', or name a file in your "
                "storage as form field 'path'"
            )
        with services.storage_service().open_read(caller, path) as fh:
            info = service.import_file(
                caller, table, fh, format, filename=path, drop=drop, append=append
            )
        return _table(info)
    info = service.import_file(
        caller, table, file.file, format, filename=file.filename, drop=drop, append=append
    )
    return _table(info)


@router.post("/{table}/rename", summary="Rename a MyDB table")
def rename_mydb_table(
    services: Services, caller: Caller, table: str, to: Annotated[str, Form(min_length=1)]
) -> dict[str, Any]:
    return _table(services.mydb_service().rename(caller, table, to))


@router.post("/{table}/copy", status_code=201, summary="Copy a MyDB table")
def copy_mydb_table(
    services: Services, caller: Caller, table: str, to: Annotated[str, Form(min_length=1)]
) -> dict[str, Any]:
    return _table(services.mydb_service().copy(caller, table, to))


@router.post("/{table}/truncate", summary="Remove every row of a MyDB table")
def truncate_mydb_table(services: Services, caller: Caller, table: str) -> dict[str, Any]:
    return _table(services.mydb_service().truncate(caller, table))


@router.post(
    "/{table}/index",
    summary="Index a MyDB table",
    description="`column` for an index on one column; `ra` and `dec` (or column='ra,dec') "
    "to sort the table by HEALPix cell so cone searches and crossmatches prune.",
)
def index_mydb_table(
    services: Services,
    caller: Caller,
    table: str,
    column: Annotated[str | None, Form()] = None,
    ra: Annotated[str | None, Form()] = None,
    dec: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    if ra or dec:
        if not (ra and dec) or column:
            raise InvalidRequestError("give both 'ra' and 'dec' (and no 'column'), or 'column'")
        columns: str | list[str] = [ra, dec]
    elif column:
        columns = column
    else:
        raise InvalidRequestError("name the column to index ('column'), or 'ra' and 'dec'")
    return _table(services.mydb_service().index(caller, table, columns))
