"""Answering a query while the caller waits: translate, run, write in the asked format."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

from skydock.engine.catalog import TableMeta
from skydock.engine.executor import DuckDBExecutor
from skydock.engine.formats import FORMATS, normalise_format

SPOOL_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


@dataclass
class QueryAnswer:
    """A finished result, spooled (memory first, disk past 16 MB), ready to stream."""

    media_type: str
    extension: str
    rows: int
    overflow: bool
    body: IO[bytes]

    def chunks(self) -> Iterator[bytes]:
        try:
            self.body.seek(0)
            while chunk := self.body.read(CHUNK_BYTES):
                yield chunk
        finally:
            self.body.close()


class QueryService:
    """One computation behind every front door (native API now; Data Lab and TAP later)."""

    def __init__(self, executor: DuckDBExecutor) -> None:
        self._executor = executor

    def tables(self) -> list[TableMeta]:
        return self._executor.tables()

    def run(
        self,
        text: str,
        language: Literal["sql", "adql"] = "sql",
        fmt: str = "csv",
        *,
        max_rows: int | None = None,
    ) -> QueryAnswer:
        name = normalise_format(fmt)
        cap = self._executor.limits.max_rows
        if max_rows is not None:
            cap = min(max_rows, cap) if cap is not None else max_rows
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - handed to the response
        try:
            with self._executor.execute(text, language, max_rows=cap) as result:
                rows = result.write(name, body)
        except BaseException:
            body.close()
            raise
        spec = FORMATS[name]
        return QueryAnswer(spec.media_type, spec.extension, rows, result.overflow, body)
