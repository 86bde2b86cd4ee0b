"""``skydock images``: register FITS images for SIA v2 search and cutouts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from skydock.cli.options import DataDir
from skydock.errors import CatalogError

if TYPE_CHECKING:
    from skydock.engine.images import ImageRegistry

app = typer.Typer(
    help="Image collections: FITS images with a WCS, searchable (SIA v2) and cut out (SODA).",
    no_args_is_help=True,
)


@app.callback()
def _images() -> None:
    """Register, list and drop image collections under <data_dir>/images."""


def _wavelength(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) * 1e-9 for v in text.split(","))
    except ValueError:
        raise CatalogError(f"--wavelength {text!r} must be LO,HI in nm (e.g. 640,680)") from None
    if not 0 < lo < hi:
        raise CatalogError(f"--wavelength {text!r}: need 0 < LO < HI (nm)")
    return lo, hi


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="FITS images with a celestial WCS.")],
    collection: Annotated[str, typer.Option("--collection", help="Collection name.")],
    band: Annotated[str, typer.Option("--band", help="Band of every file (g, r, i, ...).")],
    data_dir: DataDir,
    hdu: Annotated[
        int | None, typer.Option("--hdu", help="HDU holding the image (first 2-D one if unset).")
    ] = None,
    wavelength: Annotated[
        str | None, typer.Option("--wavelength", help="Band's range LO,HI in nm, for other bands.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite images already registered.")
    ] = False,
) -> None:
    """Copy images into the data directory and register their footprints."""
    from skydock.engine.images import ImageRegistry

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise CatalogError(f"no such file: {', '.join(missing)}")
    registry = ImageRegistry.for_data_dir(data_dir)
    records = registry.ingest(
        files,
        collection=collection,
        band=band,
        hdu=hdu,
        wavelength=_wavelength(wavelength),
        replace_existing=replace,
    )
    for r in records:
        typer.echo(
            f"{r.key}  band {r.band}  {r.naxis1}×{r.naxis2} px  centre "
            f"({r.s_ra:.5f}, {r.s_dec:.5f})  {r.s_resolution:.3f}″/px"
        )
    typer.echo(f"{len(records)} image(s) registered in {collection}")
    _publish(registry)


def _publish(registry: ImageRegistry) -> None:
    from skydock.engine.images.obscore import OBSCORE_TABLE, publish

    rows = publish(registry.root.parent, registry.records())
    typer.echo(f"{OBSCORE_TABLE}: {rows} row(s)")


@app.command("list")
def list_images(
    data_dir: DataDir,
    collection: Annotated[
        str | None, typer.Option("--collection", help="Only this collection.")
    ] = None,
) -> None:
    """Show the registered images."""
    from skydock.engine.images import ImageRegistry

    records = [
        r
        for r in ImageRegistry.for_data_dir(data_dir).records()
        if collection is None or r.collection == collection
    ]
    if not records:
        typer.echo("no images registered")
        return
    for r in sorted(records, key=lambda r: r.key):
        typer.echo(
            f"{r.key:<40} {r.band:<3} {r.naxis1:>6}×{r.naxis2:<6} ({r.s_ra:9.5f}, "
            f"{r.s_dec:+9.5f})  fov {r.s_fov * 60:6.1f}′"
        )


@app.command()
def drop(
    collection: Annotated[str, typer.Argument(help="Collection to delete.")], data_dir: DataDir
) -> None:
    """Forget a collection and delete its files."""
    from skydock.engine.images import ImageRegistry

    registry = ImageRegistry.for_data_dir(data_dir)
    count = registry.drop(collection)
    typer.echo(f"dropped {collection} ({count} image(s))")
    _publish(registry)
