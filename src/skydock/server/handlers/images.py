"""Native image API: ``/api/images`` (collections, search, cutouts, files).

``GET /api/images/cutout?ra=&dec=&size=&band=&format=fits|png|jpeg`` (or ``bands=g,r,i``
for colour, ``stretch=asinh|linear|log|sqrt``) is the shape the spectral viewer's
thumbnails rely on; keep it stable.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from skydock.engine.images.registry import ImageRecord
from skydock.server.handlers.deps import Caller, Services
from skydock.server.handlers.sia import base_url

router = APIRouter(prefix="/api/images", tags=["images"])


def record_json(record: ImageRecord, base: str) -> dict[str, Any]:
    return {
        "collection": record.collection,
        "obs_id": record.obs_id,
        "obs_publisher_did": record.publisher_did,
        "band": record.band,
        "ra": record.s_ra,
        "dec": record.s_dec,
        "fov": record.s_fov,
        "pixel_scale_arcsec": record.s_resolution,
        "naxis1": record.naxis1,
        "naxis2": record.naxis2,
        "s_region": record.s_region,
        "t_min": record.t_min,
        "t_max": record.t_max,
        "em_min": record.em_min,
        "em_max": record.em_max,
        "access_url": f"{base}/api/images/files/{record.collection}/{record.obs_id}.fits",
    }


@router.get("", summary="Image collections", description="Collections, bands and fields.")
def list_collections(services: Services, caller: Caller) -> list[dict[str, object]]:
    return services.image_service().collections()


@router.get(
    "/search",
    summary="Images covering a cone",
    description="Images overlapping the circle (ra, dec, radius in degrees), optionally "
    "of one band or collection; the SIA v2 service at /sia/query answers the same in VO form.",
)
def search_images(
    request: Request,
    services: Services,
    caller: Caller,
    ra: Annotated[float, Query(description="Centre RA, degrees")],
    dec: Annotated[float, Query(description="Centre Dec, degrees")],
    radius: Annotated[float, Query(gt=0, le=180, description="Radius, degrees")] = 0.0001,
    band: Annotated[str | None, Query(description="Band name (g, r, i, ...)")] = None,
    collection: Annotated[str | None, Query(description="Collection name")] = None,
) -> list[dict[str, Any]]:
    pairs = [("POS", f"CIRCLE {ra} {dec} {radius}")]
    if collection:
        pairs.append(("COLLECTION", collection))
    answer = services.image_service().search(pairs)
    base = base_url(request)
    return [record_json(r, base) for r in answer.records if band is None or r.band == band]


@router.get(
    "/cutout",
    summary="A square cutout around a position",
    description="FITS (with WCS), PNG or JPEG; bands=g,r,i (blue to red) makes a colour "
    "picture. The cutout keeps its size at an image edge (NaN/black off the image); a "
    "position no image covers is a 404.",
    response_class=Response,
)
def get_cutout(
    services: Services,
    caller: Caller,
    ra: Annotated[float, Query(description="Centre RA, degrees")],
    dec: Annotated[float, Query(description="Centre Dec, degrees")],
    size: Annotated[float, Query(description="Side of the square, degrees")],
    band: Annotated[str | None, Query(description="Band (g, r, i, ...); any if unset")] = None,
    bands: Annotated[str | None, Query(description="Three bands for colour, e.g. g,r,i")] = None,
    format: Annotated[str, Query(description="fits, png or jpeg")] = "fits",
    stretch: Annotated[str, Query(description="asinh, linear, log or sqrt")] = "asinh",
    collection: Annotated[str | None, Query(description="Collection name")] = None,
) -> Response:
    picture = services.image_service().cutout(
        ra, dec, size, band=band, bands=bands, fmt=format, stretch=stretch, collection=collection
    )
    headers = {"Content-Disposition": f'inline; filename="{picture.filename}"'}
    return Response(picture.body, media_type=picture.media_type, headers=headers)


@router.get("/files/{collection}/{filename}", summary="A whole image file (FITS)")
def get_file(collection: str, filename: str, services: Services, caller: Caller) -> FileResponse:
    path = services.image_service().file(collection, filename)
    return FileResponse(path, media_type="application/fits", filename=filename)
