"""``demo.specobj``: simulated optical spectra of ``demo.objects`` targets.

A few thousand of the brighter ``demo.objects`` rows (and every object of a deep
pointing at RA 0, Dec −50, the field the demo images show) get a spectrum on a DESI-like grid
(3600–9800 Å in 2 Å pixels): galaxies with emission lines (star-forming, blue) or
absorption lines and a 4000 Å break (passive, red) at their redshift, stars with Balmer
and metal absorption on a blackbody continuum, and quasars with broad emission lines
and Lyman-α forest absorption. The noise-free spectrum is stored as the best-fit
``model``; the observed ``flux`` adds Gaussian noise from a sky spectrum (continuum and
night-sky lines) plus the object's own photon noise; ``ivar`` is 1/σ², zero where the
``mask`` flags a cosmic ray or bad column.

Each spectrum has a DESI-like ``targetid`` above 2**53 — ids that a float64 (or a
JavaScript number) cannot hold exactly, so every layer that loses precision shows it —
and the ``ls_id`` of its ``demo.objects`` row, so SQL can join the two. The metadata
table is an ordinary catalog (``demo.specobj``); the arrays live in the spectra store
(:mod:`skydock.engine.spectra`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from skydock.demo.dataset import BuildSpec, Dataset, column
from skydock.demo.dataset import DemoDataUnavailableError as _Unavailable
from skydock.engine.catalog import CatalogStore
from skydock.engine.spectra import collection_path, write_collection

STREAM = 7
CHUNK = 500  # spectra simulated at once
WAVE_MIN, WAVE_MAX, WAVE_STEP = 3600.0, 9800.0, 2.0
TARGETID_BASE = 1 << 60  # DESI-like: far above 2**53
C_KMS = 299_792.458
INSTRUMENT_SIGMA = 1.2  # Å, the spectrograph's line spread
MAX_R_MAG = 21.5
CLASS_SHARE = {"GALAXY": 0.7, "QSO": 0.15, "STAR": 0.15}
# A deep spectroscopic pointing: every object inside it gets a spectrum, however faint.
# It is the demo.objects field the demo images cover (RA 0, Dec -50, 51' wide), so the
# viewer's cutout thumbnails show these objects.
DEEP_FIELD = (0.0, -50.0, 0.42)  # ra, dec, radius in degrees

# Rest-frame vacuum wavelengths (Å) and relative strengths.
EMISSION_STARFORMING = (
    ("[OII]", 3727.09, 0.55),
    ("[OII]", 3729.88, 0.75),
    ("Hδ", 4102.89, 0.08),
    ("Hγ", 4341.68, 0.16),
    ("Hβ", 4862.68, 0.35),
    ("[OIII]", 4960.30, 0.17),
    ("[OIII]", 5008.24, 0.50),
    ("[NII]", 6549.86, 0.10),
    ("Hα", 6564.61, 1.00),
    ("[NII]", 6585.27, 0.30),
    ("[SII]", 6718.29, 0.20),
    ("[SII]", 6732.67, 0.15),
)
ABSORPTION_GALAXY = (
    ("Ca K", 3934.78, 0.35),
    ("Ca H", 3969.59, 0.30),
    ("G band", 4305.61, 0.15),
    ("Mg b", 5176.7, 0.15),
    ("Na D", 5895.6, 0.12),
)
ABSORPTION_STAR = (
    ("Hα", 6564.61, 0.35),
    ("Hβ", 4862.68, 0.40),
    ("Hγ", 4341.68, 0.40),
    ("Hδ", 4102.89, 0.40),
    ("Ca K", 3934.78, 0.30),
    ("Ca H", 3969.59, 0.25),
    ("Mg b", 5176.7, 0.20),
    ("Na D", 5895.6, 0.25),
)
EMISSION_QSO = (
    ("Lyα", 1215.67, 1.00, 2500.0),
    ("CIV", 1549.06, 0.45, 2500.0),
    ("CIII]", 1908.73, 0.25, 2500.0),
    ("MgII", 2798.75, 0.30, 2000.0),
    ("Hγ", 4341.68, 0.08, 1800.0),
    ("Hβ", 4862.68, 0.20, 1800.0),
    ("[OIII]", 5008.24, 0.08, 300.0),
    ("Hα", 6564.61, 0.60, 1800.0),
)
SKY_LINES = (5578.9, 5891.6, 5897.6, 6301.7, 6365.5, 6865.0, 7246.0, 7341.0, 7369.0, 7714.0,
             7794.0, 7821.0, 7913.0, 7993.0, 8344.6, 8399.2, 8430.2, 8465.4, 8505.0, 8761.3,
             8827.1, 8885.8, 8919.6, 8958.1, 9001.3, 9038.0, 9337.9, 9375.9, 9439.6, 9476.9,
             9567.6, 9703.5, 9720.0, 9792.0)  # fmt: skip


def wavelength_grid() -> np.ndarray:
    return WAVE_MIN + WAVE_STEP * np.arange(round((WAVE_MAX - WAVE_MIN) / WAVE_STEP) + 1)


def _gauss(wave: np.ndarray, centre: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Unit-area Gaussians, one row per spectrum (centre, sigma broadcast as (n, 1))."""
    return np.exp(-0.5 * ((wave - centre) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)


def _line_sigma(observed: np.ndarray, velocity_kms: np.ndarray | float) -> np.ndarray:
    return np.hypot(observed * np.asarray(velocity_kms) / C_KMS, INSTRUMENT_SIGMA)


def galaxy_models(rng: np.random.Generator, wave: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Shapes (arbitrary scale) of star-forming and passive galaxies at redshift ``z``."""
    n = len(z)
    rest = wave[None, :] / (1 + z[:, None])
    passive = rng.random(n) < 0.4
    slope = np.where(passive, rng.uniform(0.5, 1.5, n), rng.uniform(-1.5, 0.0, n))
    cont = (rest / 5000.0) ** slope[:, None]
    brk = np.where(passive, rng.uniform(0.3, 0.5, n), rng.uniform(0.05, 0.15, n))
    cont = cont * (1 - brk[:, None] / (1 + np.exp((rest - 4000.0) / 40.0)))
    dispersion = np.where(passive, rng.uniform(150, 250, n), rng.uniform(50, 120, n))
    absorb = np.ones_like(cont)
    for _, lam, depth in ABSORPTION_GALAXY:
        obs = lam * (1 + z)[:, None]
        sigma = _line_sigma(obs, dispersion[:, None])
        scale = np.where(passive, 1.0, 0.3)[:, None]
        absorb -= depth * scale * np.exp(-0.5 * ((wave - obs) / sigma) ** 2)
    model = cont * np.clip(absorb, 0.05, None)
    strength = np.where(passive, rng.uniform(0.0, 3.0, n), rng.uniform(10.0, 60.0, n))
    for _, lam, ratio in EMISSION_STARFORMING:
        obs = lam * (1 + z)[:, None]
        sigma = _line_sigma(obs, dispersion[:, None] * 0.6)
        model += strength[:, None] * ratio * _gauss(wave, obs, sigma)
    return model


def star_models(rng: np.random.Generator, wave: np.ndarray, z: np.ndarray) -> np.ndarray:
    n = len(z)
    temp = rng.uniform(3800.0, 11000.0, n)
    lam_cm = wave[None, :] * 1e-8
    x = np.clip(1.4388 / (lam_cm * temp[:, None]), None, 700.0)
    planck = 1.0 / (lam_cm**5 * np.expm1(x))
    model = planck / planck.mean(axis=1, keepdims=True)
    hot = np.clip((temp - 4000.0) / 5000.0, 0.0, 1.0)[:, None]
    for name, lam, depth in ABSORPTION_STAR:
        obs = lam * (1 + z)[:, None]
        weight = hot if name.startswith("H") else (1.2 - hot)
        sigma = _line_sigma(obs, 60.0) * (2.0 if name.startswith("H") else 1.0)
        model *= 1 - np.clip(depth * weight, 0.0, 0.8) * np.exp(-0.5 * ((wave - obs) / sigma) ** 2)
    return model


def qso_models(rng: np.random.Generator, wave: np.ndarray, z: np.ndarray) -> np.ndarray:
    n = len(z)
    rest = wave[None, :] / (1 + z[:, None])
    model = (rest / 3000.0) ** rng.uniform(-1.8, -1.2, n)[:, None]
    strength = rng.uniform(60.0, 200.0, n)
    for _, lam, ratio, width in EMISSION_QSO:
        obs = lam * (1 + z)[:, None]
        sigma = _line_sigma(obs, width)
        model += strength[:, None] * ratio * _gauss(wave, obs, sigma)
    # Lyman-α forest: the mean transmission below Lyα (Faucher-Giguère-like τ) with
    # pixel-to-pixel absorbers.
    forest = rest < 1215.67
    z_abs = wave[None, :] / 1215.67 - 1
    tau = 0.0025 * (1 + z_abs) ** 3.7 * rng.exponential(1.0, model.shape)
    model = np.where(forest, model * np.exp(-tau), model)
    return model


def sky_sigma(wave: np.ndarray) -> np.ndarray:
    """Per-pixel sky noise (flux units): a continuum rising to the red, plus sky lines."""
    sky = 1.0 + 0.6 * ((wave - WAVE_MIN) / (WAVE_MAX - WAVE_MIN)) ** 2
    for lam in SKY_LINES:
        sky += 12.0 * np.exp(-0.5 * ((wave - lam) / 1.5) ** 2)
    return 0.35 * np.sqrt(sky)


def r_band_flux(mag_r: np.ndarray) -> np.ndarray:
    """Mean f_λ (1e-17 erg/s/cm²/Å) of an AB magnitude at the r band's 6200 Å."""
    f_nu = 10 ** (-0.4 * (mag_r + 48.6))
    return f_nu * 2.998e18 / 6200.0**2 / 1e-17


def simulate(
    rng: np.random.Generator, cls: np.ndarray, z: np.ndarray, mag_r: np.ndarray
) -> dict[str, np.ndarray]:
    """Model, flux, ivar and mask for each object: (n, npix) arrays."""
    wave = wavelength_grid()
    n, npix = len(cls), len(wave)
    model = np.empty((n, npix))
    makers = {"GALAXY": galaxy_models, "STAR": star_models, "QSO": qso_models}
    for name, make in makers.items():
        rows = np.flatnonzero(cls == name)
        if len(rows):
            model[rows] = make(rng, wave, z[rows])
    r_window = (wave > 5500) & (wave < 6900)
    model *= (r_band_flux(mag_r) / model[:, r_window].mean(axis=1))[:, None]
    model = model.astype(np.float32)
    sigma = np.sqrt(sky_sigma(wave)[None, :] ** 2 + 0.02 * np.clip(model, 0.0, None))
    flux = model + rng.normal(0.0, 1.0, (n, npix)) * sigma
    mask = np.zeros((n, npix), dtype=np.uint8)
    hits = rng.poisson(1.5, n)
    for i in np.flatnonzero(hits):
        for _ in range(hits[i]):
            start = int(rng.integers(0, npix - 6))
            width = int(rng.integers(1, 6))
            mask[i, start : start + width] = 1
            flux[i, start : start + width] += rng.uniform(20, 200) * sigma[i, start]
    ivar = np.where(mask == 0, 1.0 / sigma**2, 0.0)
    return {
        "model": model,
        "flux": flux.astype(np.float32),
        "ivar": ivar.astype(np.float32),
        "mask": mask,
    }


def _in_deep_field(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ra0, dec0, radius = (np.radians(v) for v in DEEP_FIELD)
    ra_r, dec_r = np.radians(ra), np.radians(dec)
    cos_sep = np.sin(dec0) * np.sin(dec_r) + np.cos(dec0) * np.cos(dec_r) * np.cos(ra_r - ra0)
    return cos_sep >= np.cos(radius)


def _targets(data_dir: Path, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every object in the deep field (any magnitude), then ``count`` in all of bright
    demo.objects rows, mostly galaxies, some stars and quasars."""
    import duckdb

    store = CatalogStore.for_data_dir(data_dir)
    if not store.exists("demo.objects"):
        raise _Unavailable("demo.specobj needs demo.objects: build it first (--only objects)")
    ra0, dec0, radius = DEEP_FIELD
    width = radius / np.cos(np.radians(abs(dec0) + radius)) + 0.01
    box = (
        f"(dec BETWEEN {dec0 - radius} AND {dec0 + radius}) "
        f"AND abs(((ra - {ra0} + 540) % 360) - 180) < {width}"
    )
    con = duckdb.connect(str(store.get("demo.objects").serving_path), read_only=True)
    try:
        cols = con.sql(
            "SELECT ls_id, ra, dec, class, mag_r, photo_z FROM data "
            f"WHERE mag_r < {MAX_R_MAG} OR (mag_r IS NOT NULL AND {box}) ORDER BY ls_id"
        ).fetchnumpy()
    finally:
        con.close()
    cls = np.asarray(cols["class"]).astype(str)
    deep = np.flatnonzero(_in_deep_field(np.asarray(cols["ra"]), np.asarray(cols["dec"])))
    deep = deep[: count // 2]
    bright = np.asarray(cols["mag_r"]) < MAX_R_MAG
    bright[deep] = False
    left = count - len(deep)
    chosen: list[np.ndarray] = [deep]
    for name, share in CLASS_SHARE.items():
        rows = np.flatnonzero((cls == name) & bright)
        want = min(len(rows), round(left * share))
        chosen.append(rng.choice(rows, size=want, replace=False))
    picked = np.sort(np.concatenate(chosen))
    out = {k: np.asarray(v)[picked] for k, v in cols.items()}
    out["class"] = cls[picked]
    return out


def true_redshifts(rng: np.random.Generator, cls: np.ndarray, photo_z: np.ndarray) -> np.ndarray:
    """Galaxies near their photo-z; stars at a radial velocity; quasars 0.3 < z < 3.5."""
    z = np.empty(len(cls))
    gal = cls == "GALAXY"
    pz = np.nan_to_num(photo_z[gal].astype(float), nan=0.3)
    z[gal] = np.clip(pz + rng.normal(0, 0.03 * (1 + pz)), 0.01, 1.3)
    star = cls == "STAR"
    z[star] = rng.normal(0.0, 60.0, star.sum()) / C_KMS
    qso = cls == "QSO"
    z[qso] = rng.uniform(0.3, 3.5, qso.sum())
    return z


def _simulate_in_chunks(
    spec: BuildSpec, cls: np.ndarray, z: np.ndarray, mag_r: np.ndarray
) -> dict[str, np.ndarray]:
    """:func:`simulate` a chunk at a time (float64 work arrays stay small), with
    progress; each chunk has its own random stream, so the result does not depend on
    how the work is cut."""
    n, npix = len(cls), len(wavelength_grid())
    out: dict[str, np.ndarray] = {
        "model": np.empty((n, npix), np.float32),
        "flux": np.empty((n, npix), np.float32),
        "ivar": np.empty((n, npix), np.float32),
        "mask": np.empty((n, npix), np.uint8),
    }
    starts: Iterable[int] = range(0, n, CHUNK)
    if spec.progress and n > CHUNK:
        from tqdm import tqdm

        starts = tqdm(starts, desc="simulating demo.specobj", unit="chunk")
    for start in starts:
        part = slice(start, start + CHUNK)
        rng = np.random.default_rng([spec.seed, STREAM, 1, start // CHUNK])
        for name, values in simulate(rng, cls[part], z[part], mag_r[part]).items():
            out[name][part] = values
    return out


def write(dataset: Dataset, directory: Path, spec: BuildSpec) -> list[Path]:
    if spec.data_dir is None:
        raise _Unavailable("demo.specobj is built into a data directory, not as loose files")
    rng = np.random.default_rng([spec.seed, STREAM])
    t = _targets(spec.data_dir, spec.spectra, rng)
    n = len(t["ls_id"])
    cls = t["class"]
    z = true_redshifts(rng, cls, t["photo_z"])
    arrays = _simulate_in_chunks(spec, cls, z, t["mag_r"].astype(float))
    snr = np.empty(n)
    for start in range(0, n, CHUNK):
        part = slice(start, start + CHUNK)
        ivar = arrays["ivar"][part].astype(float)
        snr[part] = np.median(arrays["model"][part] * np.sqrt(ivar), axis=1)
    zerr = np.where(cls == "STAR", 1e-5, 1e-4) * (1 + z) * (2.0 / np.clip(snr, 0.3, None))
    z_fit = z + rng.normal(0.0, 1.0, n) * zerr
    zwarn = np.where(snr < 0.5, 4, 0).astype(np.int32)
    targetid = TARGETID_BASE + t["ls_id"].astype(np.int64)
    data = {
        "targetid": targetid,
        "ls_id": t["ls_id"],
        "ra": t["ra"],
        "dec": t["dec"],
        "class": pa.array(cls.tolist(), type=pa.string()),
        "z": z_fit,
        "zerr": zerr,
        "zwarn": zwarn,
        "z_true": z,
        "sn_median": snr,
        "mag_r": t["mag_r"],
        "npix": np.full(n, arrays["flux"].shape[1], dtype=np.int32),
    }
    write_collection(
        collection_path(spec.data_dir, dataset.table), targetid, wavelength_grid(), arrays
    )
    return [dataset.write_part(directory, 0, data)]


_DESCRIPTION = (
    "Simulated optical spectra of up to {spectra} bright demo.objects targets, and of every "
    "object within 0.42 deg of (RA 0, Dec -50), the imaged deep field (seed {seed}): "
    "galaxies with emission or absorption lines at their redshift, stars and quasars, on "
    "a 3600-9800 Angstrom grid in 2 Angstrom pixels. One row per spectrum; join to "
    "demo.objects on ls_id. The arrays (flux, ivar, mask, best-fit model) are served by "
    "/api/spectra and Client.spectra(). Not real data."
)

# fmt: off
DATASET = Dataset(
    key="specobj",
    ra="ra",
    dec="dec",
    id_column="targetid",
    description=_DESCRIPTION,
    writer=write,
    columns=(
        column("targetid", pa.int64(), "", "meta.id;meta.main",
               "Spectrum id (DESI-like, above 2**53: keep it an integer, never a float)"),
        column("ls_id", pa.int64(), "", "meta.id;meta.cross",
               "ls_id of the demo.objects row this spectrum was taken of"),
        column("ra", pa.float64(), "deg", "pos.eq.ra;meta.main", "Right ascension (ICRS)"),
        column("dec", pa.float64(), "deg", "pos.eq.dec;meta.main", "Declination (ICRS)"),
        column("class", pa.string(), "", "src.class",
               "Spectral class: GALAXY, STAR or QSO", principal=True),
        column("z", pa.float64(), "", "src.redshift", "Fitted redshift", principal=True),
        column("zerr", pa.float64(), "", "stat.error;src.redshift", "1-sigma error of z"),
        column("zwarn", pa.int32(), "", "meta.code.qual",
               "Redshift warning flags; 0 is a confident fit, 4 low signal-to-noise"),
        column("z_true", pa.float64(), "", "src.redshift",
               "Redshift the spectrum was simulated at (the truth)"),
        column("sn_median", pa.float32(), "", "stat.snr",
               "Median signal-to-noise ratio per pixel of the model", principal=True),
        column("mag_r", pa.float32(), "mag", "phot.mag;em.opt.R",
               "r magnitude of the target in demo.objects"),
        column("npix", pa.int32(), "", "meta.number", "Number of pixels in the spectrum"),
    ),
)
# fmt: on
