"""``skydock demo``: build the demo catalogs that ``make up`` serves."""

from __future__ import annotations

from typing import Annotated

import typer

from skydock.cli.options import DataDir
from skydock.demo import (
    DEFAULT_ROWS,
    DEFAULT_SEED,
    DEFAULT_SPECTRA,
    MAX_ROWS,
    MAX_SPECTRA,
    TABLES,
)

app = typer.Typer(
    help="Demo catalogs: a synthetic survey with simulated spectra, a deep field with a "
    "hidden dwarf galaxy, and Hipparcos, Gaia and OpenNGC from PyPI packages; and g/r/i "
    "images of a few fields rendered from the synthetic catalogs.",
    no_args_is_help=True,
)


@app.callback()
def _demo() -> None:
    """Build and describe the demo catalogs (schema ``demo``)."""


@app.command()
def build(
    data_dir: DataDir,
    rows: Annotated[
        int,
        typer.Option(
            "--rows",
            min=1,
            max=MAX_ROWS,
            help="Rows of demo.objects (the other tables have fixed sizes).",
        ),
    ] = DEFAULT_ROWS,
    spectra: Annotated[
        int,
        typer.Option(
            "--spectra",
            min=1,
            max=MAX_SPECTRA,
            help="Spectra in demo.specobj (simulated for bright demo.objects targets).",
        ),
    ] = DEFAULT_SPECTRA,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives the same rows.")
    ] = DEFAULT_SEED,
    if_missing: Annotated[
        bool,
        typer.Option("--if-missing", help="Keep tables that already exist; build the rest."),
    ] = False,
    only: Annotated[
        str | None,
        typer.Option("--only", help=f"Comma-separated subset of: {','.join(TABLES)},images."),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress bars.")
    ] = True,
) -> None:
    """Generate or read each demo table and ingest it into the data directory."""
    from skydock.demo.build import build_demo, summary

    outcomes = build_demo(
        data_dir,
        rows=rows,
        seed=seed,
        only=only,
        if_missing=if_missing,
        progress=progress,
        spectra_count=spectra,
        log=lambda text: typer.echo(text, err=True),
    )
    typer.echo(summary(outcomes))


@app.command("list")
def list_tables() -> None:
    """Show the demo tables and what they hold."""
    from skydock.demo.build import DATASETS
    from skydock.demo.dataset import BuildSpec

    spec = BuildSpec(rows=DEFAULT_ROWS, seed=DEFAULT_SEED)
    for dataset in DATASETS.values():
        typer.echo(f"{dataset.table} ({len(dataset.columns)} columns)")
        typer.echo(f"    {dataset.describe(spec)}\n")
