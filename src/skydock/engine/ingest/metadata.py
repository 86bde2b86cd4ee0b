"""Column metadata: what the files say, overridden by the YAML sidecar, with defaults for
the position, id and HEALPix columns."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import yaml

from skydock.engine.catalog import HEALPIX_COLUMN, SERVING_TABLE, ColumnMeta
from skydock.errors import CatalogError

_SIDECAR_COLUMN_KEYS = frozenset({"unit", "ucd", "description", "principal"})
_DEFAULTS = {
    "ra": {"unit": "deg", "ucd": "pos.eq.ra;meta.main", "description": "Right ascension"},
    "dec": {"unit": "deg", "ucd": "pos.eq.dec;meta.main", "description": "Declination"},
    "id": {"ucd": "meta.id;meta.main", "description": ""},
    "healpix": {
        "ucd": "pos.healpix",
        "description": "HEALPix nested pixel index at order 29 (the HATS spatial index)",
    },
}


def load_sidecar(meta: Path | str | Mapping[str, Any] | None) -> dict[str, Any]:
    if meta is None:
        return {}
    where = "the metadata sidecar"
    if isinstance(meta, str | Path):
        path = Path(meta)
        where = f"metadata file {str(path)!r}"
        if not path.is_file():
            raise CatalogError(f"{where} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise CatalogError(f"{where} is not valid YAML: {exc}") from exc
        meta = loaded if loaded is not None else {}
    if not isinstance(meta, Mapping):
        raise CatalogError(
            f"{where} must be a mapping {{description: ..., columns: {{name: {{unit:, ucd:, "
            "description:}}}}"
        )
    unknown = set(meta) - {"description", "columns"}
    if unknown:
        raise CatalogError(
            f"{where} has unknown keys {', '.join(sorted(map(str, unknown)))}; accepted: "
            "description, columns"
        )
    columns = meta.get("columns") or {}
    if not isinstance(columns, Mapping):
        raise CatalogError(
            f"{where}: 'columns' must map column names to {{unit, ucd, description}}"
        )
    folded: dict[str, dict[str, Any]] = {}
    for cname, info in columns.items():
        info = info or {}
        if not isinstance(info, Mapping):
            raise CatalogError(
                f"{where}: column {cname!r} must map to {{unit:, ucd:, description:}}, not {info!r}"
            )
        bad = set(info) - _SIDECAR_COLUMN_KEYS
        if bad:
            raise CatalogError(
                f"{where}: column {cname!r} has unknown keys {', '.join(sorted(map(str, bad)))}; "
                f"accepted: {', '.join(sorted(_SIDECAR_COLUMN_KEYS))}"
            )
        folded[str(cname).strip().lower()] = {
            k: (v if k == "principal" else "" if v is None else str(v)) for k, v in info.items()
        }
    return {"description": str(meta.get("description") or ""), "columns": folded}


def fold_columns(columns: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {k.strip().lower(): dict(v) for k, v in columns.items()}


def describe_columns(
    con: duckdb.DuckDBPyConnection,
    *,
    ra: str,
    dec: str,
    id_column: str | None,
    sidecar: dict[str, Any],
    file_columns: dict[str, dict[str, str]],
) -> list[ColumnMeta]:
    """The serving table's columns, described from the files, the sidecar and defaults."""
    described = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = 'serving' AND table_name = ? ORDER BY column_index",
        [SERVING_TABLE],
    ).fetchall()
    overrides = sidecar.get("columns", {})
    roles = {ra: "ra", dec: "dec", HEALPIX_COLUMN: "healpix"}
    if id_column:
        roles[id_column] = "id"
    columns = []
    for cname, dtype in described:
        col = ColumnMeta(name=cname, datatype=str(dtype))
        role = roles.get(cname)
        given = dict(file_columns.get(cname, {}))
        given.update({k: v for k, v in overrides.get(cname, {}).items() if k != "principal"})
        defaults = _DEFAULTS.get(role or "", {})
        col.unit = str(given.get("unit") or defaults.get("unit", ""))
        col.ucd = str(given.get("ucd") or defaults.get("ucd", ""))
        col.description = str(given.get("description") or defaults.get("description", ""))
        col.indexed = role is not None
        col.principal = role in ("ra", "dec", "id")
        if "principal" in overrides.get(cname, {}):
            col.principal = bool(overrides[cname]["principal"])
        columns.append(col)
    return columns
