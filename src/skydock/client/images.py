"""Image methods of ``Client``: search the registered images and cut them out
(``/api/images``). Cutouts as astropy HDUs need astropy, imported only then."""

from __future__ import annotations

import io
from typing import Any, Literal

from skydock.client.errors import BadRequestError
from skydock.client.transport import Transport

CutoutFormat = Literal["hdu", "array", "fits", "png", "jpeg"]
_WIRE = {"hdu": "fits", "array": "fits", "fits": "fits", "png": "png", "jpeg": "jpeg"}


class ImageMethods(Transport):
    def image_collections(self) -> list[dict[str, Any]]:
        """The image collections with their bands and fields."""
        answer: list[dict[str, Any]] = self._json("GET", "/api/images")
        return answer

    def images(
        self,
        ra: float,
        dec: float,
        radius: float = 0.0001,
        *,
        band: str | None = None,
        collection: str | None = None,
    ) -> list[dict[str, Any]]:
        """Images overlapping the circle (degrees): id, band, footprint, ``access_url``.

        The same search in VO form is the SIA v2 service at ``<url>/sia``, e.g.
        ``pyvo.dal.SIA2Service(url + "/sia").search(pos=(ra, dec, radius))``.
        """
        params: dict[str, Any] = {"ra": ra, "dec": dec, "radius": radius}
        if band:
            params["band"] = band
        if collection:
            params["collection"] = collection
        answer: list[dict[str, Any]] = self._json("GET", "/api/images/search", params=params)
        return answer

    def cutout(
        self,
        ra: float,
        dec: float,
        size: float,
        band: str | None = None,
        *,
        fmt: CutoutFormat = "hdu",
        bands: str | None = None,
        stretch: str = "asinh",
        collection: str | None = None,
    ) -> Any:
        """A square cutout ``size`` degrees on a side centred on (ra, dec).

        ``fmt='hdu'`` gives an ``astropy.io.fits.PrimaryHDU`` (pixels and WCS header),
        ``'array'`` its numpy pixels (row 0 at the bottom, as in FITS), ``'fits'``,
        ``'png'`` or ``'jpeg'`` the raw bytes. ``bands='g,r,i'`` (blue to red) with png or
        jpeg makes a colour picture. Off the image edge pixels are NaN; a position no
        image covers raises ``NotFoundError``.
        """
        if fmt not in _WIRE:
            raise BadRequestError(
                f"fmt {fmt!r} is not known; use hdu, array, fits, png or jpeg", status=400
            )
        params: dict[str, Any] = {
            "ra": ra,
            "dec": dec,
            "size": size,
            "format": _WIRE[fmt],
            "stretch": stretch,
        }
        for key, value in (("band", band), ("bands", bands), ("collection", collection)):
            if value:
                params[key] = value
        body = self._send("GET", "/api/images/cutout", params=params).content
        if fmt in ("fits", "png", "jpeg"):
            return body
        from astropy.io import fits

        hdu = fits.open(io.BytesIO(body))[0]
        return hdu if fmt == "hdu" else hdu.data
