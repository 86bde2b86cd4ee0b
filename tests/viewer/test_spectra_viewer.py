"""The spectral viewer in headless Chromium (standalone HTML, no server behind the page)
and its Python side: exact int64 ids, inspection answers saved to storage and MyDB."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from skydock.client import Client, spectra_array
from skydock.viewer import SpectraViewer
from tests.browser import artifact, chromium
from tests.server.conftest import PASSWORDS, LiveServer

N = 12


@pytest.fixture(scope="module")
def spectra(spectra_server: LiveServer) -> pa.Table:
    with Client(url=spectra_server.url) as c:  # anonymous: public demo spectra
        sql = "SELECT targetid, ra, dec, class, z, sn_median FROM demo.specobj ORDER BY targetid"
        return c.spectra(sql=f"{sql} LIMIT {N}")


def expected_flux(table: pa.Table, i: int) -> np.ndarray:
    flux = spectra_array(table, "flux")[i].astype(np.float32).copy()
    flux[spectra_array(table, "mask")[i] != 0] = np.nan
    return flux


def model(name: str) -> str:
    """JavaScript naming one model of the page."""
    return f"Bokeh.documents[0].get_model_by_name('{name}')"


SLIDER = "Bokeh.documents[0].get_model_by_name('index_slider')"
SOURCE = "Bokeh.documents[0].get_model_by_name('spectrum')"


def test_viewer_in_chromium(spectra: pa.Table, tmp_path: Path) -> None:
    page_file = SpectraViewer(spectra, title="test").save_html(tmp_path / "viewer.html")
    ids = [str(i) for i in spectra.column("targetid").to_pylist()]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1250, "height": 950}, accept_downloads=True)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(page_file.as_uri())
        page.wait_for_function(f"window.Bokeh && Bokeh.documents.length && {SLIDER}")
        page.wait_for_function(f"{model('counter')}.text === '1 / 12'")
        before = page.evaluate(f"() => Array.from({SOURCE}.data.flux)")
        assert np.allclose(before, expected_flux(spectra, 0), equal_nan=True)

        # The slider moves to spectrum 5: the plotted data, title and table follow.
        page.evaluate(f"() => {{ {SLIDER}.value = 5; }}")
        page.wait_for_function("window.skydockViewer && window.skydockViewer.index === 5")
        state = page.evaluate("() => window.skydockViewer")
        assert state["id"] == ids[5]  # the string, not a rounded number
        after = page.evaluate(f"() => Array.from({SOURCE}.data.flux)")
        assert not np.allclose(after, before, equal_nan=True)
        assert np.allclose(after, expected_flux(spectra, 5), equal_nan=True)
        assert page.evaluate(f"() => {model('counter')}.text") == "6 / 12"
        assert f">{ids[5]}<" in page.evaluate(f"() => {model('metadata')}.text")
        assert ids[5] in page.evaluate(f"() => {model('spectrum_plot')}.title.text")

        # The next button steps on; smoothing changes what is drawn, not the data.
        page.get_by_role("button", name="next ▶").click()
        page.wait_for_function("window.skydockViewer.index === 6")
        page.evaluate("() => { Bokeh.documents[0].get_model_by_name('smoothing').value = 9; }")
        page.wait_for_function(f"{SOURCE}.data.flux.length > 0")
        smoothed = np.array(page.evaluate(f"() => Array.from({SOURCE}.data.flux)"), dtype=float)
        raw = expected_flux(spectra, 6)
        assert np.nanstd(smoothed) < np.nanstd(raw)
        lines = page.evaluate("() => Bokeh.documents[0].get_model_by_name('lines').data.name")
        z = spectra.column("z")[6].as_py()
        assert ("Hα" in lines) == (6564.61 * (1 + z) < 9800)

        # The inspection form: answer, save, download; the CSV keeps the ids exact.
        page.mouse.move(600, 330)  # over the plot: the zoom box follows
        page.wait_for_timeout(100)
        page.get_by_role("combobox").select_option(label="3 - probable")
        page.get_by_role("textbox").fill('nice [OII], "double" peak')
        page.get_by_role("button", name="Save answer").click()
        page.wait_for_function(f"{model('status')}.text.includes('1 of 12 inspected')")
        with page.expect_download() as info:
            page.get_by_role("button", name="Download answers (CSV)").click()
        rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
        page.screenshot(path=artifact("spectra-viewer.png"), full_page=True)

        # Without z, ra and dec (a query that did not select them): no lines, no errors.
        bare = spectra.drop_columns(["z", "ra", "dec", "class"])
        bare_file = SpectraViewer(bare).save_html(tmp_path / "bare.html")
        page.goto(bare_file.as_uri())
        page.wait_for_function(f"window.Bokeh && Bokeh.documents.length && {SLIDER}")
        page.evaluate(f"() => {{ {SLIDER}.value = 2; }}")
        page.wait_for_function("window.skydockViewer && window.skydockViewer.index === 2")
        assert page.evaluate(f"() => {model('lines')}.data.x.length") == 0
        assert problems == []
    assert [r["targetid"] for r in rows] == ids
    assert rows[6]["quality"] == "3" and rows[6]["comment"] == 'nice [OII], "double" peak'
    assert all(r["quality"] == "-1" for k, r in enumerate(rows) if k != 6)


def test_thumbnails_show_real_cutouts_in_chromium(
    spectra_server: LiveServer, tmp_path: Path
) -> None:
    """Spectra of the imaged deep field: the page loads each thumbnail from the server's
    cutout endpoint (a real PNG), with no console errors, as the slider moves."""
    with Client(url=spectra_server.url) as c:
        viewer = SpectraViewer.from_client(
            c,
            sql="SELECT targetid, ra, dec, class, z FROM demo.specobj "
            "WHERE q3c_radial_query(ra, dec, 0.0, -50.0, 0.4) ORDER BY targetid",
        )
    n = len(viewer.ids)
    assert n >= 1
    page_file = viewer.save_html(tmp_path / "deep.html")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1250, "height": 950})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(page_file.as_uri())
        page.wait_for_function(f"window.Bokeh && Bokeh.documents.length && {SLIDER}")
        for k in range(n):
            page.evaluate(f"() => {{ {SLIDER}.value = {k}; }}")
            image = page.locator("img[alt^='cutout at RA']")
            image.wait_for()
            page.wait_for_function(
                "(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle()
            )
            href = image.locator("xpath=..").get_attribute("href") or ""
            assert "bands=g%2Cr%2Ci" in href
        page.screenshot(path=artifact("spectra-viewer-cutouts.png"), full_page=True)
    assert problems == []


def test_ids_stay_exact_in_the_page_and_answers(spectra: pa.Table) -> None:
    viewer = SpectraViewer(spectra)
    ids = spectra.column("targetid").to_pylist()
    assert all(i > 2**53 for i in ids)
    page = viewer.html()
    for i in ids:
        assert f'"{i}"' in page  # as a JSON string
    answers = viewer.answers()
    assert answers.column("targetid").type == pa.int64()
    assert answers.column("targetid").to_pylist() == ids
    viewer.set_answer(2, 4, "clear Hα")
    inspected = viewer.answers(only_inspected=True)
    assert inspected.to_pylist() == [{"targetid": ids[2], "quality": 4, "comment": "clear Hα"}]
    with pytest.raises(ValueError, match="quality 7"):
        viewer.set_answer(0, 7)
    with pytest.raises(ValueError, match="at most 5 at a time"):
        SpectraViewer(spectra, max_spectra=5)
    with pytest.raises(ValueError, match="no spectra"):
        SpectraViewer(spectra.slice(0, 0))
    assert "BokehModel" in type(viewer.widget()).__name__


def test_thumbnail_uses_the_cutout_endpoint(spectra: pa.Table) -> None:
    viewer = SpectraViewer(spectra, cutout_url="http://127.0.0.1:9/")
    ra, dec = spectra.column("ra")[0].as_py(), spectra.column("dec")[0].as_py()
    thumb = viewer.store.data["thumb"][0]
    assert (
        f"http://127.0.0.1:9/api/images/cutout?ra={ra:.6f}&amp;dec={dec:.6f}&amp;size=0.01"
        "&amp;band=r&amp;format=png" in thumb
    )
    assert "bands=g%2Cr%2Ci" in thumb
    assert "no cutout" in SpectraViewer(spectra).store.data["thumb"][0]
    assert not math.isnan(ra)


def test_answers_saved_to_storage_and_mydb(spectra: pa.Table, spectra_server: LiveServer) -> None:
    with Client(url=spectra_server.url) as c:
        c.login("alice", PASSWORDS["alice"], save=False)
        viewer = SpectraViewer.from_client(
            c, ids=spectra.column("targetid").to_pylist()[:4], cutouts=False
        )
        assert c.token and c.token not in viewer.html()  # a saved page never holds a token
        viewer.set_answer(1, 2, "low S/N")
        viewer.save_answers(c, "vos://vi/inspection.csv")
        text = c.get("vos://vi/inspection.csv").decode()
        assert str(spectra.column("targetid")[1].as_py()) in text and "low S/N" in text
        viewer.save_answers(c, "vos://vi/inspection.parquet", only_inspected=True)
        viewer.save_answers(c, "mydb://vi_answers")
        back = c.query(sql="SELECT targetid, quality FROM mydb://vi_answers ORDER BY targetid",
                       fmt="arrow")  # fmt: skip
        assert back.column("targetid").to_pylist() == sorted(int(i) for i in viewer.ids)
        with pytest.raises(ValueError, match="vos://"):
            viewer.save_answers(c, "vos://vi/inspection.txt")
