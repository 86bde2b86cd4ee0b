"""How fast the spectral viewer changes spectrum, in headless Chromium, N = 50.

    uv run --all-extras python -m benchmarks.viewer --data-dir .skydock/bench-spectra

Reads 50 spectra (3,101 pixels each) from the demo spectra store (built as in
``benchmarks/spectra.py`` when missing), writes the standalone viewer page and opens it
in Debian's Chromium. Each switch sets the slider and waits for two animation frames,
so the time covers the callback and the redraw; ``performance.now()`` in the page
measures it. The baseline, in the same run, is what a viewer without in-browser
switching does: build the page for one spectrum in Python and load it.

Run by hand; never a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from benchmarks.spectra import ensure_demo

N = 50
TWO_FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
SWITCH_JS = """async (k) => {
  const slider = Bokeh.documents[0].get_model_by_name('index_slider');
  const t0 = performance.now();
  slider.value = k;
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return [performance.now() - t0, window.skydockViewer.ms, window.skydockViewer.index];
}"""


def spectra_with_rows(data_dir: Path, n: int) -> pa.Table:
    import duckdb

    from skydock.engine.catalog import CatalogStore
    from skydock.engine.spectra import SpectraStore

    meta = CatalogStore.for_data_dir(data_dir).get("demo.specobj")
    con = duckdb.connect(str(meta.serving_path), read_only=True)
    try:
        rows = con.sql(
            f"SELECT targetid, ra, dec, class, z, zerr, sn_median, mag_r FROM data "
            f"WHERE class = 'GALAXY' ORDER BY targetid LIMIT {n}"
        ).to_arrow_table()
    finally:
        con.close()
    ids = rows.column("targetid").to_pylist()
    spectra = SpectraStore(data_dir).collection("demo.specobj").read(ids)
    for name in rows.column_names[1:]:
        spectra = spectra.append_column(name, rows.column(name))
    return spectra


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.viewer", description=__doc__)
    p.add_argument("--data-dir", type=Path, default=Path(".skydock/bench-spectra"))
    p.add_argument("--switches", type=int, default=40)
    args = p.parse_args(argv)
    ensure_demo(args.data_dir)

    from tests.browser import chromium

    from skydock.viewer import SpectraViewer

    table = spectra_with_rows(args.data_dir, N)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        page_file = SpectraViewer(table).save_html(Path(tmp) / "viewer.html")
        build_s = time.perf_counter() - start
        size_mb = page_file.stat().st_size / 1e6
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1250, "height": 950})
            start = time.perf_counter()
            page.goto(page_file.as_uri())
            page.wait_for_function("window.Bokeh && Bokeh.documents.length > 0")
            load_s = time.perf_counter() - start
            order = np.random.default_rng(3).integers(0, N, args.switches)
            walls, callbacks = [], []
            for k in order.tolist():
                wall_ms, cb_ms, index = page.evaluate(SWITCH_JS, k)
                assert index == k
                walls.append(wall_ms)
                callbacks.append(cb_ms)
            # Baseline: a new page per spectrum, built in Python and loaded.
            rebuilds = []
            for i in range(5):
                start = time.perf_counter()
                path = SpectraViewer(table.slice(i, 1)).save_html(Path(tmp) / f"one-{i}.html")
                page.goto(path.as_uri())
                page.wait_for_function("window.Bokeh && Bokeh.documents.length > 0")
                page.evaluate(TWO_FRAMES)
                rebuilds.append((time.perf_counter() - start) * 1000)
    switch = statistics.median(walls)
    rebuild = statistics.median(rebuilds)
    print(
        f"{N} spectra × {table.column('flux').type.list_size:,} pixels; page {size_mb:.1f} MB, "
        f"built in {build_s:.2f} s, loaded in {load_s:.2f} s"
    )
    print(f"{'path':<46} {'median':>10} {'p90':>10}")
    print(
        f"{'switch spectrum in the page (callback+redraw)':<46} {switch:>8.1f} ms "
        f"{np.percentile(walls, 90):>7.1f} ms"
    )
    print(f"{'  of which the callback':<46} {statistics.median(callbacks):>8.1f} ms")
    print(f"{'baseline: build + load a page per spectrum':<46} {rebuild:>8.1f} ms")
    print(f"ratio in-page / rebuild: {switch / rebuild:.3f}")


if __name__ == "__main__":
    main()
