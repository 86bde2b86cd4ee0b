"""The demo image fields: rendered from demo.smash, they show the catalog's own stars
where astropy's WCS puts the catalog positions, with the catalog's fluxes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skydock.demo import build, images
from skydock.engine.catalog import CatalogStore
from skydock.engine.images import ImageRegistry
from skydock.errors import CatalogExistsError

SMALL = dataclasses.replace(images.FIELDS[0], pixels=512)  # the dwarf, 5′ across


@pytest.fixture(scope="module")
def smash_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo-images")
    build.build_demo(root, only="smash", seed=7, progress=False)
    images.build_images(root, seed=7, progress=False, fields=[SMALL])
    return root


def test_stars_sit_on_their_catalog_positions_with_their_fluxes(smash_dir: Path) -> None:
    registry = ImageRegistry.for_data_dir(smash_dir)
    record = registry.get("demo.smash/hydra2-r")
    path = registry.path_of(record)
    data = fits.getdata(path).astype(float)
    wcs = WCS(fits.getheader(path))
    serving = CatalogStore.for_data_dir(smash_dir).get("demo.smash").serving_path
    con = duckdb.connect(str(serving), read_only=True)
    rows = con.sql("SELECT ra, dec, rmag, sharp FROM data WHERE rmag < 21").fetchnumpy()
    everyone = con.sql("SELECT ra, dec FROM data WHERE rmag < 26").fetchnumpy()
    con.close()
    x, y = wcs.world_to_pixel_values(rows["ra"], rows["dec"])
    ax, ay = wcs.world_to_pixel_values(everyone["ra"], everyone["dec"])
    checked = 0
    for k in range(len(x)):
        if not (15 < x[k] < 497 and 15 < y[k] < 497) or abs(rows["sharp"][k]) > 0.1:
            continue
        d = np.hypot(ax - x[k], ay - y[k])
        if np.sort(d)[1] < 12:  # a neighbour within 12 px
            continue
        ix, iy = round(x[k]), round(y[k])
        stamp = data[iy - 8 : iy + 9, ix - 8 : ix + 9]
        gy, gx = np.mgrid[iy - 8 : iy + 9, ix - 8 : ix + 9]
        w = np.clip(stamp, 0, None)
        cx, cy = (gx * w).sum() / w.sum(), (gy * w).sum() / w.sum()
        assert abs(cx - x[k]) < 0.5 and abs(cy - y[k]) < 0.5, (k, cx, x[k], cy, y[k])
        flux = stamp.sum()
        expected = 10 ** (-0.4 * (rows["rmag"][k] - images.ZERO_POINT))
        assert flux == pytest.approx(expected, rel=0.05)
        checked += 1
    assert checked >= 5


def test_fields_are_registered_with_bands_and_noise(smash_dir: Path) -> None:
    registry = ImageRegistry.for_data_dir(smash_dir)
    records = {r.obs_id: r for r in registry.records()}
    assert sorted(records) == ["hydra2-g", "hydra2-i", "hydra2-r"]
    for band in images.BANDS:
        header = fits.getheader(registry.path_of(records[f"hydra2-{band}"]))
        assert header["FILTER"] == band and header["NSOURCES"] > 100
        data = fits.getdata(registry.path_of(records[f"hydra2-{band}"]))
        sky = data[np.abs(data) < 5 * header["SKYSIG"]]
        assert np.std(sky) == pytest.approx(header["SKYSIG"], rel=0.1)
    # objects was not built: its field is skipped, and a second build is refused
    with pytest.raises(CatalogExistsError, match="demo images"):
        build.build_demo(smash_dir, only="images", progress=False)
    outcomes = build.build_demo(smash_dir, only="images", if_missing=True, progress=False)
    assert [(o.table, o.status) for o in outcomes] == [("images", "exists")]
