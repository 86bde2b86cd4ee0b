"""What a demo table is: its columns with units and UCDs, and how its files are made.

Each builder module (``objects``, ``smash``, ``real``) declares one or more
:class:`Dataset` objects. A dataset writes Parquet files into a scratch directory; the
build step hands those files and :meth:`Dataset.meta` to the ingest engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from skydock.errors import CatalogError

SCHEMA = "demo"
ROW_GROUP = 100_000


class DemoDataUnavailableError(CatalogError):
    """A real catalogue's package is missing or does not hold what it promises."""

    code = "demo_data_unavailable"


@dataclass(frozen=True)
class BuildSpec:
    """What the user asked for: how big, which random seed, whether to show progress."""

    rows: int
    seed: int
    progress: bool = False
    # Tables built from other tables (demo.specobj reads demo.objects) need the data
    # directory; ``spectra`` sizes demo.specobj.
    data_dir: Path | None = None
    spectra: int = 3000


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    unit: str
    ucd: str
    description: str
    principal: bool = False

    def meta(self) -> dict[str, Any]:
        info: dict[str, Any] = {"unit": self.unit, "ucd": self.ucd, "description": self.description}
        if self.principal:
            info["principal"] = True
        return info


@dataclass(frozen=True)
class Dataset:
    """One demo table: where it goes, what its columns mean, how its files are written."""

    key: str
    ra: str
    dec: str
    id_column: str | None
    description: str
    columns: tuple[Column, ...]
    writer: Callable[[Dataset, Path, BuildSpec], list[Path]]
    synthetic: bool = True

    @property
    def table(self) -> str:
        return f"{SCHEMA}.{self.key}"

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type) for c in self.columns])

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def describe(self, spec: BuildSpec) -> str:
        """The table description, with the seed and row count of this build filled in."""
        return self.description.format(
            seed=spec.seed, rows=f"{spec.rows:,}", spectra=f"{spec.spectra:,}"
        )

    def meta(self, spec: BuildSpec) -> dict[str, Any]:
        """The sidecar mapping ingest takes: table description, per-column unit/UCD/text."""
        return {
            "description": self.describe(spec),
            "columns": {c.name: c.meta() for c in self.columns},
        }

    def write(self, directory: Path, spec: BuildSpec) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        return self.writer(self, directory, spec)

    def to_table(self, data: Mapping[str, Any]) -> pa.Table:
        """Arrow table in the declared column order and types; NaN in a float is NULL."""
        missing = [c.name for c in self.columns if c.name not in data]
        extra = sorted(set(data) - {c.name for c in self.columns})
        if missing or extra:
            raise ValueError(f"{self.table}: missing columns {missing}, unexpected {extra}")
        arrays = []
        for col in self.columns:
            value = data[col.name]
            if isinstance(value, pa.Array | pa.ChunkedArray):
                arrays.append(value.cast(col.type))
            else:
                values = np.asarray(value)
                is_float = values.dtype.kind == "f"
                arrays.append(pa.array(values, type=col.type, from_pandas=is_float))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def write_part(self, directory: Path, part: int, data: Mapping[str, Any]) -> Path:
        path = directory / f"{self.key}-{part:05d}.parquet"
        pq.write_table(self.to_table(data), path, row_group_size=ROW_GROUP, compression="snappy")
        return path


def column(
    name: str,
    type_: pa.DataType,
    unit: str,
    ucd: str,
    description: str,
    principal: bool = False,
) -> Column:
    return Column(name, type_, unit, ucd, description, principal)
