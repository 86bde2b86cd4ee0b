"""What catalogs exist and what their columns mean.

A catalog lives in one directory under ``<data_dir>/catalogs/<schema>/<table>/``:

- a HATS catalog (``properties``, ``partition_info.csv``, ``dataset/...``), so hats, lsdb
  and Dask users can read the same files;
- ``serving.duckdb``: the serving copy, one DuckDB table ``data`` sorted by
  ``_healpix_29`` (measured faster than Parquet for small cones, see perf-anchors);
- ``skydock.yaml``: table and column metadata (units, UCDs, descriptions). It is written
  last, so a directory without it is not a catalog.

Ingest builds the directory under ``catalogs/.staging`` and renames it into place, so a
failed ingest leaves nothing half-written behind.
"""

from __future__ import annotations

import difflib
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from skydock.errors import CatalogError, CatalogExistsError, UnknownTableError

META_FILE = "skydock.yaml"
SERVING_FILE = "serving.duckdb"
SERVING_TABLE = "data"
HEALPIX_COLUMN = "_healpix_29"
GENERATION_FILE = ".generation"
# The schema a user's own MyDB tables appear under in queries (``mydb.t`` or ``mydb://t``).
MYDB_SCHEMA = "mydb"

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Names DuckDB or the TAP layer already use; a catalog schema may not shadow them.
RESERVED_SCHEMAS = frozenset(
    {
        "main",
        "temp",
        "system",
        "information_schema",
        "pg_catalog",
        "tap_schema",
        "tap_upload",
        MYDB_SCHEMA,
        "memory",
    }
)


@dataclass
class ColumnMeta:
    """One column as users see it: the name they query and what it means."""

    name: str
    datatype: str  # DuckDB type name, e.g. DOUBLE, BIGINT, VARCHAR, FLOAT[]
    unit: str = ""
    ucd: str = ""
    description: str = ""
    indexed: bool = False
    principal: bool = False
    # A DALI xtype (timestamp, point, circle, polygon...) the type alone does not carry;
    # set for TAP uploads so their columns round-trip.
    xtype: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnMeta:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TableMeta:
    """A catalog table: where it is, its sky position columns and its columns."""

    schema: str
    name: str
    ra: str
    dec: str
    columns: list[ColumnMeta]
    description: str = ""
    id_column: str | None = None
    nrows: int = 0
    path: Path = field(default_factory=Path)
    # Where the executor attached the serving table (database, schema, table); translated
    # SQL names it directly, which binds faster than a view. Not stored on disk.
    location: tuple[str, str, str] | None = None

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def serving_path(self) -> Path:
        return self.path / SERVING_FILE

    def column(self, name: str) -> ColumnMeta | None:
        lowered = name.lower()
        for col in self.columns:
            if col.name == lowered:
                return col
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("path")
        data.pop("location")
        for column in data["columns"]:
            if not column["xtype"]:
                del column["xtype"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path) -> TableMeta:
        return cls(
            schema=data["schema"],
            name=data["name"],
            ra=data["ra"],
            dec=data["dec"],
            columns=[ColumnMeta.from_dict(c) for c in data["columns"]],
            description=data.get("description", ""),
            id_column=data.get("id_column"),
            nrows=int(data.get("nrows", 0)),
            path=path,
        )


def split_table_name(qualified: str) -> tuple[str, str]:
    """``'demo.objects'`` → ``('demo', 'objects')``, with a clear error for anything else."""
    parts = qualified.strip().lower().split(".")
    if len(parts) != 2 or not all(_NAME.match(p) for p in parts):
        raise CatalogError(
            f"table name {qualified!r} must be SCHEMA.TABLE, each part letters, digits and "
            "underscores starting with a letter, e.g. 'demo.objects'"
        )
    return parts[0], parts[1]


class CatalogStore:
    """The catalogs under one data directory; reads metadata, drops, hands out paths."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> CatalogStore:
        return cls(Path(data_dir) / "catalogs")

    def path_for(self, schema: str, name: str) -> Path:
        return self.root / schema / name

    def staging_dir(self) -> Path:
        """A fresh private directory on the same filesystem, for an atomic rename later."""
        path = self.root / ".staging" / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path

    def list(self) -> list[TableMeta]:
        if not self.root.is_dir():
            return []
        tables = []
        for meta_file in sorted(self.root.glob(f"*/*/{META_FILE}")):
            if meta_file.parts[-3].startswith("."):
                continue
            tables.append(self._read(meta_file.parent))
        return tables

    def exists(self, qualified: str) -> bool:
        schema, name = split_table_name(qualified)
        return (self.path_for(schema, name) / META_FILE).is_file()

    def get(self, qualified: str) -> TableMeta:
        schema, name = split_table_name(qualified)
        path = self.path_for(schema, name)
        if not (path / META_FILE).is_file():
            known = [t.qualified for t in self.list()]
            near = difflib.get_close_matches(f"{schema}.{name}", known, n=3)
            hint = (
                f"; did you mean {', '.join(near)}?"
                if near
                else (
                    f"; known tables: {', '.join(known)}"
                    if known
                    else "; no catalogs are ingested yet"
                )
            )
            raise UnknownTableError(f"no catalog table {schema}.{name}{hint}")
        return self._read(path)

    def write_meta(self, meta: TableMeta, directory: Path) -> None:
        text = yaml.safe_dump(meta.to_dict(), sort_keys=False, allow_unicode=True)
        tmp = directory / (META_FILE + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(directory / META_FILE)

    def publish(self, staged: Path, meta: TableMeta) -> TableMeta:
        """Move a fully built staging directory into place as ``meta``'s catalog."""
        target = self.path_for(meta.schema, meta.name)
        if (target / META_FILE).exists():
            raise CatalogExistsError(
                f"catalog {meta.qualified} already exists; drop it first with "
                f"'skydock catalog drop {meta.qualified}' or choose another --table name"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():  # a leftover without metadata is not a catalog
            shutil.rmtree(target)
        staged.rename(target)
        meta.path = target
        self.bump_generation()
        return meta

    def drop(self, qualified: str) -> None:
        meta = self.get(qualified)
        # Remove the marker first: from that instant the catalog no longer exists.
        (meta.path / META_FILE).unlink()
        shutil.rmtree(meta.path, ignore_errors=True)
        schema_dir = meta.path.parent
        if schema_dir.is_dir() and not any(schema_dir.iterdir()):
            schema_dir.rmdir()
        self.bump_generation()

    def generation(self) -> str:
        """Changes whenever a catalog is added or dropped; executors reopen on change."""
        path = self.root / GENERATION_FILE
        return path.read_text() if path.exists() else ""

    def bump_generation(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (GENERATION_FILE + ".tmp")
        tmp.write_text(uuid.uuid4().hex)
        tmp.replace(self.root / GENERATION_FILE)

    def _read(self, path: Path) -> TableMeta:
        data = yaml.safe_load((path / META_FILE).read_text(encoding="utf-8"))
        return TableMeta.from_dict(data, path)
