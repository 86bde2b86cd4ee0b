"""Pictures: orientation, stretches against astropy's own, and colour channels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.visualization import AsinhStretch, LogStretch, SqrtStretch
from PIL import Image

from skydock.engine.images import render
from skydock.errors import InvalidRequestError


def sky(seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(100.0, 1.0, (40, 50))


def test_grey_is_north_up_and_spans_the_levels() -> None:
    data = sky()
    data[35, 10] = 1000.0  # near the top of the image (FITS row 35 of 40)
    out = render.grey(data, "linear")
    assert out.shape == (40, 50) and out.dtype == np.uint8
    assert out[4, 10] == 255  # first picture row is the top
    assert np.median(out) < 40  # the sky is dark


@pytest.mark.parametrize(
    ("name", "stretch"),
    [("asinh", AsinhStretch(0.1)), ("log", LogStretch(1000)), ("sqrt", SqrtStretch())],
)
def test_stretches_are_astropys(name: str, stretch: object) -> None:
    data = sky()
    data[5:8, 5:8] = 400.0
    lo, hi = render._limits([data])
    x = np.clip((data - lo) / (hi - lo), 0, 1)
    expected = np.flipud((stretch(x) * 255 + 0.5).astype(np.uint8))  # type: ignore[operator]
    np.testing.assert_array_equal(render.grey(data, name), expected)


def test_colour_puts_the_reddest_band_in_red() -> None:
    g, r, i = sky(1), sky(2), sky(3)
    i[20, 20] += 500.0  # a red source: bright in i only
    g[10, 30] += 500.0  # a blue one
    for stretch in ("asinh", "linear"):
        rgb = render.colour(i, r, g, stretch)
        red_px, blue_px = rgb[40 - 1 - 20, 20], rgb[40 - 1 - 10, 30]
        assert red_px[0] > red_px[1] and red_px[0] > red_px[2], stretch
        assert blue_px[2] > blue_px[0] and blue_px[2] > blue_px[1], stretch


def test_encode_and_refusals() -> None:
    pixels = render.grey(sky(), "sqrt")
    png = Image.open(io.BytesIO(render.encode(pixels, "png")))
    assert png.format == "PNG" and png.size == (50, 40)
    np.testing.assert_array_equal(np.asarray(png), pixels)
    with pytest.raises(InvalidRequestError, match="stretch 'cubic'"):
        render.grey(sky(), "cubic")
    with pytest.raises(InvalidRequestError, match="differ in shape"):
        render.colour(sky(), sky(), np.zeros((3, 3)))
    with pytest.raises(InvalidRequestError, match="gif"):
        render.encode(pixels, "gif")
    nan = np.full((4, 4), np.nan)
    assert render.grey(nan).shape == (4, 4)  # an all-blank cutout is black, not an error
