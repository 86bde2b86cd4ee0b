"""Turn survey files into a Skydock catalog: a HATS catalog plus a sorted serving copy.

Memory stays bounded whatever the input size: files are read in record batches, each
batch gets its ``_healpix_29`` index and is appended to a staging DuckDB database on
disk, and DuckDB then sorts out of core (it spills to a directory inside the staging
area) into the serving table. Each HATS partition is then one ``_healpix_29`` range of
that sorted table, streamed to its Parquet file; hats' own helpers choose the partitions
from a histogram of counts and write the HATS metadata files.

Everything is built under ``catalogs/.staging`` and published with one rename after
``skydock.yaml`` is written, so a failed ingest leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import gzip
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from skydock.engine.catalog import (
    HEALPIX_COLUMN,
    RESERVED_SCHEMAS,
    SERVING_FILE,
    SERVING_TABLE,
    CatalogStore,
    ColumnMeta,
    TableMeta,
    split_table_name,
)
from skydock.errors import CatalogError, CatalogExistsError

DEFAULT_PARTITION_ROWS = 1_000_000
DEFAULT_MEMORY_LIMIT = "1.5GB"
PARQUET_ROW_GROUP = 100_000  # rows per Parquet row group (perf-anchors: ~100k is best)
# hats' default zstd level 15 writes ~8x slower than level 5 for files of the same size
# on survey-like columns (measured on random positions and magnitudes).
PARQUET_ZSTD_LEVEL = 5
HEALPIX_ORDER = 29
# Deepest order of the count histogram handed to hats; 12·4¹⁰ bins = 100 MB of int64.
HISTOGRAM_ORDER = 10
_BATCH_BYTES = 64 * 1024 * 1024
_MIN_BATCH, _MAX_BATCH = 8_192, 1_000_000

_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".fits.gz": "fits",
    ".fit.gz": "fits",
    ".fts.gz": "fits",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".tsv.gz": "tsv",
    ".txt": "tsv",
    ".txt.gz": "tsv",
    ".parquet": "parquet",
    ".parq": "parquet",
    ".pq": "parquet",
    ".xml": "votable",
    ".vot": "votable",
    ".votable": "votable",
}
_SIDECAR_COLUMN_KEYS = frozenset({"unit", "ucd", "description", "principal"})
_DEFAULTS = {
    "ra": {"unit": "deg", "ucd": "pos.eq.ra;meta.main", "description": "Right ascension"},
    "dec": {"unit": "deg", "ucd": "pos.eq.dec;meta.main", "description": "Declination"},
    "id": {"ucd": "meta.id;meta.main", "description": ""},
    "healpix": {
        "ucd": "pos.healpix",
        "description": "HEALPix nested pixel index at order 29 (the HATS spatial index)",
    },
}


def ingest_catalog(
    store: CatalogStore,
    sources: Sequence[str | Path],
    table: str,
    *,
    ra: str,
    dec: str,
    id_column: str | None = None,
    meta: Path | str | Mapping[str, Any] | None = None,
    description: str | None = None,
    progress: bool = True,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> TableMeta:
    """Ingest FITS/CSV/TSV/Parquet/VOTable files as the catalog table ``table``.

    ``sources`` are paths or glob patterns; all files must share one schema. Column
    names are folded to lower case. ``meta`` is a YAML sidecar (path or mapping)
    ``{description: ..., columns: {name: {unit:, ucd:, description:}}}`` whose values
    override what the files say. ``partition_rows`` caps the rows of one HATS
    partition; ``memory_limit`` is DuckDB's budget for the out-of-core sort.
    """
    schema, name = split_table_name(table)
    if schema in RESERVED_SCHEMAS:
        raise CatalogError(
            f"schema name {schema!r} is reserved ({', '.join(sorted(RESERVED_SCHEMAS))}); "
            "choose another, e.g. 'survey.objects'"
        )
    if store.exists(f"{schema}.{name}"):
        raise CatalogExistsError(
            f"catalog {schema}.{name} already exists; drop it first with "
            f"'skydock catalog drop {schema}.{name}' or choose another --table name"
        )
    if partition_rows < 1:
        raise CatalogError(
            f"partition_rows must be a positive number of rows, not {partition_rows}"
        )
    files = resolve_sources(sources)
    sidecar = _load_sidecar(meta)
    report = _Reporter(progress)

    staged: Path | None = None
    work: Path | None = None
    published = False
    try:
        staged = store.staging_dir()
        work = store.staging_dir()
        build = _Build(
            files=files,
            staged=staged,
            work=work,
            ra=ra,
            dec=dec,
            id_column=id_column,
            sidecar=sidecar,
            partition_rows=partition_rows,
            memory_limit=memory_limit,
            report=report,
        )
        table_meta = build.run(schema, name, description)
        store.write_meta(table_meta, staged)
        result = store.publish(staged, table_meta)
        published = True
        return result
    finally:
        report.close()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if staged is not None and not published:
            shutil.rmtree(staged, ignore_errors=True)
        with contextlib.suppress(OSError):  # another ingest may be staging right now
            (store.root / ".staging").rmdir()


def resolve_sources(sources: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Expand globs and check every file exists and has a format we read."""
    if isinstance(sources, str | Path):
        sources = [sources]
    if not sources:
        raise CatalogError("no input files given; name at least one file or glob pattern")
    files: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for source in sources:
        text = str(source)
        if glob.has_magic(text):
            # glob.glob, not Path.glob: patterns may be absolute paths
            matches = sorted(glob.glob(text, recursive=True))  # noqa: PTH207
            matches = [m for m in matches if Path(m).is_file()]
            if not matches:
                raise CatalogError(f"no files match {text!r}")
        else:
            if not Path(text).is_file():
                raise CatalogError(f"input file {text!r} does not exist")
            matches = [text]
        for match in matches:
            path = Path(match)
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            files.append((path, _format_of(path)))
    return files


def _format_of(path: Path) -> str:
    lowered = path.name.lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if lowered.endswith(suffix):
            return _FORMATS[suffix]
    accepted = ", ".join(sorted(_FORMATS))
    raise CatalogError(f"cannot tell the format of {str(path)!r}; accepted extensions: {accepted}")


# ---------------------------------------------------------------------------------------
# Reading: every format becomes a schema, column metadata and a stream of record batches.


@dataclass
class _Input:
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    description: str = ""
    close: Callable[[], None] = lambda: None


def _open_input(path: Path, kind: str) -> _Input:
    try:
        if kind == "fits":
            return _open_fits(path)
        if kind in ("csv", "tsv"):
            return _open_delimited(path, "," if kind == "csv" else "\t")
        if kind == "parquet":
            return _open_parquet(path)
        return _open_votable(path)
    except CatalogError:
        raise
    except Exception as exc:
        raise CatalogError(f"could not read {str(path)!r} as {kind.upper()}: {exc}") from exc


def _batch_rows(row_bytes: float) -> int:
    return int(min(_MAX_BATCH, max(_MIN_BATCH, _BATCH_BYTES // max(row_bytes, 1))))


def _open_delimited(path: Path, delimiter: str) -> _Input:
    """CSV and TSV through DuckDB's reader: robust type sniffing, streamed in batches."""
    con = duckdb.connect(config={"memory_limit": "512MB"})
    try:
        con.execute("SET enable_progress_bar = false")
        rel = con.sql(
            "SELECT * FROM read_csv($1, delim = $2, header = true)",
            params=[str(path), delimiter],
        )
        reader = rel.to_arrow_reader(_batch_rows(16 * len(rel.columns)))
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

    return _Input(schema=reader.schema, batches=batches(), close=con.close)


def _open_parquet(path: Path) -> _Input:
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
        yield from pf.iter_batches(batch_size=_batch_rows(row_bytes))

    return _Input(
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


def _open_votable(path: Path) -> _Input:
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
    rows = _batch_rows(max(whole.nbytes / max(whole.num_rows, 1), 1))
    return _Input(
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


# FITS binary tables are read row chunk by row chunk from the raw bytes, so a file much
# larger than memory (gzipped or not) streams; astropy parses the headers.
_FITS_WIDTH = {"L": 1, "B": 1, "I": 2, "J": 4, "K": 8, "E": 4, "D": 8, "A": 1}
_FITS_DTYPE = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8"}
_UNSIGNED_ZERO = {("B", -128): np.int8, ("I", 32768): np.uint16, ("J", 2**31): np.uint32}


@dataclass
class _FitsColumn:
    name: str
    letter: str
    repeat: int
    scale: float | None
    zero: float | None
    null: int | None


def _open_fits(path: Path) -> _Input:
    from astropy.io import fits

    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        hdu = None
        for candidate in hdul:
            if isinstance(candidate, fits.BinTableHDU):
                hdu = candidate
                break
            if isinstance(candidate, fits.TableHDU):
                raise CatalogError(
                    f"{str(path)!r}: ASCII table extensions are not supported; "
                    "convert to a binary table (BINTABLE) or to CSV"
                )
        if hdu is None:
            raise CatalogError(f"{str(path)!r} holds no binary table extension (BINTABLE)")
        header = hdu.header
        data_offset = int(hdu.fileinfo()["datLoc"])
        row_bytes = int(header["NAXIS1"])
        nrows = int(header["NAXIS2"])
        specs: list[_FitsColumn] = []
        columns: dict[str, dict[str, str]] = {}
        for i, col in enumerate(hdu.columns, start=1):
            letter = str(col.format.format)
            repeat = int(col.format.repeat or 1)
            cname = (col.name or "").strip() or f"col{i}"
            if letter not in _FITS_WIDTH and letter != "X":
                raise CatalogError(
                    f"{str(path)!r}: column {cname!r} has TFORM {col.format!s}, which ingest "
                    "does not read (accepted: L, X, B, I, J, K, E, D, A with a repeat count)"
                )
            specs.append(
                _FitsColumn(
                    cname,
                    letter,
                    repeat,
                    None if col.bscale in (None, 1) else float(col.bscale),
                    None if col.bzero in (None, 0) else float(col.bzero),
                    None if col.null in (None, "") else int(col.null),
                )
            )
            ttype = f"TTYPE{i}"
            described = header.get(f"TCOMM{i}") or (
                header.comments[ttype] if ttype in header else ""
            )
            info = {
                "unit": str(col.unit or "").strip(),
                "ucd": str(header.get(f"TUCD{i}", "") or "").strip(),
                "description": str(described or "").strip(),
            }
            columns[cname] = {k: v for k, v in info.items() if v}

    formats: list[Any] = []
    offsets: list[int] = []
    offset = 0
    for spec in specs:
        offsets.append(offset)
        if spec.letter == "A":
            formats.append(f"S{spec.repeat}")
            offset += spec.repeat
        elif spec.letter == "X":
            nbytes = (spec.repeat + 7) // 8
            formats.append(("u1", (nbytes,)))
            offset += nbytes
        else:
            formats.append(
                _FITS_DTYPE[spec.letter]
                if spec.repeat == 1
                else (_FITS_DTYPE[spec.letter], (spec.repeat,))
            )
            offset += _FITS_WIDTH[spec.letter] * spec.repeat
    if offset != row_bytes:
        raise CatalogError(
            f"{str(path)!r}: the column formats add up to {offset} bytes per row but NAXIS1 "
            f"says {row_bytes}; the file looks damaged"
        )
    raw_dtype = np.dtype(
        {
            "names": [f"c{i}" for i in range(len(specs))],
            "formats": formats,
            "offsets": offsets,
            "itemsize": row_bytes,
        }
    )
    names = [s.name for s in specs]
    schema = _fits_chunk(np.zeros(0, dtype=raw_dtype), specs, names).schema
    chunk_rows = _batch_rows(row_bytes)

    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    handle = gzip.open(path, "rb") if gzipped else path.open("rb")  # noqa: SIM115

    def batches() -> Iterator[pa.RecordBatch]:
        handle.seek(data_offset)
        left = nrows
        while left > 0:
            take = min(chunk_rows, left)
            buf = handle.read(take * row_bytes)
            if len(buf) < take * row_bytes:
                raise CatalogError(
                    f"{str(path)!r} ends early: NAXIS2 says {nrows} rows but the data stop "
                    f"after {nrows - left + len(buf) // row_bytes}"
                )
            yield _fits_chunk(np.frombuffer(buf, dtype=raw_dtype), specs, names)
            left -= take

    return _Input(
        schema=schema,
        batches=batches(),
        columns=columns,
        close=handle.close,
    )


def _fits_chunk(raw: np.ndarray, specs: list[_FitsColumn], names: list[str]) -> pa.RecordBatch:
    arrays = [_fits_column(raw[f"c{i}"], spec) for i, spec in enumerate(specs)]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _fits_column(values: np.ndarray, spec: _FitsColumn) -> pa.Array:
    n = len(values)
    if spec.letter == "A":
        return pa.array(
            [v.rstrip(b" \x00").decode("ascii", "replace") for v in values.tolist()],
            type=pa.string(),
        )
    if spec.letter == "X":
        bits = np.unpackbits(values.reshape(n, -1), axis=1)[:, : spec.repeat].astype(bool)
        if spec.repeat == 1:
            return pa.array(bits[:, 0])
        return pa.FixedSizeListArray.from_arrays(pa.array(bits.reshape(-1)), spec.repeat)
    flat = values.reshape(n * spec.repeat) if spec.repeat != 1 else values
    mask: np.ndarray | None = None
    out: np.ndarray
    if spec.letter == "L":
        mask = np.asarray(flat == 0)
        out = np.asarray(flat == ord("T"))
    else:
        native = flat.astype(flat.dtype.newbyteorder("="))
        if spec.null is not None and spec.letter in "BIJK":
            mask = np.asarray(native == spec.null)
        unsigned = _UNSIGNED_ZERO.get((spec.letter, int(spec.zero or 0)))
        if spec.letter == "K" and spec.zero == 2.0**63 and spec.scale is None:
            out = native.view(np.uint64) ^ np.uint64(1 << 63)
        elif unsigned is not None and spec.scale is None:
            out = (native.astype(np.int64) + int(spec.zero or 0)).astype(unsigned)
        elif spec.scale is not None or spec.zero is not None:
            out = native * (spec.scale if spec.scale is not None else 1.0) + (spec.zero or 0.0)
        else:
            out = native
    arr = pa.array(out, mask=mask if mask is not None and mask.any() else None)
    if spec.repeat != 1:
        return pa.FixedSizeListArray.from_arrays(arr, spec.repeat)
    return arr


# ---------------------------------------------------------------------------------------
# The build: stage, validate, sort, partition, describe.


@dataclass
class _BadPositions:
    """Counts of unusable positions, with the first offending value of each kind."""

    missing: int = 0
    ra_range: int = 0
    dec_range: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.missing or self.ra_range or self.dec_range)

    def check(self, ra: np.ndarray, dec: np.ndarray, first_row: int, source: str) -> None:
        missing = np.isnan(ra) | np.isnan(dec)
        bad_ra = ~missing & ((ra < 0.0) | (ra >= 360.0))
        bad_dec = ~missing & (np.abs(dec) > 90.0)
        for kind, mask, values in (
            ("missing", missing, None),
            ("ra_range", bad_ra, ra),
            ("dec_range", bad_dec, dec),
        ):
            count = int(mask.sum())
            if not count:
                continue
            setattr(self, kind, getattr(self, kind) + count)
            if kind not in self.examples:
                first = int(np.argmax(mask))
                value = "" if values is None else f"{float(values[first])!r} "
                self.examples[kind] = f"{value}in row {first_row + first + 1:,} of {source}"

    def raise_if_any(self, ra: str, dec: str) -> None:
        problems = []
        if self.missing:
            problems.append(
                f"{self.missing:,} rows have a NULL or NaN position in {ra!r}/{dec!r} "
                f"(first {self.examples['missing']})"
            )
        if self.ra_range:
            problems.append(
                f"{self.ra_range:,} rows have {ra!r} outside [0, 360) degrees "
                f"(e.g. {self.examples['ra_range']})"
            )
        if self.dec_range:
            problems.append(
                f"{self.dec_range:,} rows have {dec!r} outside [-90, 90] degrees "
                f"(e.g. {self.examples['dec_range']})"
            )
        if problems:
            raise CatalogError(
                "cannot index positions: "
                + "; ".join(problems)
                + ". RA and Dec must be decimal degrees, RA in [0, 360), Dec in [-90, 90]; "
                "fix or filter these rows before ingesting"
            )


class _Reporter:
    """Progress bars on standard error, or silence."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: list[Any] = []

    def bar(self, desc: str, total: int | None, unit: str) -> Any:
        from tqdm import tqdm

        bar = tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=unit == "rows",
            disable=not self.enabled,
            file=sys.stderr,
            leave=self.enabled,
        )
        self._bars.append(bar)
        return bar

    def note(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        for bar in self._bars:
            bar.close()
        self._bars.clear()


@dataclass
class _Build:
    files: list[tuple[Path, str]]
    staged: Path
    work: Path
    ra: str
    dec: str
    id_column: str | None
    sidecar: dict[str, Any]
    partition_rows: int
    memory_limit: str
    report: _Reporter
    names: list[str] = field(default_factory=list)
    types: dict[str, pa.DataType] = field(default_factory=dict)
    file_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    file_description: str = ""

    def run(self, schema: str, name: str, description: str | None) -> TableMeta:
        con = duckdb.connect(
            config={
                "memory_limit": self.memory_limit,
                "temp_directory": str(self.work / "spill"),
                "preserve_insertion_order": True,
            }
        )
        try:
            # DuckDB's own bar is the only sign of life during the long sort.
            con.execute(f"SET enable_progress_bar = {str(self.report.enabled).lower()}")
            con.execute("ATTACH ? AS stage", [str(self.work / "stage.duckdb")])
            nrows = self._load(con)
            self._check_id(con)
            self._sort(con, nrows)
            con.execute("DETACH stage")
            (self.work / "stage.duckdb").unlink(missing_ok=True)
            self._write_hats(con, name, nrows)
            columns = self._describe(con)
            con.execute("DETACH serving")
        finally:
            con.close()
        table_description = (
            description
            if description is not None
            else str(self.sidecar.get("description") or self.file_description or "")
        )
        return TableMeta(
            schema=schema,
            name=name,
            ra=self.ra,
            dec=self.dec,
            columns=columns,
            description=table_description,
            id_column=self.id_column,
            nrows=nrows,
            path=self.staged,
        )

    # -- staging ---------------------------------------------------------------------

    def _load(self, con: duckdb.DuckDBPyConnection) -> int:
        from astropy import units as u
        from astropy.coordinates import Latitude, Longitude
        from cdshealpix.nested import lonlat_to_healpix

        bad = _BadPositions()
        total = _known_total(self.files)
        bar = self.report.bar("reading", total, "rows")
        nrows = 0
        for path, kind in self.files:
            source = _open_input(path, kind)
            try:
                folded = self._fold(source.schema, path)
                if not self.names:
                    self._adopt_schema(source, folded, path)
                    self._create_stage(con)
                else:
                    self._check_same_schema(source.schema, folded, path)
                    for col, info in _fold_columns(source.columns).items():
                        for key, value in info.items():
                            self.file_columns.setdefault(col, {}).setdefault(key, value)
                file_row = 0
                for batch in source.batches:
                    batch = self._conform(batch, folded, path)
                    ra = _as_float(batch.column(self.names.index(self.ra)))
                    dec = _as_float(batch.column(self.names.index(self.dec)))
                    bad.check(ra, dec, file_row, path.name)
                    if not bad.found:  # after a bad row, only count the rest
                        ipix = lonlat_to_healpix(
                            Longitude(ra, u.deg), Latitude(dec, u.deg), HEALPIX_ORDER
                        )
                        staged = batch.append_column(
                            HEALPIX_COLUMN, pa.array(np.asarray(ipix, dtype=np.int64))
                        )
                        con.register("_incoming", staged)
                        try:
                            con.execute("INSERT INTO stage.raw SELECT * FROM _incoming")
                        finally:
                            con.unregister("_incoming")
                    file_row += batch.num_rows
                    nrows += batch.num_rows
                    bar.update(batch.num_rows)
            except duckdb.Error as exc:
                raise CatalogError(f"could not stage {str(path)!r}: {exc}") from exc
            finally:
                source.close()
        bar.close()
        bad.raise_if_any(self.ra, self.dec)
        if nrows == 0:
            raise CatalogError("the input files hold no rows; a catalog needs at least one row")
        return nrows

    def _fold(self, schema: pa.Schema, path: Path) -> list[str]:
        folded = [n.strip().lower() for n in schema.names]
        seen: dict[str, str] = {}
        for original, low in zip(schema.names, folded, strict=True):
            if low in seen:
                raise CatalogError(
                    f"{str(path)!r}: columns {seen[low]!r} and {original!r} become the same "
                    f"name {low!r} once folded to lower case; rename one of them"
                )
            if not low:
                raise CatalogError(f"{str(path)!r} has a column with an empty name")
            seen[low] = original
        return folded

    def _adopt_schema(self, source: _Input, folded: list[str], path: Path) -> None:
        names = [n for n in folded if n != HEALPIX_COLUMN]  # recomputed, never trusted
        types = {
            n: _normal_type(t)
            for n, t in zip(folded, source.schema.types, strict=True)
            if n != HEALPIX_COLUMN
        }
        self.ra = _require_column(self.ra, names, "--ra", path)
        self.dec = _require_column(self.dec, names, "--dec", path)
        if self.id_column is not None:
            self.id_column = _require_column(self.id_column, names, "--id", path)
        for role, col in (("RA", self.ra), ("Dec", self.dec)):
            kind = types[col]
            if not (
                pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
            ):
                raise CatalogError(
                    f"{role} column {col!r} in {str(path)!r} has type {kind}, not a number; "
                    "RA and Dec must be numeric decimal degrees (convert sexagesimal strings "
                    "first, e.g. with astropy.coordinates.SkyCoord)"
                )
        unknown = sorted(set(self.sidecar.get("columns", {})) - set(names))
        if unknown:
            hints = [
                f"{u!r} (did you mean {difflib.get_close_matches(u, names, n=1)[0]!r}?)"
                if difflib.get_close_matches(u, names, n=1)
                else repr(u)
                for u in unknown
            ]
            raise CatalogError(
                f"the metadata sidecar describes columns the input does not have: "
                f"{', '.join(hints)}; columns are: {', '.join(names)}"
            )
        self.names = names
        self.types = types
        self.file_columns = _fold_columns(source.columns)
        self.file_description = source.description

    def _check_same_schema(self, schema: pa.Schema, folded: list[str], path: Path) -> None:
        theirs = {n: _normal_type(t) for n, t in zip(folded, schema.types, strict=True)}
        theirs.pop(HEALPIX_COLUMN, None)
        missing = [n for n in self.names if n not in theirs]
        extra = [n for n in theirs if n not in self.types]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks {', '.join(missing)}")
            if extra:
                parts.append(f"has extra {', '.join(extra)}")
            raise CatalogError(
                f"{str(path)!r} does not match the schema of {str(self.files[0][0])!r}: it "
                + " and ".join(parts)
                + "; all input files of one catalog need the same columns"
            )
        for n in self.names:
            if not _compatible(theirs[n], self.types[n]):
                raise CatalogError(
                    f"{str(path)!r} does not match the schema of {str(self.files[0][0])!r}: "
                    f"column {n!r} is {theirs[n]} there but {self.types[n]} in the first file"
                )

    def _conform(self, batch: pa.RecordBatch, folded: list[str], path: Path) -> pa.RecordBatch:
        by_name = dict(zip(folded, batch.columns, strict=True))
        arrays = []
        for n in self.names:
            arr = _normal_array(by_name[n])
            if arr.type != self.types[n]:
                try:
                    arr = arr.cast(self.types[n])
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise CatalogError(
                        f"{str(path)!r}: column {n!r} cannot be read as {self.types[n]}: {exc}"
                    ) from exc
            arrays.append(arr)
        return pa.RecordBatch.from_arrays(arrays, names=self.names)

    def _create_stage(self, con: duckdb.DuckDBPyConnection) -> None:
        empty = pa.schema([pa.field(n, self.types[n]) for n in self.names]).append(
            pa.field(HEALPIX_COLUMN, pa.int64())
        )
        con.register("_shape", empty.empty_table())
        try:
            con.execute("CREATE TABLE stage.raw AS SELECT * FROM _shape")
        finally:
            con.unregister("_shape")

    def _check_id(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.id_column is None:
            return
        col = _quote(self.id_column)
        [(nulls,)] = con.execute(f"SELECT count(*) FROM stage.raw WHERE {col} IS NULL").fetchall()
        if nulls:
            raise CatalogError(
                f"id column {self.id_column!r} has {nulls:,} NULL values; an id must be "
                "set on every row (or leave out --id)"
            )
        [(values, rows, example)] = con.execute(
            f"SELECT count(*), sum(n), arg_max({col}, n) FROM "
            f"(SELECT {col}, count(*) AS n FROM stage.raw GROUP BY {col} HAVING count(*) > 1)"
        ).fetchall()
        if values:
            raise CatalogError(
                f"id column {self.id_column!r} is not unique: {values:,} values occur more "
                f"than once ({rows:,} rows in all), e.g. {example!r}; choose a unique column "
                "for --id or leave it out"
            )

    # -- serving copy and HATS -------------------------------------------------------

    def _sort(self, con: duckdb.DuckDBPyConnection, nrows: int) -> None:
        self.report.note(f"sorting {nrows:,} rows by {HEALPIX_COLUMN} …")
        con.execute("ATTACH ? AS serving", [str(self.staged / SERVING_FILE)])
        con.execute(
            f"CREATE TABLE serving.{SERVING_TABLE} AS "
            f"SELECT * FROM stage.raw ORDER BY {HEALPIX_COLUMN}"
        )
        con.execute("DROP TABLE stage.raw")

    def _write_hats(self, con: duckdb.DuckDBPyConnection, name: str, nrows: int) -> None:
        from hats.catalog import PartitionInfo, TableProperties
        from hats.io import paths
        from hats.io.parquet_metadata import write_parquet_metadata
        from hats.pixel_math.healpix_pixel import HealpixPixel

        partitions = plan_partitions(_histogram(con), self.partition_rows)
        bar = self.report.bar("partitions", len(partitions), "files")
        pixels = []
        for order, pixel, count in partitions:
            hp = HealpixPixel(order, pixel)
            target = Path(str(paths.pixel_catalog_file(self.staged, hp)))
            target.parent.mkdir(parents=True, exist_ok=True)
            written = self._write_partition(con, order, pixel, target)
            if written != count:
                raise CatalogError(
                    f"internal error: partition {order}/{pixel} should hold {count} rows, "
                    f"wrote {written}"
                )
            pixels.append(hp)
            bar.update(1)
        bar.close()
        info = PartitionInfo.from_healpix(pixels)
        info.write_to_file(paths.get_partition_info_pointer(self.staged))
        parquet_rows = write_parquet_metadata(self.staged)
        if parquet_rows != nrows:
            raise CatalogError(
                f"internal error: HATS files hold {parquet_rows} rows, expected {nrows}"
            )
        provenance = TableProperties.new_provenance_dict(
            self.staged / "dataset", builder="skydock ingest"
        )
        properties = TableProperties.model_validate(
            provenance
            | {
                "catalog_name": name,
                "catalog_type": "object",
                "total_rows": nrows,
                "ra_column": self.ra,
                "dec_column": self.dec,
                "healpix_column": HEALPIX_COLUMN,
                "healpix_order": HEALPIX_ORDER,
                "hats_max_rows": max(self.partition_rows, max(c for _, _, c in partitions)),
                "moc_sky_fraction": info.calculate_fractional_coverage(),
                "npix_suffix": ".parquet",
                "hats_order": info.get_highest_order(),
            }
        )
        properties.to_properties_file(self.staged)

    def _write_partition(
        self, con: duckdb.DuckDBPyConnection, order: int, pixel: int, target: Path
    ) -> int:
        """One HATS partition, written by pyarrow with hats' own Parquet settings.

        pyarrow rather than DuckDB's COPY: hats combines the footers into ``_metadata``
        and needs every file's Parquet schema to be exactly what pyarrow writes.
        """
        from hats.io.file_io import get_parquet_write_table_kwargs

        shift = 2 * (HEALPIX_ORDER - order)
        lo, hi = pixel << shift, ((pixel + 1) << shift) - 1
        reader = con.sql(
            f"SELECT * FROM serving.{SERVING_TABLE} "
            f"WHERE {HEALPIX_COLUMN} BETWEEN {lo} AND {hi} ORDER BY {HEALPIX_COLUMN}"
        ).to_arrow_reader(PARQUET_ROW_GROUP)
        schema = reader.schema
        kwargs = get_parquet_write_table_kwargs(
            schema,
            write_table_kwargs={
                "sorting_columns": pq.SortingColumn.from_ordering(
                    schema, [(HEALPIX_COLUMN, "ascending")]
                ),
                "compression": "zstd",
                "compression_level": PARQUET_ZSTD_LEVEL,
            },
        )
        kwargs.pop("row_group_size", None)
        rows = 0
        pending: list[pa.RecordBatch] = []
        size = 0
        with pq.ParquetWriter(target, schema, **kwargs) as writer:
            # DuckDB hands out its own chunk sizes; regroup them into exact row groups.
            for batch in reader:
                pending.append(batch)
                size += batch.num_rows
                while size >= PARQUET_ROW_GROUP:
                    table = pa.Table.from_batches(pending, schema)
                    writer.write_table(table.slice(0, PARQUET_ROW_GROUP), PARQUET_ROW_GROUP)
                    rest = table.slice(PARQUET_ROW_GROUP)
                    pending, size = rest.to_batches(), rest.num_rows
                    rows += PARQUET_ROW_GROUP
            if size:
                writer.write_table(pa.Table.from_batches(pending, schema), PARQUET_ROW_GROUP)
                rows += size
        return rows

    # -- column metadata -------------------------------------------------------------

    def _describe(self, con: duckdb.DuckDBPyConnection) -> list[ColumnMeta]:
        described = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = 'serving' AND table_name = ? ORDER BY column_index",
            [SERVING_TABLE],
        ).fetchall()
        overrides = self.sidecar.get("columns", {})
        roles = {self.ra: "ra", self.dec: "dec", HEALPIX_COLUMN: "healpix"}
        if self.id_column:
            roles[self.id_column] = "id"
        columns = []
        for cname, dtype in described:
            col = ColumnMeta(name=cname, datatype=str(dtype))
            role = roles.get(cname)
            given = dict(self.file_columns.get(cname, {}))
            given.update({k: v for k, v in overrides.get(cname, {}).items() if k != "principal"})
            defaults = _DEFAULTS.get(role or "", {})
            col.unit = str(given.get("unit") or defaults.get("unit", ""))
            col.ucd = str(given.get("ucd") or defaults.get("ucd", ""))
            col.description = str(given.get("description") or defaults.get("description", ""))
            col.indexed = role is not None
            col.principal = role in ("ra", "dec", "id")
            if "principal" in overrides.get(cname, {}):
                col.principal = bool(overrides[cname]["principal"])
            columns.append(col)
        return columns


def plan_partitions(
    histogram: tuple[np.ndarray, np.ndarray], threshold: int
) -> list[tuple[int, int, int]]:
    """HATS partitions ``(order, pixel, rows)`` from order-10 counts, via hats' alignment.

    The histogram handed to hats is taken at the shallowest order where every pixel fits
    under ``threshold``; hats' top-down alignment gives the same partitions as at order 10
    but much faster. If even order-10 pixels exceed the threshold (extremely dense or
    duplicated positions), those pixels become partitions above the threshold.
    """
    from hats.pixel_math.partition_stats import generate_alignment

    pix, counts = histogram
    order = HISTOGRAM_ORDER
    for k in range(HISTOGRAM_ORDER + 1):
        coarse = np.bincount(pix >> (2 * (HISTOGRAM_ORDER - k)), weights=counts)
        if coarse.max() <= threshold:
            order = k
            break
    dense = np.bincount(
        pix >> (2 * (HISTOGRAM_ORDER - order)), weights=counts, minlength=12 * 4**order
    ).astype(np.int64)
    limit = max(threshold, int(dense.max()))
    alignment = generate_alignment(dense, highest_order=order, lowest_order=0, threshold=limit)
    chosen = {(int(a[0]), int(a[1]), int(a[2])) for a in alignment if a is not None}
    return sorted(chosen, key=lambda t: t[1] << (2 * (HEALPIX_ORDER - t[0])))


def _histogram(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray]:
    shift = 2 * (HEALPIX_ORDER - HISTOGRAM_ORDER)
    got = con.execute(
        f"SELECT {HEALPIX_COLUMN} >> {shift} AS pix, count(*) AS n "
        f"FROM serving.{SERVING_TABLE} GROUP BY ALL"
    ).fetchnumpy()
    return np.asarray(got["pix"], dtype=np.int64), np.asarray(got["n"], dtype=np.int64)


# ---------------------------------------------------------------------------------------
# Small helpers.


def _load_sidecar(meta: Path | str | Mapping[str, Any] | None) -> dict[str, Any]:
    if meta is None:
        return {}
    where = "the metadata sidecar"
    if isinstance(meta, str | Path):
        path = Path(meta)
        where = f"metadata file {str(path)!r}"
        if not path.is_file():
            raise CatalogError(f"{where} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CatalogError(f"{where} is not valid YAML: {exc}") from exc
        meta = loaded if loaded is not None else {}
    if not isinstance(meta, Mapping):
        raise CatalogError(
            f"{where} must be a mapping {{description: ..., columns: {{name: {{unit:, ucd:, "
            "description:}}}}"
        )
    unknown = set(meta) - {"description", "columns"}
    if unknown:
        raise CatalogError(
            f"{where} has unknown keys {', '.join(sorted(map(str, unknown)))}; accepted: "
            "description, columns"
        )
    columns = meta.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise CatalogError(
            f"{where}: 'columns' must map column names to {{unit, ucd, description}}"
        )
    folded: dict[str, dict[str, Any]] = {}
    for cname, info in columns.items():
        info = info or {}
        if not isinstance(info, Mapping):
            raise CatalogError(
                f"{where}: column {cname!r} must map to {{unit:, ucd:, description:}}, not {info!r}"
            )
        bad = set(info) - _SIDECAR_COLUMN_KEYS
        if bad:
            raise CatalogError(
                f"{where}: column {cname!r} has unknown keys {', '.join(sorted(map(str, bad)))}; "
                f"accepted: {', '.join(sorted(_SIDECAR_COLUMN_KEYS))}"
            )
        folded[str(cname).strip().lower()] = {
            k: (v if k == "principal" else "" if v is None else str(v)) for k, v in info.items()
        }
    return {"description": str(meta.get("description") or ""), "columns": folded}


def _require_column(wanted: str, names: list[str], option: str, path: Path) -> str:
    low = wanted.strip().lower()
    if low in names:
        return low
    near = [n for n in names if n.startswith(low) or low.startswith(n)]
    near += [n for n in difflib.get_close_matches(low, names, n=3, cutoff=0.4) if n not in near]
    hint = f"; did you mean {' or '.join(repr(n) for n in near[:3])}?" if near else ""
    raise CatalogError(
        f"{option} column {wanted!r} is not in {str(path)!r}{hint or '.'} Available columns: "
        f"{', '.join(names)}"
    )


def _fold_columns(columns: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {k.strip().lower(): dict(v) for k, v in columns.items()}


def _known_total(files: list[tuple[Path, str]]) -> int | None:
    """Rows in all inputs when cheap to know (Parquet and FITS headers), else None."""
    total = 0
    for path, kind in files:
        try:
            if kind == "parquet":
                total += pq.ParquetFile(path).metadata.num_rows
            elif kind == "fits" and not path.name.lower().endswith(".gz"):
                from astropy.io import fits

                with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                    tables = [h for h in hdul if isinstance(h, fits.BinTableHDU)]
                    total += int(tables[0].header["NAXIS2"]) if tables else 0
            else:
                return None
        except Exception:
            return None
    return total


def _normal_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(kind):
        return _normal_type(kind.value_type)
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    if pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(_normal_type(kind.value_type))
    if pa.types.is_float16(kind):
        return pa.float32()
    return kind


def _normal_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    target = _normal_type(arr.type)
    return arr if arr.type == target else arr.cast(target)


def _compatible(theirs: pa.DataType, ours: pa.DataType) -> bool:
    if theirs == ours or pa.types.is_null(theirs):
        return True
    numeric = pa.types.is_integer(theirs) or pa.types.is_floating(theirs)
    return bool(numeric and pa.types.is_floating(ours))


def _as_float(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")
