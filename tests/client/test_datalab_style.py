"""Data Lab habits over the default Skydock client: qc.query, ac.login, ac.whoAmI."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from astropy.table import Table

from skydock.client import Client, QuerySyntaxError, default_client, set_client, set_svc_url
from skydock.client import authClient as ac  # noqa: N813 - the Data Lab habit
from skydock.client import queryClient as qc  # noqa: N813 - the Data Lab habit
from tests.server.conftest import PASSWORDS, LiveServer

SQL = "SELECT id, ra, dec, mag FROM test.points WHERE id <= 20 ORDER BY id"


def test_qc_query_formats(live: LiveServer) -> None:
    set_svc_url(live.url + "/query")  # a Data Lab-style service URL works too
    assert default_client().url == live.url
    df = qc.query(sql=SQL, fmt="pandas")
    assert isinstance(df, pd.DataFrame) and df["id"].tolist() == list(range(1, 21))
    csv = qc.query(sql=SQL)  # Data Lab's default is csv text
    assert isinstance(csv, str)
    pd.testing.assert_frame_equal(
        pd.read_csv(io.StringIO(csv)), df.astype({"mag": "float64"}), check_exact=False, rtol=1e-6
    )
    t = qc.query(adql="SELECT TOP 3 id, mag FROM test.points", fmt="table")
    assert isinstance(t, Table) and str(t["mag"].unit) == "mag"
    assert isinstance(
        qc.query("select id from test.points where id = 1", fmt="pandas"), pd.DataFrame
    )
    assert qc.query(sql=SQL, fmt="csv-noheader").startswith("1,")
    assert qc.query(sql=SQL, format="array").shape == (20, 4)
    assert qc.query(sql=SQL, fmt="structarray")["id"][0] == 1


def test_qc_errors_are_raised(live: LiveServer) -> None:
    set_client(Client(url=live.url))
    with pytest.raises(QuerySyntaxError):
        qc.query(sql="SELEC 1")


def test_qc_out_local_file_is_csv_for_table_formats(live: LiveServer, tmp_path: Path) -> None:
    set_client(Client(url=live.url))
    target = tmp_path / "x.csv"
    assert qc.query(sql=SQL, fmt="pandas", out=str(target)) == "OK"
    assert pd.read_csv(target)["id"].tolist() == list(range(1, 21))


def test_ac_login_whoami_valid_token_logout(live: LiveServer, users: dict[str, str]) -> None:
    set_svc_url(live.url)
    assert ac.whoAmI() == "anonymous"
    token = ac.login("bob", PASSWORDS["bob"])
    assert ac.whoAmI() == "bob"
    assert ac.get_token() == token
    assert ac.isValidToken(token) is True
    assert ac.isValidToken("bob.2.2.$1$junk") is False
    assert qc.isAlive(live.url)
    assert ac.logout() == "OK"
    assert ac.isValidToken(token) is False
    assert ac.whoAmI() == "anonymous"
