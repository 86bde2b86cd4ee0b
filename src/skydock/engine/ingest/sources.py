"""Input files: expand globs, tell the formats apart, open each with its reader."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from skydock.engine.ingest.fits import open_fits
from skydock.engine.ingest.readers import Input, open_delimited, open_parquet, open_votable
from skydock.errors import CatalogError

_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
    ".fits.gz": "fits",
    ".fit.gz": "fits",
    ".fts.gz": "fits",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".tsv.gz": "tsv",
    ".txt": "tsv",
    ".txt.gz": "tsv",
    ".parquet": "parquet",
    ".parq": "parquet",
    ".pq": "parquet",
    ".xml": "votable",
    ".vot": "votable",
    ".votable": "votable",
}


def resolve_sources(sources: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Expand globs and check every file exists and has a format we read."""
    if isinstance(sources, str | Path):
        sources = [sources]
    if not sources:
        raise CatalogError("no input files given; name at least one file or glob pattern")
    files: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for source in sources:
        text = str(source)
        if glob.has_magic(text):
            # glob.glob, not Path.glob: patterns may be absolute paths
            matches = sorted(glob.glob(text, recursive=True))  # noqa: PTH207
            matches = [m for m in matches if Path(m).is_file()]
            if not matches:
                raise CatalogError(f"no files match {text!r}")
        else:
            if not Path(text).is_file():
                raise CatalogError(f"input file {text!r} does not exist")
            matches = [text]
        for match in matches:
            path = Path(match)
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            files.append((path, _format_of(path)))
    return files


def _format_of(path: Path) -> str:
    lowered = path.name.lower()
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if lowered.endswith(suffix):
            return _FORMATS[suffix]
    accepted = ", ".join(sorted(_FORMATS))
    raise CatalogError(f"cannot tell the format of {str(path)!r}; accepted extensions: {accepted}")


def open_input(path: Path, kind: str) -> Input:
    try:
        if kind == "fits":
            return open_fits(path)
        if kind in ("csv", "tsv"):
            return open_delimited(path, "," if kind == "csv" else "\t")
        if kind == "parquet":
            return open_parquet(path)
        return open_votable(path)
    except CatalogError:
        raise
    except Exception as exc:
        raise CatalogError(f"could not read {str(path)!r} as {kind.upper()}: {exc}") from exc


def known_total(files: list[tuple[Path, str]]) -> int | None:
    """Rows in all inputs when cheap to know (Parquet and FITS headers), else None."""
    total = 0
    for path, kind in files:
        try:
            if kind == "parquet":
                total += pq.ParquetFile(path).metadata.num_rows
            elif kind == "fits" and not path.name.lower().endswith(".gz"):
                from astropy.io import fits

                with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
                    tables = [h for h in hdul if isinstance(h, fits.BinTableHDU)]
                    total += int(tables[0].header["NAXIS2"]) if tables else 0
            else:
                return None
        except Exception:
            return None
    return total
