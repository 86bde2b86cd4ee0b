"""Cutouts: WCS correctness against astropy, edges, misses, and section reads."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from skydock.engine.images import (
    ImageRegistry,
    NoOverlapError,
    parse_pos,
    read_cutout,
    region_box,
    square_box,
)
from skydock.engine.images.registry import open_wcs
from tests.images.conftest import N, Sources, make_image, tan_wcs


def centroid(data: np.ndarray, x: float, y: float, half: int = 5) -> tuple[float, float]:
    """Flux-weighted centre of the pixels around (x, y), measured on the pixels alone."""
    ix, iy = round(x), round(y)
    stamp = data[iy - half : iy + half + 1, ix - half : ix + half + 1].astype(float)
    stamp = np.clip(stamp, 0, None)
    gy, gx = np.mgrid[iy - half : iy + half + 1, ix - half : ix + half + 1]
    return float((gx * stamp).sum() / stamp.sum()), float((gy * stamp).sum() / stamp.sum())


def isolated(sources: Sources, wcs: WCS, margin: int = 12) -> list[int]:
    """Sources at least 12 px from any other and from the image edge."""
    x, y = wcs.world_to_pixel_values(sources.ra, sources.dec)
    keep = []
    for k in range(len(x)):
        d = np.hypot(x - x[k], y - y[k])
        d[k] = np.inf
        if d.min() > margin and margin < x[k] < N - margin and margin < y[k] < N - margin:
            keep.append(k)
    return keep


@pytest.mark.parametrize("field", ["wrap-g", "polar-r", "plain-r"])
def test_catalog_positions_land_on_their_sources(
    images_dir: Path, image_files: dict, field: str
) -> None:
    """Each source's RA/Dec, through the cutout's own WCS (read by astropy from the FITS
    we wrote), falls within 0.5 px of the light's centroid in the cutout."""
    _, _, sources = image_files[field]
    registry = ImageRegistry.for_data_dir(images_dir)
    record = registry.get(f"test/{field}")
    wcs = registry.wcs_of(record)
    checked = 0
    for k in isolated(sources, wcs, margin=16):
        box = square_box(wcs, sources.ra[k], sources.dec[k], 31 / 3600)
        hdu = read_cutout(registry.path_of(record), record, box)
        written = fits.open(io.BytesIO(_roundtrip(hdu)))[0]
        cut_wcs = WCS(written.header)
        x, y = cut_wcs.world_to_pixel(SkyCoord(sources.ra[k], sources.dec[k], unit="deg"))
        cx, cy = centroid(written.data, float(x), float(y))
        assert abs(cx - x) < 0.5 and abs(cy - y) < 0.5, (field, k, cx, x, cy, y)
        # and the position sits at the cutout's centre
        assert abs(x - 15) <= 0.5 and abs(y - 15) <= 0.5
        checked += 1
    assert checked >= 5


def _roundtrip(hdu: fits.PrimaryHDU) -> bytes:
    import io

    out = io.BytesIO()
    hdu.writeto(out)
    return out.getvalue()


def test_cutout_pixels_equal_parent_pixels_at_same_sky_position(
    images_dir: Path, image_files: dict
) -> None:
    registry = ImageRegistry.for_data_dir(images_dir)
    record = registry.get("test/polar-r")
    parent = fits.getdata(registry.path_of(record))
    pwcs = registry.wcs_of(record)
    box = square_box(pwcs, 45.01, -88.91, 40 / 3600)
    hdu = read_cutout(registry.path_of(record), record, box)
    cwcs = WCS(hdu.header)
    sky = cwcs.pixel_to_world(np.array([0, 7, 30]), np.array([0, 19, 33]))
    px, py = pwcs.world_to_pixel(sky)
    np.testing.assert_allclose(px, [box.x0, box.x0 + 7, box.x0 + 30], atol=1e-6)
    np.testing.assert_allclose(py, [box.y0, box.y0 + 19, box.y0 + 33], atol=1e-6)
    np.testing.assert_array_equal(hdu.data, parent[box.y0 : box.y1, box.x0 : box.x1])


def test_edge_cutout_is_clipped_or_padded_with_a_correct_wcs(
    images_dir: Path, image_files: dict
) -> None:
    registry = ImageRegistry.for_data_dir(images_dir)
    record = registry.get("test/plain-r")
    wcs = registry.wcs_of(record)
    ra, dec = wcs.pixel_to_world_values(2.0, 100.0)  # 2 px from the left edge
    box = square_box(wcs, float(ra), float(dec), 21 / 3600)
    clipped = read_cutout(registry.path_of(record), record, box)
    assert clipped.data.shape == (21, 13)
    assert clipped.header["CUTPART"] is True
    padded = read_cutout(registry.path_of(record), record, box, pad=True)
    assert padded.data.shape == (21, 21)
    assert np.isnan(padded.data[:, :8]).all() and np.isfinite(padded.data[:, 8:]).all()
    for hdu in (clipped, padded):
        x, y = WCS(hdu.header).world_to_pixel_values(ra, dec)
        assert float(hdu.data[round(float(y)), round(float(x))]) == pytest.approx(
            float(fits.getdata(registry.path_of(record))[100, 2])
        )


def test_outside_the_footprint_is_a_clear_error(images_dir: Path) -> None:
    registry = ImageRegistry.for_data_dir(images_dir)
    record = registry.get("test/plain-r")
    wcs = registry.wcs_of(record)
    box = square_box(wcs, 151.0, 2.0, 10 / 3600)
    with pytest.raises(NoOverlapError, match="outside image test/plain-r"):
        read_cutout(registry.path_of(record), record, box)
    with pytest.raises(NoOverlapError):
        region_box(wcs, parse_pos("CIRCLE 151 2 0.01"), record.naxis1, record.naxis2)


def test_soda_circle_box_holds_the_circle(images_dir: Path) -> None:
    registry = ImageRegistry.for_data_dir(images_dir)
    record = registry.get("test/plain-r")
    wcs = registry.wcs_of(record)
    box = region_box(wcs, parse_pos("CIRCLE 150.0 2.0 0.005"), record.naxis1, record.naxis2)
    # radius 18″ at 1″/px: a box of 36-38 pixels on a side around the centre's pixel
    assert 36 <= box.x1 - box.x0 <= 38 and 36 <= box.y1 - box.y0 <= 38
    cx, cy = wcs.world_to_pixel_values(150.0, 2.0)
    assert box.x0 < cx < box.x1 and box.y0 < cy < box.y1


@pytest.mark.parametrize("bitpix", [-32, 16])
def test_cutout_of_a_4k_image_reads_only_its_section(tmp_path: Path, bitpix: int) -> None:
    """A 4096² image is 32-64 MiB; a 1′ cutout must allocate a tiny fraction of that,
    whether read through the memory map (float32) or as a section (scaled int16)."""
    n = 4096
    nbytes = abs(bitpix) // 8
    wcs = tan_wcs(10.0, 20.0, n, 0.25)
    header = wcs.to_header()
    header["FILTER"] = "r"
    path = tmp_path / "big.fits"
    hdu = fits.PrimaryHDU(header=header)
    hdu.header["BITPIX"] = bitpix
    if bitpix == 16:
        hdu.header["BZERO"] = 32768.0
    hdu.header["NAXIS"] = 2
    hdu.header["NAXIS1"] = n
    hdu.header["NAXIS2"] = n
    hdu.header.tofile(path)
    with path.open("r+b") as f:  # a sparse file: the data block is all zeros on disk
        f.seek(len(hdu.header.tostring()) + -(-n * n * nbytes // 2880) * 2880 - 1)
        f.write(b"\0")
    registry = ImageRegistry.for_data_dir(tmp_path / "data")
    (record,) = registry.ingest([path], collection="big", band="r")
    box = square_box(registry.wcs_of(record), 10.0, 20.0, 1 / 60)
    tracemalloc.start()
    try:
        cut = read_cutout(registry.path_of(record), record, box)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert cut.data.shape == (240, 240)
    assert peak < n * n * nbytes / 20, f"peak {peak:,} bytes for a {n}² image"
    if bitpix == 16:
        assert float(cut.data[0, 0]) == 32768.0  # the scaling was applied


def test_ingest_refuses_what_it_cannot_use(tmp_path: Path, image_files: dict) -> None:
    from skydock.errors import CatalogError, ConflictError

    registry = ImageRegistry.for_data_dir(tmp_path)
    path = image_files["plain-r"][0]
    with pytest.raises(CatalogError, match="band 'Hα'"):
        registry.ingest([path], collection="c", band="Hα")
    with pytest.raises(CatalogError, match="collection 'Bad Name'"):
        registry.ingest([path], collection="Bad Name", band="r")
    no_wcs = tmp_path / "nowcs.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(no_wcs)
    with pytest.raises(CatalogError, match="no 2-D celestial WCS"):
        registry.ingest([no_wcs], collection="c", band="r")
    registry.ingest([path], collection="c", band="r")
    with pytest.raises(ConflictError, match="--replace"):
        registry.ingest([path], collection="c", band="r")
    assert len(registry.records()) == 1


def test_image_with_sip_and_extension_hdu(tmp_path: Path) -> None:
    """A distorted (SIP) image in an extension: the cutout keeps the distortion right."""
    wcs = tan_wcs(200.0, -30.0, 200, 1.0)
    header = wcs.to_header()
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
    header["A_ORDER"], header["B_ORDER"] = 2, 2
    header["A_2_0"], header["B_0_2"] = 2e-3, -1.5e-3
    sources = Sources(np.array([200.01]), np.array([-29.99]), np.array([1e4]))
    sip = open_wcs(header)
    from skydock.demo.images import render

    x, y = sip.world_to_pixel_values(sources.ra, sources.dec)
    data = render((200, 200), x, y, sources.flux, np.array([1.5]))
    path = tmp_path / "sip.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header, name="SCI")]).writeto(path)
    registry = ImageRegistry.for_data_dir(tmp_path / "d")
    (record,) = registry.ingest([path], collection="sip", band="g")
    assert record.hdu == 1
    box = square_box(registry.wcs_of(record), 200.01, -29.99, 21 / 3600)
    hdu = read_cutout(registry.path_of(record), record, box)
    cx, cy = WCS(hdu.header).world_to_pixel_values(200.01, -29.99)
    mx, my = centroid(hdu.data, float(cx), float(cy))
    assert abs(mx - cx) < 0.5 and abs(my - cy) < 0.5
    assert (
        abs(
            float(x[0])
            - float(tan_wcs(200.0, -30.0, 200, 1.0).world_to_pixel_values(200.01, -29.99)[0])
        )
        > 0.5
    )  # the distortion moved the source: SIP really matters


def test_make_image_helper_is_used(tmp_path: Path) -> None:
    wcs = tan_wcs(1.0, 1.0, 32, 1.0)
    p = make_image(
        tmp_path / "x.fits", wcs, 32, Sources(np.array([1.0]), np.array([1.0]), np.array([100.0]))
    )
    assert fits.getdata(p).sum() == pytest.approx(100.0, rel=1e-3)
