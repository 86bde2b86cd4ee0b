"""Cutouts as pictures: PNG or JPEG, one band in grey or three bands in colour.

North is up as stored (row 0 of a FITS image is the bottom, so rows are flipped). The
grey levels run from one robust σ below the sky (median) to the 99.5th percentile (at
least 25σ above the sky), then through the chosen astropy.visualization stretch. Colour
composites use the Lupton et al. (2004) asinh scheme (``make_lupton_rgb``) for
``asinh``, which keeps the colours of bright sources, and one shared interval plus the
stretch on each band otherwise, so the bands stay comparable.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from astropy.visualization import (
    AsinhStretch,
    BaseStretch,
    LinearStretch,
    LogStretch,
    PercentileInterval,
    SqrtStretch,
    make_lupton_rgb,
)

from skydock.errors import InvalidRequestError

STRETCHES = ("asinh", "linear", "log", "sqrt")
PICTURE_FORMATS = {"png": "image/png", "jpeg": "image/jpeg"}
PERCENT = 99.5


def _stretch(name: str) -> BaseStretch:
    if name == "asinh":
        return AsinhStretch(0.1)
    if name == "linear":
        return LinearStretch()
    if name == "log":
        return LogStretch(1000)
    if name == "sqrt":
        return SqrtStretch()
    raise InvalidRequestError(f"stretch {name!r} is not known; use {', '.join(STRETCHES)}")


def check_picture(fmt: str, stretch: str) -> None:
    if fmt not in PICTURE_FORMATS:
        raise InvalidRequestError(f"format {fmt!r} is not a picture format; use png or jpeg")
    _stretch(stretch)


def _unit_scale(data: npt.NDArray[np.floating], lo: float, hi: float, stretch: str) -> np.ndarray:
    span = hi - lo if hi > lo else 1.0
    scaled = np.clip((np.nan_to_num(data, nan=lo) - lo) / span, 0.0, 1.0)
    return np.asarray(_stretch(stretch)(scaled, clip=True))


def _limits(arrays: Sequence[np.ndarray]) -> tuple[float, float]:
    values = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays])
    if values.size == 0:
        return 0.0, 1.0
    # Black a little below the sky (median minus one robust σ), white at the 99.5th
    # percentile or 25σ above the sky: the sky stays dark and faint sources show.
    _, hi = PercentileInterval(PERCENT).get_limits(values)
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    lo = median - sigma
    hi = max(float(hi), median + 25.0 * sigma)  # a sparse field's 99.5 % is still sky
    if not hi > lo:
        lo, hi = float(values.min()), float(values.max())
    return float(lo), float(hi)


def grey(data: np.ndarray, stretch: str = "asinh") -> npt.NDArray[np.uint8]:
    """8-bit grey levels, top row first."""
    lo, hi = _limits([data])
    out = _unit_scale(np.asarray(data, dtype=np.float64), lo, hi, stretch)
    return np.flipud((out * 255.0 + 0.5).astype(np.uint8))


def colour(
    red: np.ndarray, green: np.ndarray, blue: np.ndarray, stretch: str = "asinh"
) -> npt.NDArray[np.uint8]:
    """An RGB array (rows, columns, 3), top row first, from three aligned bands."""
    if not (red.shape == green.shape == blue.shape):
        raise InvalidRequestError(
            f"the three bands' cutouts differ in shape ({red.shape}, {green.shape}, "
            f"{blue.shape}); colour composites need images on one pixel grid"
        )
    bands = [np.asarray(b, dtype=np.float64) for b in (red, green, blue)]
    lo, hi = _limits(bands)
    if stretch == "asinh":
        filled = [np.nan_to_num(b, nan=lo) for b in bands]
        with np.errstate(invalid="ignore", divide="ignore"):  # all-black pixels are 0/0
            rgb = make_lupton_rgb(*filled, minimum=lo, stretch=max(hi - lo, 1e-12) / 2, Q=8)
    else:
        rgb = np.stack([(_unit_scale(b, lo, hi, stretch) * 255 + 0.5) for b in bands], axis=-1)
        rgb = rgb.astype(np.uint8)
    return np.flipud(np.asarray(rgb, dtype=np.uint8))


def encode(pixels: npt.NDArray[np.uint8], fmt: str) -> bytes:
    """PNG or JPEG bytes of an 8-bit grey or RGB array."""
    from PIL import Image

    if fmt not in PICTURE_FORMATS:
        raise InvalidRequestError(f"format {fmt!r} is not a picture format; use png or jpeg")
    image = Image.fromarray(np.ascontiguousarray(pixels), mode="RGB" if pixels.ndim == 3 else "L")
    out = io.BytesIO()
    if fmt == "jpeg":
        image.save(out, format="JPEG", quality=90)
    else:
        image.save(out, format="PNG")
    return out.getvalue()
