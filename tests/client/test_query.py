"""The client against a real server: login, every query format, typed errors."""

from __future__ import annotations

import io
import json
import stat
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.io.votable import parse_single_table

from skydock.client import (
    AuthError,
    BadRequestError,
    Client,
    NotFoundError,
    QueryError,
    QuerySyntaxError,
    ResultOverflowWarning,
    ServiceConnectionError,
    UnknownTableError,
)
from skydock.client.config import config_path
from skydock.client.errors import QueryRefusedError, UnknownColumnError
from tests.server.conftest import PASSWORDS, LiveServer, free_port

SQL = "SELECT id, ra, dec, mag, kind FROM test.points WHERE id <= 500 ORDER BY id"


@pytest.fixture
def expected(points_table: pa.Table) -> pd.DataFrame:
    """The rows as ingested: an independent reading of what the query must return."""
    return points_table.slice(0, 500).select(["id", "ra", "dec", "mag", "kind"]).to_pandas()


def test_login_whoami_logout(live: LiveServer, users: dict[str, str]) -> None:
    c = Client(url=live.url)
    assert c.whoami() == {"username": "anonymous", "anonymous": True, "admin": False}
    token = c.login("alice", PASSWORDS["alice"])
    assert c.whoami()["username"] == "alice"
    path = config_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["tokens"][live.url] == token
    assert stored["url"] == live.url

    again = Client()  # URL and token both come from the config file now
    assert again.url == live.url
    assert again.whoami()["username"] == "alice"

    c.logout()
    assert c.token is None
    assert live.url not in json.loads(path.read_text())["tokens"]
    with pytest.raises(AuthError) as err:
        Client(url=live.url, token=token).whoami()
    assert err.value.status == 401
    assert err.value.code == "unauthenticated"


def test_wrong_password_is_auth_error(live: LiveServer, users: dict[str, str]) -> None:
    with pytest.raises(AuthError) as err:
        Client(url=live.url).login("alice", "not-the-password")
    assert err.value.message


def test_bad_token_is_auth_error(live: LiveServer) -> None:
    c = Client(url=live.url, token="alice.1.1.$1$nonsense")
    with pytest.raises(AuthError) as err:
        c.query(sql="SELECT 1")
    assert err.value.status == 401


def test_pandas_matches_the_ingested_rows(live: LiveServer, expected: pd.DataFrame) -> None:
    df = Client(url=live.url).query(sql=SQL)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["id", "ra", "dec", "mag", "kind"]
    assert df["id"].tolist() == expected["id"].tolist()
    np.testing.assert_array_equal(df["ra"].to_numpy(), expected["ra"].to_numpy())
    np.testing.assert_array_equal(df["mag"].to_numpy(), expected["mag"].to_numpy())
    assert df["kind"].tolist() == expected["kind"].tolist()
    assert df.attrs["units"]["mag"] == "mag"
    assert df.attrs["overflow"] is False


def test_arrow_path_equals_the_csv_body(live: LiveServer) -> None:
    c = Client(url=live.url)
    via_arrow = c.query(sql=SQL, fmt="pandas")
    raw = httpx.get(live.url + "/api/query", params={"q": SQL, "format": "csv"}).text
    via_csv = pd.read_csv(io.StringIO(raw))
    pd.testing.assert_frame_equal(
        via_arrow.astype({"mag": "float64", "kind": object}),
        via_csv.astype({"mag": "float64", "kind": object}),
        check_exact=False,
        rtol=1e-6,
    )
    assert c.query(sql=SQL, fmt="csv") == raw


def test_astropy_table_has_units_and_descriptions(live: LiveServer, expected: pd.DataFrame) -> None:
    t = Client(url=live.url).query(
        adql="SELECT TOP 500 id, ra, mag, kind FROM test.points ORDER BY id", fmt="table"
    )
    assert len(t) == 500
    assert str(t["mag"].unit) == "mag"
    assert t["mag"].description == "A magnitude"
    assert t["mag"].meta["ucd"] == "phot.mag"
    assert t["kind"].description == "Object kind"
    assert t["kind"][0] == expected["kind"][0]
    np.testing.assert_array_equal(np.asarray(t["id"]), expected["id"].to_numpy())
    assert t.meta["overflow"] is False


def test_polars_arrow_array_structarray(live: LiveServer, expected: pd.DataFrame) -> None:
    import polars as pl

    c = Client(url=live.url)
    frame = c.query(sql=SQL, fmt="polars")
    assert isinstance(frame, pl.DataFrame)
    assert frame["id"].to_list() == expected["id"].tolist()
    table = c.query(sql=SQL, fmt="arrow")
    assert isinstance(table, pa.Table)
    assert table.schema.field("mag").metadata[b"unit"] == b"mag"
    assert table.column("kind").to_pylist() == expected["kind"].tolist()
    arr = c.query(sql="SELECT id, ra FROM test.points WHERE id <= 500 ORDER BY id", fmt="array")
    assert arr.shape == (500, 2)
    np.testing.assert_array_equal(arr[:, 1], expected["ra"].to_numpy())
    rec = c.query(sql=SQL, fmt="structarray")
    assert rec["kind"][3] == expected["kind"][3]
    assert rec["id"][-1] == 500
    with pytest.raises(BadRequestError, match="kind"):
        c.query(sql=SQL, fmt="array")


def test_text_and_binary_formats(live: LiveServer, expected: pd.DataFrame) -> None:
    c = Client(url=live.url)
    csv = c.query(sql=SQL, fmt="csv")
    assert isinstance(csv, str) and csv.startswith("id,ra,dec,mag,kind\n")
    tsv = c.query(sql=SQL, fmt="ascii")
    assert pd.read_csv(io.StringIO(tsv), sep="\t")["id"].tolist() == expected["id"].tolist()
    vot = c.query(sql=SQL, fmt="votable")
    assert isinstance(vot, str)
    table = parse_single_table(io.BytesIO(vot.encode())).to_table()
    assert str(table["mag"].unit) == "mag" and len(table) == 500
    b2 = c.query(sql=SQL, fmt="votable-binary2")
    assert len(parse_single_table(io.BytesIO(b2.encode())).to_table()) == 500
    js = c.query(sql=SQL, fmt="json")
    assert isinstance(js, str) and json.loads(js)
    pq_bytes = c.query(sql=SQL, fmt="parquet")
    assert pq.read_table(io.BytesIO(pq_bytes)).column("id").to_pylist() == list(range(1, 501))
    fits_bytes = c.query(sql=SQL, fmt="fits")
    with fits.open(io.BytesIO(fits_bytes)) as hdul:
        assert list(hdul[1].data["id"]) == list(range(1, 501))


def test_out_to_a_local_file(live: LiveServer, tmp_path: Path) -> None:
    target = tmp_path / "r.parquet"
    info = Client(url=live.url).query(sql=SQL, fmt="parquet", out=target)
    assert info == {"rows": 500, "overflow": False, "out": str(target)}
    assert pq.read_table(target).num_rows == 500
    assert not list(tmp_path.glob("*.part"))


def test_maxrec_overflow_warns(live: LiveServer) -> None:
    with pytest.warns(ResultOverflowWarning, match="7 rows"):
        df = Client(url=live.url).query(sql="SELECT id FROM test.points", maxrec=7)
    assert len(df) == 7
    assert df.attrs["overflow"] is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client(url=live.url).query(sql="SELECT id FROM test.points WHERE id < 5", maxrec=7)


@pytest.mark.parametrize(
    ("sql", "cls", "needle"),
    [
        ("SELEC id FROM test.points", QuerySyntaxError, ""),
        ("SELECT nosuch FROM test.points", UnknownColumnError, "nosuch"),
        ("SELECT * FROM test.nope", UnknownTableError, "test.nope"),
        ("DROP TABLE test.points", QueryRefusedError, "DROP"),
    ],
)
def test_query_errors_are_typed_with_the_server_message(
    live: LiveServer, sql: str, cls: type[QueryError], needle: str
) -> None:
    raw = httpx.get(live.url + "/api/query", params={"q": sql}).json()
    with pytest.raises(cls) as err:
        Client(url=live.url).query(sql=sql)
    assert isinstance(err.value, QueryError)
    assert err.value.code == raw["error"]
    assert err.value.message == raw["message"]
    assert needle.lower() in err.value.message.lower()


def test_unknown_table_is_also_not_found(live: LiveServer) -> None:
    with pytest.raises(NotFoundError) as err:
        Client(url=live.url).query(sql="SELECT * FROM test.nope")
    assert err.value.status == 404


def test_bad_format_and_missing_query_are_refused_locally() -> None:
    c = Client(url="http://127.0.0.1:9")
    with pytest.raises(BadRequestError, match="xls"):
        c.query(sql="SELECT 1", fmt="xls")
    with pytest.raises(BadRequestError, match="sql="):
        c.query()


def test_connection_error_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceConnectionError) as err:
        Client(url=url).query(sql="SELECT 1")
    assert url in err.value.message
