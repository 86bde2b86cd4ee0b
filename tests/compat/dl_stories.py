# ruff: noqa: N813  (the Data Lab spelling: ac, qc, sc)
"""The Astro Data Lab client's user stories (wire spec §10), run by the real client.

Run as ``python dl_stories.py BASE_URL GROUP`` in a fresh HOME and working directory:
the client keeps global state (login files, a sticky ``wait``), so every group runs in a
process of its own. An assertion failure exits non-zero with the story's number.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

BASE, GROUP = sys.argv[1], sys.argv[2]

from dl import authClient as ac  # noqa: E402 (authClient first: it writes dl.conf)
from dl import queryClient as qc  # noqa: E402
from dl import resClient  # noqa: E402
from dl import storeClient as sc  # noqa: E402
from dl.helpers.utils import convert  # noqa: E402

ac.set_svc_url(BASE + "/auth")
qc.set_svc_url(BASE + "/query")
sc.set_svc_url(BASE + "/storage")
resClient.set_svc_url(BASE + "/res")

TOKEN = re.compile(r"([^\/\s]+)\.(\d+)\.(\d+)\.((?:\$1\$\S{22,})|(?:\S+_access))")
Q = "select id,ra,dec,name from demo.stars order by id limit 5"


def check(story: int, condition: object, detail: object = "") -> None:
    if not condition:
        print(f"story {story} failed: {detail!r}", file=sys.stderr)
        sys.exit(1)


def raises(story: int, call, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    try:
        got = call(*args, **kwargs)
    except Exception as exc:  # the client raises its own error classes
        return str(exc)
    check(story, False, f"expected an error, got {got!r}")
    return ""


def auth() -> None:
    check(1, ac.whoAmI() == "anonymous", ac.whoAmI())
    for story_url, mod in ((BASE + "/auth", ac), (BASE + "/query", qc)):
        check(2, mod.isAlive(story_url), story_url)
    bad = ac.login("alice", "wrong")
    check(3, isinstance(bad, str) and not TOKEN.match(bad), bad)
    check(3, not ac.isValidToken(bad))
    tok = ac.login("alice", "alicepw")
    check(4, TOKEN.match(tok) and ac.isValidToken(tok), tok)
    check(5, ac.whoAmI() == "alice", ac.whoAmI())
    check(5, ac.isUserLoggedIn("alice") and ac.isTokenLoggedIn(tok))
    check(6, ac.login("alice") == tok)
    check(7, ac.isValidUser("alice") and not ac.isValidPassword("alice", "x"))
    check(33, ac.logout(tok) == "OK")
    check(33, ac.whoAmI() == "anonymous", ac.whoAmI())
    again = ac.logout(tok)
    check(33, isinstance(again, str) and again != "OK", again)


def sync() -> None:
    from astropy.table import Table

    ac.login("alice", "alicepw")
    csv = qc.query(sql=Q)
    check(8, csv.startswith("id,ra,dec,name\n") and csv.endswith("\n"), csv[:80])
    check(8, len(csv.splitlines()) == 6, csv)
    check(8, "Sirius" in csv, csv)
    check(9, len(qc.query(sql=Q, fmt="csv-noheader").splitlines()) == 5)
    ascii_ = qc.query(sql=Q, fmt="ascii")
    check(10, "\t" in ascii_.splitlines()[1], ascii_[:80])
    df = qc.query(sql=Q, fmt="pandas")
    check(11, df.shape == (5, 4), df.shape)
    check(11, len(qc.query(sql=Q, fmt="table")) == 5)
    num = "select id, ra, dec from demo.stars order by id limit 5"
    check(11, qc.query(sql=num, fmt="array").shape == (5, 3))
    check(11, len(qc.query(sql=num, fmt="structarray")) == 5)
    vot = qc.query(sql=Q, fmt="votable")
    check(12, len(convert(vot, "votable").to_table()) == 5)
    check(13, qc.query(sql=Q, fmt="fits", out="./q.fits") == "OK")
    check(13, len(Table.read("q.fits")) == 5)
    top = qc.query(adql="select top 5 id,ra,dec from demo.stars")
    check(14, len(top.splitlines()) == 6, top)
    message = raises(15, qc.query, sql="select nope from nowhere")
    check(15, "nowhere" in message and "{" not in message and "<" not in message, message)
    empty = qc.query(sql="select id from demo.stars where id < 0")
    check(13, empty == "id\n", empty)


SLOW = (
    "select count(*) from test.points a, test.points b, test.points c "
    "where a.mag + b.mag + c.mag > 70"
)


def async_() -> None:
    ac.login("alice", "alicepw")
    expected = qc.query(sql=Q)
    jid = qc.query(sql=Q, async_=True)
    check(16, isinstance(jid, str) and re.fullmatch(r"[A-Za-z0-9_-]+", jid), jid)
    check(17, qc.status(jid) in ("QUEUED", "EXECUTING", "COMPLETED"), qc.status(jid))
    check(17, qc.wait(jid, wait=0.5) == "COMPLETED")
    check(18, qc.results(jid) == expected)
    check(18, qc.results(jid) == expected)  # results are kept after the first fetch
    slow = qc.query(sql=SLOW, async_=True)
    early = qc.results(slow)
    check(19, isinstance(early, tuple) and early[0] != 200, early)
    bad = qc.query(sql="select nope", async_=True)
    check(20, qc.wait(bad) == "ERROR")
    check(20, "nope" in qc.error(bad), qc.error(bad))
    check(22, qc.abort(slow) == "OK")
    check(22, qc.status(slow) == "ABORTED", qc.status(slow))
    waited = qc.query(sql=Q, async_=True, wait=True, poll=1)
    check(21, waited == expected, waited)
    again = qc.query(sql=Q, async_=True, wait=False)
    check(21, re.fullmatch(r"[A-Za-z0-9_-]+", again), again)
    check(19, qc.status("nosuchjob").startswith("Error"), qc.status("nosuchjob"))
    # qc.jobs() through /res/findJobs: text, JSON (a quote in the query survives the
    # client's quote swap), one job, by status, and deleting finished ones.
    quoted = qc.query(sql="select name from demo.stars where name = 'Vega'", async_=True)
    check(23, qc.wait(quoted) == "COMPLETED")
    listing = qc.jobs()
    check(23, jid in listing and quoted in listing and "COMPLETED" in listing, listing)
    records = {r["jobid"]: r for r in qc.jobs(format="json")}
    check(23, records[quoted]["query"].endswith("name = 'Vega'"), records.get(quoted))
    check(23, records[bad]["phase"] == "ERROR" and "nope" in records[bad]["error"], records)
    check(23, [r["jobid"] for r in qc.jobs(jobId=jid, format="json")] == [jid])
    failed = [r["jobid"] for r in qc.jobs(format="json", status="ERROR")]
    check(23, failed == [bad], failed)
    check(23, bad in qc.jobs(status="ERROR", option="delete"))
    check(23, qc.jobs(format="json", status="ERROR") == [])
    check(23, "status" in raises(23, qc.jobs, status="SLEEPING"))


def mydb() -> None:
    ac.login("bob", "bobpw")
    check(36, qc.query(sql=Q, out="mydb://t1") == "OK")
    check(36, qc.query(sql=Q, out="mydb://t1", drop=True) == "OK")
    message = raises(36, qc.query, sql=Q, out="mydb://t1")
    check(36, "t1" in message and "exists" in message, message)
    check(37, "t1" in qc.mydb_list().split("\n"), qc.mydb_list())
    cols = qc.mydb_list("t1")
    check(37, all(c in cols for c in ("id", "ra", "dec", "name")), cols)
    check(37, "ra," in qc.mydb_list("t1", verbose=True))
    joined = qc.query(
        sql="select s.id, t.name from demo.stars s join mydb://t1 t on s.id=t.id", fmt="pandas"
    )
    check(38, len(joined) == 5, joined)
    adql = qc.query(adql="select count(*) as n from mydb.t1")
    check(38, adql == "n\n5\n", adql)
    check(39, qc.mydb_drop("t1") == "OK")
    check(39, qc.mydb_drop("t1") == 'relation "t1" not known', qc.mydb_drop("t1"))
    check(39, "t1" not in qc.mydb_list().split("\n"))
    qc.mydb_create("t4", "a,integer\nb,text\n", drop=True)
    listed = qc.mydb_list("t4", verbose=True)
    check(40, listed == "a,integer\nb,text\n", listed)
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2, 3], "label": ["a", "b", "c"]})
    check(40, qc.mydb_import("t2", frame) == "OK", qc.mydb_import("t2", frame))
    check(40, qc.query(sql="select count(*) from mydb://t2") == "count\n3\n")
    check(23, qc.query(sql=Q, out="vos://res.csv") == "OK")
    raises(23, qc.query, sql=Q, out="vos://res.csv")
    check(40, qc.mydb_import("t3", "vos://res.csv") == "OK")
    got = qc.query(sql="select name from mydb://t3 order by id", fmt="pandas")
    check(40, list(got["name"]) == list(qc.query(sql=Q, fmt="pandas")["name"]), got)
    csv_text = "p,q\n1,2\n3,4\n"
    check(40, qc.mydb_import("t5", csv_text) == "OK")
    check(40, qc.query(sql="select sum(q) as s from mydb://t5") == "s\n6\n")


def storage() -> None:
    check(2, sc.isAlive(BASE + "/storage"))
    ac.login("alice", "alicepw")
    check(23, qc.query(sql=Q, out="vos://res.csv") == "OK")
    check(24, "res.csv" in sc.ls("vos://").split(","), sc.ls("vos://"))
    s = sc.get("vos://res.csv")
    check(25, convert(s, "pandas").shape == (5, 4), s)
    check(26, sc.get("vos://res.csv", "./res.csv") == ["OK"])
    check(26, Path("res.csv").read_text() == s)


GROUPS = {"auth": auth, "sync": sync, "async": async_, "mydb": mydb, "storage": storage}

if __name__ == "__main__":
    GROUPS[GROUP]()
    print("ok")
