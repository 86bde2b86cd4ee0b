"""FITS binary tables, read row chunk by row chunk from the raw bytes.

A file much larger than memory (gzipped or not) streams; astropy parses the headers.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from skydock.engine.ingest.readers import Input, batch_rows
from skydock.errors import CatalogError

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


def open_fits(path: Path) -> Input:
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
    chunk_rows = batch_rows(row_bytes)

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

    return Input(
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
