"""``demo.smash``: a synthetic deep DECam field like those of SMASH DR2, with an
ultra-faint dwarf galaxy hidden in it.

The field is a 1°-radius disc (3.1 deg²) centred on RA 185.10°, Dec −32.30°
(l ≈ 295°, b ≈ +30°), called field 169 like the SMASH field in which Hydra II was found
(Martin et al. 2015, ApJ 804, L5). At this latitude the foreground is crowded: about
9,000 Milky Way stars per deg² down to r ≈ 26 (halo turn-off stars among them), 33,000
galaxies per deg², many of them small and faint enough to look point-like, and a few
hundred quasars. Depths (5σ, all exposures) are u 24.2, g 25.3, r 25.0, i 24.6, z 24.0.

The dwarf is modelled on Hydra II: an old (12 Gyr), metal-poor ([M/H] = −2.19) single
population drawn with the Chabrier IMF weights of a PARSEC isochrone, put at 134 kpc
(distance modulus 20.64), about 1,500 stars above 0.6 M☉ of which a few hundred are
detected — subgiants and turn-off stars at g ≈ 24–25, a thin red giant branch and about
ten blue horizontal-branch stars at g ≈ 21.2, g−r ≈ −0.2. Its stars follow a
Plummer profile with half-light radius 2.0′, ellipticity 0.2, position angle 30°.
Nothing in the table says which rows are members; the centre is only given in the
table description.

How to find it, as the Astro Data Lab notebook "Detecting the Hydra II dwarf galaxy in
SMASH" does: select point sources (``abs(sharp) < 0.5``) that are blue
(``gmag - rmag BETWEEN -0.4 AND 0.4``) and not too faint (``gmag < 25``), map their
density on the sky in 0.5′ pixels smoothed over ~2′, and the dwarf is the one peak that
stands far above the background (> 10σ with the default seed); a CMD of the stars within
3′ of the peak then shows the subgiant branch, red giant branch and horizontal branch of
an old population at ~130 kpc.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from skydock.demo import population, sky
from skydock.demo.dataset import BuildSpec, Dataset, column

STREAM = 2
FIELD_ID = 169
FIELD_RA, FIELD_DEC, FIELD_RADIUS = 185.10, -32.30, 1.0

DWARF_RA, DWARF_DEC = 185.4254, -31.9853
DWARF_DISTANCE_MODULUS = 20.64
DWARF_HALF_LIGHT_ARCMIN = 2.0
DWARF_ELLIPTICITY = 0.2
DWARF_POSITION_ANGLE = 30.0
DWARF_STARS = 1500  # initial mass > 0.6 M☉, including the horizontal branch

STAR_DENSITY = 9_000.0  # per deg²
GALAXY_DENSITY = 33_000.0
QSO_DENSITY = 250.0

BANDS = ("u", "g", "r", "i", "z")
DEPTH = {"u": 24.2, "g": 25.3, "r": 25.0, "i": 24.6, "z": 24.0}
EXPOSURES = {"u": 5, "g": 6, "r": 6, "i": 6, "z": 6}
SATURATION_G = 17.5  # brighter than this, only the short exposures are usable
SHORT_LIMIT_G = 22.0  # fainter than this, only the long exposures detect the object

# PARSEC v1.2S isochrone (Bressan et al. 2012, MNRAS 427, 127; Chen et al. 2014),
# age 12 Gyr, Z = 0.0001 ([M/H] = -2.192), DECam AB absolute magnitudes, Chabrier (2001)
# lognormal IMF, Reimers eta = 0.2; rows of the CMD 2.7 output as shipped with the ugali
# suite. Columns: cumulative IMF (int_IMF), u, g, r, i, z. Main sequence from 0.60 M☉,
# turn-off, subgiant branch and red giant branch up to the tip:
_ISOCHRONE_RGB = np.array([
    [2.95739889, 7.501, 6.737, 6.251, 6.090, 6.029],
    [2.99236870, 6.700, 6.083, 5.707, 5.591, 5.560],
    [3.02253795, 5.932, 5.400, 5.112, 5.037, 5.031],
    [3.03554964, 5.531, 5.023, 4.772, 4.714, 4.720],
    [3.04776931, 5.070, 4.571, 4.355, 4.314, 4.331],
    [3.05335593, 4.806, 4.309, 4.109, 4.078, 4.099],
    [3.05832052, 4.529, 4.032, 3.846, 3.821, 3.846],
    [3.06025982, 4.409, 3.912, 3.729, 3.705, 3.730],
    [3.06214523, 4.279, 3.780, 3.595, 3.570, 3.593],
    [3.06370091, 4.159, 3.656, 3.463, 3.434, 3.455],
    [3.06428123, 4.111, 3.606, 3.409, 3.377, 3.396],
    [3.06558347, 3.988, 3.476, 3.256, 3.211, 3.222],
    [3.06670833, 3.881, 3.344, 3.078, 3.010, 3.006],
    [3.06747556, 3.818, 3.243, 2.920, 2.823, 2.800],
    [3.06804466, 3.744, 3.127, 2.757, 2.638, 2.599],
    [3.06850338, 3.602, 2.953, 2.553, 2.420, 2.372],
    [3.06861162, 3.558, 2.902, 2.496, 2.360, 2.310],
    [3.06908417, 3.310, 2.630, 2.205, 2.061, 2.005],
    [3.06956935, 2.993, 2.293, 1.853, 1.701, 1.640],
    [3.06997919, 2.652, 1.932, 1.477, 1.318, 1.251],
    [3.07028461, 2.325, 1.585, 1.114, 0.947, 0.876],
    [3.07051277, 2.019, 1.248, 0.759, 0.585, 0.508],
    [3.07072663, 1.637, 0.823, 0.308, 0.122, 0.038],
    [3.07090473, 1.186, 0.316, -0.236, -0.435, -0.529],
    [3.07103705, 0.716, -0.237, -0.838, -1.058, -1.163],
    [3.07113695, 0.300, -0.764, -1.426, -1.667, -1.785],
    [3.07118273, -0.026, -1.208, -1.935, -2.199, -2.331],
    [3.07121491, -0.287, -1.622, -2.429, -2.723, -2.871],
    [3.07123375, -0.451, -1.934, -2.822, -3.143, -3.307],
    [3.07124996, -0.593, -2.250, -3.237, -3.594, -3.776],
])  # fmt: skip
# ... and the core-helium-burning horizontal branch of the same isochrone, from the blue
# zero-age end (Teff ≈ 8,900 K) to the red end:
_ISOCHRONE_HB = np.array([
    [3.07124996, 1.016, 0.612, 0.855, 1.056, 1.130],
    [3.07133198, 0.943, 0.517, 0.736, 0.922, 0.988],
    [3.07143688, 0.936, 0.501, 0.711, 0.892, 0.956],
    [3.07151723, 0.923, 0.473, 0.658, 0.825, 0.884],
    [3.07159519, 0.908, 0.436, 0.574, 0.715, 0.766],
    [3.07167339, 0.918, 0.426, 0.476, 0.573, 0.617],
    [3.07173276, 0.941, 0.440, 0.408, 0.461, 0.494],
    [3.07179189, 0.982, 0.464, 0.342, 0.346, 0.364],
    [3.07185149, 1.036, 0.488, 0.274, 0.229, 0.226],
    [3.07189608, 1.066, 0.475, 0.181, 0.096, 0.073],
    [3.07191682, 1.043, 0.370, -0.021, -0.151, -0.201],
    [3.07191944, 0.994, 0.267, -0.174, -0.327, -0.390],
])  # fmt: skip


def isochrone_stars(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Absolute u g r i z of ``n`` stars drawn along the isochrone with IMF weights."""
    spans = [seg[-1, 0] - seg[0, 0] for seg in (_ISOCHRONE_RGB, _ISOCHRONE_HB)]
    on_hb = rng.random(n) < spans[1] / sum(spans)
    out = {band: np.empty(n) for band in BANDS}
    for seg, mask in ((_ISOCHRONE_RGB, ~on_hb), (_ISOCHRONE_HB, on_hb)):
        imf = rng.uniform(seg[0, 0], seg[-1, 0], int(mask.sum()))
        for k, band in enumerate(BANDS, start=1):
            out[band][mask] = np.interp(imf, seg[:, 0], seg[:, k])
    return out


def plummer_offsets(
    rng: np.random.Generator, n: int, half_light_deg: float, ellipticity: float, pa_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane offsets (ξ east, η north; deg) of an elliptical Plummer profile."""
    u = rng.uniform(0.0, 0.99, n)
    radius = half_light_deg * np.sqrt(u / (1.0 - u))
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    major = radius * np.cos(phi)
    minor = radius * np.sin(phi) * (1.0 - ellipticity)
    theta = math.radians(pa_deg)
    xi = major * math.sin(theta) + minor * math.cos(theta)
    eta = major * math.cos(theta) - minor * math.sin(theta)
    return xi, eta


def _field_positions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions in the spherical cap of the field."""
    cos_r = math.cos(math.radians(FIELD_RADIUS))
    cos_t = rng.uniform(cos_r, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    # Gnomonic offsets of points at angular distance t and position angle phi.
    tan_t = sin_t / cos_t
    return sky.offsets_to_radec(
        FIELD_RA, FIELD_DEC, np.degrees(tan_t * np.sin(phi)), np.degrees(tan_t * np.cos(phi))
    )


def generate(seed: int) -> dict[str, np.ndarray]:
    """The whole field as columns; rows in random order with ids assigned afterwards."""
    rng = np.random.default_rng([seed, STREAM])
    area = 2.0 * math.pi * (1.0 - math.cos(math.radians(FIELD_RADIUS))) * math.degrees(1.0) ** 2
    densities = (STAR_DENSITY, GALAXY_DENSITY, QSO_DENSITY)
    n_star, n_gal, n_qso = (int(rng.poisson(d * area)) for d in densities)
    field = population.concatenate(
        [
            population.stars(rng, n_star, bright=15.5, faint=25.8, slope=0.12),
            population.galaxies(rng, n_gal, bright=17.0, faint=25.5),
            population.quasars(rng, n_qso, faint=24.5),
        ]
    )
    ra, dec = _field_positions(rng, n_star + n_gal + n_qso)

    members = isochrone_stars(rng, DWARF_STARS)
    spread = rng.normal(0.0, 0.02, DWARF_STARS)  # binaries and a little depth
    half_light = DWARF_HALF_LIGHT_ARCMIN / 60.0
    xi, eta = plummer_offsets(rng, DWARF_STARS, half_light, DWARF_ELLIPTICITY, DWARF_POSITION_ANGLE)
    m_ra, m_dec = sky.offsets_to_radec(DWARF_RA, DWARF_DEC, xi, eta)

    true = {
        b: np.concatenate([field[b], members[b] + DWARF_DISTANCE_MODULUS + spread]) for b in BANDS
    }
    shape_r = np.concatenate([field["shape_r"], np.zeros(DWARF_STARS)])
    ra = np.concatenate([ra, m_ra])
    dec = np.concatenate([dec, m_dec])
    n = len(ra)

    glon, glat = sky.galactic(ra, dec)
    ebv = sky.ebv_map(glon, glat)
    size = 1.0 + 1.5 * shape_r
    out: dict[str, np.ndarray] = {}
    snr_best = np.zeros(n)
    ndet = np.zeros(n, dtype=np.int64)
    for band in BANDS:
        observed = true[band] + sky.EXTINCTION[band] * ebv
        flux, sigma = sky.observe(rng, observed, DEPTH[band], size, floor=0.01)
        snr = flux / sigma
        mag, err = sky.flux_to_mag(flux, sigma)
        detected = snr >= 3.0
        single = snr / math.sqrt(EXPOSURES[band])
        p_single = 1.0 / (1.0 + np.exp(-(single - 2.0) / 0.5))
        nd = np.where(detected, np.maximum(1, rng.binomial(EXPOSURES[band], p_single)), 0)
        out[f"{band}mag"] = np.where(detected, mag, np.nan)
        out[f"{band}err"] = np.where(detected, err, np.nan)
        out[f"ndet{band}"] = nd
        ndet += nd
        snr_best = np.maximum(snr_best, np.where(detected, snr, 0.0))

    noise = 0.04 + 1.2 / np.maximum(snr_best, 1.0)
    sharp = 0.9 * shape_r / (shape_r + 0.7) + rng.normal(0.0, 1.0, n) * noise
    chi = 1.0 + np.abs(rng.normal(0.0, 0.1, n)) + 0.002 * snr_best + 1.5 * shape_r / (shape_r + 1.0)
    stellar = 1.0 / (1.0 + np.exp((np.abs(sharp) - 0.3) / 0.06))
    prob = 0.5 + (stellar - 0.5) * np.clip(snr_best / 30.0, 0.0, 1.0)
    pos_err = 0.5 / np.maximum(snr_best, 1.0) + 0.01
    g_true = true["g"] + sky.EXTINCTION["g"] * ebv
    depthflag = np.where(g_true < SATURATION_G, 1, np.where(g_true > SHORT_LIMIT_G, 2, 3))

    keep = (out["ndetg"] + out["ndetr"] > 0) & (ndet >= 2)
    order = rng.permutation(np.flatnonzero(keep))
    result: dict[str, np.ndarray] = {
        "id": FIELD_ID * 10_000_000 + np.arange(1, len(order) + 1, dtype=np.int64),
        "fieldid": np.full(len(order), FIELD_ID, dtype=np.int16),
        "ra": ra[order],
        "dec": dec[order],
        "raerr": pos_err[order],
        "decerr": pos_err[order] * rng.uniform(0.9, 1.1, len(order)),
    }
    for band in BANDS:
        result[f"{band}mag"] = out[f"{band}mag"][order]
        result[f"{band}err"] = out[f"{band}err"][order]
    result.update(
        chi=chi[order],
        sharp=sharp[order],
        prob=prob[order],
        ebv=ebv[order],
        ndet=ndet[order],
        **{f"ndet{band}": out[f"ndet{band}"][order] for band in BANDS},
        depthflag=depthflag[order],
    )
    return result


def write(dataset: Dataset, directory: Path, spec: BuildSpec) -> list[Path]:
    return [dataset.write_part(directory, 0, generate(spec.seed))]


_BAND_UCD = {"u": "em.opt.U", "g": "em.opt.B", "r": "em.opt.R", "i": "em.opt.I", "z": "em.opt.I"}


def _photometry() -> list:
    cols = []
    for b in BANDS:
        cols.append(column(f"{b}mag", pa.float32(), "mag", f"phot.mag;{_BAND_UCD[b]}",
                           f"Mean DECam {b} AB magnitude, not corrected for extinction; "
                           "NULL if not detected in this band",
                           principal=b in "gri"))  # fmt: skip
        cols.append(column(f"{b}err", pa.float32(), "mag", f"stat.error;phot.mag;{_BAND_UCD[b]}",
                           f"Uncertainty of {b}mag"))  # fmt: skip
    return cols


_DESCRIPTION = (
    "Synthetic deep DECam field modelled on SMASH DR2 field 169 (seed {seed}): "
    "a 1-degree-radius disc at RA 185.10, Dec -32.30 with a crowded Milky Way foreground, "
    "background galaxies and quasars, ugriz to g ~ 25. An ultra-faint dwarf galaxy like "
    "Hydra II (12 Gyr, [M/H] = -2.2, 134 kpc, r_h = 2 arcmin) is hidden in it - find it "
    "with a density map of blue point sources. Answer: it is centred at RA 185.4254, "
    "Dec -31.9853. Magnitudes are not corrected for extinction (A = R * ebv with "
    "R = 3.963 u, 3.214 g, 2.165 r, 1.592 i, 1.211 z). Not real data."
)

# fmt: off
DATASET = Dataset(
    key="smash",
    ra="ra",
    dec="dec",
    id_column="id",
    description=_DESCRIPTION,
    writer=write,
    columns=(
        column("id", pa.int64(), "", "meta.id;meta.main",
               "Unique object id: fieldid * 10^7 + running number"),
        column("fieldid", pa.int16(), "", "meta.id;obs.field", "SMASH field number"),
        column("ra", pa.float64(), "deg", "pos.eq.ra;meta.main", "Right ascension (ICRS)"),
        column("dec", pa.float64(), "deg", "pos.eq.dec;meta.main", "Declination (ICRS)"),
        column("raerr", pa.float32(), "arcsec", "stat.error;pos.eq.ra",
               "Uncertainty of ra (times cos dec)"),
        column("decerr", pa.float32(), "arcsec", "stat.error;pos.eq.dec",
               "Uncertainty of dec"),
        *_photometry(),
        column("chi", pa.float32(), "", "stat.fit.chi2",
               "Mean DAOPHOT chi of the PSF fit (about 1 for stars, larger for galaxies)"),
        column("sharp", pa.float32(), "", "src.morph.param",
               "Mean DAOPHOT sharpness: about 0 for point sources, positive for extended "
               "objects, negative for cosmic rays", principal=True),
        column("prob", pa.float32(), "", "src.class.starGalaxy",
               "Stellarity probability, 1 = point source, 0 = extended"),
        column("ebv", pa.float32(), "mag", "phot.color.excess",
               "Galactic reddening E(B-V) at this position (smooth SFD-like model)"),
        column("ndet", pa.int16(), "", "meta.number",
               "Number of detections in all bands"),
        *(column(f"ndet{b}", pa.int16(), "", f"meta.number;{_BAND_UCD[b]}",
                 f"Number of {b}-band exposures with a detection") for b in BANDS),
        column("depthflag", pa.int16(), "", "meta.code",
               "1 = only short exposures (bright), 2 = only long exposures (faint), 3 = both"),
    ),
)
# fmt: on
