"""HEALPix sky maps: density or coverage of a catalog (or any query) in Mollweide.

Counts come from the server, grouped by the catalog's ``_healpix_29`` index shifted down
to a coarser order (``_healpix_29 >> 2*(29 - order)`` is the nested pixel at ``order``),
so a billion-row table becomes at most ``12 * 4**order`` rows before it leaves the
server. The map is drawn here with matplotlib: the sky is sampled on a fine grid of the
Mollweide plane, each sample looks up its nested pixel, and the Galactic plane is drawn
from astropy's frame transformation. The HEALPix arithmetic (nested scheme, Górski et
al. 2005) is implemented in numpy so that this module needs neither the engine nor a
compiled HEALPix library; the tests check it against cdshealpix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from skydock.client import Client

MAX_ORDER = 12
FULL_SKY_DEG2 = 4 * math.pi * (180 / math.pi) ** 2
_JRLL = np.array([2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4])
_JPLL = np.array([1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7])


def _check_order(order: int) -> int:
    if not 0 <= order <= MAX_ORDER:
        raise ValueError(f"order must be between 0 and {MAX_ORDER}, not {order}")
    return order


def _spread(v: np.ndarray, nbits: int = 30) -> np.ndarray:
    """The low ``nbits`` bits of ``v`` moved to the even positions (b0 b1 → b0 0 b1)."""
    v = v.astype(np.uint64)
    out = np.zeros_like(v)
    for bit in range(nbits):
        out |= ((v >> np.uint64(bit)) & np.uint64(1)) << np.uint64(2 * bit)
    return out


def _compact(v: np.ndarray, nbits: int = 30) -> np.ndarray:
    """The even bits of ``v`` packed together (the inverse of :func:`_spread`)."""
    v = v.astype(np.uint64)
    out = np.zeros_like(v)
    for bit in range(nbits):
        out |= ((v >> np.uint64(2 * bit)) & np.uint64(1)) << np.uint64(bit)
    return out


def pixel_centres(order: int, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec (degrees) of the centres of nested HEALPix ``pixels`` at ``order``."""
    nside = 1 << _check_order(order)
    npface = nside * nside
    pix = np.asarray(pixels, dtype=np.int64)
    face = pix // npface
    within = (pix % npface).astype(np.uint64)
    ix = _compact(within, order).astype(np.int64)
    iy = _compact(within >> np.uint64(1), order).astype(np.int64)
    jr = _JRLL[face] * nside - ix - iy - 1
    nr = np.where(jr < nside, jr, np.where(jr > 3 * nside, 4 * nside - jr, nside))
    z = np.where(
        jr < nside,
        1 - nr**2 / (3.0 * npface),
        np.where(jr > 3 * nside, -1 + nr**2 / (3.0 * npface), (2 * nside - jr) * 2.0 / (3 * nside)),
    )
    kshift = np.where((jr >= nside) & (jr <= 3 * nside), (jr - nside) & 1, 0)
    jp = (_JPLL[face] * nr + ix - iy + 1 + kshift) // 2
    jp = np.where(jp > 4 * nside, jp - 4 * nside, jp)
    jp = np.where(jp < 1, jp + 4 * nside, jp)
    phi = (jp - (kshift + 1) * 0.5) * (math.pi / 2 / nr)
    return np.degrees(phi) % 360.0, np.degrees(np.arcsin(np.clip(z, -1, 1)))


def pixel_of(order: int, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """The nested HEALPix pixel at ``order`` holding each (ra, dec) in degrees."""
    nside = 1 << _check_order(order)
    z = np.sin(np.radians(np.asarray(dec, dtype=float)))
    za = np.abs(z)
    tt = (np.radians(np.asarray(ra, dtype=float)) % (2 * math.pi)) / (math.pi / 2)
    # Equatorial belt.
    t1 = nside * (0.5 + tt)
    t2 = nside * z * 0.75
    jp = (t1 - t2).astype(np.int64)
    jm = (t1 + t2).astype(np.int64)
    ifp, ifm = jp // nside, jm // nside
    face_eq = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
    ix_eq = jm & (nside - 1)
    iy_eq = nside - (jp & (nside - 1)) - 1
    # Polar caps.
    ntt = np.minimum(3, tt.astype(np.int64))
    tp = tt - ntt
    tmp = nside * np.sqrt(3 * (1 - za))
    jp_c = np.minimum((tp * tmp).astype(np.int64), nside - 1)
    jm_c = np.minimum(((1 - tp) * tmp).astype(np.int64), nside - 1)
    north = z >= 0
    face_c = np.where(north, ntt, ntt + 8)
    ix_c = np.where(north, nside - jm_c - 1, jp_c)
    iy_c = np.where(north, nside - jp_c - 1, jm_c)
    equatorial = za <= 2.0 / 3.0
    face = np.where(equatorial, face_eq, face_c)
    ix = np.where(equatorial, ix_eq, ix_c)
    iy = np.where(equatorial, iy_eq, iy_c)
    nested = _spread(ix, order) | (_spread(iy, order) << np.uint64(1))
    return face.astype(np.int64) * nside * nside + nested.astype(np.int64)


def pixel_area_deg2(order: int) -> float:
    return FULL_SKY_DEG2 / (12 * 4 ** _check_order(order))


def counts_sql(table: str, order: int, where: str | None = None) -> str:
    """The query that counts ``table``'s rows per nested pixel at ``order``."""
    shift = 2 * (29 - _check_order(order))
    clause = f" WHERE {where}" if where else ""
    return (
        f"SELECT _healpix_29 >> {shift} AS pixel, COUNT(*) AS n FROM {table}{clause} "
        "GROUP BY pixel ORDER BY pixel"
    )


def healpix_counts(
    client: Client, table: str, order: int = 6, where: str | None = None
) -> pa.Table:
    """Rows per HEALPix pixel (``pixel``, ``n``), counted on the server."""
    answer: pa.Table = client.query(sql=counts_sql(table, order, where), fmt="arrow")
    return answer


def galactic_plane(step_deg: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """RA and Dec (degrees) along b = 0, from astropy's Galactic frame."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    lon = np.arange(0.0, 360.0, step_deg)
    icrs = SkyCoord(l=lon * u.deg, b=np.zeros_like(lon) * u.deg, frame="galactic").icrs
    return icrs.ra.deg, icrs.dec.deg


def _mollweide_x(ra: np.ndarray) -> np.ndarray:
    """Mollweide longitude (radians) with RA increasing to the left, RA 180 at the edges."""
    return -np.radians(((np.asarray(ra) + 180.0) % 360.0) - 180.0)


def plot_skymap(
    pixels: Any,
    counts: Any,
    order: int,
    *,
    kind: Literal["density", "coverage", "counts"] = "density",
    title: str | None = None,
    ax: Any = None,
    cmap: str = "viridis",
    resolution: int = 600,
    show_plane: bool = True,
) -> Any:
    """Draw counts per nested pixel on a Mollweide sky (ICRS, east to the left).

    ``density`` is objects per deg², ``coverage`` marks the pixels with any object, and
    ``counts`` the raw numbers. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    pixels = np.asarray(pixels, dtype=np.int64)
    counts = np.asarray(counts, dtype=float)
    npix = 12 * 4 ** _check_order(order)
    if len(pixels) != len(counts):
        raise ValueError(f"{len(pixels)} pixels but {len(counts)} counts")
    if len(pixels) and (pixels.min() < 0 or pixels.max() >= npix):
        raise ValueError(f"pixel numbers must be in 0..{npix - 1} at order {order}")
    full = np.zeros(npix)
    np.add.at(full, pixels, counts)
    if kind == "density":
        values = full / pixel_area_deg2(order)
        label = "objects / deg²"
    elif kind == "coverage":
        values = (full > 0).astype(float)
        label = "covered"
    else:
        values = full
        label = "objects per pixel"

    if ax is None:
        fig = plt.figure(figsize=(10, 5.6))
        ax = fig.add_subplot(111, projection="mollweide")
    lon = np.linspace(-math.pi, math.pi, 2 * resolution)
    lat = np.linspace(-math.pi / 2, math.pi / 2, resolution)
    grid_lon, grid_lat = np.meshgrid(lon, lat)
    ra = np.degrees(-grid_lon) % 360.0
    dec = np.degrees(grid_lat)
    image = values[pixel_of(order, ra.ravel(), dec.ravel())].reshape(ra.shape)
    image = np.ma.masked_where(image <= 0, image)
    mesh = ax.pcolormesh(grid_lon, grid_lat, image, cmap=cmap, shading="auto", rasterized=True)
    if kind != "coverage":
        ax.figure.colorbar(mesh, ax=ax, orientation="horizontal", pad=0.06, shrink=0.6, label=label)
    if show_plane:
        pra, pdec = galactic_plane()
        x = _mollweide_x(pra)
        order_x = np.argsort(x)
        ax.plot(
            x[order_x], np.radians(pdec)[order_x], color="crimson", lw=1.2, label="Galactic plane"
        )
        ax.legend(loc="lower right", fontsize=8)
    ticks = np.arange(-150, 181, 30)
    ax.set_xticks(np.radians(ticks))
    ax.set_xticklabels([f"{(-t) % 360:.0f}°" for t in ticks], fontsize=8)
    ax.grid(True, alpha=0.4)
    ax.set_title(title or f"HEALPix order {order} {kind}", pad=14)
    return ax


def skymap(
    client: Client,
    table: str,
    order: int = 6,
    *,
    where: str | None = None,
    kind: Literal["density", "coverage", "counts"] = "density",
    **kwargs: Any,
) -> Any:
    """Count ``table`` per pixel on the server and draw it (see :func:`plot_skymap`)."""
    counts = healpix_counts(client, table, order, where)
    title = kwargs.pop("title", None) or f"{table}: {kind} at HEALPix order {order}"
    return plot_skymap(
        counts.column("pixel").to_numpy(),
        counts.column("n").to_numpy(),
        order,
        kind=kind,
        title=title,
        **kwargs,
    )
