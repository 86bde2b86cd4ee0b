"""The small amount of astrophysics the synthetic demo catalogs share.

Galactic coordinates, a smooth dust map, DECam/WISE extinction coefficients, a
photometric noise model and the stellar locus. None of it is meant to be exact; it is
meant to make queries on the demo tables behave like queries on real survey tables:
stars crowd toward the Galactic plane, colours separate stars from galaxies and
quasars, errors grow toward the survey depth.
"""

from __future__ import annotations

import math

import numpy as np

# ICRS → Galactic rotation (Hipparcos catalogue, ESA 1997, vol. 1 §1.5.3).
_ICRS_TO_GALACTIC = np.array(
    [
        [-0.0548755604162154, -0.8734370902348850, -0.4838350155487132],
        [+0.4941094278755837, -0.4448296299600112, +0.7469822444972189],
        [-0.8676661490190047, -0.1980763734312015, +0.4559837761750669],
    ]
)

# A_band / E(B-V) for DECam ugrizY and unWISE W1/W2, as used by the Legacy Surveys
# (Schlafly & Finkbeiner 2011 recalibration of SFD); u from the DES DR1 paper.
EXTINCTION = {
    "u": 3.963,
    "g": 3.214,
    "r": 2.165,
    "i": 1.592,
    "z": 1.211,
    "w1": 0.184,
    "w2": 0.113,
}

NANOMAGGY_ZEROPOINT = 22.5  # AB mag of 1 nanomaggy
_MAG_PER_LN = 2.5 / math.log(10.0)

# Main-sequence stellar locus, indexed by g-r (DECam/SDSS-like, AB). Colours follow the
# SDSS stellar locus of Covey et al. (2007, AJ 134, 2398); absolute magnitudes M_r the
# photometric parallax relation of Ivezić et al. (2008, ApJ 684, 287); z-W1 and W1-W2
# converted from Vega to AB with the WISE offsets (2.699, 3.339).
_LOCUS_GR = np.array([0.20, 0.40, 0.60, 0.80, 1.00, 1.20, 1.35, 1.45, 1.50, 1.55])
_LOCUS = {
    "ug": np.array([0.95, 1.05, 1.35, 1.75, 2.15, 2.45, 2.60, 2.65, 2.70, 2.70]),
    "ri": np.array([0.04, 0.11, 0.19, 0.28, 0.38, 0.55, 0.80, 1.10, 1.40, 1.80]),
    "iz": np.array([0.00, 0.04, 0.09, 0.14, 0.20, 0.30, 0.42, 0.58, 0.75, 0.95]),
    "zw1": np.array([-1.90, -1.60, -1.35, -1.15, -0.95, -0.70, -0.45, -0.20, 0.00, 0.20]),
    "w1w2": np.array([-0.64, -0.65, -0.67, -0.69, -0.70, -0.70, -0.66, -0.60, -0.55, -0.50]),
    "mr": np.array([3.8, 4.4, 5.2, 6.1, 7.0, 8.0, 9.0, 10.0, 10.8, 11.8]),
}


def unit_vectors(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    ra = np.radians(ra_deg)
    dec = np.radians(dec_deg)
    cos_dec = np.cos(dec)
    return np.stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)])


def galactic(ra_deg: np.ndarray, dec_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (deg) → Galactic l, b (deg), by one matrix product instead of astropy."""
    x, y, z = _ICRS_TO_GALACTIC @ unit_vectors(ra_deg, dec_deg)
    glon = np.degrees(np.arctan2(y, x)) % 360.0
    glat = np.degrees(np.arcsin(np.clip(z, -1.0, 1.0)))
    return glon, glat


def ebv_map(glon: np.ndarray, glat: np.ndarray) -> np.ndarray:
    """A smooth stand-in for the SFD reddening map: a csc|b| slab with gentle ripples."""
    b = np.radians(glat)
    ell = np.radians(glon)
    slab = 0.022 / np.maximum(np.abs(np.sin(b)), 0.05)
    ripple = 1.0 + 0.3 * np.sin(3.0 * ell) * np.cos(2.0 * b) + 0.2 * np.cos(ell)
    return 0.008 + slab * ripple


def star_density_weight(glon: np.ndarray, glat: np.ndarray) -> np.ndarray:
    """Relative surface density of field stars: rises toward the plane and the bulge."""
    sin_b = np.maximum(np.abs(np.sin(np.radians(glat))), 0.2)
    dl = (glon + 180.0) % 360.0 - 180.0
    return sin_b**-1.3 * (1.0 + 1.2 * np.exp(-((dl / 35.0) ** 2)))


def power_law_mags(
    rng: np.random.Generator, n: int, lo: float, hi: float, slope: float
) -> np.ndarray:
    """Magnitudes with counts dN/dm ∝ 10^(slope·m) between lo and hi (inverse CDF)."""
    u = rng.random(n)
    span = 10.0 ** (slope * (hi - lo)) - 1.0
    return lo + np.log10(1.0 + u * span) / slope


def stellar_colours(gr: np.ndarray) -> dict[str, np.ndarray]:
    """Colours and M_r along the main-sequence locus for the given g-r."""
    gr = np.clip(gr, _LOCUS_GR[0], _LOCUS_GR[-1])
    return {key: np.interp(gr, _LOCUS_GR, values) for key, values in _LOCUS.items()}


def flux_sigma(depth5: np.ndarray | float) -> np.ndarray | float:
    """1σ flux error (nanomaggies) of a survey whose 5σ point-source depth is ``depth5``."""
    return 10.0 ** (-0.4 * (np.asarray(depth5) - NANOMAGGY_ZEROPOINT)) / 5.0


def observe(
    rng: np.random.Generator,
    true_mag: np.ndarray,
    depth5: np.ndarray | float,
    size_factor: np.ndarray | float = 1.0,
    floor: float = 0.005,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy flux and its 1σ error (both nanomaggies) for objects of the given true mags.

    ``size_factor`` inflates the error of extended sources; ``floor`` is the fractional
    calibration error added in quadrature.
    """
    flux_true = 10.0 ** (-0.4 * (true_mag - NANOMAGGY_ZEROPOINT))
    sigma = np.hypot(flux_sigma(depth5) * size_factor, floor * flux_true)
    flux = flux_true + rng.standard_normal(true_mag.shape) * sigma
    return flux, sigma


def flux_to_mag(flux: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AB magnitude and its error; NaN where the flux is not positive."""
    positive = flux > 0
    safe = np.where(positive, flux, 1.0)
    mag = np.where(positive, NANOMAGGY_ZEROPOINT - 2.5 * np.log10(safe), np.nan)
    err = np.where(positive, _MAG_PER_LN * sigma / safe, np.nan)
    return mag, err


def offsets_to_radec(
    ra0: float, dec0: float, xi_deg: np.ndarray, eta_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse gnomonic projection: tangent-plane offsets (deg) about (ra0, dec0) → ra, dec."""
    xi = np.radians(xi_deg)
    eta = np.radians(eta_deg)
    d0 = math.radians(dec0)
    denom = math.cos(d0) - eta * math.sin(d0)
    ra = math.radians(ra0) + np.arctan2(xi, denom)
    dec = np.arctan2(math.sin(d0) + eta * math.cos(d0), np.hypot(xi, denom))
    return np.degrees(ra) % 360.0, np.degrees(dec)
