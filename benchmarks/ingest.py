"""Ingest throughput: Skydock's demo build and ``ingest_catalog`` against PostgreSQL's load."""

from __future__ import annotations

from typing import Any

from benchmarks.common import Section, fmt_rate, fmt_ratio, fmt_s, ratio


def section(
    objects: dict[str, Any],
    targets: dict[str, Any] | None,
    pg_objects: dict[str, Any] | None,
    pg_targets: dict[str, Any] | None,
) -> Section:
    rows = int(objects["catalog_rows"])
    mine = float(objects["seconds"])
    result = Section(
        key="ingest",
        title="5. Ingest throughput (one run each)",
        caption=f"demo.objects {rows:,} rows; PostgreSQL = COPY from CSV + q3c index + "
        "CLUSTER + ANALYZE (CSV export by DuckDB not counted)",
        columns=["step", "rows", "seconds", "rows/s", "Skydock demo build / this"],
    )
    if objects.get("reused"):
        result.notes.append(
            f"demo.objects was built by an earlier run ({objects.get('built_at')}); "
            "its build time is reported from then. --rebuild measures it again."
        )
    result.rows.append(
        [
            "Skydock demo build (generate, HATS, serving copy)",
            f"{rows:,}",
            fmt_s(mine),
            fmt_rate(rows / mine),
            fmt_ratio(1.0),
        ]
    )
    if targets is not None:
        n, t = int(targets["rows"]), float(targets["seconds"])
        result.rows.append(
            [
                "Skydock ingest_catalog of demo.targets (Parquet)",
                f"{n:,}",
                fmt_s(t),
                fmt_rate(n / t),
                "—",
            ]
        )
    for label, rec in (("objects", pg_objects), ("targets", pg_targets)):
        if rec is None:
            continue
        n, t = int(rec["rows"]), float(rec["load_s"])
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in rec["steps_s"].items())
        result.notes.append(f"PostgreSQL {label}: {steps}")
        result.rows.append(
            [
                f"PostgreSQL load of {label}",
                f"{n:,}",
                fmt_s(t),
                fmt_rate(n / t),
                fmt_ratio(ratio(mine, t)) if label == "objects" else "—",
            ]
        )
    result.data = {
        "skydock_demo_build": objects,
        "skydock_targets_ingest": targets,
        "postgres_objects_load": pg_objects,
        "postgres_targets_load": pg_targets,
        "skydock_rows_per_s": rows / mine,
    }
    if objects.get("tables") and len(objects["tables"]) > 1:
        result.notes.append(
            f"the demo build made {', '.join(objects['tables'])}; the time covers all of them"
        )
    return result
