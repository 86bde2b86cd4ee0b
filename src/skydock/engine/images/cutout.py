"""Cutouts: the pixels of a sky region, read from the file without loading the image.

A cutout is a pixel box. Its bounds come from the region's outline projected through
the image's WCS, its pixels from a slice of the memory-mapped data (only the pages of
the box's rows are read) or, for scaled or tile-compressed images, from ``HDU.section``
(astropy seeks to and decodes only what the box needs), and its WCS is the
parent's with the reference pixel moved by the box's origin, so every sky position keeps
its exact pixel (SIP distortion included, as it is relative to CRPIX). ``LTV1/LTV2``
record the offset the IRAF way, for tools that map back to the parent image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skydock.engine.images.regions import Circle, FloatArray, Polygon, Range, Region
from skydock.engine.images.registry import ImageRecord, open_wcs
from skydock.errors import InvalidRequestError, NotFoundError

# Keywords the parent's header carries that a new HDU writes for itself.
_STRUCTURAL = (
    "SIMPLE",
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "EXTEND",
    "PCOUNT",
    "GCOUNT",
    "BSCALE",
    "BZERO",
    "CHECKSUM",
    "DATASUM",
    "EXTNAME",
)


# FITS pixel types (big-endian on disk).
_BITPIX: dict[int, np.dtype[Any]] = {
    8: np.dtype("u1"),
    16: np.dtype(">i2"),
    32: np.dtype(">i4"),
    64: np.dtype(">i8"),
    -32: np.dtype(">f4"),
    -64: np.dtype(">f8"),
}


class NoOverlapError(NotFoundError):
    """The region asked for lies outside the image (or outside every image)."""

    code = "no_overlap"


@dataclass(frozen=True)
class Box:
    """Pixel rows ``y0:y1`` and columns ``x0:x1`` (0-based, end excluded)."""

    x0: int
    x1: int
    y0: int
    y1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    def clip(self, nx: int, ny: int) -> Box | None:
        box = Box(max(self.x0, 0), min(self.x1, nx), max(self.y0, 0), min(self.y1, ny))
        return box if box.x1 > box.x0 and box.y1 > box.y0 else None


def pixel_scale_deg(wcs: WCS) -> tuple[float, float]:
    from astropy.wcs.utils import proj_plane_pixel_scales

    sx, sy = proj_plane_pixel_scales(wcs.celestial)
    return float(sx), float(sy)


def square_box(wcs: WCS, ra: float, dec: float, size_deg: float) -> Box:
    """A box ``size_deg`` on a side centred on the pixel holding (ra, dec)."""
    sx, sy = pixel_scale_deg(wcs)
    nx = max(1, round(size_deg / sx))
    ny = max(1, round(size_deg / sy))
    cx, cy = (float(v) for v in wcs.world_to_pixel_values(ra, dec))
    if not (math.isfinite(cx) and math.isfinite(cy)):
        raise NoOverlapError(f"({ra}, {dec}) cannot be projected onto this image")
    # The box's centre is the centre of the pixel holding the position (odd sizes) or
    # the pixel corner nearest it (even sizes), so the position sits within 0.5 px of it.
    x0 = (round(cx) if nx % 2 else round(cx + 0.5)) - nx // 2
    y0 = (round(cy) if ny % 2 else round(cy + 0.5)) - ny // 2
    return Box(x0, x0 + nx, y0, y0 + ny)


def _outline(region: Region) -> FloatArray:
    """Points on the region's edge (and inside it) whose pixel bounds are the region's."""
    if isinstance(region, Circle):
        theta = np.radians(np.arange(0.0, 360.0, 5.0))
        d0, a0, r = math.radians(region.dec), math.radians(region.ra), math.radians(region.radius)
        dec = np.arcsin(np.sin(d0) * np.cos(r) + np.cos(d0) * np.sin(r) * np.cos(theta))
        ra = a0 + np.arctan2(
            np.sin(theta) * np.sin(r) * np.cos(d0), np.cos(r) - np.sin(d0) * np.sin(dec)
        )
        pts = np.column_stack([np.degrees(ra) % 360.0, np.degrees(dec)])
        return np.vstack([pts, [[region.ra, region.dec]]])
    if isinstance(region, Polygon):
        v = np.array(region.vertices)
        xyz = _unit(v)
        out = []
        for a, b in zip(xyz, np.roll(xyz, -1, axis=0), strict=True):
            t = np.linspace(0.0, 1.0, 33)[:, None]
            p = a * (1 - t) + b * t
            out.append(p / np.linalg.norm(p, axis=1, keepdims=True))
        pts = np.vstack(out)
        return np.column_stack(
            [
                np.degrees(np.arctan2(pts[:, 1], pts[:, 0])) % 360.0,
                np.degrees(np.arcsin(np.clip(pts[:, 2], -1, 1))),
            ]
        )
    assert isinstance(region, Range)
    return region.anchors()


def _unit(v: FloatArray) -> FloatArray:
    a, d = np.radians(v[:, 0]), np.radians(v[:, 1])
    return np.column_stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])


def region_box(wcs: WCS, region: Region, nx: int, ny: int) -> Box:
    """The smallest pixel box holding the region, clipped to the image (SODA semantics)."""
    is_range = isinstance(region, Range)
    pts = _range_outline(wcs, region, nx, ny) if is_range else _outline(region)  # type: ignore[arg-type]
    with np.errstate(invalid="ignore"):
        x, y = wcs.world_to_pixel_values(pts[:, 0], pts[:, 1])
    x, y = np.asarray(x), np.asarray(y)
    ok = np.isfinite(x) & np.isfinite(y)
    if not np.any(ok):
        raise NoOverlapError("the region does not overlap the image")
    box = Box(
        math.floor(x[ok].min() + 0.5),
        math.floor(x[ok].max() + 0.5) + 1,
        math.floor(y[ok].min() + 0.5),
        math.floor(y[ok].max() + 0.5) + 1,
    )
    clipped = box.clip(nx, ny)
    if clipped is None:
        raise NoOverlapError("the region does not overlap the image")
    return clipped


def _range_outline(wcs: WCS, region: Range, nx: int, ny: int) -> FloatArray:
    """A coordinate box is judged pixel by pixel on a grid: its pixel bounds are those of
    the image samples that fall inside it."""
    gx, gy = np.meshgrid(np.linspace(-0.5, nx - 0.5, 257), np.linspace(-0.5, ny - 0.5, 257))
    ra, dec = wcs.pixel_to_world_values(gx.ravel(), gy.ravel())
    ra, dec = np.asarray(ra) % 360.0, np.asarray(dec)
    inside = region.contains(ra, dec)
    if not np.any(inside):
        raise NoOverlapError("the RANGE does not overlap the image")
    return np.column_stack([ra[inside], dec[inside]])


def read_cutout(
    path: Path,
    record: ImageRecord,
    box: Box,
    *,
    pad: bool = False,
    max_pixels: int | None = None,
) -> fits.PrimaryHDU:
    """The pixels of ``box`` as a new HDU with a WCS that puts every sky position on the
    same pixel content as in the parent.

    Without ``pad`` the box is clipped to the image (a cutout at the edge is smaller);
    with ``pad`` the answer has exactly the box's shape and pixels off the image are NaN.
    """
    if max_pixels is not None and box.shape[0] * box.shape[1] > max_pixels:
        side = math.isqrt(max_pixels)
        raise InvalidRequestError(
            f"a cutout of {box.shape[1]}×{box.shape[0]} pixels is larger than this server "
            f"allows ({max_pixels:,} pixels, e.g. {side}×{side}); ask for a smaller size"
        )
    inside = box.clip(record.naxis1, record.naxis2)
    if inside is None:
        raise NoOverlapError(
            f"the cutout lies entirely outside image {record.key} "
            f"({record.naxis1}×{record.naxis2} pixels)"
        )
    rows, cols = slice(inside.y0, inside.y1), slice(inside.x0, inside.x1)
    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        hdu = hdul[record.hdu]
        header = hdu.header.copy()
        dtype = _BITPIX.get(int(header.get("BITPIX", 0)))
        if dtype is not None and _plain(hdu):
            # Unscaled, uncompressed pixels: a memory map of the data block, sliced,
            # touches only the pages of the box's rows.
            mapped = np.memmap(
                path,
                dtype=dtype,
                mode="r",
                offset=int(hdu.fileinfo()["datLoc"]),
                shape=(record.naxis2, record.naxis1),
            )
            pixels = np.array(mapped[rows, cols]).astype(dtype.newbyteorder("="))
            del mapped
        else:
            pixels = np.asarray(hdu.section[rows, cols])
    origin = box if pad else inside
    if pad:
        data = np.full(box.shape, np.nan, dtype=np.result_type(pixels.dtype, np.float32))
        data[inside.y0 - box.y0 : inside.y1 - box.y0, inside.x0 - box.x0 : inside.x1 - box.x0] = (
            pixels
        )
    else:
        data = pixels
    for key in _STRUCTURAL:
        header.remove(key, ignore_missing=True, remove_all=True)
    header["CRPIX1"] = float(header.get("CRPIX1", 0.0)) - origin.x0
    header["CRPIX2"] = float(header.get("CRPIX2", 0.0)) - origin.y0
    header["LTV1"] = (float(header.get("LTV1", 0.0)) - origin.x0, "cutout offset, x")
    header["LTV2"] = (float(header.get("LTV2", 0.0)) - origin.y0, "cutout offset, y")
    header["OBS_ID"] = record.obs_id
    header["COLLECT"] = (record.collection, "image collection")
    header["CUTPART"] = (inside != box, "True: the request reached past the image edge")
    header.add_history(
        f"Skydock cutout of {record.key} x[{origin.x0}:{origin.x0 + data.shape[1]}] "
        f"y[{origin.y0}:{origin.y0 + data.shape[0]}] (0-based)"
    )
    return fits.PrimaryHDU(data=data, header=header)


def _plain(hdu: fits.hdu.base.ExtensionHDU | fits.PrimaryHDU) -> bool:
    """True when the data on disk are the pixel values (no BSCALE/BZERO, no tiles)."""
    if isinstance(hdu, fits.CompImageHDU):
        return False
    h = hdu.header
    unscaled = float(h.get("BSCALE", 1.0)) == 1.0 and float(h.get("BZERO", 0.0)) == 0.0
    return unscaled and "BLANK" not in h


def cutout_wcs(hdu: fits.PrimaryHDU) -> WCS:
    return open_wcs(hdu.header)
