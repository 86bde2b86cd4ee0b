"""The spectra store: many 1-D spectra on one shared wavelength grid, read in bulk.

One collection (e.g. the spectra behind ``demo.specobj``) is one uncompressed Arrow IPC
file, ``<data_dir>/spectra/<schema>/<table>/spectra.arrow``, sorted by id, with a column
per array as a fixed-size list (flux, ivar, mask, model) and the wavelength grid in the
schema metadata. Why this layout (measured in ``benchmarks/spectra.py``):

- the file is memory-mapped, so opening it costs nothing and a read of k spectra is a
  binary search on the sorted ids plus one ``take``: no parsing, no decompression;
- fixed-size lists keep every spectrum's pixels contiguous, so the answer is the same
  Arrow layout the client reads back without copying;
- one grid for the whole collection is stored once instead of once per spectrum.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from skydock.errors import NotFoundError, SkydockError

SPECTRA_DIR = "spectra"
FILE_NAME = "spectra.arrow"
ID = "targetid"
ARRAYS = ("flux", "ivar", "mask", "model")
WAVELENGTH_KEY = b"skydock.wavelength"
UNITS_KEY = b"skydock.units"
DEFAULT_UNITS = {
    "wavelength": "Angstrom",
    "flux": "1e-17 erg / (Angstrom cm2 s)",
    "ivar": "1e+34 Angstrom2 cm4 s2 / erg2",
    "model": "1e-17 erg / (Angstrom cm2 s)",
}


class UnknownSpectrumError(NotFoundError):
    """An id asked for has no spectrum in the collection."""

    code = "unknown_spectrum"


class SpectraStoreError(SkydockError):
    """The arrays handed to the store do not describe valid spectra."""

    code = "spectra_error"


@dataclass(frozen=True)
class Collection:
    """Where one collection's file is, and which catalog table describes its spectra."""

    table: str
    path: Path


def collection_path(data_dir: Path, table: str) -> Path:
    schema, _, name = table.partition(".")
    return Path(data_dir) / SPECTRA_DIR / schema / name / FILE_NAME


def spectra_schema(npix: int, wavelength: np.ndarray, units: dict[str, str]) -> pa.Schema:
    """The file's and the wire's schema: the id, then one fixed-size list per array."""
    f32 = pa.list_(pa.float32(), npix)
    fields = [
        pa.field(ID, pa.int64(), nullable=False),
        pa.field("flux", f32),
        pa.field("ivar", f32),
        pa.field("mask", pa.list_(pa.uint8(), npix)),
        pa.field("model", f32),
    ]
    meta = {
        WAVELENGTH_KEY: np.ascontiguousarray(wavelength, dtype="<f8").tobytes(),
        UNITS_KEY: json.dumps(units).encode(),
    }
    return pa.schema(fields, metadata=meta)


def write_collection(
    path: Path,
    ids: np.ndarray,
    wavelength: np.ndarray,
    arrays: dict[str, np.ndarray],
    units: dict[str, str] | None = None,
) -> Path:
    """Write a collection file atomically; rows are sorted by id here.

    ``arrays`` holds 2-D ``(n, npix)`` arrays named flux, ivar, mask and model.
    """
    ids = np.asarray(ids, dtype=np.int64)
    npix = len(wavelength)
    if len(np.unique(ids)) != len(ids):
        raise SpectraStoreError("spectrum ids must be unique")
    for name in ARRAYS:
        shape = np.shape(arrays[name])
        if shape != (len(ids), npix):
            raise SpectraStoreError(f"{name} has shape {shape}, expected {(len(ids), npix)}")
    order = np.argsort(ids, kind="stable")
    schema = spectra_schema(npix, np.asarray(wavelength), units or DEFAULT_UNITS)
    columns: list[pa.Array] = [pa.array(ids[order])]
    for name in ARRAYS:
        field = schema.field(name)
        values = np.ascontiguousarray(arrays[name][order]).astype(
            field.type.value_type.to_pandas_dtype(), copy=False
        )
        flat = pa.array(values.reshape(-1))
        columns.append(pa.FixedSizeListArray.from_arrays(flat, npix))
    table = pa.Table.from_arrays(columns, schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table, max_chunksize=1024)
    tmp.replace(path)
    return path


class SpectraCollection:
    """One collection opened for reading (memory-mapped; safe to share between threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        source = pa.memory_map(str(path), "r")
        table = pa.ipc.open_file(source).read_all()
        self.table = table.combine_chunks()
        self.schema = self.table.schema
        self.ids = self.table.column(ID).to_numpy()
        meta = self.schema.metadata or {}
        self.wavelength = np.frombuffer(meta[WAVELENGTH_KEY], dtype="<f8")
        self.units: dict[str, str] = json.loads(meta.get(UNITS_KEY, b"{}"))

    def __len__(self) -> int:
        return len(self.ids)

    def rows_of(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row numbers of ``ids`` in the order asked; every id must exist."""
        wanted = np.asarray(ids, dtype=np.int64)
        rows = np.searchsorted(self.ids, wanted)
        rows = np.minimum(rows, len(self.ids) - 1) if len(self.ids) else rows
        found = (self.ids[rows] == wanted) if len(self.ids) else np.zeros(len(wanted), bool)
        if not found.all():
            missing = wanted[~found]
            shown = ", ".join(str(int(i)) for i in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise UnknownSpectrumError(
                f"no spectrum with id {shown}{more} in {self.path.parent.parent.name}."
                f"{self.path.parent.name}; ids are the targetid column of that table"
            )
        return rows

    def read(self, ids: Sequence[int] | np.ndarray) -> pa.Table:
        """The spectra of ``ids`` (in that order), as a table with the store's schema."""
        return self.table.take(pa.array(self.rows_of(ids), type=pa.int64()))


class SpectraStore:
    """The collections under one data directory, each opened once, on first use."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._open: dict[str, tuple[float, SpectraCollection]] = {}
        self._lock = threading.Lock()

    def tables(self) -> list[str]:
        root = self.data_dir / SPECTRA_DIR
        return sorted(
            f"{p.parent.parent.name}.{p.parent.name}" for p in root.glob(f"*/*/{FILE_NAME}")
        )

    def collection(self, table: str) -> SpectraCollection:
        path = collection_path(self.data_dir, table.lower())
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            known = ", ".join(self.tables()) or "none yet (skydock demo build --only specobj)"
            raise NotFoundError(
                f"no spectra collection for {table}; collections: {known}"
            ) from None
        with self._lock:
            cached = self._open.get(table)
            if cached is None or cached[0] != mtime:  # rebuilt since: reopen
                cached = (mtime, SpectraCollection(path))
                self._open[table] = cached
            return cached[1]
