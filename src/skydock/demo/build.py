"""Build the demo tables: write each one's Parquet files to a scratch directory, then
ingest them like any other survey.

The scratch directory lives under the data directory (``catalogs/.staging``), so a
hundred-million-row build does not fill a small ``/tmp`` and the files are removed as
soon as their table is ingested.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from skydock.demo import (
    DEFAULT_ROWS,
    DEFAULT_SEED,
    DEFAULT_SPECTRA,
    MAX_ROWS,
    MAX_SPECTRA,
    TABLES,
    objects,
    real,
    smash,
    spectra,
)
from skydock.demo.dataset import BuildSpec, Dataset, DemoDataUnavailableError
from skydock.engine.catalog import CatalogStore
from skydock.errors import CatalogError, CatalogExistsError

DATASETS: dict[str, Dataset] = {
    d.key: d
    for d in (
        objects.DATASET,
        spectra.DATASET,
        smash.DATASET,
        real.HIPPARCOS,
        real.STARS,
        real.GAIA,
        real.NGC,
    )
}
assert tuple(DATASETS) == TABLES


@dataclass(frozen=True)
class Outcome:
    """What happened to one table."""

    table: str
    status: Literal["built", "exists", "skipped"]
    rows: int = 0
    seconds: float = 0.0
    note: str = ""


IMAGES = "images"


def _wanted(only: str | Sequence[str] | None) -> set[str]:
    if only is None:
        return {*DATASETS, IMAGES}
    names = only.split(",") if isinstance(only, str) else list(only)
    wanted = {n.strip().lower().removeprefix("demo.") for n in names if n.strip()}
    unknown = sorted(wanted - {*DATASETS, IMAGES})
    if unknown or not wanted:
        raise CatalogError(
            f"unknown demo table(s) {', '.join(unknown) or repr(only)}; choose from "
            f"{', '.join(DATASETS)}, {IMAGES} (comma-separated)"
        )
    return wanted


def select(only: str | Sequence[str] | None) -> list[Dataset]:
    """The datasets named in ``only`` ('objects,smash' or a list), in build order
    (``images``, the demo image fields, is not a table and is left out here)."""
    wanted = _wanted(only)
    return [d for key, d in DATASETS.items() if key in wanted]


def check_rows(rows: int) -> None:
    if not 1 <= rows <= MAX_ROWS:
        raise CatalogError(f"--rows must be between 1 and {MAX_ROWS:,}, not {rows:,}")


def write_files(
    directory: Path,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    only: str | Sequence[str] | None = None,
) -> dict[str, list[Path]]:
    """Only the Parquet files (no ingest), one subdirectory per table."""
    check_rows(rows)
    spec = BuildSpec(rows=rows, seed=seed)
    return {d.key: d.write(Path(directory) / d.key, spec) for d in select(only)}


def build_demo(
    data_dir: Path,
    *,
    rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    only: str | Sequence[str] | None = None,
    if_missing: bool = False,
    progress: bool = True,
    spectra_count: int = DEFAULT_SPECTRA,
    log: Callable[[str], None] = lambda _: None,
) -> list[Outcome]:
    """Build the demo tables into ``data_dir``'s catalogs.

    ``rows`` sizes ``demo.objects`` (the other tables have fixed sizes). Without
    ``if_missing`` a table that already exists is an error, reported before anything is
    built; with it, existing tables are left alone. A real catalogue whose package is
    missing or broken is skipped with a note. ``images`` (in ``only``, or by default)
    renders the demo image fields from demo.smash and demo.objects once those are built.
    """
    from skydock.demo import images
    from skydock.engine.ingest import ingest_catalog

    check_rows(rows)
    if not 1 <= spectra_count <= MAX_SPECTRA:
        raise CatalogError(
            f"--spectra must be between 1 and {MAX_SPECTRA:,}, not {spectra_count:,}"
        )
    datasets = select(only)
    with_images = IMAGES in _wanted(only)
    store = CatalogStore.for_data_dir(Path(data_dir))
    present = [d.table for d in datasets if store.exists(d.table)]
    images_present = images.collections_present(Path(data_dir)) if with_images else []
    if images_present and not if_missing:
        raise CatalogExistsError(
            f"demo images ({', '.join(images_present)}) already exist; pass --if-missing to "
            "keep them, or drop first (skydock images drop NAME)"
        )
    if present and not if_missing:
        drops = "; ".join(f"skydock catalog drop {t}" for t in present)
        verb = "exists" if len(present) == 1 else "exist"
        raise CatalogExistsError(
            f"{', '.join(present)} already {verb}; pass --if-missing to keep existing tables "
            f"and build the rest, or drop first ({drops})"
        )
    spec = BuildSpec(
        rows=rows, seed=seed, progress=progress, data_dir=Path(data_dir), spectra=spectra_count
    )
    outcomes: list[Outcome] = []
    scratch = store.staging_dir()
    try:
        for dataset in datasets:
            if dataset.table in present:
                outcomes.append(Outcome(dataset.table, "exists", note="already built, kept"))
                continue
            start = time.perf_counter()
            log(f"{dataset.table}: {'generating' if dataset.synthetic else 'reading'} …")
            try:
                files = dataset.write(scratch / dataset.key, spec)
            except DemoDataUnavailableError as exc:
                outcomes.append(Outcome(dataset.table, "skipped", note=exc.message))
                log(f"{dataset.table}: skipped, {exc.message}")
                continue
            meta = ingest_catalog(
                store,
                files,
                dataset.table,
                ra=dataset.ra,
                dec=dataset.dec,
                id_column=dataset.id_column,
                meta=dataset.meta(spec),
                progress=progress,
            )
            shutil.rmtree(scratch / dataset.key, ignore_errors=True)
            seconds = time.perf_counter() - start
            outcomes.append(Outcome(dataset.table, "built", rows=meta.nrows, seconds=seconds))
            log(f"{dataset.table}: {meta.nrows:,} rows in {seconds:.1f} s")
        if with_images and images_present:
            outcomes.append(Outcome("images", "exists", note="already built, kept"))
        elif with_images:
            start = time.perf_counter()
            log("images: rendering the demo fields …")
            built = images.build_images(Path(data_dir), seed=seed, progress=progress, log=log)
            seconds = time.perf_counter() - start
            count = sum(n for _, n in built)
            if count:
                note = ", ".join(f"{c}: {n}" for c, n in built)
                outcomes.append(Outcome("images", "built", rows=count, seconds=seconds, note=note))
                log(f"images: {count} images ({note}) in {seconds:.1f} s")
            else:
                outcomes.append(
                    Outcome("images", "skipped", note="neither demo.smash nor demo.objects built")
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        with contextlib.suppress(OSError):  # someone else may be staging right now
            scratch.parent.rmdir()
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> str:
    """A few aligned lines for the terminal."""
    width = max((len(o.table) for o in outcomes), default=0)
    lines = []
    for o in outcomes:
        unit = "images" if o.table == "images" else "rows"
        detail = f"{o.rows:>12,} {unit:<6}{o.seconds:7.1f} s" if o.status == "built" else o.note
        lines.append(f"{o.table:<{width}}  {o.status:<7}  {detail}")
    built = [o for o in outcomes if o.status == "built" and o.table != "images"]
    if built:
        total_rows = sum(o.rows for o in built)
        total_s = sum(o.seconds for o in built)
        lines.append(f"{len(built)} table(s) built, {total_rows:,} rows in {total_s:.1f} s")
    return "\n".join(lines)
