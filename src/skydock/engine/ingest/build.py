"""The build of one catalog: stage every input batch with its ``_healpix_29`` in DuckDB,
check ids and positions, sort into the serving table, then write HATS and describe."""

from __future__ import annotations

import contextlib
import difflib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from skydock.engine.catalog import (
    HEALPIX_COLUMN,
    RESERVED_SCHEMAS,
    SERVING_FILE,
    SERVING_TABLE,
    CatalogStore,
    TableMeta,
    split_table_name,
)
from skydock.engine.ingest.metadata import describe_columns, fold_columns, load_sidecar
from skydock.engine.ingest.partition import HEALPIX_ORDER, write_hats
from skydock.engine.ingest.progress import Reporter
from skydock.engine.ingest.readers import Input
from skydock.engine.ingest.sources import known_total, open_input, resolve_sources
from skydock.engine.ingest.validate import (
    BadPositions,
    as_float,
    compatible,
    normal_array,
    normal_type,
    require_column,
)
from skydock.errors import CatalogError, CatalogExistsError

DEFAULT_PARTITION_ROWS = 1_000_000
DEFAULT_MEMORY_LIMIT = "1.5GB"


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
    sidecar = load_sidecar(meta)
    report = Reporter(progress)

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
    report: Reporter
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
            write_hats(
                con,
                self.staged,
                name,
                nrows,
                ra=self.ra,
                dec=self.dec,
                partition_rows=self.partition_rows,
                report=self.report,
            )
            columns = describe_columns(
                con,
                ra=self.ra,
                dec=self.dec,
                id_column=self.id_column,
                sidecar=self.sidecar,
                file_columns=self.file_columns,
            )
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

        bad = BadPositions()
        total = known_total(self.files)
        bar = self.report.bar("reading", total, "rows")
        nrows = 0
        for path, kind in self.files:
            source = open_input(path, kind)
            try:
                folded = self._fold(source.schema, path)
                if not self.names:
                    self._adopt_schema(source, folded, path)
                    self._create_stage(con)
                else:
                    self._check_same_schema(source.schema, folded, path)
                    for col, info in fold_columns(source.columns).items():
                        for key, value in info.items():
                            self.file_columns.setdefault(col, {}).setdefault(key, value)
                file_row = 0
                for batch in source.batches:
                    batch = self._conform(batch, folded, path)
                    ra = as_float(batch.column(self.names.index(self.ra)))
                    dec = as_float(batch.column(self.names.index(self.dec)))
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

    def _adopt_schema(self, source: Input, folded: list[str], path: Path) -> None:
        names = [n for n in folded if n != HEALPIX_COLUMN]  # recomputed, never trusted
        types = {
            n: normal_type(t)
            for n, t in zip(folded, source.schema.types, strict=True)
            if n != HEALPIX_COLUMN
        }
        self.ra = require_column(self.ra, names, "--ra", path)
        self.dec = require_column(self.dec, names, "--dec", path)
        if self.id_column is not None:
            self.id_column = require_column(self.id_column, names, "--id", path)
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
        self.file_columns = fold_columns(source.columns)
        self.file_description = source.description

    def _check_same_schema(self, schema: pa.Schema, folded: list[str], path: Path) -> None:
        theirs = {n: normal_type(t) for n, t in zip(folded, schema.types, strict=True)}
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
            if not compatible(theirs[n], self.types[n]):
                raise CatalogError(
                    f"{str(path)!r} does not match the schema of {str(self.files[0][0])!r}: "
                    f"column {n!r} is {theirs[n]} there but {self.types[n]} in the first file"
                )

    def _conform(self, batch: pa.RecordBatch, folded: list[str], path: Path) -> pa.RecordBatch:
        by_name = dict(zip(folded, batch.columns, strict=True))
        arrays = []
        for n in self.names:
            arr = normal_array(by_name[n])
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

    # -- serving copy ----------------------------------------------------------------

    def _sort(self, con: duckdb.DuckDBPyConnection, nrows: int) -> None:
        self.report.note(f"sorting {nrows:,} rows by {HEALPIX_COLUMN} …")
        con.execute("ATTACH ? AS serving", [str(self.staged / SERVING_FILE)])
        con.execute(
            f"CREATE TABLE serving.{SERVING_TABLE} AS "
            f"SELECT * FROM stage.raw ORDER BY {HEALPIX_COLUMN}"
        )
        con.execute("DROP TABLE stage.raw")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
