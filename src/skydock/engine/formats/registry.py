"""The output formats, their names and aliases: what ``RESPONSEFORMAT`` and ``ofmt`` accept."""

from __future__ import annotations

from dataclasses import dataclass

from skydock.errors import FormatError


@dataclass(frozen=True)
class Format:
    """An output format: its canonical name, HTTP media type and file extension."""

    name: str
    media_type: str
    extension: str
    description: str


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("csv", "text/csv;header=present", "csv", "comma-separated values with a header"),
        Format("tsv", "text/tab-separated-values", "tsv", "tab-separated values with a header"),
        Format("votable", "application/x-votable+xml", "vot", "VOTable 1.4, TABLEDATA"),
        Format(
            "votable-binary2",
            "application/x-votable+xml;serialization=BINARY2",
            "vot",
            "VOTable 1.4, BINARY2",
        ),
        Format("fits", "application/fits", "fits", "FITS binary table"),
        Format(
            "parquet", "application/vnd.apache.parquet", "parquet", "Parquet with VOParquet 1.0"
        ),
        Format("arrow", "application/vnd.apache.arrow.stream", "arrows", "Arrow IPC stream"),
        Format("json", "application/json", "json", "JSON: column metadata and rows as arrays"),
    )
}

_ALIASES: dict[str, str] = {
    **{name: name for name in FORMATS},
    **{f.media_type.lower(): f.name for f in FORMATS.values()},
    "text/csv": "csv",
    "tab": "tsv",
    "ascii": "tsv",  # Astro Data Lab's ofmt=ascii: tab-separated
    "text/tsv": "tsv",
    "vot": "votable",
    "xml": "votable",
    "text/xml": "votable",
    "votable/td": "votable",
    "votabletd": "votable",
    "votable-td": "votable",
    "votable-tabledata": "votable",
    "tabledata": "votable",
    "votable/b2": "votable-binary2",
    "votableb2": "votable-binary2",
    "votable-b2": "votable-binary2",
    "votable/binary2": "votable-binary2",
    "binary2": "votable-binary2",
    "application/x-fits-table": "fits",
    "application/x-parquet": "parquet",
    "application/parquet": "parquet",
    "arrows": "arrow",
    "arrow-stream": "arrow",
}
_VOTABLE_MIME = {"application/x-votable+xml", "text/xml"}
_SERIALIZATIONS = {"tabledata": "votable", "binary2": "votable-binary2"}


def normalise_format(name: str) -> str:
    """The canonical format for a name, MIME type (parameters allowed) or alias.

    Accepts what TAP clients send as RESPONSEFORMAT (``votable``,
    ``application/x-votable+xml;serialization=BINARY2``, ``text/csv``...) and what the
    Data Lab client sends as ``ofmt`` (``csv``, ``ascii``, ``votable``, ``fits``).
    """
    raw = str(name)
    text = raw.strip().lower()
    if text in _ALIASES:
        return _ALIASES[text]
    base, *params = (part.strip() for part in text.split(";"))
    options = {}
    for param in params:
        key, _, value = param.partition("=")
        options[key.strip()] = value.strip().strip('"')
    if base in _VOTABLE_MIME and "serialization" in options:
        found = _SERIALIZATIONS.get(options["serialization"])
        if found is None:
            raise FormatError(
                f"VOTable serialization {options['serialization']!r} is not supported; "
                "use TABLEDATA or BINARY2"
            )
        return found
    if base in _ALIASES:
        return _ALIASES[base]
    accepted = ", ".join(FORMATS)
    mimes = ", ".join(sorted({f.media_type for f in FORMATS.values()}))
    raise FormatError(
        f"unknown output format {raw!r}; use one of {accepted} (or a MIME type: {mimes})"
    )
