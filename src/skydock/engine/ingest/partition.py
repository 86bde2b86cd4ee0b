"""HATS output: partitions chosen from a histogram of counts, each one written from the
sorted serving table, then hats' own metadata files."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from skydock.engine.catalog import HEALPIX_COLUMN, SERVING_TABLE
from skydock.engine.ingest.progress import Reporter
from skydock.errors import CatalogError

PARQUET_ROW_GROUP = 100_000  # rows per Parquet row group (perf-anchors: ~100k is best)
# hats' default zstd level 15 writes ~8x slower than level 5 for files of the same size
# on survey-like columns (measured on random positions and magnitudes).
PARQUET_ZSTD_LEVEL = 5
HEALPIX_ORDER = 29
# Deepest order of the count histogram handed to hats; 12·4¹⁰ bins = 100 MB of int64.
HISTOGRAM_ORDER = 10


def write_hats(
    con: duckdb.DuckDBPyConnection,
    staged: Path,
    name: str,
    nrows: int,
    *,
    ra: str,
    dec: str,
    partition_rows: int,
    report: Reporter,
) -> None:
    """Write the HATS partitions and metadata files of the serving table into ``staged``."""
    from hats.catalog import PartitionInfo, TableProperties
    from hats.io import paths
    from hats.io.parquet_metadata import write_parquet_metadata
    from hats.pixel_math.healpix_pixel import HealpixPixel

    partitions = plan_partitions(_histogram(con), partition_rows)
    bar = report.bar("partitions", len(partitions), "files")
    pixels = []
    for order, pixel, count in partitions:
        hp = HealpixPixel(order, pixel)
        target = Path(str(paths.pixel_catalog_file(staged, hp)))
        target.parent.mkdir(parents=True, exist_ok=True)
        written = _write_partition(con, order, pixel, target)
        if written != count:
            raise CatalogError(
                f"internal error: partition {order}/{pixel} should hold {count} rows, "
                f"wrote {written}"
            )
        pixels.append(hp)
        bar.update(1)
    bar.close()
    info = PartitionInfo.from_healpix(pixels)
    info.write_to_file(paths.get_partition_info_pointer(staged))
    parquet_rows = write_parquet_metadata(staged)
    if parquet_rows != nrows:
        raise CatalogError(f"internal error: HATS files hold {parquet_rows} rows, expected {nrows}")
    provenance = TableProperties.new_provenance_dict(staged / "dataset", builder="skydock ingest")
    properties = TableProperties.model_validate(
        provenance
        | {
            "catalog_name": name,
            "catalog_type": "object",
            "total_rows": nrows,
            "ra_column": ra,
            "dec_column": dec,
            "healpix_column": HEALPIX_COLUMN,
            "healpix_order": HEALPIX_ORDER,
            "hats_max_rows": max(partition_rows, max(c for _, _, c in partitions)),
            "moc_sky_fraction": info.calculate_fractional_coverage(),
            "npix_suffix": ".parquet",
            "hats_order": info.get_highest_order(),
        }
    )
    properties.to_properties_file(staged)


def _write_partition(con: duckdb.DuckDBPyConnection, order: int, pixel: int, target: Path) -> int:
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
