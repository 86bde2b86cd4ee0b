"""Query results as bytes: CSV, TSV, VOTable (TABLEDATA, BINARY2), FITS, Parquet, Arrow, JSON.

Every writer takes the rows as a stream of Arrow record batches and writes them as they
come, so a result never has to fit in memory. FITS is the one exception to writing at
once: its header states the row count and string widths, so rows are spooled to a
temporary Arrow file first (bounded memory, sequential output afterwards).

Conventions, chosen once for every format:

- Column metadata (unit, UCD, description) comes from ``ColumnMeta``; without one, from
  Arrow field metadata keys ``unit``, ``ucd``, ``description`` (so results round-trip).
- CSV and TSV follow what PostgreSQL's ``COPY ... CSV HEADER`` gives Astro Data Lab
  users: a header row, ``\\n`` line ends, NULL as an empty field and an empty string as
  ``""``, booleans ``t``/``f``, ``NaN``/``Infinity``/``-Infinity``, arrays ``{1.5,NULL}``.
  Floats use the shortest text that reads back to the identical value, with ``.0`` on
  integral values so readers keep the column floating point. TSV quotes like CSV.
- VOTable is 1.4 (namespace v1.3); text is ``unicodeChar`` because VOTable 1.4 ``char``
  is ASCII only; timestamps and dates are DALI ``char``/``xtype="timestamp"``. NULL is an
  empty TD or the BINARY2 null flag. Unsupported types (structs, maps, intervals,
  arrays of text) are written as their text. TABLEDATA cannot tell an empty string from
  NULL; BINARY2 can.
- FITS strings are UTF-8 in ``A`` columns padded with NUL; integer NULLs use ``TNULL``
  (columns with NULLs are widened instead of offset with ``TZERO``, because readers
  disagree on whether TNULL applies before or after TZERO); float NULLs are NaN.
- JSON has no NaN or infinity: they become ``null``, like NULL. Its shape::

      {"columns": [{"name", "datatype", "arraysize", "xtype", "unit", "ucd",
                    "description"}, ...],
       "info": {...}, "data": [[row values...], ...], "rows": n, "overflow": false}

  ``datatype``/``arraysize``/``xtype`` are the VOTable ones. Integers are written exactly
  (readers in JavaScript lose precision past 2**53, Python's ``json`` does not). One row
  per line; a '"' inside a string is written ``\\u0022``.

``overflow`` is read only after the last batch, so callers may pass an object that becomes
truthy when the row cap cut the stream short.

Modules: ``registry`` (names, aliases, MIME types), ``columns`` (what each Arrow type
becomes), ``values`` and ``cells`` (byte and text rendering shared by the writers), then
one module a format family: ``text`` (CSV, TSV, JSON), ``votable``, ``fits``, ``arrow``
(Parquet, Arrow IPC).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial

import pyarrow as pa

from skydock.engine.catalog import ColumnMeta
from skydock.engine.formats.arrow import (
    PARQUET_ROW_GROUP,
    VOPARQUET_VERSION,
    stream_arrow,
    write_arrow,
    write_parquet,
)
from skydock.engine.formats.columns import describe_all
from skydock.engine.formats.fits import write_fits
from skydock.engine.formats.registry import FORMATS, Format, normalise_format
from skydock.engine.formats.text import write_delimited, write_json
from skydock.engine.formats.values import CHUNK_ROWS, Output, Sink, Writable
from skydock.engine.formats.votable import VOTABLE_NS, write_votable

__all__ = [
    "CHUNK_ROWS",
    "FORMATS",
    "PARQUET_ROW_GROUP",
    "VOPARQUET_VERSION",
    "VOTABLE_NS",
    "Format",
    "Writable",
    "normalise_format",
    "write_result",
]

_WRITERS: dict[str, Callable[[Output], int]] = {
    "csv": partial(write_delimited, ","),
    "tsv": partial(write_delimited, "\t"),
    "votable": partial(write_votable, binary2=False),
    "votable-binary2": partial(write_votable, binary2=True),
    "fits": write_fits,
    "parquet": write_parquet,
    "arrow": write_arrow,
    "json": write_json,
}


def stream_result_arrow(
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    columns: Sequence[ColumnMeta | None] | None = None,
    overflow: object = False,
    info: Mapping[str, str | bytes] | None = None,
    describe: Callable[[Exception], str] = str,
) -> Iterator[bytes]:
    """The result as an Arrow IPC stream, in pieces as rows arrive (see ``stream_arrow``).

    ``info`` becomes the schema's key-value metadata; a bytes value goes in as it is."""
    cols = describe_all(schema, columns)
    return stream_arrow(schema, cols, batches, overflow, dict(info or {}), describe)


def write_result(
    fmt: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    out: Writable,
    *,
    columns: Sequence[ColumnMeta | None] | None = None,
    overflow: object = False,
    info: Mapping[str, str] | None = None,
) -> int:
    """Write a result in ``fmt`` (any name ``normalise_format`` accepts); returns rows written.

    ``columns`` lines up with ``schema`` and supplies units, UCDs and descriptions.
    ``overflow`` says the row cap truncated the result; it is evaluated after the last
    batch. ``info`` becomes VOTable INFO elements (after QUERY_STATUS), Arrow/Parquet
    key-value metadata, FITS header cards and the JSON ``info`` object.
    """
    name = normalise_format(fmt)
    sink = Sink(out)
    cols = describe_all(schema, columns)
    rows = _WRITERS[name](Output(schema, cols, batches, sink, overflow, dict(info or {})))
    sink.flush()
    return rows
