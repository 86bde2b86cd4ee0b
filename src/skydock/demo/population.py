"""Field populations shared by the wide survey (``demo.objects``) and the deep field
(``demo.smash``): Milky Way stars, galaxies and quasars.

Each function returns *true* magnitudes (before extinction and noise) in u g r i z W1 W2
(AB), a morphological type code, a half-light radius and the physical quantities the
tables expose (photometric redshift, parallax, proper motion). Brightness limits are
parameters because the deep field reaches two magnitudes fainter than the wide survey.
"""

from __future__ import annotations

import numpy as np

from skydock.demo import sky

TYPES = ("PSF", "REX", "EXP", "DEV", "SER")
PSF, REX, EXP, DEV, SER = range(5)

Population = dict[str, np.ndarray]


def stars(
    rng: np.random.Generator,
    n: int,
    bright: float = 15.0,
    faint: float = 24.0,
    slope: float = 0.18,
    gaia_limit: float = 21.0,
) -> Population:
    """Halo turn-off stars, thick-disk dwarfs and thin-disk M dwarfs along the locus."""
    pop = rng.choice(3, size=n, p=[0.45, 0.30, 0.25])
    gr = np.choose(
        pop,
        [rng.normal(0.32, 0.08, n), rng.normal(0.60, 0.18, n), rng.normal(1.35, 0.12, n)],
    )
    gr = np.clip(gr, 0.2, 1.55)
    loc = sky.stellar_colours(gr)
    r = sky.power_law_mags(rng, n, bright, faint, slope)

    def jitter(scale: float = 0.03) -> np.ndarray:
        return rng.normal(0.0, scale, n)

    g = r + gr
    i = r - (loc["ri"] + jitter())
    z = i - (loc["iz"] + jitter())
    w1 = z - (loc["zw1"] + jitter(0.06))
    abs_r = loc["mr"] + jitter(0.3)
    dist_kpc = 10.0 ** ((r - abs_r + 5.0) / 5.0) / 1000.0
    sigma_v = np.choose(pop, [120.0, 50.0, 30.0])  # km/s per component
    pm_true = rng.normal(0.0, 1.0, (2, n)) * sigma_v / (4.74 * dist_kpc)
    err_plx = np.maximum(0.02, 0.02 * 10.0 ** (0.2 * (r - 13.0)))
    gaia = r < gaia_limit
    nan = np.full(n, np.nan)
    rex = (r > 22.5) & (rng.random(n) < 0.10)
    return {
        "u": g + loc["ug"] + jitter(0.08), "g": g, "r": r, "i": i, "z": z, "w1": w1,
        "w2": w1 - (loc["w1w2"] + jitter(0.04)),
        "type": np.where(rex, REX, PSF),
        "shape_r": np.where(rex, rng.uniform(0.1, 0.4, n), 0.0),
        "sersic": np.where(rex, 1.0, 0.0),
        "photo_z": nan,
        "parallax": np.where(gaia, 1.0 / dist_kpc + jitter(1.0) * err_plx, nan),
        "pmra": np.where(gaia, pm_true[0] + jitter(1.0) * err_plx * 1.1, nan),
        "pmdec": np.where(gaia, pm_true[1] + jitter(1.0) * err_plx * 1.1, nan),
    }  # fmt: skip


def galaxies(
    rng: np.random.Generator, n: int, bright: float = 15.5, faint: float = 24.2
) -> Population:
    """Red (early-type) and blue (star-forming) galaxies; fainter ones are more distant,
    smaller and more often unresolved."""
    r = sky.power_law_mags(rng, n, bright, faint, 0.45)
    z_med = 0.04 + 0.085 * (r - 15.5)
    zred = np.clip(z_med * np.exp(rng.normal(0, 0.35, n)), 0.005, 1.8)
    red = rng.random(n) < np.clip(0.45 - 0.03 * (r - 16.0), 0.2, 0.45)
    gr_red = 0.7 + 2.2 * np.minimum(zred, 0.4) + 0.3 * np.maximum(zred - 0.4, 0.0)
    gr_blue = np.where(zred < 0.5, 0.35 + 0.5 * zred, 0.6 - 0.15 * (zred - 0.5))
    gr = np.where(red, gr_red + rng.normal(0, 0.08, n), gr_blue + rng.normal(0, 0.12, n))
    ug = np.where(red, 1.6 + 0.8 * np.minimum(zred, 0.5), 0.9 + 0.4 * zred)
    rz = np.where(red, 0.45 + 1.4 * zred, 0.3 + 0.7 * zred) + rng.normal(0, 0.08, n)
    ri = 0.55 * rz + rng.normal(0, 0.03, n)
    zw1 = np.where(red, -0.3 + 1.6 * zred, -0.2 + 1.2 * zred) + rng.normal(0, 0.15, n)
    w1w2 = -0.55 + 0.25 * zred + rng.normal(0, 0.08, n)
    u = rng.random(n)
    gtype = np.where(
        red,
        np.select([u < 0.55, u < 0.80], [DEV, SER], REX),
        np.select([u < 0.60, u < 0.90], [EXP, REX], SER),
    )
    unresolved = rng.random(n) < np.clip((r - 21.5) / 2.7 * 0.35, 0.0, 0.35)
    gtype = np.where(unresolved, PSF, gtype)
    size = 2.0 * 10.0 ** (-0.16 * (r - 18.0)) * 10.0 ** rng.normal(0, 0.2, n)
    size = np.clip(np.where(gtype == REX, 0.5 * size, size), 0.05, 60.0)
    sersic = np.select(
        [gtype == EXP, gtype == DEV, gtype == REX, gtype == SER],
        [1.0, 4.0, 1.0, np.round(rng.uniform(0.5, 6.0, n), 1)],
        0.0,
    )
    photo_z = zred + rng.normal(0, 1, n) * 0.03 * (1 + zred)
    outlier = rng.random(n) < 0.03
    photo_z = np.clip(np.where(outlier, rng.uniform(0.0, 1.5, n), photo_z), 0.0, None)
    g = r + gr
    z = r - rz
    w1 = z - zw1
    nan = np.full(n, np.nan)
    return {
        "u": g + ug + rng.normal(0, 0.15, n), "g": g, "r": r, "i": r - ri, "z": z,
        "w1": w1, "w2": w1 - w1w2,
        "type": gtype, "shape_r": np.where(gtype == PSF, 0.0, size), "sersic": sersic,
        "photo_z": photo_z, "parallax": nan, "pmra": nan, "pmdec": nan,
    }  # fmt: skip


def quasars(
    rng: np.random.Generator, n: int, bright: float = 17.5, faint: float = 23.5
) -> Population:
    """Point-like, blue in u-g and g-r, bright in W1 (red z-W1)."""
    r = sky.power_law_mags(rng, n, bright, faint, 0.5)
    zq = rng.uniform(0.4, 3.2, n)
    g = r + 0.15 + 0.4 * np.clip(zq - 2.2, 0.0, 1.0) + rng.normal(0, 0.12, n)
    i = r - (0.12 + rng.normal(0, 0.08, n))
    z = i - (0.05 + rng.normal(0, 0.08, n))
    w1 = z - (1.2 + rng.normal(0, 0.35, n))
    rex = rng.random(n) < 0.05
    nan = np.full(n, np.nan)
    return {
        "u": g + 0.25 + 1.5 * np.clip(zq - 2.5, 0.0, 1.0) + rng.normal(0, 0.15, n),
        "g": g, "r": r, "i": i, "z": z, "w1": w1,
        "w2": w1 - (0.35 + rng.normal(0, 0.15, n)),
        "type": np.where(rex, REX, PSF),
        "shape_r": np.where(rex, rng.uniform(0.1, 0.3, n), 0.0),
        "sersic": np.where(rex, 1.0, 0.0),
        "photo_z": nan, "parallax": nan, "pmra": nan, "pmdec": nan,
    }  # fmt: skip


def concatenate(parts: list[Population]) -> Population:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
