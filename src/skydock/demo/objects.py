"""``demo.objects``: a synthetic wide-field survey shaped like the Legacy Surveys DR10
Tractor catalogue.

Footprint (≈4,400 deg², both regions minus everything within 15° of the Galactic plane):

- *south*, DES-like: RA 310° → 80° through RA 0° (so the RA wrap is exercised),
  Dec −65° to −40°;
- *equatorial*, DECaLS-like: RA 115° to 245°, Dec −5° to +15°; its western end reaches
  the plane and is clipped by the |b| ≥ 15° cut.

Populations (truth in ``class``): stars (25 %) whose surface density rises toward the
Galactic plane and bulge, with colours along the main-sequence locus and, when brighter
than r = 21, Gaia-like parallaxes and proper motions; galaxies (71 %) with counts rising
as 10^(0.45 m), photometric redshifts, red (DEV/SER) and blue (EXP/REX) sequences and
sizes shrinking with magnitude; quasars (4 %), point-like, blue in g-r and red in z-W1.
Magnitudes are observed (Galactic extinction from ``ebv`` is *not* removed), with noise
from a 5σ depth model (g 24.7, r 24.2, i 23.8, z 23.3, W1 20.9, W2 20.3, varying by
±0.2 mag from brick to brick). ``mag = 22.5 − 2.5 log10(flux)`` holds exactly; where the
noisy flux is not positive, mag and magerr are NULL.

Rows are generated in chunks of one million with a random stream derived from the seed
and the chunk number, so memory stays bounded and the same seed and row count always
give the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from skydock.demo import population, sky
from skydock.demo.dataset import BuildSpec, Column, Dataset, column
from skydock.errors import CatalogError

CHUNK_ROWS = 1_000_000
RELEASE = 10_000
MIN_ABS_B = 15.0
STREAM = 1  # keeps this table's random streams apart from the other demo tables'

DEPTH = {"g": 24.7, "r": 24.2, "i": 23.8, "z": 23.3, "w1": 20.9, "w2": 20.3}
BANDS = ("g", "r", "i", "z", "w1", "w2")
CLASSES = ("STAR", "GALAXY", "QSO")
CLASS_FRACTIONS = (0.25, 0.71, 0.04)


@dataclass(frozen=True)
class Region:
    """An RA/Dec box; ``ra_lo > ra_hi`` means it runs through RA = 0."""

    name: str
    ra_lo: float
    ra_hi: float
    dec_lo: float
    dec_hi: float

    @property
    def ra_span(self) -> float:
        return (self.ra_hi - self.ra_lo) % 360.0

    @property
    def area(self) -> float:
        """Square degrees before the Galactic-plane cut."""
        sin_span = math.sin(math.radians(self.dec_hi)) - math.sin(math.radians(self.dec_lo))
        return self.ra_span * math.degrees(1.0) * sin_span


FOOTPRINT = (
    Region("south", 310.0, 80.0, -65.0, -40.0),
    Region("equatorial", 115.0, 245.0, -5.0, 15.0),
)

# --- brick grid -------------------------------------------------------------------------
# Legacy-Surveys-like bricks: rows 0.25° high, each row cut into ~0.25°-wide bricks.
_BRICK = 0.25
_ROW_LO = -90.0 + _BRICK * np.arange(int(180 / _BRICK))
_ROW_HI = _ROW_LO + _BRICK
_ROW_MIN_ABS = np.where((_ROW_LO < 0) & (_ROW_HI > 0), 0.0, np.minimum(abs(_ROW_LO), abs(_ROW_HI)))
_ROW_NCOLS = np.maximum(1, np.ceil(360.0 * np.cos(np.radians(_ROW_MIN_ABS)) / _BRICK)).astype(
    np.int64
)
_ROW_OFFSET = np.concatenate([[0], np.cumsum(_ROW_NCOLS)[:-1]])
N_BRICKS = int(_ROW_NCOLS.sum())


def brick_of(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brick id (1-based), row and column of each position."""
    row = np.clip(np.floor((dec + 90.0) / _BRICK).astype(np.int64), 0, len(_ROW_LO) - 1)
    ncols = _ROW_NCOLS[row]
    col = np.minimum(np.floor(ra / 360.0 * ncols).astype(np.int64), ncols - 1)
    return _ROW_OFFSET[row] + col + 1, row, col


def brick_names(row: np.ndarray, col: np.ndarray) -> list[str]:
    ra_c = (col + 0.5) * 360.0 / _ROW_NCOLS[row]
    dec_c = _ROW_LO[row] + _BRICK / 2
    return [
        f"{round(r * 10):04d}{'p' if d >= 0 else 'm'}{round(abs(d) * 10):03d}"
        for r, d in zip(ra_c.tolist(), dec_c.tolist(), strict=True)
    ]


def _brick_depth_offset(brickid: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random ±0.2 mag depth variation per brick (same in every chunk)."""
    h = np.sin(brickid.astype(np.float64) * 12.9898) * 43758.5453
    return 0.4 * (h - np.floor(h) - 0.5)


# --- positions --------------------------------------------------------------------------


def in_footprint(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """True where (ra, dec) lies in the survey footprint (boxes minus |b| < 15°)."""
    inside = np.zeros(np.shape(ra), dtype=bool)
    for reg in FOOTPRINT:
        in_ra = ((ra - reg.ra_lo) % 360.0) <= reg.ra_span
        inside |= in_ra & (dec >= reg.dec_lo) & (dec <= reg.dec_hi)
    _, glat = sky.galactic(ra, dec)
    return inside & (np.abs(glat) >= MIN_ABS_B)


def _sample_positions(
    rng: np.random.Generator, n: int, weighted: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    areas = np.array([r.area for r in FOOTPRINT])
    prob = areas / areas.sum()
    ra_lo = np.array([r.ra_lo for r in FOOTPRINT])
    ra_span = np.array([r.ra_span for r in FOOTPRINT])
    s_lo = np.sin(np.radians([r.dec_lo for r in FOOTPRINT]))
    s_hi = np.sin(np.radians([r.dec_hi for r in FOOTPRINT]))
    w_max = 0.2**-1.3 * 2.2
    parts: list[tuple[np.ndarray, ...]] = [(np.empty(0),) * 4]
    have = 0
    accept = 0.15 if weighted else 0.9
    while have < n:
        m = max(4096, int((n - have) / accept * 1.2))
        reg = rng.choice(len(FOOTPRINT), size=m, p=prob)
        ra = (ra_lo[reg] + rng.random(m) * ra_span[reg]) % 360.0
        dec = np.degrees(np.arcsin(s_lo[reg] + rng.random(m) * (s_hi[reg] - s_lo[reg])))
        glon, glat = sky.galactic(ra, dec)
        keep = np.abs(glat) >= MIN_ABS_B
        if weighted:
            keep &= rng.random(m) * w_max < sky.star_density_weight(glon, glat)
        accept = max(keep.mean(), 0.01)
        parts.append((ra[keep], dec[keep], glon[keep], glat[keep]))
        have += int(keep.sum())
    ra, dec, glon, glat = (np.concatenate(p)[:n] for p in zip(*parts, strict=True))
    return ra, dec, glon, glat


def generate_chunk(
    rng: np.random.Generator, n: int, brick_counts: np.ndarray
) -> dict[str, np.ndarray | pa.Array]:
    """``n`` rows of the table; ``brick_counts`` (objects per brick so far) is updated."""
    counts = rng.multinomial(n, CLASS_FRACTIONS)
    makers = (population.stars, population.galaxies, population.quasars)
    true = population.concatenate(
        [make(rng, int(k)) for make, k in zip(makers, counts, strict=True)]
    )
    cls = np.concatenate([np.full(int(k), c, dtype=np.int8) for c, k in enumerate(counts)])
    pos = [_sample_positions(rng, int(k), weighted=(c == 0)) for c, k in enumerate(counts)]
    ra, dec, glon, glat = (np.concatenate(p) for p in zip(*pos, strict=True))

    order = rng.permutation(n)
    cls = cls[order]
    true = {key: value[order] for key, value in true.items()}
    ra, dec, glon, glat = ra[order], dec[order], glon[order], glat[order]

    brickid, row, col = brick_of(ra, dec)
    ordered = np.argsort(brickid, kind="stable")
    sorted_ids = brickid[ordered]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_ids)) + 1])
    group_start = np.repeat(starts, np.diff(np.concatenate([starts, [n]])))
    rank = np.empty(n, dtype=np.int64)
    rank[ordered] = np.arange(n) - group_start
    objid = brick_counts[brickid] + rank
    brick_counts += np.bincount(brickid, minlength=len(brick_counts))
    if n and objid.max() >= 1 << 16:
        raise CatalogError("more than 65536 objects in one brick; ask for fewer --rows")
    uniq, first = np.unique(brickid, return_index=True)
    names = pa.array(brick_names(row[first], col[first]), type=pa.string())
    brickname = names.take(pa.array(np.searchsorted(uniq, brickid)))

    ebv = sky.ebv_map(glon, glat)
    depth_shift = _brick_depth_offset(brickid) + np.where(dec < -30.0, 0.15, 0.0)
    extended = 1.0 + true["shape_r"]
    out: dict[str, np.ndarray | pa.Array] = {
        "ls_id": (np.int64(RELEASE) << 40) | (brickid << 16) | objid,
        "release": np.full(n, RELEASE, dtype=np.int16),
        "brickid": brickid.astype(np.int32),
        "brickname": brickname,
        "objid": objid.astype(np.int32),
        "ra": ra,
        "dec": dec,
        "glon": glon,
        "glat": glat,
        "type": pa.array(population.TYPES).take(pa.array(true["type"].astype(np.int8))),
        "class": pa.array(CLASSES).take(pa.array(cls)),
        "ebv": ebv,
    }
    for band in BANDS:
        observed = true[band] + sky.EXTINCTION[band] * ebv
        size = extended if band not in ("w1", "w2") else 1.0
        flux, sigma = sky.observe(rng, observed, DEPTH[band] + depth_shift, size)
        flux = flux.astype(np.float32).astype(np.float64)  # the mag is of the stored flux
        mag, err = sky.flux_to_mag(flux, sigma)
        out[f"flux_{band}"] = flux
        out[f"flux_ivar_{band}"] = 1.0 / sigma**2
        out[f"mag_{band}"] = mag
        out[f"magerr_{band}"] = err
        if band in ("g", "r", "z"):
            out[f"snr_{band}"] = flux / sigma
    for key in ("shape_r", "sersic", "photo_z", "parallax", "pmra", "pmdec"):
        out[key] = true[key]
    out["random_id"] = rng.uniform(0.0, 100.0, n)
    return out


def write(dataset: Dataset, directory: Path, spec: BuildSpec) -> list[Path]:
    brick_counts = np.zeros(N_BRICKS + 1, dtype=np.int64)
    n_chunks = max(1, math.ceil(spec.rows / CHUNK_ROWS))
    chunks: Iterable[int] = range(n_chunks)
    if spec.progress and n_chunks > 1:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc=f"generating {dataset.table}", unit="chunk")
    paths = []
    for part in chunks:
        n = min(CHUNK_ROWS, spec.rows - part * CHUNK_ROWS)
        rng = np.random.default_rng([spec.seed, STREAM, part])
        paths.append(dataset.write_part(directory, part, generate_chunk(rng, n, brick_counts)))
    return paths


def _photometry_columns() -> list[Column]:
    names = {"g": "g", "r": "r", "i": "i", "z": "z", "w1": "WISE W1", "w2": "WISE W2"}
    ucd_band = {
        "g": "em.opt.B",
        "r": "em.opt.R",
        "i": "em.opt.I",
        "z": "em.opt.I",
        "w1": "em.IR.3-4um",
        "w2": "em.IR.4-8um",
    }
    cols: list[Column] = []
    f32 = pa.float32()
    for b in BANDS:
        cols.append(column(f"flux_{b}", f32, "nanomaggy", f"phot.flux;{ucd_band[b]}",
                           f"{names[b]} flux, not corrected for Galactic extinction "
                           "(1 nanomaggy = AB 22.5)"))  # fmt: skip
    for b in BANDS:
        cols.append(column(f"flux_ivar_{b}", f32, "nanomaggy-2",
                           f"stat.weight;phot.flux;{ucd_band[b]}",
                           f"Inverse variance of flux_{b}"))  # fmt: skip
    for b in BANDS:
        cols.append(column(f"mag_{b}", f32, "mag", f"phot.mag;{ucd_band[b]}",
                           f"{names[b]} AB magnitude, 22.5 - 2.5 log10(flux_{b}); NULL when "
                           "the flux is not positive",
                           principal=b in ("g", "r", "z")))  # fmt: skip
    for b in BANDS:
        cols.append(column(f"magerr_{b}", f32, "mag", f"stat.error;phot.mag;{ucd_band[b]}",
                           f"1-sigma error of mag_{b}"))  # fmt: skip
    for b in ("g", "r", "z"):
        cols.append(column(f"snr_{b}", f32, "", f"stat.snr;{ucd_band[b]}",
                           f"Signal-to-noise ratio, flux_{b} * sqrt(flux_ivar_{b})"))  # fmt: skip
    return cols


_DESCRIPTION = (
    "Synthetic wide-field survey modelled on the Legacy Surveys DR10 Tractor catalogue "
    "(seed {seed}, {rows} rows). Footprint about 4,400 deg2: south RA 310..80 deg through "
    "RA 0 with Dec -65..-40 (DES-like) and equatorial RA 115..245 deg with Dec -5..+15 "
    "(DECaLS-like), both without |b| < 15 deg. Stars (density rising toward the Galactic "
    "plane), galaxies and quasars; the truth is in class. Fluxes and magnitudes are "
    "observed, not corrected for extinction: deredden with A = R * ebv, R = 3.214 (g), "
    "2.165 (r), 1.592 (i), 1.211 (z), 0.184 (W1), 0.113 (W2). Not real data."
)

# fmt: off
DATASET = Dataset(
    key="objects",
    ra="ra",
    dec="dec",
    id_column="ls_id",
    description=_DESCRIPTION,
    writer=write,
    columns=(
        column("ls_id", pa.int64(), "", "meta.id;meta.main",
               "Unique object id: release << 40 | brickid << 16 | objid"),
        column("release", pa.int16(), "", "meta.version", "Data release number"),
        column("brickid", pa.int32(), "", "meta.id", "Brick (0.25 x 0.25 deg sky cell) id"),
        column("brickname", pa.string(), "", "meta.id",
               "Brick name: RA*10 (4 digits), p/m for Dec sign, |Dec|*10 (3 digits)"),
        column("objid", pa.int32(), "", "meta.id", "Object number within its brick"),
        column("ra", pa.float64(), "deg", "pos.eq.ra;meta.main", "Right ascension (ICRS)"),
        column("dec", pa.float64(), "deg", "pos.eq.dec;meta.main", "Declination (ICRS)"),
        column("glon", pa.float64(), "deg", "pos.galactic.lon", "Galactic longitude"),
        column("glat", pa.float64(), "deg", "pos.galactic.lat", "Galactic latitude"),
        column("type", pa.string(), "", "src.morph.type",
               "Morphological model: PSF, REX (round exponential), EXP, DEV (de Vaucouleurs) "
               "or SER (Sersic)", principal=True),
        column("class", pa.string(), "", "src.class",
               "True class of the synthetic object: STAR, GALAXY or QSO", principal=True),
        column("ebv", pa.float32(), "mag", "phot.color.excess",
               "Galactic reddening E(B-V) at this position (smooth model, SFD-like)"),
        *_photometry_columns(),
        column("shape_r", pa.float32(), "arcsec", "phys.angSize;src",
               "Half-light radius of the galaxy model; 0 for PSF"),
        column("sersic", pa.float32(), "", "src.morph.param",
               "Sersic index of the model (1 EXP/REX, 4 DEV, free for SER, 0 PSF)"),
        column("photo_z", pa.float32(), "", "src.redshift.phot",
               "Photometric redshift (galaxies only; NULL otherwise)"),
        column("parallax", pa.float32(), "mas", "pos.parallax",
               "Gaia-like parallax for stars brighter than r = 21; NULL otherwise"),
        column("pmra", pa.float32(), "mas/yr", "pos.pm;pos.eq.ra",
               "Gaia-like proper motion in RA * cos(Dec) for stars brighter than r = 21"),
        column("pmdec", pa.float32(), "mas/yr", "pos.pm;pos.eq.dec",
               "Gaia-like proper motion in Dec for stars brighter than r = 21"),
        column("random_id", pa.float32(), "", "meta.code",
               "Uniform random number in [0, 100) for reproducible random subsets"),
    ),
)
# fmt: on
