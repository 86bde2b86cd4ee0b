"""Turn survey files into a Skydock catalog: a HATS catalog plus a sorted serving copy.

Memory stays bounded whatever the input size: files are read in record batches, each
batch gets its ``_healpix_29`` index and is appended to a staging DuckDB database on
disk, and DuckDB then sorts out of core (it spills to a directory inside the staging
area) into the serving table. Each HATS partition is then one ``_healpix_29`` range of
that sorted table, streamed to its Parquet file; hats' own helpers choose the partitions
from a histogram of counts and write the HATS metadata files.

Everything is built under ``catalogs/.staging`` and published with one rename after
``skydock.yaml`` is written, so a failed ingest leaves nothing behind.

The work is split by stage: ``sources`` finds the files and opens each with its reader
(``readers``, ``fits``); ``build`` stages, checks (``validate``) and sorts the rows;
``partition`` writes the HATS partitions; ``metadata`` merges the column descriptions.
"""

from skydock.engine.ingest.build import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_PARTITION_ROWS,
    ingest_catalog,
)
from skydock.engine.ingest.partition import plan_partitions
from skydock.engine.ingest.sources import resolve_sources

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_PARTITION_ROWS",
    "ingest_catalog",
    "plan_partitions",
    "resolve_sources",
]
