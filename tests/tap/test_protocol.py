"""TAP, UWS and VOSI protocol details, in-process (httpx over ASGI)."""

from __future__ import annotations

import io
import zipfile
from functools import cache
from pathlib import Path

import httpx
import pytest
from astropy.io.votable import parse_single_table
from astropy.table import Table
from lxml import etree

from tests.server.conftest import login

pytestmark = pytest.mark.anyio

VOT = "application/x-votable+xml"
MYDB_TABLES = "SELECT table_name FROM TAP_SCHEMA.tables WHERE schema_name = 'mydb'"
Q = "SELECT TOP 3 id, ra FROM demo.stars ORDER BY id"


def status_of(body: bytes) -> tuple[str, str]:
    tree = etree.fromstring(body)
    ns = {"v": "http://www.ivoa.net/xml/VOTable/v1.3"}
    infos = tree.findall(".//v:RESOURCE[@type='results']/v:INFO[@name='QUERY_STATUS']", ns)
    return infos[-1].get("value"), (infos[-1].text or "")


def rows(body: bytes) -> Table:
    return parse_single_table(io.BytesIO(body)).to_table()


async def test_parameters_are_case_insensitive_and_spurious_ones_ignored(
    client: httpx.AsyncClient,
) -> None:
    for params in (
        {"LANG": "ADQL", "QUERY": Q},
        {"lang": "adql-2.0", "query": Q, "request": "doQuery", "junk": "x"},
        {"LaNg": "ADQL-2.1", "QuErY": Q, "REQUEST": "anything"},
    ):
        r = await client.get("/tap/sync", params=params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(VOT)
        assert list(rows(r.content)["id"]) == [1, 2, 3]
    r = await client.post("/tap/sync", data={"lang": "ADQL", "query": Q, "maxrec": "2"})
    assert len(rows(r.content)) == 2
    assert status_of(r.content)[0] == "OVERFLOW"
    r = await client.post("/tap/sync", files={"LANG": (None, "ADQL"), "QUERY": (None, Q)})
    assert len(rows(r.content)) == 3


@pytest.mark.parametrize(
    ("fmt", "media", "check"),
    [
        ("votable", VOT, b"<TABLEDATA>"),
        ("application/x-votable+xml;serialization=BINARY2", VOT, b"<BINARY2>"),
        ("text/xml", "text/xml", b"<VOTABLE"),
        ("csv", "text/csv", b"id,ra\n1,"),
        ("text/tab-separated-values", "text/tab-separated-values", b"id\tra\n"),
        ("fits", "application/fits", b"SIMPLE  ="),
        ("parquet", "application/vnd.apache.parquet", b"PAR1"),
        ("json", "application/json", b'"columns"'),
    ],
)
async def test_response_formats(client: httpx.AsyncClient, fmt: str, media: str, check: bytes):
    r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": Q, "FORMAT": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert check in r.content[:3000]


async def test_maxrec_zero_gives_metadata_only(client: httpx.AsyncClient) -> None:
    r = await client.get("/tap/sync", params={"LANG": "ADQL", "QUERY": Q, "MAXREC": "0"})
    table = rows(r.content)
    assert len(table) == 0
    assert table.colnames == ["id", "ra"]
    assert status_of(r.content)[0] == "OVERFLOW"


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"LANG": "ADQL", "QUERY": "DUFF QUERY"}, "read-only queries"),
        ({"LANG": "OOBLECK", "QUERY": Q}, "unknown query language"),
        ({"LANG": "ADQL", "QUERY": "SELECT raa FROM demo.stars"}, "did you mean ra"),
        ({"LANG": "ADQL", "QUERY": "SELECT * FROM demo.nosuch"}, "demo.stars"),
        ({"LANG": "ADQL", "QUERY": Q, "RESPONSEFORMAT": "nonesuch"}, "unknown output format"),
        ({"LANG": "ADQL", "QUERY": Q, "MAXREC": "lots"}, "whole number"),
        ({"LANG": "ADQL"}, "QUERY parameter is missing"),
        ({"LANG": "ADQL", "QUERY": "SELECT 1; DROP TABLE x"}, ""),
        ({"LANG": "ADQL", "QUERY": Q, "UPLOAD": "t,http://example.org/t.xml"}, "other sites"),
    ],
)
async def test_errors_are_votable_documents(
    client: httpx.AsyncClient, params: dict[str, str], says: str
) -> None:
    r = await client.get("/tap/sync", params=params)
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith(VOT)
    status, message = status_of(r.content)
    assert status == "ERROR"
    assert message
    assert says.lower() in message.lower()
    assert b"<TABLE" not in r.content


async def test_uws_life_cycle(client: httpx.AsyncClient) -> None:
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": Q, "RUNID": "r1"})
    assert r.status_code == 303
    job = r.headers["location"]
    assert job.startswith("http://test/tap/async/")
    path = job.removeprefix("http://test")
    doc = (await client.get(path)).text
    assert "<uws:phase>PENDING</uws:phase>" in doc
    assert '<uws:parameter id="runid">r1</uws:parameter>' in doc
    for sub, expected in (("phase", "PENDING"), ("quote", ""), ("owner", "")):
        r = await client.get(f"{path}/{sub}")
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text == expected
    assert (await client.get(f"{path}/executionduration")).text.isdigit()
    assert (await client.get(f"{path}/destruction")).text.endswith("Z")
    r = await client.post(f"{path}/executionduration", data={"EXECUTIONDURATION": "60"})
    assert r.status_code == 303
    assert (await client.get(f"{path}/executionduration")).text == "60"
    r = await client.post(
        f"{path}/parameters", data={"QUERY": "SELECT COUNT(*) AS n FROM demo.stars"}
    )
    assert r.status_code == 303
    assert (await client.get(f"{path}/results/result")).status_code == 404
    assert (await client.get(f"{path}/error")).status_code == 404
    r = await client.post(f"{path}/phase", data={"PHASE": "RUN"})
    assert r.status_code == 303
    assert (await client.get(f"{path}/phase")).text in ("QUEUED", "EXECUTING", "COMPLETED")
    doc = (await client.get(path, params={"WAIT": "30"})).text
    doc = (await client.get(path, params={"WAIT": "30"})).text
    assert "<uws:phase>COMPLETED</uws:phase>" in doc
    # Parameters are frozen once the job left PENDING (UWS: 403).
    r = await client.post(f"{path}/parameters", data={"QUERY": "SELECT 1"})
    assert r.status_code == 403
    r = await client.get(f"{path}/results/result")
    assert rows(r.content)["n"][0] == 7
    assert 'xlink:href="http://test/tap/async/' in (await client.get(f"{path}/results")).text
    r = await client.delete(path)
    assert r.status_code == 303
    assert r.headers["location"] == "http://test/tap/async"
    for sub in ("", "/phase", "/results/result"):
        assert (await client.get(path + sub)).status_code == 404


async def test_wait_with_a_phase_returns_at_once_when_it_differs(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": Q})
    path = r.headers["location"].removeprefix("http://test")
    r = await client.get(path, params={"WAIT": "5", "PHASE": "EXECUTING"})
    assert "<uws:phase>PENDING</uws:phase>" in r.text
    r = await client.post(path, data={"ACTION": "DELETE"})
    assert r.status_code == 303
    assert (await client.get(path)).status_code == 404


async def test_a_bad_async_job_ends_in_error_with_a_document(client: httpx.AsyncClient) -> None:
    r = await client.post("/tap/async", data={"LANG": "OOBLECK", "QUERY": Q, "PHASE": "RUN"})
    assert r.status_code == 303
    path = r.headers["location"].removeprefix("http://test")
    doc = (await client.get(path, params={"WAIT": "30"})).text
    doc = (await client.get(path, params={"WAIT": "30"})).text
    assert "<uws:phase>ERROR</uws:phase>" in doc
    assert "unknown query language" in doc
    r = await client.get(f"{path}/error")
    assert r.status_code == 200
    assert status_of(r.content)[0] == "ERROR"


async def test_job_list_filters(client: httpx.AsyncClient, users: dict[str, str]) -> None:
    alice = await login(client, "alice")
    for _ in range(2):
        await client.post("/tap/async", data={"LANG": "ADQL", "QUERY": Q}, headers=alice)
    listing = (await client.get("/tap/async", headers=alice)).text
    assert listing.count("<uws:jobref") == 2
    last = (await client.get("/tap/async", params={"LAST": "1"}, headers=alice)).text
    assert last.count("<uws:jobref") == 1
    done = (await client.get("/tap/async", params={"PHASE": "COMPLETED"}, headers=alice)).text
    assert done.count("<uws:jobref") == 0
    bob = await login(client, "bob")
    assert (await client.get("/tap/async", headers=bob)).text.count("<uws:jobref") == 0


async def test_mydb_tables_are_visible_to_their_owner_only(
    client: httpx.AsyncClient, users: dict[str, str]
) -> None:
    alice = await login(client, "alice")
    r = await client.post(
        "/api/mydb/mine/import",
        files={"file": ("mine.csv", b"a,b\n1,x\n2,y\n")},
        headers=alice,
    )
    assert r.status_code == 201, r.text
    q = {
        "LANG": "ADQL",
        "QUERY": "SELECT table_name FROM TAP_SCHEMA.tables WHERE schema_name = 'mydb'",
    }
    r = await client.get("/tap/sync", params=q, headers=alice)
    assert list(rows(r.content)["table_name"]) == ["mydb.mine"]
    r = await client.get(
        "/tap/sync",
        params={"LANG": "ADQL", "QUERY": "SELECT SUM(a) AS s FROM mydb.mine"},
        headers=alice,
    )
    assert rows(r.content)["s"][0] == 3
    assert "mydb.mine" in (await client.get("/tap/tables", headers=alice)).text
    bob = await login(client, "bob")
    for headers in (bob, {}):
        r = await client.get("/tap/sync", params=q, headers=headers)
        assert len(rows(r.content)) == 0
        assert "mydb.mine" not in (await client.get("/tap/tables", headers=headers)).text
        r = await client.get(
            "/tap/sync",
            params={"LANG": "ADQL", "QUERY": "SELECT * FROM mydb.mine"},
            headers=headers,
        )
        assert status_of(r.content)[0] == "ERROR"


async def test_tables_detail_min_and_children(client: httpx.AsyncClient) -> None:
    full = (await client.get("/tap/tables")).text
    assert "<column><name>ra</name>" in full
    short = (await client.get("/tap/tables", params={"detail": "min"})).text
    assert "<column>" not in short and "<name>demo.stars</name>" in short
    one = await client.get("/tap/tables/demo.stars")
    assert one.status_code == 200 and "<column><name>name</name>" in one.text
    assert (await client.get("/tap/tables/demo.nosuch")).status_code == 404


async def test_capabilities_urls_follow_the_request(client: httpx.AsyncClient) -> None:
    caps = (await client.get("/tap/capabilities")).text
    assert '<accessURL use="base">http://test/tap</accessURL>' in caps
    proxied = await client.get(
        "/tap/capabilities",
        headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "sky.example.org",
            "X-Forwarded-Prefix": "/skydock",
        },
    )
    assert "https://sky.example.org/skydock/tap</accessURL>" in proxied.text
    assert (await client.get("/tap//capabilities")).status_code == 200


# --- XSD validation with the schemas the STILTS jar bundles --------------------------------

JAR = Path("/usr/share/java/starlink-ttools.jar")
SCHEMAS = {
    "http://www.ivoa.net/xml/VOSICapabilities/v1.0": "VOSICapabilities-v1.0.xsd",
    "http://www.ivoa.net/xml/VOSIAvailability/v1.0": "VOSIAvailability-v1.0.xsd",
    "http://www.ivoa.net/xml/VOSITables/v1.0": "VOSITables-v1.1.xsd",
    "http://www.ivoa.net/xml/VODataService/v1.1": "VODataService-v1.1.xsd",
    "http://www.ivoa.net/xml/VOResource/v1.0": "VOResource-v1.0.xsd",
    "http://www.ivoa.net/xml/TAPRegExt/v1.0": "TAPRegExt-v1.0-Erratum1.xsd",
    "http://www.ivoa.net/xml/UWS/v1.0": "UWS-v1.1.xsd",
    "http://www.w3.org/1999/xlink": "xlink.xsd",
}


@cache
def schema(tmp: str) -> etree.XMLSchema:
    folder = Path(tmp)
    with zipfile.ZipFile(JAR.resolve()) as jar:
        for name in jar.namelist():
            if name.startswith("uk/ac/starlink/ttools/taplint/") and name.endswith(".xsd"):
                (folder / Path(name).name).write_bytes(jar.read(name))

    class Local(etree.Resolver):
        def resolve(self, url, pubid, context):  # type: ignore[no-untyped-def]
            name = url.rsplit("/", 1)[-1]
            if "xml.xsd" in name or name == "xml":
                name = "xmlnamespace.xsd"
            for ns, file in SCHEMAS.items():
                if url.rstrip("/") == ns:
                    name = file
            local = folder / name
            if not local.exists():
                local = next(folder.glob(name.split(".")[0] + "*.xsd"), local)
            return self.resolve_filename(str(local), context)

    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(folder / f).as_uri()}"/>'
        for ns, f in SCHEMAS.items()
    )
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:wrapper">{imports}</xs:schema>'
    )
    parser = etree.XMLParser()
    parser.resolvers.add(Local())
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser))


@pytest.mark.skipif(not JAR.exists(), reason="the STILTS jar is not installed")
async def test_documents_validate_against_the_ivoa_schemas(
    client: httpx.AsyncClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    xsd = schema(str(tmp_path_factory.mktemp("xsd")))
    r = await client.post(
        "/tap/async", data={"LANG": "ADQL", "QUERY": Q, "PHASE": "RUN", "RUNID": "x"}
    )
    job = r.headers["location"].removeprefix("http://test")
    await client.get(job, params={"WAIT": "30"})
    await client.get(job, params={"WAIT": "30"})
    for path in (
        "/tap/capabilities",
        "/tap/availability",
        "/tap/tables",
        "/tap/tables?detail=min",
        "/tap/tables/demo.stars",
        job,
        "/tap/async",
        f"{job}/results",
        f"{job}/parameters",
    ):
        body = (await client.get(path)).content
        doc = etree.fromstring(body)
        assert xsd.validate(doc), (path, xsd.error_log.last_error)
