"""Reports of a run: a terminal table, JUnit XML, one self-contained HTML page, JSON."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from skydock.nbtest.model import Result, Status, Summary

COLOURS = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.ERROR: "magenta",
    Status.TIMEOUT: "yellow",
    Status.SKIP: "cyan",
}


def print_table(summary: Summary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="skydock nbtest", title_justify="left")
    for col, just in (("notebook", "left"), ("status", "left"), ("time", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    table.add_column("failing cell / reason", overflow="fold")
    for r in summary.results:
        detail = r.failing_cell or r.message
        if r.failing_cell and r.message:
            detail = f"{r.failing_cell}\n{r.message}"
        colour = COLOURS[r.status]
        table.add_row(r.name, f"[{colour}]{r.status}[/]", f"{r.duration:.1f} s", detail)
    console = Console(stderr=False)
    console.print(table)
    counts = ", ".join(f"{n} {s.lower()}" for s, n in summary.counts.items() if n)
    n = len(summary.results)
    plural = "s" if n != 1 else ""
    console.print(f"{n} notebook{plural} in {summary.duration:.1f} s: {counts}")


def write_json(summary: Summary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary.to_dict(), indent=2) + "\n")


def write_junit(summary: Summary, path: Path) -> None:
    """One ``testsuite`` named ``skydock-nbtest``, one ``testcase`` per notebook."""
    counts = summary.counts
    suite = ET.Element(
        "testsuite",
        name="skydock-nbtest",
        tests=str(len(summary.results)),
        failures=str(counts["FAIL"] + counts["TIMEOUT"]),
        errors=str(counts["ERROR"]),
        skipped=str(counts["SKIP"]),
        time=f"{summary.duration:.3f}",
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    for r in summary.results:
        folder = r.name.rpartition("/")[0]
        case = ET.SubElement(
            suite,
            "testcase",
            classname="notebooks" + ("." + folder.replace("/", ".") if folder else ""),
            name=r.name,
            file=r.path,
            time=f"{r.duration:.3f}",
        )
        body = _details(r)
        if r.status is Status.SKIP:
            ET.SubElement(case, "skipped", message=r.message)
        elif r.status is Status.ERROR:
            ET.SubElement(case, "error", message=r.message, type="ERROR").text = body
        elif r.status.failed:
            el = ET.SubElement(case, "failure", message=r.message, type=str(r.status))
            el.text = body
        if r.output_before:
            ET.SubElement(case, "system-out").text = r.output_before
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, "utf-8", xml_declaration=True)


def _details(r: Result) -> str:
    parts = [r.message]
    if r.cell_index is not None:
        parts += [f"failing cell {r.cell_index}:", r.cell_source, r.traceback]
    if r.log:
        parts.append(f"tracelog: {r.log}")
    return "\n".join(p for p in parts if p)


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}pre{background:#f6f8fa;padding:8px;overflow-x:auto;
white-space:pre-wrap;margin:4px 0}.PASS{color:#1a7f37}.FAIL{color:#cf222e}
.ERROR{color:#8250df}.TIMEOUT{color:#9a6700}.SKIP{color:#0969da}b.s{font-weight:600}
details summary{cursor:pointer}
"""


def render_html(summary: Summary) -> str:
    """One page, no external resources: opens from a CI artifact or inline in a notebook."""
    e = html.escape
    counts = " · ".join(f'<span class="{s}">{n} {s}</span>' for s, n in summary.counts.items())
    rows = []
    for r in summary.results:
        detail = e(r.message)
        if r.cell_index is not None:
            detail += (
                f"<details open><summary>failing cell {r.cell_index}</summary>"
                f"<pre>{e(r.cell_source)}</pre>"
                + (
                    f"<div>output before the failure</div><pre>{e(r.output_before)}</pre>"
                    if r.output_before
                    else ""
                )
                + (f"<div>traceback</div><pre>{e(r.traceback)}</pre>" if r.traceback else "")
                + "</details>"
            )
        rows.append(
            f'<tr><td>{e(r.name)}</td><td><b class="s {r.status}">{r.status}</b></td>'
            f"<td>{r.duration:.1f} s</td><td>{e(r.kernel or '')}</td><td>{detail}</td></tr>"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>skydock nbtest</title>'
        f"<style>{CSS}</style></head><body><div class='skydock-nbtest'>"
        f"<h2>skydock nbtest</h2><p>{len(summary.results)} notebooks in "
        f"{summary.duration:.1f} s, {stamp}: {counts}</p>"
        "<table><tr><th>notebook</th><th>status</th><th>time</th><th>kernel</th>"
        "<th>failing cell / reason</th></tr>" + "".join(rows) + "</table></div></body></html>\n"
    )


def write_html(summary: Summary, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(summary))
