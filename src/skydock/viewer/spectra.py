"""The spectral viewer: N spectra in one Bokeh page, stepped through in the browser.

Every spectrum is shipped to the page once and a CustomJS callback swaps the plotted
arrays, so the same viewer works inline in JupyterLab and as a standalone HTML file with
no server behind it. Ids travel as strings: DESI-like targetids exceed 2**53 and a
JavaScript number would silently round them (two spectra would share an id).

In a notebook the inspection answers (quality flag and comment per spectrum) live in a
ColumnDataSource that jupyter_bokeh syncs back to Python, so :meth:`SpectraViewer.answers`
reads them and :meth:`SpectraViewer.save_answers` stores them through the client; a
standalone file offers a CSV download instead and never holds a token.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa

from skydock.client import spectra_array, wavelength
from skydock.viewer.lines import LINES

if TYPE_CHECKING:
    from bokeh.models import ColumnDataSource, LayoutDOM

    from skydock.client import Client

QUALITY: tuple[tuple[str, str], ...] = (
    ("-1", "not inspected"),
    ("4", "4 - confident"),
    ("3", "3 - probable"),
    ("2", "2 - possible"),
    ("1", "1 - unlikely"),
    ("0", "0 - bad data"),
)
HIDDEN_META = ("flux", "ivar", "mask", "model")
MAX_SPECTRA = 500  # every spectrum is in the page: ~80 kB each
ZOOM_HALF_WIDTH = 60.0  # Å either side of the cursor in the zoom box
THUMB_SIZE_DEG = 0.01
LINK_SIZE_DEG = 0.05

# The one callback behind the slider, the buttons and the smoothing control. It also
# leaves the switch time in window.skydockViewer for the browser test and benchmark.
SHOW_JS = """
const t0 = performance.now();
const n = store.data.id.length;
const i = Math.max(0, Math.min(n - 1, Math.round(slider.value)));
const wave = spec.data.x;
const w = Math.max(1, Math.round(smooth.value));
function boxcar(values) {
  if (w <= 1) { return Float32Array.from(values); }
  const npix = values.length, half = Math.floor(w / 2);
  const sum = new Float64Array(npix + 1), cnt = new Float64Array(npix + 1);
  for (let k = 0; k < npix; k++) {
    const v = values[k], ok = Number.isFinite(v);
    sum[k + 1] = sum[k] + (ok ? v : 0);
    cnt[k + 1] = cnt[k] + (ok ? 1 : 0);
  }
  const out = new Float32Array(npix);
  for (let k = 0; k < npix; k++) {
    const a = Math.max(0, k - half), b = Math.min(npix, k + half + 1);
    const c = cnt[b] - cnt[a];
    out[k] = c > 0 ? (sum[b] - sum[a]) / c : NaN;
  }
  return out;
}
const flux = boxcar(store.data.flux[i]);
const model = boxcar(store.data.model[i]);
const err = store.data.err[i];
const scale = 1 / Math.sqrt(w);
const lo = new Float32Array(flux.length), hi = new Float32Array(flux.length);
for (let k = 0; k < flux.length; k++) {
  const e = err[k] * scale;
  lo[k] = flux[k] - e;
  hi[k] = flux[k] + e;
}
spec.data = {x: wave, flux: flux, model: model, lo: lo, hi: hi};
const z = store.data.z[i];
const xs = [], names = [], kinds = [], colors = [];
if (Number.isFinite(z)) {
  for (let k = 0; k < line_rest.length; k++) {
    const x = line_rest[k] * (1 + z);
    if (x < wave[0] || x > wave[wave.length - 1]) { continue; }
    xs.push(x); names.push(line_name[k]); kinds.push(line_kind[k]);
    colors.push(line_kind[k] === "emission" ? "#1f77b4" : "#d62728");
  }
}
lines.data = {x: xs, name: names, kind: kinds, color: colors};
table.text = store.data.meta[i];
title.text = store.data.label[i];
thumb.text = store.data.thumb[i];
const answer = vi.data.quality[i];
quality.value = String(answer);
comment.value = vi.data.comment[i];
counter.text = (i + 1) + " / " + n;
window.skydockViewer = {index: i, id: store.data.id[i], ms: performance.now() - t0};
"""

# The zoom box: a second plot centred on the cursor, its y range fitted to what it shows.
ZOOM_JS = """
const x = cb_obj.x;
if (x == null || !Number.isFinite(x)) { return; }
const half = half_width;
box.left = x - half; box.right = x + half;
zoom.x_range.start = x - half; zoom.x_range.end = x + half;
const wave = spec.data.x, flux = spec.data.flux, model = spec.data.model;
let lo = Infinity, hi = -Infinity;
for (let k = 0; k < wave.length; k++) {
  if (wave[k] < x - half || wave[k] > x + half) { continue; }
  for (const v of [flux[k], model[k]]) {
    if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  }
}
if (lo < hi) {
  const pad = 0.08 * (hi - lo);
  zoom.y_range.start = lo - pad; zoom.y_range.end = hi + pad;
}
"""

SAVE_VI_JS = """
const i = Math.round(slider.value);
const quality_col = vi.data.quality.slice(), comment_col = vi.data.comment.slice();
quality_col[i] = parseInt(quality.value, 10);
comment_col[i] = comment.value;
vi.data = {targetid: vi.data.targetid, quality: quality_col, comment: comment_col};
const done = quality_col.filter((q) => q >= 0).length;
const total = quality_col.length;
status.text = "saved " + store.data.id[i] + " (" + done + " of " + total + " inspected)";
"""

DOWNLOAD_JS = """
const quote = (s) => '"' + String(s).replace(/"/g, '""') + '"';
const rows = ["targetid,quality,comment"];
for (let k = 0; k < vi.data.targetid.length; k++) {
  rows.push(vi.data.targetid[k] + "," + vi.data.quality[k] + "," + quote(vi.data.comment[k]));
}
const blob = new Blob([rows.join("\\n") + "\\n"], {type: "text/csv"});
const link = document.createElement("a");
link.href = URL.createObjectURL(blob);
link.download = filename;
document.body.appendChild(link);
link.click();
link.remove();
"""

STEP_JS = """
const n = store.data.id.length;
slider.value = Math.max(0, Math.min(n - 1, Math.round(slider.value) + step));
"""


def _quality_options() -> list[Any]:
    return list(QUALITY)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _meta_table(values: dict[str, str]) -> str:
    """The current object's catalog row as a small HTML table (ids already strings)."""
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:8px'>{html.escape(k)}</th>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in values.items()
    )
    return f"<table style='font-size:12px;border-collapse:collapse'>{rows}</table>"


def _errors(ivar: np.ndarray, mask: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        err = 1.0 / np.sqrt(ivar.astype(np.float64))
    err[(ivar <= 0) | (mask != 0)] = np.nan
    return err.astype(np.float32)


def _masked(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = values.astype(np.float32, copy=True)
    out[mask != 0] = np.nan
    return out


class SpectraViewer:
    """A Bokeh layout over the spectra of an answer from :meth:`Client.spectra`.

    ``cutout_url`` is the base URL of a Skydock server whose
    ``/api/images/cutout`` draws the thumbnails; without it there are none.
    """

    def __init__(
        self,
        spectra: pa.Table,
        *,
        cutout_url: str | None = None,
        title: str = "Skydock spectra",
        answers_file: str = "inspection.csv",
        width: int = 980,
        max_spectra: int = MAX_SPECTRA,
    ) -> None:
        from bokeh.layouts import column, row
        from bokeh.models import ColumnDataSource, CustomJS, DataRange1d, Range1d
        from bokeh.models.annotations import BoxAnnotation, LabelSet
        from bokeh.models.widgets import (
            Button,
            Div,
            Select,
            Slider,
            TextInput,
        )
        from bokeh.plotting import figure

        if spectra.num_rows == 0:
            raise ValueError("no spectra to view: the table has no rows")
        if spectra.num_rows > max_spectra:
            raise ValueError(
                f"{spectra.num_rows} spectra would make a page of about "
                f"{spectra.num_rows * 80 // 1000} MB; view at most {max_spectra} at a time "
                "(table.slice(start, n)) or raise max_spectra"
            )
        self.table = spectra
        n = spectra.num_rows
        wave = wavelength(spectra)
        mask = spectra_array(spectra, "mask")
        flux = _masked(spectra_array(spectra, "flux"), mask)
        err = _errors(spectra_array(spectra, "ivar"), mask)
        model = spectra_array(spectra, "model").astype(np.float32)
        ids = [str(v) for v in spectra.column("targetid").to_pylist()]
        self.ids = ids
        cols = spectra.column_names

        def column_or_nan(name: str) -> list[float]:
            if name not in cols:
                return [math.nan] * n
            return [math.nan if v is None else float(v) for v in spectra.column(name).to_pylist()]

        z, ra, dec = column_or_nan("z"), column_or_nan("ra"), column_or_nan("dec")
        classes = spectra.column("class").to_pylist() if "class" in cols else [""] * n
        meta_keys = [c for c in cols if c not in HIDDEN_META]
        values = {c: spectra.column(c).to_pylist() for c in meta_keys}
        meta_html = [_meta_table({c: _text(values[c][i]) for c in meta_keys}) for i in range(n)]
        labels = [
            f"targetid {ids[i]}  {classes[i] or ''}  z = {_text(z[i])}".strip() for i in range(n)
        ]
        thumbs = [self._thumb(cutout_url, ra[i], dec[i]) for i in range(n)]

        self.store = ColumnDataSource(
            {
                "id": ids,
                "flux": list(flux),
                "err": list(err),
                "model": list(model),
                "z": z,
                "label": labels,
                "thumb": thumbs,
                "meta": meta_html,
            },
            name="spectra_store",
        )
        lo, hi = flux[0] - err[0], flux[0] + err[0]
        spec = ColumnDataSource(
            {"x": wave, "flux": flux[0], "model": model[0], "lo": lo, "hi": hi},
            name="spectrum",
        )
        lines = ColumnDataSource(_lines(z[0], wave), name="lines")
        self.vi: ColumnDataSource = ColumnDataSource(
            {"targetid": list(ids), "quality": [-1] * n, "comment": [""] * n},
            name="inspection",
        )

        fig = figure(
            width=width,
            height=420,
            title=labels[0],
            tools="xpan,xwheel_zoom,box_zoom,pan,wheel_zoom,reset,save",
            active_drag="box_zoom",
            active_scroll="xwheel_zoom",
            x_axis_label="Observed wavelength (Å)",
            y_axis_label="Flux (1e-17 erg/s/cm²/Å)",
            name="spectrum_plot",
        )
        band = fig.varea(x="x", y1="lo", y2="hi", source=spec, color="#9ecae1", alpha=0.45)
        flux_line = fig.line(
            "x", "flux", source=spec, color="#333333", line_width=1, legend_label="flux"
        )
        model_line = fig.line(
            "x",
            "model",
            source=spec,
            color="#e6550d",
            line_width=1.4,
            legend_label="best-fit model",
        )
        fig.x_range = DataRange1d(renderers=[flux_line], range_padding=0.01)
        fig.y_range = DataRange1d(renderers=[flux_line, model_line, band])
        fig.segment(
            x0="x",
            x1="x",
            y0=-1e9,
            y1=1e9,
            source=lines,
            color="color",
            line_dash="dashed",
            alpha=0.6,
        )
        fig.add_layout(
            LabelSet(
                x="x",
                y=8,
                y_units="screen",
                text="name",
                source=lines,
                angle=math.pi / 2,
                text_font_size="9pt",
                text_color="color",
                x_offset=-3,
            )
        )
        fig.legend.location = "top_right"
        fig.legend.click_policy = "hide"
        box = BoxAnnotation(left=wave[0], right=wave[0], fill_alpha=0.1, fill_color="green")
        fig.add_layout(box)

        zoom = figure(
            width=330,
            height=250,
            title="Zoom (follows the cursor)",
            x_range=Range1d(start=float(wave[0]), end=float(wave[0]) + 2 * ZOOM_HALF_WIDTH),
            y_range=Range1d(start=0.0, end=1.0),
            tools="",
            toolbar_location=None,
            name="zoom_plot",
        )
        zoom.varea(x="x", y1="lo", y2="hi", source=spec, color="#9ecae1", alpha=0.45)
        zoom.line("x", "flux", source=spec, color="#333333")
        zoom.line("x", "model", source=spec, color="#e6550d", line_width=1.4)
        zoom.segment(
            x0="x", x1="x", y0=-1e9, y1=1e9, source=lines, color="color", line_dash="dashed"
        )

        slider = Slider(
            start=0,
            end=max(n - 1, 1),
            value=0,
            step=1,
            title="Spectrum",
            width=width - 300,
            name="index_slider",
            disabled=n == 1,
        )
        smooth = Slider(
            start=1,
            end=31,
            value=1,
            step=2,
            title="Smoothing (pixels)",
            width=220,
            name="smoothing",
        )
        prev_button = Button(label="◀ previous", width=100, name="previous")
        next_button = Button(label="next ▶", width=100, name="next")
        counter = Div(text=f"1 / {n}", width=80, name="counter")
        thumb = Div(text=thumbs[0], width=200, height=200, name="thumbnail")
        table = Div(
            text=meta_html[0], width=330, height=250, name="metadata", styles={"overflow-y": "auto"}
        )
        quality = Select(
            title="Quality", value="-1", options=_quality_options(), width=160, name="quality"
        )
        comment = TextInput(title="Comment", value="", width=300, name="comment")
        save_button = Button(
            label="Save answer", button_type="success", width=120, name="save_answer"
        )
        download = Button(label="Download answers (CSV)", width=200, name="download")
        status = Div(text=f"0 of {n} inspected", width=400, name="status")

        show = CustomJS(
            args={
                "store": self.store,
                "spec": spec,
                "lines": lines,
                "table": table,
                "vi": self.vi,
                "slider": slider,
                "smooth": smooth,
                "title": fig.title,
                "thumb": thumb,
                "quality": quality,
                "comment": comment,
                "counter": counter,
                "line_rest": [line.rest for line in LINES],
                "line_name": [line.name for line in LINES],
                "line_kind": [line.kind for line in LINES],
            },
            code=SHOW_JS,
        )
        slider.js_on_change("value", show)
        smooth.js_on_change("value", show)
        for button, step in ((prev_button, -1), (next_button, 1)):
            button.js_on_event(
                "button_click",
                CustomJS(args={"store": self.store, "slider": slider, "step": step}, code=STEP_JS),
            )
        fig.js_on_event(
            "mousemove",
            CustomJS(
                args={"box": box, "zoom": zoom, "spec": spec, "half_width": ZOOM_HALF_WIDTH},
                code=ZOOM_JS,
            ),
        )
        save_button.js_on_event(
            "button_click",
            CustomJS(
                args={
                    "vi": self.vi,
                    "slider": slider,
                    "quality": quality,
                    "comment": comment,
                    "status": status,
                    "store": self.store,
                },
                code=SAVE_VI_JS,
            ),
        )
        download.js_on_event(
            "button_click",
            CustomJS(args={"vi": self.vi, "filename": answers_file}, code=DOWNLOAD_JS),
        )
        heading = Div(text=f"<b>{html.escape(title)}</b> — {n} spectra", width=width)
        controls = row(prev_button, slider, next_button, counter, smooth)
        form = row(quality, comment, save_button, download)
        self.layout: LayoutDOM = column(
            heading, controls, fig, row(zoom, table, thumb), form, status, name="skydock_viewer"
        )

    # -- output --------------------------------------------------------------------

    def html(self, *, inline: bool = True) -> str:
        """A standalone HTML page; ``inline`` embeds BokehJS so it works offline."""
        from bokeh.embed import file_html
        from bokeh.resources import CDN, INLINE

        return file_html(self.layout, INLINE if inline else CDN, title="Skydock spectra")

    def save_html(self, path: str | Path, *, inline: bool = True) -> Path:
        """Write the standalone page (no token is ever in it); answers are downloaded."""
        out = Path(path)
        out.write_text(self.html(inline=inline), encoding="utf-8")
        return out

    def widget(self) -> Any:
        """The layout as a jupyter_bokeh widget: two-way, so answers reach Python."""
        from jupyter_bokeh.widgets import BokehModel

        return BokehModel(self.layout)

    def show(self) -> Any:
        """Display inline in JupyterLab (and return the widget)."""
        from IPython.display import display

        w = self.widget()
        display(w)
        return w

    # -- inspection answers -------------------------------------------------------------

    def answers(self, *, only_inspected: bool = False) -> pa.Table:
        """The inspection form's answers: targetid (int64, exact), quality, comment."""
        data: dict[str, Any] = dict(self.vi.data)
        table = pa.table(
            {
                "targetid": pa.array([int(v) for v in data["targetid"]], type=pa.int64()),
                "quality": pa.array([int(v) for v in data["quality"]], type=pa.int16()),
                "comment": pa.array([str(v) for v in data["comment"]], type=pa.string()),
            }
        )
        if only_inspected:
            table = table.filter(pa.compute.greater_equal(table.column("quality"), 0))
        return table

    def set_answer(self, index: int, quality: int, comment: str = "") -> None:
        """Record an answer from Python (what the form's Save button does in the page)."""
        if not -1 <= quality <= 4:
            raise ValueError(f"quality {quality} is not one of -1 (not inspected) .. 4")
        q = list(self.vi.data["quality"])
        c = list(self.vi.data["comment"])
        q[index], c[index] = quality, comment
        self.vi.data = {"targetid": list(self.vi.data["targetid"]), "quality": q, "comment": c}

    def save_answers(self, client: Client, target: str, *, only_inspected: bool = False) -> str:
        """Store the answers with ``client``: ``vos://path.csv|.parquet`` or ``mydb://table``."""
        table = self.answers(only_inspected=only_inspected)
        if target.startswith("mydb://"):
            client.mydb_import(target.removeprefix("mydb://"), table, drop=True)
            return target
        import io

        buf = io.BytesIO()
        if target.endswith(".parquet"):
            import pyarrow.parquet as pq

            pq.write_table(table, buf)
        elif target.endswith(".csv"):
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, buf)
        else:
            raise ValueError(
                f"save to vos://...csv, vos://...parquet or mydb://table, not {target}"
            )
        client.put(buf.getvalue(), target)
        return target

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _thumb(base: str | None, ra: float, dec: float) -> str:
        if not base or not (math.isfinite(ra) and math.isfinite(dec)):
            return "<i>no cutout</i>"
        base = base.rstrip("/")
        thumb = urlencode(
            {
                "ra": f"{ra:.6f}",
                "dec": f"{dec:.6f}",
                "size": THUMB_SIZE_DEG,
                "band": "r",
                "format": "png",
            }
        )
        link = urlencode(
            {
                "ra": f"{ra:.6f}",
                "dec": f"{dec:.6f}",
                "size": LINK_SIZE_DEG,
                "bands": "g,r,i",
                "format": "png",
            }
        )
        return (
            f'<a href="{html.escape(base)}/api/images/cutout?{html.escape(link)}" '
            f'target="_blank" title="RA {ra:.5f}, Dec {dec:.5f}">'
            f'<img src="{html.escape(base)}/api/images/cutout?{html.escape(thumb)}" '
            f'width="180" height="180" alt="cutout at RA {ra:.5f}, Dec {dec:.5f}"></a>'
        )

    @classmethod
    def from_client(
        cls,
        client: Client,
        ids: Any = None,
        sql: str | None = None,
        *,
        cutouts: bool = True,
        **kwargs: Any,
    ) -> SpectraViewer:
        """Fetch the spectra with ``client`` and view them, cutouts from the same server."""
        table = client.spectra(ids=ids, sql=sql)
        return cls(table, cutout_url=client.url if cutouts else None, **kwargs)


def _lines(z: float, wave: np.ndarray) -> dict[str, Any]:
    """Line markers at redshift ``z`` inside the grid (what SHOW_JS computes in the page)."""
    out: dict[str, Any] = {"x": [], "name": [], "kind": [], "color": []}
    if not math.isfinite(z):
        return out
    for line in LINES:
        x = line.rest * (1 + z)
        if wave[0] <= x <= wave[-1]:
            out["x"].append(x)
            out["name"].append(line.name)
            out["kind"].append(line.kind)
            out["color"].append("#1f77b4" if line.kind == "emission" else "#d62728")
    return out


def view_spectra(spectra: pa.Table, **kwargs: Any) -> SpectraViewer:
    """Shorthand for :class:`SpectraViewer`."""
    return SpectraViewer(spectra, **kwargs)
