"""What input columns must satisfy: the named columns exist, positions are valid degrees,
and column types, once normalised, agree across files."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skydock.errors import CatalogError


@dataclass
class BadPositions:
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


def require_column(wanted: str, names: list[str], option: str, path: Path) -> str:
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


def normal_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(kind):
        return normal_type(kind.value_type)
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
        return pa.binary()
    if pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(normal_type(kind.value_type))
    if pa.types.is_float16(kind):
        return pa.float32()
    return kind


def normal_array(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    target = normal_type(arr.type)
    return arr if arr.type == target else arr.cast(target)


def compatible(theirs: pa.DataType, ours: pa.DataType) -> bool:
    if theirs == ours or pa.types.is_null(theirs):
        return True
    numeric = pa.types.is_integer(theirs) or pa.types.is_floating(theirs)
    return bool(numeric and pa.types.is_floating(ours))


def as_float(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
