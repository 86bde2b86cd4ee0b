"""Sky maps: the HEALPix arithmetic against cdshealpix, the counts query against counts
made here from every row's position, and the drawn map against both."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import cdshealpix
import duckdb
import matplotlib
import numpy as np
import pytest
from astropy.coordinates import Latitude, Longitude

from skydock.client import Client
from skydock.engine.catalog import CatalogStore
from skydock.viewer import skymap
from tests.browser import artifact
from tests.server.conftest import LiveServer

matplotlib.use("Agg")


def reference_pixels(order: int, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    lon, lat = Longitude(ra * u.deg), Latitude(dec * u.deg)
    return np.asarray(cdshealpix.lonlat_to_healpix(lon, lat, order))


@pytest.mark.parametrize("order", [0, 2, 6, 11])
def test_pixels_match_cdshealpix(order: int) -> None:
    rng = np.random.default_rng(order)
    # Across RA = 0 and near the poles; not exactly on a pixel corner such as (0, 0),
    # where libraries may break the tie differently.
    ra = np.concatenate([rng.uniform(0, 360, 50_000), [1e-7, 359.9999999, 180.0, 45.0, 0.0]])
    dec = np.concatenate(
        [np.degrees(np.arcsin(rng.uniform(-1, 1, 50_000))), [0.1, 0.1, 89.9999, -89.9999, 41.81]]
    )
    assert np.array_equal(skymap.pixel_of(order, ra, dec), reference_pixels(order, ra, dec))
    pix = np.arange(12 * 4**order) if order < 6 else rng.integers(0, 12 * 4**order, 20_000)
    ra_c, dec_c = skymap.pixel_centres(order, pix)
    lon, lat = cdshealpix.healpix_to_lonlat(pix, order)
    assert np.abs((ra_c - lon.deg + 180) % 360 - 180).max() < 1e-9
    assert np.abs(dec_c - lat.deg).max() < 1e-9
    with pytest.raises(ValueError, match="order"):
        skymap.pixel_of(13, ra, dec)


def test_counts_from_the_server_and_the_drawn_map(
    spectra_server: LiveServer, spectra_dir: Path
) -> None:
    order = 4
    meta = CatalogStore.for_data_dir(spectra_dir).get("demo.objects")
    con = duckdb.connect(str(meta.serving_path), read_only=True)
    try:
        pos = con.sql("SELECT ra, dec FROM data").fetchnumpy()
    finally:
        con.close()
    expected = np.bincount(reference_pixels(order, pos["ra"], pos["dec"]), minlength=12 * 4**order)
    with Client(url=spectra_server.url) as c:
        counts = skymap.healpix_counts(c, "demo.objects", order)
        got = np.zeros(12 * 4**order, dtype=np.int64)
        got[counts.column("pixel").to_numpy()] = counts.column("n").to_numpy()
        assert np.array_equal(got, expected)
        galaxies = skymap.healpix_counts(c, "demo.objects", order, where="class = 'GALAXY'")
        assert 0 < galaxies.column("n").to_numpy().sum() < len(pos["ra"])
        ax = skymap.skymap(c, "demo.objects", order)
    ax.figure.savefig(artifact("skymap-demo-objects.png"), dpi=80)
    # The image at the centre of the densest pixel shows that pixel's density; the
    # northern sky, outside the footprint, is empty.
    mesh = ax.collections[0]
    image = mesh.get_array().reshape(mesh._coordinates.shape[0] - 1, -1)
    lon, lat = mesh._coordinates[:-1, :-1, 0], mesh._coordinates[:-1, :-1, 1]
    densest = int(np.argmax(expected))
    ra_c, dec_c = skymap.pixel_centres(order, np.array([densest]))
    x = -np.radians(((ra_c[0] + 180) % 360) - 180)
    row = int(np.argmin(np.abs(lat[:, 0] - np.radians(dec_c[0]))))
    col = int(np.argmin(np.abs(lon[0, :] - x)))
    area = skymap.pixel_area_deg2(order)
    assert image[row, col] == pytest.approx(expected[densest] / area)
    north = int(np.argmin(np.abs(lat[:, 0] - np.radians(60.0))))
    assert np.ma.getmaskarray(image)[north].all()
    plane = [line for line in ax.lines if line.get_label() == "Galactic plane"]
    assert len(plane) == 1


def test_bad_pixels_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.47"):
        skymap.plot_skymap([48], [1], order=1)
    with pytest.raises(ValueError, match="2 pixels but 1 counts"):
        skymap.plot_skymap([1, 2], [1], order=1)
