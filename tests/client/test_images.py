"""``Client.cutout`` and ``Client.images`` against a real server holding test images."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from astropy.wcs import WCS

from skydock.client import BadRequestError, Client, NotFoundError
from skydock.engine.images import ImageRegistry
from skydock.server.config import Config
from tests.images.conftest import image_files  # noqa: F401 - the session's test images
from tests.server.conftest import LiveServer, serve


@pytest.fixture(scope="module")
def image_server(
    tmp_path_factory: pytest.TempPathFactory,
    image_files: dict,  # noqa: F811
) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("client-images")
    registry = ImageRegistry.for_data_dir(root)
    for key, (path, _, _) in image_files.items():
        registry.ingest([path], collection="test", band=key.split("-")[1])
    with serve(Config(data_dir=root)) as live:
        yield live


def test_cutout_as_hdu_and_array(image_server: LiveServer, image_files: dict) -> None:  # noqa: F811
    _, _, sources = image_files["plain-r"]
    ra, dec = float(sources.ra[2]), float(sources.dec[2])
    client = Client(url=image_server.url)
    hdu = client.cutout(ra, dec, 25 / 3600, band="r")
    assert hdu.data.shape == (25, 25)
    x, y = WCS(hdu.header).world_to_pixel_values(ra, dec)
    assert abs(x - 12) <= 0.5 and abs(y - 12) <= 0.5
    array = client.cutout(ra, dec, 25 / 3600, "r", fmt="array")
    np.testing.assert_array_equal(array, hdu.data)
    png = client.cutout(ra, dec, 25 / 3600, "r", fmt="png")
    assert png.startswith(b"\x89PNG")
    colour = client.cutout(0.02, 10.0, 20 / 3600, fmt="jpeg", bands="g,r,i")
    assert colour.startswith(b"\xff\xd8")


def test_search_and_errors(image_server: LiveServer) -> None:
    client = Client(url=image_server.url)
    found = client.images(0.02, 10.0, 0.01, band="g")
    assert [f["obs_id"] for f in found] == ["wrap-g"]
    assert client.image_collections()[0]["images"] == 5
    with pytest.raises(NotFoundError, match="no image"):
        client.cutout(80.0, 10.0, 0.01, band="r")
    with pytest.raises(BadRequestError, match="fmt"):
        client.cutout(0.02, 10.0, 0.01, fmt="gif")  # type: ignore[arg-type]
    with pytest.raises(BadRequestError, match="size"):
        client.cutout(0.02, 10.0, -1.0)
