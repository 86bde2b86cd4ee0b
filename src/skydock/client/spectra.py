"""Spectra methods of ``Client``: many spectra in one request (``/api/spectra``).

The server answers Arrow: catalog columns, then ``flux``, ``ivar``, ``mask`` and
``model`` as fixed-size lists on one wavelength grid (kept in the schema metadata). That
is also the cheapest thing to convert: every array below is a zero-copy view of the
Arrow buffers reshaped to ``(n_spectra, n_pixels)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from skydock.client.convert import read_arrow_stream, to_astropy
from skydock.client.errors import BadRequestError
from skydock.client.transport import Transport, read_body

WAVELENGTH_KEY = b"skydock.wavelength"
UNITS_KEY = b"skydock.units"
ARRAYS = ("flux", "ivar", "mask", "model")
SPECTRA_FORMATS = ("arrow", "astropy", "specutils")


def wavelength(table: pa.Table) -> np.ndarray:
    """The shared wavelength grid of a spectra answer (Å unless its units say otherwise)."""
    meta = table.schema.metadata or {}
    if WAVELENGTH_KEY not in meta:
        raise BadRequestError("this table is not a spectra answer: it has no wavelength grid")
    return np.frombuffer(meta[WAVELENGTH_KEY], dtype="<f8")


def spectra_units(table: pa.Table) -> dict[str, str]:
    return dict(json.loads((table.schema.metadata or {}).get(UNITS_KEY, b"{}")))


def spectra_array(table: pa.Table, name: str) -> np.ndarray:
    """One array column as ``(n_spectra, n_pixels)`` numpy, without copying."""
    column = table.column(name).combine_chunks()
    npix = column.type.list_size
    values = column.values.to_numpy(zero_copy_only=False)
    return values.reshape(len(column), npix)


def metadata_columns(table: pa.Table) -> list[str]:
    return [c for c in table.column_names if c not in ARRAYS]


def _rows(table: pa.Table) -> Any:
    """The catalog columns as an astropy Table (the binary grid stays out of its meta)."""
    rows = to_astropy(table.select(metadata_columns(table)).replace_schema_metadata(None))
    rows.meta.pop("overflow", None)
    return rows


def to_astropy_spectra(table: pa.Table) -> Any:
    """An astropy Table: catalog columns, 2-D flux/ivar/mask/model with units, and the
    wavelength grid as a Quantity in ``meta['wavelength']``."""
    import astropy.units as u

    units = spectra_units(table)
    out = _rows(table)
    for name in ARRAYS:
        out[name] = spectra_array(table, name)
        if name != "mask" and units.get(name):
            out[name].unit = u.Unit(units[name])
    out.meta["wavelength"] = wavelength(table) * u.Unit(units.get("wavelength", "Angstrom"))
    return out


def to_specutils(table: pa.Table) -> Any:
    """One specutils spectrum holding all of them: flux ``(n, npix)`` on the shared
    spectral axis, inverse-variance uncertainty, mask, and per-spectrum metadata
    (``meta['rows']`` an astropy Table, ``meta['model']`` the best fits);
    ``spectrum[i]`` is the i-th spectrum."""
    import astropy.units as u
    import specutils
    from astropy.nddata import InverseVariance

    spectrum_class = getattr(specutils, "Spectrum", None) or specutils.Spectrum1D
    units = spectra_units(table)
    flux_unit = u.Unit(units.get("flux", "1e-17 erg / (Angstrom cm2 s)"))
    flux = spectra_array(table, "flux") * flux_unit
    ivar = InverseVariance(spectra_array(table, "ivar"), unit=flux_unit**-2)
    rows = _rows(table)
    return spectrum_class(
        flux=flux,
        spectral_axis=wavelength(table) * u.Unit(units.get("wavelength", "Angstrom")),
        uncertainty=ivar,
        mask=spectra_array(table, "mask") != 0,
        meta={"rows": rows, "model": spectra_array(table, "model") * flux_unit},
    )


class SpectraMethods(Transport):
    def spectra(
        self,
        ids: Iterable[int | str] | None = None,
        sql: str | None = None,
        adql: str | None = None,
        fmt: str = "arrow",
        *,
        collection: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Many spectra in one request: by ``ids`` (targetids; ints or decimal strings,
        never floats) or by a query selecting a ``targetid`` column.

        ``fmt``: ``arrow`` (a pyarrow Table; :func:`wavelength` and
        :func:`spectra_array` read it), ``astropy`` (a Table with 2-D array columns) or
        ``specutils`` (one spectrum object of shape (n, npix)). Spectra come back in the
        order of ``ids`` or of the query's rows.
        """
        given = [name for name, v in (("ids", ids), ("sql", sql), ("adql", adql)) if v is not None]
        if len(given) != 1:
            raise BadRequestError("give the spectra as ids=[...], sql='...' or adql='...' (one)")
        wanted = fmt.strip().lower()
        if wanted not in SPECTRA_FORMATS:
            raise BadRequestError(f"unknown fmt {fmt!r}; use one of {', '.join(SPECTRA_FORMATS)}")
        body: dict[str, Any] = {"collection": collection} if collection else {}
        if ids is not None:
            body["ids"] = [_id(v) for v in ids]
        elif sql is not None:
            body["sql"] = sql
        else:
            body["adql"] = adql
        response = self._send("POST", "/api/spectra", json=body, stream=True, read_timeout=timeout)
        table, _ = read_arrow_stream(pa.py_buffer(read_body(response)))
        if wanted == "astropy":
            return to_astropy_spectra(table)
        if wanted == "specutils":
            return to_specutils(table)
        return table


def _id(value: Any) -> int | str:
    """An id for the wire; floats are refused, as they have already lost digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | float | np.floating):
        raise BadRequestError(
            f"id {value!r} is a float; targetids are 64-bit integers that floats cannot hold "
            "exactly: pass ints or strings"
        )
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"id {value!r} is not an integer or a decimal string") from None
