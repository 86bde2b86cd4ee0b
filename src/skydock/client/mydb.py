"""MyDB methods of ``Client``: your personal database (``/api/mydb``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from skydock.client.errors import BadRequestError
from skydock.client.transport import Transport, table_name

# Local file suffixes the server imports, for the ``format`` field.
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".fits": "fits",
    ".fit": "fits",
    ".vot": "votable",
    ".xml": "votable",
    ".votable": "votable",
}


def _upload(data: Any) -> tuple[str, bytes, str]:
    """An in-memory table as ``(file name, bytes, format)``: Parquet, or VOTable for
    astropy so that units and descriptions travel with it."""
    module = type(data).__module__
    if isinstance(data, pa.Table):
        table = data
    elif module.startswith("pandas"):
        table = pa.Table.from_pandas(data, preserve_index=False)
    elif module.startswith("polars"):
        table = data.to_arrow()
    elif module.startswith("astropy"):
        buf = io.BytesIO()
        data.write(buf, format="votable")
        return "table.vot", buf.getvalue(), "votable"
    else:
        raise BadRequestError(
            f"cannot import a {type(data).__name__}: give a pandas or polars DataFrame, an "
            "astropy Table, a pyarrow Table, a local file path or a vos:// storage path"
        )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return "table.parquet", buf.getvalue(), "parquet"


class MyDBMethods(Transport):
    """Tables are named ``t`` or ``mydb://t``; in SQL they are ``mydb://t`` or ``mydb.t``."""

    def mydb_list(self) -> list[dict[str, Any]]:
        """``[{"name", "rows", "columns"}]``."""
        answer: list[dict[str, Any]] = self._json("GET", "/api/mydb")
        return answer

    def mydb_describe(self, table: str) -> dict[str, Any]:
        """``{"name", "rows", "columns": [{"name", "datatype"}], "indexes"}``."""
        answer: dict[str, Any] = self._json("GET", f"/api/mydb/{table_name(table)}")
        return answer

    def mydb_drop(self, table: str) -> None:
        self._send("DELETE", f"/api/mydb/{table_name(table)}")

    def mydb_import(
        self,
        table: str,
        data: Any,
        *,
        drop: bool = False,
        append: bool = False,
        format: str | None = None,
    ) -> dict[str, Any]:
        """Create (``drop``: replace; ``append``: add to) a table from ``data``.

        ``data`` is a pandas/polars DataFrame, an astropy or pyarrow Table, a local file
        (``Path``, or a ``str`` naming an existing file: csv, parquet, fits, votable), a
        file in your storage as ``'vos://path'``, or raw ``bytes`` with ``format=``.
        """
        url = f"/api/mydb/{table_name(table)}/import"
        fields = {"drop": _flag(drop), "append": _flag(append)}
        if isinstance(data, str) and data.startswith("vos://"):
            fields["path"] = data
            if format:
                fields["format"] = format
            answer: dict[str, Any] = self._json("POST", url, data=fields)
            return answer
        if isinstance(data, bytes):
            if not format:
                raise BadRequestError("raw bytes need format= (csv, parquet, fits or votable)")
            fields["format"] = format
            answer = self._json("POST", url, data=fields, files={"file": (f"table.{format}", data)})
            return answer
        if isinstance(data, str | Path):
            local = Path(data)
            if not local.is_file():
                raise BadRequestError(
                    f"{str(data)!r} is not a local file; for a file in your storage "
                    "write 'vos://path'"
                )
            fmt = format or SUFFIX_FORMATS.get(local.suffix.lower())
            if fmt:
                fields["format"] = fmt
            with local.open("rb") as f:
                answer = self._json("POST", url, data=fields, files={"file": (local.name, f)})
            return answer
        name, body, fmt = _upload(data)
        fields["format"] = format or fmt
        answer = self._json("POST", url, data=fields, files={"file": (name, body)})
        return answer

    def mydb_rename(self, table: str, to: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "POST", f"/api/mydb/{table_name(table)}/rename", data={"to": _bare(to)}
        )
        return answer

    def mydb_copy(self, table: str, to: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "POST", f"/api/mydb/{table_name(table)}/copy", data={"to": _bare(to)}
        )
        return answer

    def mydb_truncate(self, table: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json("POST", f"/api/mydb/{table_name(table)}/truncate")
        return answer

    def mydb_index(
        self,
        table: str,
        column: str | None = None,
        *,
        ra: str | None = None,
        dec: str | None = None,
    ) -> dict[str, Any]:
        """Index ``column``, or sort by position with ``ra=`` and ``dec=``."""
        if column:
            fields = {"column": column}
        elif ra and dec:
            fields = {"ra": ra, "dec": dec}
        else:
            raise BadRequestError("give a column to index, or ra= and dec= for a spatial sort")
        answer: dict[str, Any] = self._json(
            "POST", f"/api/mydb/{table_name(table)}/index", data=fields
        )
        return answer


def _bare(name: str) -> str:
    return name[len("mydb://") :] if name.startswith("mydb://") else name


def _flag(value: bool) -> str:
    return "true" if value else "false"
