"""Ingest: every input format, the HATS layout, the serving copy and every refusal.

Expected values come from the input files read back independently (astropy, pyarrow,
numpy) and from cdshealpix called directly, never from what ingest wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import astropy.units as u
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from astropy.coordinates import Latitude, Longitude
from astropy.io import fits
from astropy.table import MaskedColumn, Table
from cdshealpix.nested import lonlat_to_healpix

from skydock.engine.catalog import META_FILE, CatalogStore, TableMeta
from skydock.engine.ingest import ingest_catalog, partition, readers
from skydock.errors import CatalogError, CatalogExistsError
from tests.conftest import make_points


@pytest.fixture
def store(tmp_path: Path) -> CatalogStore:
    return CatalogStore.for_data_dir(tmp_path / "data")


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force many small batches so chunk boundaries are exercised on small files."""
    monkeypatch.setattr(readers, "_MIN_BATCH", 50)
    monkeypatch.setattr(readers, "_BATCH_BYTES", 4_000)


def serving(meta: TableMeta) -> pa.Table:
    """The serving table in storage order (no ORDER BY)."""
    with duckdb.connect(str(meta.serving_path), read_only=True) as con:
        return con.sql("SELECT * FROM data").to_arrow_table()


def healpix29(ra: Any, dec: Any) -> np.ndarray:
    ra = np.asarray(ra, dtype=np.float64)
    dec = np.asarray(dec, dtype=np.float64)
    return np.asarray(lonlat_to_healpix(Longitude(ra, u.deg), Latitude(dec, u.deg), 29))


def assert_nothing_left(store: CatalogStore, qualified: str = "test.t") -> None:
    schema, name = qualified.split(".")
    assert not store.path_for(schema, name).exists()
    staging = store.root / ".staging"
    assert not staging.exists() or not any(staging.iterdir())


def ingest(store: CatalogStore, sources: Any, table: str = "test.t", **kwargs: Any) -> TableMeta:
    kwargs.setdefault("ra", "ra")
    kwargs.setdefault("dec", "dec")
    kwargs.setdefault("progress", False)
    return ingest_catalog(
        store, sources if isinstance(sources, list) else [sources], table, **kwargs
    )


# --- the happy paths, one per format ----------------------------------------------------


def test_parquet_serving_copy_sorted_with_independent_healpix(
    store: CatalogStore, tmp_path: Path, small_batches: None
) -> None:
    points = make_points(3_000, seed=1)
    src = tmp_path / "points.parquet"
    pq.write_table(points, src, row_group_size=700)
    meta = ingest(store, src, id_column="id", partition_rows=800)

    assert meta.nrows == 3_000
    assert (meta.path / META_FILE).is_file()
    assert not (store.root / ".staging").exists()
    assert store.get("test.t").nrows == 3_000
    rows = serving(meta)
    hpx = rows["_healpix_29"].to_numpy()
    assert np.all(np.diff(hpx) >= 0), "serving rows must be stored sorted by _healpix_29"
    order = np.argsort(points["id"].to_numpy())
    expected = dict(
        zip(
            points["id"].to_numpy()[order].tolist(),
            healpix29(points["ra"].to_numpy()[order], points["dec"].to_numpy()[order]).tolist(),
            strict=True,
        )
    )
    got = dict(zip(rows["id"].to_pylist(), hpx.tolist(), strict=True))
    assert got == expected
    assert rows.column_names == ["id", "ra", "dec", "mag", "kind", "_healpix_29"]
    types = {c.name: c.datatype for c in meta.columns}
    assert types == {
        "id": "BIGINT",
        "ra": "DOUBLE",
        "dec": "DOUBLE",
        "mag": "FLOAT",
        "kind": "VARCHAR",
        "_healpix_29": "BIGINT",
    }
    ra_col, id_col = meta.column("ra"), meta.column("id")
    assert ra_col is not None and id_col is not None
    assert (ra_col.unit, ra_col.ucd, ra_col.indexed) == ("deg", "pos.eq.ra;meta.main", True)
    assert id_col.ucd == "meta.id;meta.main" and id_col.principal


def test_hats_and_lsdb_read_the_same_rows(store: CatalogStore, tmp_path: Path) -> None:
    import hats
    import lsdb
    from hats.io.validation import is_valid_catalog

    points = make_points(4_000, seed=2)
    src = tmp_path / "points.parquet"
    pq.write_table(points, src)
    meta = ingest(store, src, id_column="id", partition_rows=1_000)

    assert is_valid_catalog(meta.path, strict=True)
    cat = hats.read_hats(meta.path)
    assert isinstance(cat, hats.catalog.Catalog)
    assert cat.catalog_info.total_rows == 4_000
    assert cat.catalog_info.ra_column == "ra"
    assert len(cat.get_healpix_pixels()) > 1
    frame = lsdb.read_hats(meta.path).compute()
    assert len(frame) == 4_000
    got = frame.sort_values("id")
    want = points.to_pandas().sort_values("id")
    np.testing.assert_array_equal(got["id"].to_numpy(), want["id"].to_numpy())
    np.testing.assert_array_equal(got["ra"].to_numpy(), want["ra"].to_numpy())
    np.testing.assert_array_equal(got["dec"].to_numpy(), want["dec"].to_numpy())


def test_partitions_adapt_to_density(
    store: CatalogStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partition, "PARQUET_ROW_GROUP", 150)
    rng = np.random.default_rng(3)
    spread = make_points(2_000, seed=3)
    n_clump = 3_000
    clump = pa.table(
        {
            "id": np.arange(10_001, 10_001 + n_clump, dtype=np.int64),
            "ra": rng.normal(150.0, 0.3, n_clump),
            "dec": rng.normal(2.0, 0.3, n_clump),
            "mag": rng.uniform(14, 24, n_clump).astype(np.float32),
            "kind": np.array(["STAR"] * n_clump),
        }
    )
    src = tmp_path / "clumpy.parquet"
    pq.write_table(pa.concat_tables([spread, clump]), src)
    threshold = 400
    meta = ingest(store, src, id_column="id", partition_rows=threshold)

    files = sorted((meta.path / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))
    orders = set()
    total = 0
    for f in files:
        order = int(f.parent.parent.name.split("=")[1])
        pixel = int(f.stem.split("=")[1])
        orders.add(order)
        part = pq.read_table(f)
        assert 0 < part.num_rows <= threshold
        total += part.num_rows
        cells = healpix29(part["ra"].to_numpy(), part["dec"].to_numpy()) >> (2 * (29 - order))
        assert np.all(cells == pixel), f"rows outside their partition in {f}"
        assert np.all(np.diff(part["_healpix_29"].to_numpy()) >= 0)
        md = pq.ParquetFile(f).metadata
        groups = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        assert all(g == 150 for g in groups[:-1]) and 0 < groups[-1] <= 150, groups
    assert total == 5_000
    assert len(orders) > 1, f"expected several partition orders, got {orders}"
    assert max(orders) >= 4, "the clump should be split into small, deep partitions"
    listed = (meta.path / "partition_info.csv").read_text().strip().splitlines()
    assert len(listed) - 1 == len(files)


def test_fits_with_units_ucds_and_odd_types(
    store: CatalogStore, tmp_path: Path, small_batches: None
) -> None:
    n = 500
    rng = np.random.default_rng(4)
    ra = rng.uniform(0, 360, n)
    dec = rng.uniform(-89, 89, n)
    counts = np.arange(n, dtype=np.int32)
    counts[::7] = -99
    cols = [
        fits.Column(name="SOURCE_ID", format="K", array=np.arange(n) + 1),
        fits.Column(name="RA", format="D", unit="deg", array=ra),
        fits.Column(name="Dec", format="D", unit="deg", array=dec),
        fits.Column(name="FLUX", format="E", unit="mJy", array=rng.uniform(0, 5, n)),
        fits.Column(name="NAME", format="12A", array=np.array([f"src {i}" for i in range(n)])),
        fits.Column(name="GOOD", format="L", array=np.arange(n) % 3 == 0),
        fits.Column(name="PHOT", format="3E", array=rng.uniform(0, 1, (n, 3))),
        fits.Column(name="NEXP", format="J", null=-99, array=counts),
        fits.Column(
            name="WIDE", format="I", bzero=32768, array=np.arange(n, dtype=np.uint16) * 100
        ),
    ]
    hdu = fits.BinTableHDU.from_columns(cols)
    hdu.header["TUCD4"] = "phot.flux;em.opt.V"
    hdu.header["TCOMM4"] = "Flux in the V band"
    hdu.header.comments["TTYPE5"] = "Designation of the source"
    src = tmp_path / "cat.fits"
    hdu.writeto(src)
    meta = ingest(store, src, id_column="source_id")

    expected = Table.read(src)
    rows = serving(meta).to_pandas().sort_values("source_id").reset_index(drop=True)
    assert len(rows) == n
    np.testing.assert_array_equal(rows["ra"], np.asarray(expected["RA"]))
    np.testing.assert_array_equal(rows["flux"], np.asarray(expected["FLUX"]))
    assert rows["name"].tolist() == [str(s) for s in expected["NAME"]]
    assert rows["good"].tolist() == np.asarray(expected["GOOD"]).tolist()
    np.testing.assert_array_equal(np.stack(rows["phot"].to_numpy()), np.asarray(expected["PHOT"]))
    np.testing.assert_array_equal(rows["wide"], np.asarray(expected["WIDE"]))
    nexp_mask = np.ma.getmaskarray(expected["NEXP"])
    assert rows["nexp"].isna().to_numpy().tolist() == nexp_mask.tolist()
    np.testing.assert_array_equal(
        rows["nexp"][~nexp_mask].to_numpy(), np.asarray(expected["NEXP"])[~nexp_mask]
    )
    by_name = {c.name: c for c in meta.columns}
    assert by_name["flux"].unit == "mJy"
    assert by_name["flux"].ucd == "phot.flux;em.opt.V"
    assert by_name["flux"].description == "Flux in the V band"
    assert by_name["name"].description == "Designation of the source"
    assert by_name["phot"].datatype == "FLOAT[3]"
    assert by_name["wide"].datatype == "USMALLINT"
    assert by_name["good"].datatype == "BOOLEAN"
    assert meta.id_column == "source_id" and meta.dec == "dec"


def test_fits_scaled_and_offset_columns(store: CatalogStore, tmp_path: Path) -> None:
    src = tmp_path / "scaled.fits"
    cols = [
        fits.Column(name="ra", format="D", array=np.array([1.0, 2.0, 3.0, 4.0])),
        fits.Column(name="dec", format="D", array=np.zeros(4)),
        fits.Column(name="s", format="I", array=np.array([0, 2, 4, -6], dtype=np.int16)),
        fits.Column(name="q", format="J", array=np.arange(1, 5, dtype=np.int32)),
    ]
    fits.BinTableHDU.from_columns(cols).writeto(src)
    with fits.open(src, mode="update") as hdul:  # raw values stay; their meaning changes
        hdul[1].header["TSCAL3"] = 0.5
        hdul[1].header["TZERO3"] = 1.0
        hdul[1].header["TZERO4"] = 2**31
    expected = Table.read(src)
    meta = ingest(store, src)
    rows = serving(meta).to_pandas().sort_values("ra")
    assert rows["s"].tolist() == np.asarray(expected["s"]).tolist() == [1.0, 2.0, 3.0, -2.0]
    assert rows["q"].tolist() == np.asarray(expected["q"]).tolist()
    assert {c.name: c.datatype for c in meta.columns}["q"] == "UINTEGER"


def test_gzipped_fits_streams_in_chunks(
    store: CatalogStore, tmp_path: Path, small_batches: None
) -> None:
    import gzip

    points = make_points(1_200, seed=5)
    table = Table(points.select(["id", "ra", "dec", "mag"]).to_pandas().to_dict("list"))
    plain = tmp_path / "p.fits"
    table.write(plain)
    src = tmp_path / "p.fits.gz"
    src.write_bytes(gzip.compress(plain.read_bytes()))
    meta = ingest(store, src, id_column="id")
    rows = serving(meta).to_pandas().sort_values("id")
    np.testing.assert_array_equal(rows["dec"].to_numpy(), np.asarray(table["dec"]))
    assert meta.nrows == 1_200


def test_csv_folds_names_and_matches_pyarrow(
    store: CatalogStore, tmp_path: Path, small_batches: None
) -> None:
    points = make_points(1_500, seed=6).rename_columns(["ID", "RA", "Dec", "Mag_G", "Kind"])
    src = tmp_path / "points.csv"
    pacsv.write_csv(points, src)
    meta = ingest(store, src, ra="RA", dec="DEC", id_column="Id")
    assert [c.name for c in meta.columns] == ["id", "ra", "dec", "mag_g", "kind", "_healpix_29"]
    assert (meta.ra, meta.dec, meta.id_column) == ("ra", "dec", "id")
    expected = pacsv.read_csv(src).to_pandas().sort_values("ID")
    rows = serving(meta).to_pandas().sort_values("id")
    np.testing.assert_allclose(rows["ra"].to_numpy(), expected["RA"].to_numpy(), rtol=0, atol=0)
    assert rows["kind"].tolist() == expected["Kind"].tolist()


@pytest.mark.parametrize("suffix", [".tsv", ".txt"])
def test_tab_separated(store: CatalogStore, tmp_path: Path, suffix: str) -> None:
    points = make_points(800, seed=7)
    src = tmp_path / f"points{suffix}"
    pacsv.write_csv(points, src, pacsv.WriteOptions(delimiter="\t"))
    meta = ingest(store, src, id_column="id")
    rows = serving(meta).to_pandas().sort_values("id")
    np.testing.assert_array_equal(rows["dec"].to_numpy(), points["dec"].to_numpy())
    assert meta.nrows == 800


def test_votable_keeps_units_ucds_descriptions_and_nulls(
    store: CatalogStore, tmp_path: Path
) -> None:
    points = make_points(300, seed=8)
    table = Table(points.to_pandas().to_dict("list"))
    table["ra"].unit = u.deg
    table["mag"].unit = u.mag
    table["mag"].description = "Apparent magnitude"
    mag = MaskedColumn(table["mag"], mask=np.arange(300) % 10 == 0, unit=u.mag)
    mag.description = "Apparent magnitude"
    table["mag"] = mag
    table.meta["description"] = "three hundred points"
    from astropy.io.votable import from_table

    vot = from_table(table)
    fields = {f.name: f for f in vot.get_first_table().fields}
    fields["mag"].ucd = "phot.mag;em.opt.V"
    fields["dec"].ucd = "pos.eq.dec"
    src = tmp_path / "points.vot"
    vot.to_xml(str(src))

    meta = ingest(store, src, id_column="id")
    by_name = {c.name: c for c in meta.columns}
    assert by_name["mag"].unit == "mag"
    assert by_name["mag"].ucd == "phot.mag;em.opt.V"
    assert by_name["mag"].description == "Apparent magnitude"
    assert by_name["dec"].ucd == "pos.eq.dec", "a UCD from the file beats the default"
    rows = serving(meta).to_pandas().sort_values("id")
    assert rows["mag"].isna().to_numpy().tolist() == (np.arange(300) % 10 == 0).tolist()
    assert rows["kind"].tolist() == points["kind"].to_pylist()


def test_parquet_field_and_astropy_metadata_with_sidecar_override(
    store: CatalogStore, tmp_path: Path
) -> None:
    points = make_points(400, seed=9)
    fields = [
        f.with_metadata({"unit": "mag", "ucd": "phot.mag", "description": "from the file"})
        if f.name == "mag"
        else f
        for f in points.schema
    ]
    src = tmp_path / "points.parquet"
    pq.write_table(points.cast(pa.schema(fields)), src)
    astro = Table(points.to_pandas().to_dict("list"))
    astro["ra"].unit = u.hourangle  # nonsense, to see the astropy header is read
    astro["kind"].description = "Kind, according to astropy"
    src2 = tmp_path / "astro.parquet"
    astro.write(src2)

    sidecar = tmp_path / "meta.yaml"
    sidecar.write_text(
        yaml.safe_dump(
            {
                "description": "from the sidecar",
                "columns": {"MAG": {"description": "Overridden"}, "kind": {"ucd": "src.class"}},
            }
        )
    )
    meta = ingest(store, src, id_column="id", meta=sidecar)
    mag = meta.column("mag")
    assert mag is not None
    assert (mag.unit, mag.ucd, mag.description) == ("mag", "phot.mag", "Overridden")
    assert meta.description == "from the sidecar"
    kind = meta.column("kind")
    assert kind is not None and kind.ucd == "src.class"
    on_disk = yaml.safe_load((meta.path / META_FILE).read_text())
    assert on_disk["columns"][3]["description"] == "Overridden"

    meta2 = ingest(store, src2, "test.astro", description="explicit wins")
    ra, kind2 = meta2.column("ra"), meta2.column("kind")
    assert ra is not None and kind2 is not None
    assert ra.unit == "hourangle"
    assert kind2.description == "Kind, according to astropy"
    assert meta2.description == "explicit wins"


def test_input_healpix_is_recomputed_and_categories_decoded(
    store: CatalogStore, tmp_path: Path
) -> None:
    points = make_points(300, seed=21)
    frame = points.to_pandas()
    frame["kind"] = frame["kind"].astype("category")
    frame["_healpix_29"] = np.zeros(300, dtype=np.int64)  # stale, must not be trusted
    src = tmp_path / "exported.parquet"
    frame.to_parquet(src)
    assert pa.types.is_dictionary(pq.read_schema(src).field("kind").type)
    meta = ingest(store, src, id_column="id")
    rows = serving(meta).to_pandas().sort_values("id")
    np.testing.assert_array_equal(
        rows["_healpix_29"].to_numpy(), healpix29(points["ra"], points["dec"])
    )
    assert rows["kind"].tolist() == points["kind"].to_pylist()
    assert {c.name: c.datatype for c in meta.columns}["kind"] == "VARCHAR"


def test_glob_and_several_files_combine(
    store: CatalogStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = [make_points(500, seed=s) for s in (10, 11, 12)]
    for i, part in enumerate(parts):
        ids = pa.array(np.arange(500, dtype=np.int64) + 1 + 500 * i)
        pq.write_table(part.set_column(0, "id", ids), tmp_path / f"part-{i}.parquet")
    extra = make_points(100, seed=13)
    extra = extra.set_column(0, "id", pa.array(np.arange(100, dtype=np.int64) + 5_001))
    pacsv.write_csv(extra, tmp_path / "extra.csv")
    meta = ingest(
        store,
        [str(tmp_path / "part-*.parquet"), tmp_path / "extra.csv"],
        id_column="id",
        progress=True,
    )
    assert meta.nrows == 1_600
    assert "sorting 1,600 rows" in capsys.readouterr().err
    ids = sorted(serving(meta)["id"].to_pylist())
    assert ids == list(range(1, 1_501)) + list(range(5_001, 5_101))


# --- refusals: a clear error and nothing left behind --------------------------------------


def _write(tmp_path: Path, table: pa.Table, name: str = "in.parquet") -> Path:
    path = tmp_path / name
    if name.endswith(".csv"):
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def _with(points: pa.Table, column: str, values: Any) -> pa.Table:
    return points.set_column(points.column_names.index(column), column, pa.array(values))


BAD_CASES: dict[str, tuple[Any, dict[str, Any], str]] = {
    "missing column": (
        lambda p: p,
        {"ra": "raj2000"},
        r"--ra column 'raj2000' is not in .*did you mean 'ra'\? Available columns: id, ra, dec",
    ),
    "missing id column": (lambda p: p, {"id_column": "objid"}, r"--id column 'objid'"),
    "string ra": (
        lambda p: _with(p, "ra", [f"{int(v // 15):02d}:00:00" for v in p["ra"].to_numpy()]),
        {},
        r"RA column 'ra' .* has type string, not a number",
    ),
    "ra negative": (
        lambda p: _with(p, "ra", np.where(np.arange(p.num_rows) < 3, -1.5, p["ra"].to_numpy())),
        {},
        r"3 rows have 'ra' outside \[0, 360\) degrees \(e\.g\. -1\.5 in row 1 of in\.parquet",
    ),
    "ra 360": (
        lambda p: _with(p, "ra", np.where(np.arange(p.num_rows) == 7, 360.0, p["ra"].to_numpy())),
        {},
        r"1 rows have 'ra' outside \[0, 360\).*360\.0 in row 8",
    ),
    "dec above 90": (
        lambda p: _with(p, "dec", np.where(np.arange(p.num_rows) % 2 == 0, 91.0, p["dec"])),
        {},
        r"100 rows have 'dec' outside \[-90, 90\]",
    ),
    "null position": (
        lambda p: _with(
            p, "dec", pa.array(p["dec"].to_numpy(), mask=np.arange(p.num_rows) % 50 == 0)
        ),
        {},
        r"4 rows have a NULL or NaN position",
    ),
    "nan position": (
        lambda p: _with(p, "ra", np.where(np.arange(p.num_rows) == 5, np.nan, p["ra"])),
        {},
        r"1 rows have a NULL or NaN position .*row 6 of in\.parquet",
    ),
    "duplicate id": (
        lambda p: _with(p, "id", np.where(np.arange(p.num_rows) < 10, 1, p["id"])),
        {"id_column": "id"},
        r"id column 'id' is not unique: 1 values occur more than once \(10 rows in all\), "
        r"e\.g\. 1",
    ),
    "null id": (
        lambda p: _with(p, "id", pa.array(p["id"].to_numpy(), mask=np.arange(p.num_rows) == 3)),
        {"id_column": "id"},
        r"id column 'id' has 1 NULL values",
    ),
    "sidecar unknown column": (
        lambda p: p,
        {"meta": {"columns": {"magg": {"unit": "mag"}, "flux": {}}}},
        r"sidecar describes columns the input does not have: 'flux', 'magg' \(did you mean "
        r"'mag'\?\)",
    ),
    "sidecar unknown key": (
        lambda p: p,
        {"meta": {"columns": {"mag": {"units": "mag"}}}},
        r"column 'mag' has unknown keys units; accepted: description, principal, ucd, unit",
    ),
    "names collide when folded": (
        lambda p: p.append_column("RA", p["ra"]),
        {},
        r"columns 'ra' and 'RA' become the same name 'ra'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_refused_cleanly(store: CatalogStore, tmp_path: Path, case: str) -> None:
    change, kwargs, message = BAD_CASES[case]
    src = _write(tmp_path, change(make_points(200, seed=14)))
    with pytest.raises(CatalogError, match=message):
        ingest(store, src, **kwargs)
    assert_nothing_left(store)


def test_string_ra_in_csv(store: CatalogStore, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("id,ra,dec\n1,10:00:00,+20:00:00\n2,11:00:00,-3:00:00\n")
    with pytest.raises(CatalogError, match=r"RA column 'ra' .*not a number"):
        ingest(store, tmp_path / "s.csv")
    assert_nothing_left(store)


def test_csv_value_disagreeing_with_sniffed_type(store: CatalogStore, tmp_path: Path) -> None:
    rows = [f"{i},{i % 360}.5,10.0,{i % 20}.25" for i in range(25_000)]
    (tmp_path / "late.csv").write_text("\n".join(["id,ra,dec,mag", *rows, "25001,1,2,bright"]))
    with pytest.raises(CatalogError, match=r"late\.csv.*Could not convert string \"bright\""):
        ingest(store, tmp_path / "late.csv")
    assert_nothing_left(store)


def test_existing_table_is_refused(store: CatalogStore, tmp_path: Path) -> None:
    src = _write(tmp_path, make_points(100, seed=15))
    first = ingest(store, src)
    with pytest.raises(CatalogExistsError, match=r"test\.t already exists.*catalog drop"):
        ingest(store, src)
    assert store.get("test.t").nrows == 100
    assert (first.path / META_FILE).is_file()


@pytest.mark.parametrize(
    ("sources", "table", "message"),
    [
        (["in.xlsx"], "test.t", r"cannot tell the format of .*in\.xlsx.*accepted extensions"),
        (["nothing-*.fits"], "test.t", r"no files match .*nothing-\*\.fits"),
        (["absent.parquet"], "test.t", r"input file .*absent\.parquet' does not exist"),
        (["in.parquet"], "main.t", r"schema name 'main' is reserved"),
        (["in.parquet"], "tap_schema.t", r"schema name 'tap_schema' is reserved"),
        (["in.parquet"], "just_a_name", r"must be SCHEMA\.TABLE"),
    ],
)
def test_bad_request_is_refused_before_reading(
    store: CatalogStore, tmp_path: Path, sources: list[str], table: str, message: str
) -> None:
    _write(tmp_path, make_points(10, seed=16))
    (tmp_path / "in.xlsx").write_bytes(b"PK")
    with pytest.raises(CatalogError, match=message):
        ingest(store, [str(tmp_path / s) for s in sources], table)
    assert not store.root.exists() or not any(p.name != ".staging" for p in store.root.iterdir())


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (lambda p: p.drop_columns(["mag"]), r"part2\.parquet' does not match .*lacks mag"),
        (lambda p: p.append_column("x", p["mag"]), r"has extra x"),
        (
            lambda p: _with(p, "mag", [str(v) for v in p["mag"].to_pylist()]),
            r"column 'mag' is string there but float in the first file",
        ),
    ],
)
def test_mismatched_schemas_are_refused(
    store: CatalogStore, tmp_path: Path, second: Any, message: str
) -> None:
    _write(tmp_path, make_points(100, seed=17), "part1.parquet")
    _write(tmp_path, second(make_points(100, seed=18)), "part2.parquet")
    with pytest.raises(CatalogError, match=message):
        ingest(store, [tmp_path / "part1.parquet", tmp_path / "part2.parquet"])
    assert_nothing_left(store)


def test_failure_late_in_the_build_leaves_nothing(
    store: CatalogStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(partition, "plan_partitions", broken)
    src = _write(tmp_path, make_points(100, seed=19))
    with pytest.raises(RuntimeError, match="disk full"):
        ingest(store, src)
    assert_nothing_left(store)


def test_drop_removes_the_catalog(store: CatalogStore, tmp_path: Path) -> None:
    src = _write(tmp_path, make_points(100, seed=20))
    meta = ingest(store, src)
    assert meta.path.is_dir()
    store.drop("test.t")
    assert not meta.path.exists()
    assert store.list() == []


# --- scale -----------------------------------------------------------------------------

_SCALE_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from skydock.engine.catalog import CatalogStore
    from skydock.engine.ingest import ingest_catalog

    src, data = Path(sys.argv[1]), Path(sys.argv[2])
    start = time.perf_counter()
    meta = ingest_catalog(CatalogStore.for_data_dir(data), [src], "scale.points",
                          ra="ra", dec="dec", id_column="id", progress=False)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": meta.nrows, "seconds": seconds, "peak_mib": peak_kib / 1024}))
    """
)


@pytest.mark.slow
def test_two_million_rows_in_bounded_memory(tmp_path: Path) -> None:
    n = 2_000_000
    src = tmp_path / "big.parquet"
    with pq.ParquetWriter(src, make_points(1, seed=0).schema) as writer:
        for i in range(0, n, 500_000):
            chunk = make_points(500_000, seed=100 + i)
            ids = pa.array(np.arange(i, i + 500_000, dtype=np.int64) + 1)
            writer.write_table(chunk.set_column(0, "id", ids))
    out = subprocess.run(
        [sys.executable, "-c", _SCALE_SCRIPT, str(src), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"\ningest of {n:,} rows: {figures['seconds']:.1f} s, "
        f"{n / figures['seconds']:,.0f} rows/s, peak RSS {figures['peak_mib']:,.0f} MiB"
    )
    assert figures["rows"] == n
    assert figures["peak_mib"] < 3_000
    store = CatalogStore.for_data_dir(tmp_path / "data")
    meta = store.get("scale.points")
    with duckdb.connect(str(meta.serving_path), read_only=True) as con:
        unsorted = con.execute(
            "SELECT count(*) FROM (SELECT _healpix_29 < lag(_healpix_29) OVER () AS down "
            "FROM data) WHERE down"
        ).fetchone()
    assert unsorted == (0,)
    files = list((meta.path / "dataset").glob("Norder=*/Dir=*/Npix=*.parquet"))
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files) == n
