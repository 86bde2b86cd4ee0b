"""Readers for CSV/TSV, Parquet and VOTable (FITS has its own module, ``fits``).

Every format becomes a schema, column metadata and a stream of record batches sized to
keep memory bounded.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from skydock.errors import CatalogError

_BATCH_BYTES = 64 * 1024 * 1024
_MIN_BATCH, _MAX_BATCH = 8_192, 1_000_000


@dataclass
class Input:
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""
    close: Callable[[], None] = lambda: None


def batch_rows(row_bytes: float) -> int:
    return int(min(_MAX_BATCH, max(_MIN_BATCH, _BATCH_BYTES // max(row_bytes, 1))))


def open_delimited(path: Path, delimiter: str) -> Input:
    """CSV and TSV through DuckDB's reader: robust type sniffing, streamed in batches."""
    con = duckdb.connect(config={"memory_limit": "512MB"})
    try:
        con.execute("SET enable_progress_bar = false")
        rel = con.sql(
            "SELECT * FROM read_csv($1, delim = $2, header = true)",
            params=[str(path), delimiter],
        )
        reader = rel.to_arrow_reader(batch_rows(16 * len(rel.columns)))
    except Exception:
        con.close()
        raise

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (duckdb.Error, OSError, pa.ArrowException) as exc:
            # DuckDB guesses column types from the first rows; a later row can disagree.
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            summary = "; ".join(lines[:3])
            raise CatalogError(
                f"could not read {str(path)!r}: {summary} (column types are guessed from "
                "the first 20,480 rows; fix the offending value or convert the file to "
                "Parquet with explicit types)"
            ) from exc

    return Input(schema=reader.schema, batches=batches(), close=con.close)


def open_parquet(path: Path) -> Input:
    # pre_buffer=False: with it, pyarrow keeps every row group it has read until the end.
    pf = pq.ParquetFile(path, pre_buffer=False)
    md = pf.metadata
    row_bytes = (
        sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups)) / md.num_rows
        if md.num_rows
        else 1
    )
    schema = pf.schema_arrow
    columns: dict[str, dict[str, str]] = {}
    for fld in schema:
        info = {
            key: (fld.metadata or {}).get(key.encode(), b"").decode("utf-8", "replace")
            for key in ("unit", "ucd", "description")
        }
        columns[fld.name] = {k: v for k, v in info.items() if v}
    description = ""
    raw_meta = (schema.metadata or {}).get(b"table_meta_yaml")
    if raw_meta:  # written by astropy's Table.write(format="parquet")
        with contextlib.suppress(yaml.YAMLError, AttributeError, TypeError):
            header = yaml.load(raw_meta.decode("utf-8", "replace"), Loader=_LenientLoader)
            for entry in header.get("datatype", []) or []:
                info = {k: str(entry[k]) for k in ("unit", "description") if entry.get(k)}
                ucd = (entry.get("meta") or {}).get("ucd")
                if ucd:
                    info["ucd"] = str(ucd)
                columns.setdefault(entry["name"], {}).update(
                    {k: v for k, v in info.items() if not columns[entry["name"]].get(k)}
                )
            description = str((header.get("meta") or {}).get("description", "") or "")

    def batches() -> Iterator[pa.RecordBatch]:
        yield from pf.iter_batches(batch_size=batch_rows(row_bytes))

    return Input(
        schema=schema,
        batches=batches(),
        columns=columns,
        description=description,
        close=pf.close,
    )


class _LenientLoader(yaml.SafeLoader):
    """Safe YAML that reads astropy's tagged headers, turning unknown tags into plain data."""


def _construct_any(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_LenientLoader.add_multi_constructor("!", _construct_any)


def open_votable(path: Path) -> Input:
    """VOTable through astropy, whole file at once (VOTables are rarely huge)."""
    from astropy.io import votable

    vot = votable.parse(str(path), verify="ignore")
    tables = list(vot.iter_tables())
    if not tables:
        raise CatalogError(f"{str(path)!r} holds no TABLE")
    element = tables[0]
    version = tuple(int(p) for p in str(vot.version or "1.4").split(".")[:2] if p.isdigit())
    unit_format = "vounit" if version >= (1, 4) else "cds"
    fields = element.fields
    data = element.array
    columns: dict[str, dict[str, str]] = {}
    arrays, names = [], []
    for i, fld in enumerate(fields):
        fname = fld.name or fld.ID or f"col{i + 1}"
        names.append(fname)
        arrays.append(_numpy_to_arrow(data[data.dtype.names[i]]))
        info = {
            "unit": _unit_text(fld.unit, unit_format),
            "ucd": fld.ucd or "",
            "description": (fld.description or "").strip(),
        }
        columns[fname] = {k: v for k, v in info.items() if v}
    whole = pa.table(arrays, names=names)
    description = (element.description or "").strip()
    rows = batch_rows(max(whole.nbytes / max(whole.num_rows, 1), 1))
    return Input(
        schema=whole.schema,
        batches=iter(whole.to_batches(max_chunksize=rows)),
        columns=columns,
        description=description,
    )


def _unit_text(unit: Any, fmt: str) -> str:
    """A parsed unit written back in the format the VOTable used (VOUnit from 1.4, else CDS)."""
    if unit is None:
        return ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return str(unit.to_string(fmt))
    except (ValueError, AttributeError):
        return str(unit)


def _numpy_to_arrow(values: Any) -> pa.Array:
    mask = np.ma.getmaskarray(values) if np.ma.isMaskedArray(values) else None
    data = np.ma.getdata(values)
    if data.dtype.kind == "O":
        items = data.tolist()
        if mask is not None:
            items = [None if m else v for v, m in zip(items, mask.tolist(), strict=True)]
        items = [v.tolist() if isinstance(v, np.ndarray) else v for v in items]
        items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in items]
        return pa.array(items)
    if data.ndim > 1:
        if mask is not None and mask.ndim > 1:
            mask = np.asarray(mask.all(axis=tuple(range(1, mask.ndim))))
        width = int(np.prod(data.shape[1:]))
        flat = _numpy_to_arrow(np.ascontiguousarray(data).reshape(-1))
        arr = pa.FixedSizeListArray.from_arrays(flat, width)
        if mask is not None and mask.any():
            arr = pc.if_else(pa.array(mask), pa.nulls(len(arr), arr.type), arr)
        return arr
    if data.dtype.kind == "S":
        items = [v.decode("utf-8", "replace") for v in data.tolist()]
        return pa.array(items, mask=mask)
    if data.dtype.kind == "U":
        return pa.array(data.tolist(), type=pa.string(), mask=mask)
    native = data.astype(data.dtype.newbyteorder("="), copy=False)
    return pa.array(native, mask=mask if mask is not None and mask.any() else None)
