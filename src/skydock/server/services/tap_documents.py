"""The XML (and XHTML) documents of the TAP service: VOSI capabilities, availability and
tables, UWS 1.1 jobs, VOTable error documents, the examples page.

Written by hand in the element order the XSDs require (taplint validates them; so does
``tests/tap/test_xsd.py`` against the schemas the STILTS jar bundles). Every URL is
built from the base URL of the request, so ``accessURL`` equals what clients used.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from skydock import __version__
from skydock.engine.formats import VOTABLE_NS
from skydock.server.services.jobs import Job
from skydock.server.services.tap_schema import TapColumn, TapTable

UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
TR = "ivo://ivoa.net/std/TAPRegExt#"

GEOMETRY_FORMS = (
    "POINT",
    "CIRCLE",
    "BOX",
    "POLYGON",
    "CONTAINS",
    "INTERSECTS",
    "DISTANCE",
    "AREA",
    "COORD1",
    "COORD2",
    "COORDSYS",
    "CENTROID",
)
UDFS = (
    (
        "q3c_dist(ra1 DOUBLE PRECISION, dec1 DOUBLE PRECISION, ra2 DOUBLE PRECISION, "
        "dec2 DOUBLE PRECISION) -> DOUBLE PRECISION",
        "Angular distance in degrees (as Q3C's)",
    ),
    (
        "q3c_radial_query(ra DOUBLE PRECISION, dec DOUBLE PRECISION, ra0 DOUBLE PRECISION, "
        "dec0 DOUBLE PRECISION, radius DOUBLE PRECISION) -> INTEGER",
        "1 when (ra, dec) is within radius degrees of (ra0, dec0); HEALPix-indexed",
    ),
    (
        "q3c_join(ra1 DOUBLE PRECISION, dec1 DOUBLE PRECISION, ra2 DOUBLE PRECISION, "
        "dec2 DOUBLE PRECISION, radius DOUBLE PRECISION) -> INTEGER",
        "1 when the two positions are within radius degrees: a HEALPix crossmatch",
    ),
)
OPTIONAL_FEATURES = (
    ("features-adql-string", ("LOWER", "UPPER", "ILIKE")),
    ("features-adql-offset", ("OFFSET",)),
    ("features-adql-sets", ("UNION", "EXCEPT", "INTERSECT")),
    ("features-adql-common-table", ("WITH",)),
    ("features-adql-type", ("CAST",)),
)
# (ivo-id or None, MIME type, aliases)
OUTPUT_FORMATS = (
    (
        TR + "output-votable-binary2",
        "application/x-votable+xml;serialization=BINARY2",
        ("votable/b2", "votable-binary2"),
    ),
    (TR + "output-votable-td", "application/x-votable+xml", ("votable", "votable/td")),
    (None, "text/csv;header=present", ("csv",)),
    (None, "text/tab-separated-values", ("tsv",)),
    (None, "application/fits", ("fits",)),
    (None, "application/vnd.apache.parquet", ("parquet",)),
    (None, "application/json", ("json",)),
)


def _x(text: object) -> str:
    return escape(str(text), quote=True)


def iso(moment: datetime | None) -> str:
    """ISO 8601 UTC with the trailing Z UWS wants; empty for no time."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- VOTable error document --------------------------------------------------------------


def error_votable(message: str) -> str:
    """QUERY_STATUS=ERROR in a results RESOURCE, no TABLE (TAP 1.1 §4.4, DALI)."""
    return (
        XML_HEAD + f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">\n'
        '<RESOURCE type="results">\n'
        f'<INFO name="QUERY_STATUS" value="ERROR">{_x(message or "error")}</INFO>\n'
        "</RESOURCE>\n</VOTABLE>\n"
    )


# --- VOSI --------------------------------------------------------------------------------


def capabilities(
    base: str,
    *,
    max_rows: int | None,
    retention_s: int,
    default_duration_s: int,
    max_duration_s: int,
    max_upload_bytes: int,
) -> str:
    language = (
        "<language><name>ADQL</name>"
        '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>'
        '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.1">2.1</version>'
        "<description>ADQL 2.1 (2.0 queries are accepted unchanged), translated to DuckDB "
        "over HEALPix-ordered catalogs</description>\n"
        + _features(TR + "features-adqlgeo", [(f, "") for f in GEOMETRY_FORMS])
        + _features(TR + "features-udf", list(UDFS))
        + "".join(
            _features(TR + kind, [(f, "") for f in forms]) for kind, forms in OPTIONAL_FEATURES
        )
        + "</language>\n"
    )
    formats = "".join(
        "<outputFormat"
        + (f' ivo-id="{ivo}"' if ivo else "")
        + f"><mime>{_x(mime)}</mime>"
        + "".join(f"<alias>{_x(a)}</alias>" for a in aliases)
        + "</outputFormat>\n"
        for ivo, mime, aliases in OUTPUT_FORMATS
    )
    limit = (
        f'<outputLimit><default unit="row">{max_rows}</default>'
        f'<hard unit="row">{max_rows}</hard></outputLimit>\n'
        if max_rows is not None
        else ""
    )
    tap = (
        '<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">\n'
        '<interface xsi:type="vs:ParamHTTP" role="std" version="1.1">'
        f'<accessURL use="base">{_x(base)}</accessURL></interface>\n'
        + language
        + formats
        + "".join(
            f'<uploadMethod ivo-id="{TR}upload-{kind}"/>\n' for kind in ("inline", "http", "https")
        )
        + f"<retentionPeriod><default>{retention_s}</default>"
        f"<hard>{retention_s}</hard></retentionPeriod>\n"
        f"<executionDuration><default>{default_duration_s}</default>"
        f"<hard>{max_duration_s}</hard></executionDuration>\n"
        + limit
        + f'<uploadLimit><hard unit="byte">{max_upload_bytes}</hard></uploadLimit>\n'
        "</capability>\n"
    )
    vosi = "".join(
        f'<capability standardID="{sid}">'
        f'<interface xsi:type="{kind}"{version}>'
        f'<accessURL use="full">{_x(base)}/{path}</accessURL></interface></capability>\n'
        for sid, kind, version, path in (
            ("ivo://ivoa.net/std/VOSI#capabilities", "vs:ParamHTTP", "", "capabilities"),
            ("ivo://ivoa.net/std/VOSI#availability", "vs:ParamHTTP", "", "availability"),
            ("ivo://ivoa.net/std/VOSI#tables-1.1", "vs:ParamHTTP", ' version="1.1"', "tables"),
            ("ivo://ivoa.net/std/DALI#examples", "vr:WebBrowser", "", "examples"),
        )
    )
    return (
        XML_HEAD + '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" '
        'xmlns:vr="http://www.ivoa.net/xml/VOResource/v1.0" '
        'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
        'xmlns:tr="http://www.ivoa.net/xml/TAPRegExt/v1.0" '
        f'xmlns:xsi="{XSI_NS}">\n' + tap + vosi + "</vosi:capabilities>\n"
    )


def _features(kind: str, forms: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f"<feature><form>{_x(form)}</form>"
        + (f"<description>{_x(text)}</description>" if text else "")
        + "</feature>"
        for form, text in forms
    )
    return f'<languageFeatures type="{kind}">{items}</languageFeatures>\n'


def availability(available: bool, note: str, up_since: datetime) -> str:
    return (
        XML_HEAD + '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
        f"<vosi:available>{'true' if available else 'false'}</vosi:available>"
        f"<vosi:upSince>{iso(up_since)}</vosi:upSince>"
        f"<vosi:note>{_x(note)}</vosi:note></vosi:availability>\n"
    )


_TABLES_NS = (
    'xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
    'xmlns:vs="http://www.ivoa.net/xml/VODataService/v1.1" '
    f'xmlns:xsi="{XSI_NS}"'
)


def tableset(schemas: list[tuple[str, str]], tables: list[TapTable], *, detail: bool) -> str:
    parts = [XML_HEAD, f"<vosi:tableset {_TABLES_NS}>\n"]
    for schema, description in schemas:
        parts.append(f"<schema><name>{_x(schema)}</name>")
        if description:
            parts.append(f"<description>{_x(description)}</description>")
        parts.append("\n")
        parts.extend(_table("table", t, detail) for t in tables if t.schema == schema)
        parts.append("</schema>\n")
    parts.append("</vosi:tableset>\n")
    return "".join(parts)


def table(t: TapTable) -> str:
    return XML_HEAD + _table("vosi:table", t, True, _TABLES_NS)


def _table(tag: str, t: TapTable, detail: bool, ns: str = "") -> str:
    attrs = f" {ns}" if ns else ""
    out = [f'<{tag}{attrs} type="{_x(t.type)}"><name>{_x(t.name)}</name>']
    if t.description:
        out.append(f"<description>{_x(t.description)}</description>")
    if detail:
        out.extend(_column(c) for c in t.columns)
        for key in t.keys:
            out.append(f"<foreignKey><targetTable>{_x(key.target_table)}</targetTable>")
            out.extend(
                f"<fkColumn><fromColumn>{_x(a)}</fromColumn>"
                f"<targetColumn>{_x(b)}</targetColumn></fkColumn>"
                for a, b in key.columns
            )
            if key.description:
                out.append(f"<description>{_x(key.description)}</description>")
            out.append("</foreignKey>")
    out.append(f"</{tag}>\n")
    return "".join(out)


def _column(c: TapColumn) -> str:
    out = [f"<column><name>{_x(c.name)}</name>"]
    if c.description:
        out.append(f"<description>{_x(c.description)}</description>")
    if c.unit:
        out.append(f"<unit>{_x(c.unit)}</unit>")
    if c.ucd:
        out.append(f"<ucd>{_x(c.ucd)}</ucd>")
    if c.utype:
        out.append(f"<utype>{_x(c.utype)}</utype>")
    attrs = ""
    if c.arraysize:
        attrs += f' arraysize="{_x(c.arraysize)}"'
    if c.xtype:
        attrs += f' extendedType="{_x(c.xtype)}"'
    out.append(f'<dataType xsi:type="vs:VOTableType"{attrs}>{_x(c.datatype)}</dataType>')
    if c.indexed:
        out.append("<flag>indexed</flag>")
    if c.principal:
        out.append("<flag>primary</flag>")
    out.append("</column>")
    return "".join(out)


# --- UWS ---------------------------------------------------------------------------------

_UWS_NS = f'xmlns:uws="{UWS_NS}" xmlns:xlink="{XLINK_NS}" xmlns:xsi="{XSI_NS}"'
_UWS_ROOT = f'{_UWS_NS} version="1.1"'


def _nil(tag: str, value: str) -> str:
    if value:
        return f"<uws:{tag}>{_x(value)}</uws:{tag}>"
    return f'<uws:{tag} xsi:nil="true"/>'


def owner(job: Job) -> str:
    return "" if job.owner == "anonymous" else job.owner


def job_document(job: Job, base: str, parameters: list[tuple[str, str]], *, media_type: str) -> str:
    url = f"{base}/async/{job.id}"
    out = [XML_HEAD, f"<uws:job {_UWS_ROOT}>\n", f"<uws:jobId>{_x(job.id)}</uws:jobId>"]
    if job.run_id:
        out.append(f"<uws:runId>{_x(job.run_id)}</uws:runId>")
    out += [
        _nil("ownerId", owner(job)),
        f"<uws:phase>{_x(job.phase)}</uws:phase>",
        _nil("quote", ""),
        f"<uws:creationTime>{iso(job.created_at)}</uws:creationTime>",
        _nil("startTime", iso(job.started_at)),
        _nil("endTime", iso(job.finished_at)),
        f"<uws:executionDuration>{job.execution_duration_s}</uws:executionDuration>",
        _nil("destruction", iso(job.destruction_at)),
        "\n",
        parameters_document(parameters, root=False),
        results_document(job, url, media_type=media_type, root=False),
    ]
    if job.phase in ("ERROR", "ABORTED") and job.error:
        out.append(
            '<uws:errorSummary type="fatal" hasDetail="true">'
            f"<uws:message>{_x(job.error)}</uws:message></uws:errorSummary>\n"
        )
    out.append("</uws:job>\n")
    return "".join(out)


def parameters_document(parameters: list[tuple[str, str]], *, root: bool = True) -> str:
    body = "".join(
        f'<uws:parameter id="{_x(k.lower())}">{_x(v)}</uws:parameter>' for k, v in parameters
    )
    if root:
        return XML_HEAD + f"<uws:parameters {_UWS_NS}>{body}</uws:parameters>\n"
    return f"<uws:parameters>{body}</uws:parameters>\n"


def results_document(job: Job, url: str, *, media_type: str, root: bool = True) -> str:
    body = ""
    if job.phase == "COMPLETED" and job.result_path:
        size = f' size="{job.result_size}"' if job.result_size is not None else ""
        body = (
            f'<uws:result id="result" xlink:type="simple" xlink:href="{_x(url)}/results/result"'
            f' mime-type="{_x(media_type)}"{size}/>'
        )
    if root:
        return XML_HEAD + f"<uws:results {_UWS_NS}>{body}</uws:results>\n"
    return f"<uws:results>{body}</uws:results>\n"


def jobs_document(jobs: list[Job], base: str) -> str:
    refs = "".join(
        f'<uws:jobref id="{_x(j.id)}" xlink:type="simple" xlink:href="{_x(base)}/async/{_x(j.id)}">'
        f"<uws:phase>{_x(j.phase)}</uws:phase>"
        + (f"<uws:runId>{_x(j.run_id)}</uws:runId>" if j.run_id else "")
        + (f"<uws:ownerId>{_x(owner(j))}</uws:ownerId>" if owner(j) else "")
        + f"<uws:creationTime>{iso(j.created_at)}</uws:creationTime></uws:jobref>\n"
        for j in jobs
    )
    return XML_HEAD + f"<uws:jobs {_UWS_ROOT}>\n{refs}</uws:jobs>\n"


# --- examples and the landing page -------------------------------------------------------

EXAMPLES = (
    (
        "cone",
        "Cone search",
        "Objects within 0.1° of a position, nearest first.",
        "SELECT TOP 100 ls_id, ra, dec,\n"
        "  DISTANCE(POINT('ICRS', ra, dec), POINT('ICRS', 180.0, 0.0)) AS dist\n"
        "FROM demo.objects\n"
        "WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', 180.0, 0.0, 0.1))\n"
        "ORDER BY dist",
        ("demo.objects",),
    ),
    (
        "counts",
        "Counts by type",
        "How many objects of each morphological type.",
        "SELECT type, COUNT(*) AS n FROM demo.objects GROUP BY type ORDER BY n DESC",
        ("demo.objects",),
    ),
    (
        "crossmatch",
        "Crossmatch",
        "Pairs of demo.objects and demo.stars closer than 1″.",
        "SELECT TOP 100 o.ls_id, s.name,\n"
        "  DISTANCE(POINT('ICRS', o.ra, o.dec), POINT('ICRS', s.ra, s.dec)) * 3600 AS sep\n"
        "FROM demo.objects AS o JOIN demo.stars AS s\n"
        "ON 1 = CONTAINS(POINT('ICRS', o.ra, o.dec), CIRCLE('ICRS', s.ra, s.dec, 1.0 / 3600))",
        ("demo.objects", "demo.stars"),
    ),
    (
        "columns",
        "Columns of a table",
        "The metadata TAP_SCHEMA holds about one table.",
        "SELECT column_name, datatype, unit, ucd, description FROM tap_schema.columns\n"
        "WHERE table_name = 'demo.objects' ORDER BY column_index",
        ("tap_schema.columns",),
    ),
)


def examples(available_tables: set[str]) -> str:
    """DALI examples as XHTML+RDFa; only examples whose tables exist are listed."""
    items = []
    for key, name, text, query, tables in EXAMPLES:
        if not all(t in available_tables for t in tables):
            continue
        table_refs = "".join(f'<li><code property="table">{_x(t)}</code></li>' for t in tables)
        items.append(
            f'<div typeof="example" id="{key}" resource="#{key}">\n'
            f'<h2 property="name">{_x(name)}</h2>\n<p>{_x(text)}</p>\n'
            f'<pre property="query">{_x(query)}</pre>\n'
            f"<p>Tables:</p><ul>{table_refs}</ul>\n</div>\n"
        )
    return (
        XML_HEAD + '<!DOCTYPE html>\n<html xmlns="http://www.w3.org/1999/xhtml">\n'
        "<head><title>Skydock TAP examples</title></head>\n"
        '<body vocab="http://www.ivoa.net/rdf/examples#">\n'
        "<h1>Example ADQL queries</h1>\n" + "".join(items) + "</body>\n</html>\n"
    )


def landing_page(base: str, tables: list[TapTable]) -> str:
    rows = "".join(
        f"<tr><td><code>{_x(t.name)}</code></td><td>{_x(t.description)}</td></tr>" for t in tables
    )
    links = "".join(
        f'<li><a href="{_x(base)}/{p}">{p}</a></li>'
        for p in ("capabilities", "availability", "tables", "examples", "async")
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Skydock TAP</title>'
        "</head><body>\n"
        f"<h1>Skydock TAP service</h1><p>IVOA TAP 1.1 (ADQL 2.1), Skydock {__version__}. "
        f"Point TOPCAT or pyvo at <code>{_x(base)}</code>.</p>\n"
        f"<ul>{links}</ul>\n<h2>Tables</h2><table>{rows}</table>\n</body></html>\n"
    )
