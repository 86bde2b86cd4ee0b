"""The spectra store on its own, and the demo spectra checked against physics computed
here independently (astropy units for the photometry, line lists from the literature)."""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import duckdb
import numpy as np
import pyarrow as pa
import pytest
from astropy.coordinates import SkyCoord

from skydock.engine.catalog import CatalogStore
from skydock.engine.spectra import (
    SpectraCollection,
    SpectraStore,
    SpectraStoreError,
    UnknownSpectrumError,
    collection_path,
    write_collection,
)

BIG = 2**60  # far past 2**53: neighbouring ids collapse to one float64


def random_collection(n: int, npix: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ids = BIG + rng.permutation(n).astype(np.int64)  # adjacent ids, shuffled
    arrays = {
        "flux": rng.normal(size=(n, npix)).astype(np.float32),
        "ivar": rng.uniform(0, 4, (n, npix)).astype(np.float32),
        "mask": rng.integers(0, 2, (n, npix)).astype(np.uint8),
        "model": rng.normal(size=(n, npix)).astype(np.float32),
    }
    arrays["flux"][0, 0] = np.float32(np.nan)  # NaN bits survive too
    return ids, arrays


def test_round_trip_is_bit_identical_and_keeps_int64_ids(tmp_path: Path) -> None:
    ids, arrays = random_collection(50, 37, seed=1)
    wave = np.linspace(3600.0, 9800.0, 37)
    path = write_collection(tmp_path / "c" / "spectra.arrow", ids, wave, arrays)
    store = SpectraCollection(path)
    wanted = ids[[7, 3, 3, 49, 0]]  # any order, repeats allowed
    got = store.read(wanted)
    assert got.column("targetid").to_pylist() == [int(i) for i in wanted]
    assert float(wanted[1]) == float(wanted[1] + 1)  # the trap is real for these ids
    rows = [int(np.flatnonzero(ids == i)[0]) for i in wanted]
    for name, values in arrays.items():
        column = got.column(name).combine_chunks()
        back = column.values.to_numpy(zero_copy_only=False).reshape(len(wanted), 37)
        assert back.dtype == values.dtype
        assert back.tobytes() == values[rows].tobytes(), name
    assert store.wavelength.tobytes() == wave.tobytes()


def test_unknown_ids_are_named(tmp_path: Path) -> None:
    ids, arrays = random_collection(5, 4, seed=2)
    store = SpectraCollection(write_collection(tmp_path / "s.arrow", ids, np.arange(4.0), arrays))
    with pytest.raises(UnknownSpectrumError, match=str(BIG + 99)):
        store.read([int(ids[0]), BIG + 99])


def test_bad_arrays_are_refused(tmp_path: Path) -> None:
    ids, arrays = random_collection(5, 4, seed=3)
    arrays["ivar"] = arrays["ivar"][:, :3]
    with pytest.raises(SpectraStoreError, match="ivar has shape"):
        write_collection(tmp_path / "s.arrow", ids, np.arange(4.0), arrays)
    with pytest.raises(SpectraStoreError, match="unique"):
        write_collection(tmp_path / "s.arrow", np.zeros(5, np.int64), np.arange(4.0), arrays)


def test_store_reopens_a_rebuilt_collection(tmp_path: Path) -> None:
    store = SpectraStore(tmp_path)
    path = collection_path(tmp_path, "x.y")
    ids, arrays = random_collection(3, 4, seed=4)
    write_collection(path, ids, np.arange(4.0), arrays)
    assert store.tables() == ["x.y"]
    assert len(store.collection("x.y")) == 3
    ids2, arrays2 = random_collection(6, 4, seed=5)
    write_collection(path, ids2 + 10, np.arange(4.0), arrays2)
    os.utime(path, (1e9, 1e9))  # a different mtime even within one clock tick
    assert len(store.collection("x.y")) == 6


# --- the demo spectra -------------------------------------------------------------------


def _specobj(spectra_dir: Path) -> dict[str, np.ndarray]:
    meta = CatalogStore.for_data_dir(spectra_dir).get("demo.specobj")
    con = duckdb.connect(str(meta.serving_path), read_only=True)
    try:
        return {k: np.asarray(v) for k, v in con.sql("SELECT * FROM data").fetchnumpy().items()}
    finally:
        con.close()


def _arrays(spectra_dir: Path) -> tuple[pa.Table, np.ndarray]:
    """The store file read with plain pyarrow, not through SpectraCollection."""
    path = spectra_dir / "spectra" / "demo" / "specobj" / "spectra.arrow"
    table = pa.ipc.open_file(pa.memory_map(str(path))).read_all()
    wave = np.frombuffer(table.schema.metadata[b"skydock.wavelength"], dtype="<f8")
    return table, wave


def _grid(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name).combine_chunks()
    return col.values.to_numpy(zero_copy_only=False).reshape(len(col), -1)


def test_demo_specobj_is_tied_to_objects(spectra_dir: Path) -> None:
    spec = _specobj(spectra_dir)
    objects = CatalogStore.for_data_dir(spectra_dir).get("demo.objects")
    con = duckdb.connect(str(objects.serving_path), read_only=True)
    try:
        obj = con.sql("SELECT ls_id, ra, dec, mag_r FROM data").fetchnumpy()
    finally:
        con.close()
    assert (spec["targetid"] > 2**53).all()
    assert len(np.unique(spec["targetid"])) == len(spec["targetid"])
    index = {int(i): k for k, i in enumerate(obj["ls_id"])}
    rows = np.array([index[int(i)] for i in spec["ls_id"]])  # every spectrum has its object
    assert np.array_equal(np.asarray(obj["ra"])[rows], spec["ra"])
    assert np.array_equal(np.asarray(obj["dec"])[rows], spec["dec"])
    assert set(spec["class"]) == {"GALAXY", "STAR", "QSO"}
    # Every object of the deep pointing (the imaged field) has a spectrum, by astropy.
    field = SkyCoord(0.0 * u.deg, -50.0 * u.deg)
    near = field.separation(SkyCoord(obj["ra"] * u.deg, obj["dec"] * u.deg)) < 0.42 * u.deg
    has_mag = ~np.isnan(np.asarray(obj["mag_r"], dtype=float))
    in_field = set(np.asarray(obj["ls_id"])[near & has_mag].tolist())
    assert in_field <= set(spec["ls_id"].tolist())
    table, _ = _arrays(spectra_dir)
    assert sorted(table.column("targetid").to_pylist()) == sorted(spec["targetid"].tolist())


def test_demo_spectra_match_their_photometry_and_noise(spectra_dir: Path) -> None:
    spec = _specobj(spectra_dir)
    table, wave = _arrays(spectra_dir)
    order = {int(t): k for k, t in enumerate(table.column("targetid").to_pylist())}
    rows = np.array([order[int(t)] for t in spec["targetid"]])
    model = _grid(table, "model")[rows].astype(float)
    flux = _grid(table, "flux")[rows].astype(float)
    ivar = _grid(table, "ivar")[rows].astype(float)
    mask = _grid(table, "mask")[rows]
    # Synthetic r magnitude of the model through a 5500-6900 Å box, with astropy's units.
    band = (wave > 5500) & (wave < 6900)
    f_lam = model[:, band] * (1e-17 * u.erg / u.s / u.cm**2 / u.AA)
    f_nu = (f_lam.mean(axis=1)).to(
        u.erg / u.s / u.cm**2 / u.Hz, equivalencies=u.spectral_density(6200 * u.AA)
    )
    mag = f_nu.to(u.ABmag).value
    assert np.abs(mag - spec["mag_r"]).max() < 0.01
    # Noise: (flux - model) * sqrt(ivar) is unit Gaussian where not masked.
    good = (mask == 0) & (ivar > 0)
    pulls = ((flux - model) * np.sqrt(ivar))[good]
    assert abs(pulls.std() - 1.0) < 0.01
    assert abs(pulls.mean()) < 0.01
    assert (ivar[mask != 0] == 0).all()


def test_demo_lines_sit_at_the_redshift(spectra_dir: Path) -> None:
    """Strongest emission peak of star-forming galaxies and quasars, against rest
    wavelengths (vacuum) of Hα, [OIII], [OII], MgII and CIII] times (1 + z)."""
    spec = _specobj(spectra_dir)
    table, wave = _arrays(spectra_dir)
    order = {int(t): k for k, t in enumerate(table.column("targetid").to_pylist())}
    model = _grid(table, "model")
    lines = np.array([6564.61, 5008.24, 3728.5, 2798.75, 1908.73, 1549.06, 1215.67])
    hits = checked = 0
    for k, tid in enumerate(spec["targetid"]):
        if spec["class"][k] == "STAR":
            continue
        m = model[order[int(tid)]].astype(float)
        continuum = np.convolve(m, np.ones(101) / 101, mode="same")
        excess = (m - continuum)[50:-50]
        if excess.max() < 5 * np.median(np.abs(excess)) + 1e-3:
            continue  # a passive galaxy: no clear emission
        checked += 1
        peak = wave[50:-50][excess.argmax()]
        observed = lines * (1 + spec["z_true"][k])
        hits += np.abs(observed - peak).min() < 15
    assert checked > 30
    assert hits / checked > 0.9
    # The fitted redshift agrees with the truth within a few of its errors.
    pull = (spec["z"] - spec["z_true"]) / spec["zerr"]
    assert np.abs(pull).max() < 6


def test_specobj_needs_objects_first(tmp_path: Path) -> None:
    from skydock.demo import build
    from skydock.errors import CatalogError

    outcomes = build.build_demo(tmp_path, only="specobj", progress=False)
    assert outcomes[0].status == "skipped" and "build it first" in outcomes[0].note
    assert not (tmp_path / "spectra").exists()
    with pytest.raises(CatalogError, match="--spectra must be between 1 and 20,000"):
        build.build_demo(tmp_path, only="specobj", spectra_count=0, progress=False)
