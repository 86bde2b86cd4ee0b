"""Data Lab-style query functions over the default Skydock client.

``from skydock.client import queryClient as qc`` then ``qc.query(sql=..., fmt='pandas')``,
as with ``dl.queryClient``. The functions keep no state: they call
``skydock.client.default_client()`` (``set_client``/``set_svc_url`` change it). Unlike the
Data Lab client, failures raise the typed errors of ``skydock.client.errors`` instead of
coming back as strings.
"""
# ruff: noqa: N999 - the module is named as Data Lab's, so `import ... as qc` habits work

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from skydock.client.convert import TABLE_FORMATS, canonical
from skydock.client.core import Client
from skydock.client.default import default_client, get_svc_url, set_svc_url
from skydock.client.errors import BadRequestError
from skydock.client.jobs import Job

__all__ = [
    "abort",
    "error",
    "get_svc_url",
    "isAlive",
    "mydb_copy",
    "mydb_drop",
    "mydb_import",
    "mydb_index",
    "mydb_list",
    "mydb_rename",
    "mydb_truncate",
    "query",
    "results",
    "set_svc_url",
    "status",
    "wait",
]

_QUERY_STARTS = ("select", "with", "(")


def _client(token: str | None = None) -> Client:
    c = default_client()
    if token and token != c.token:
        return Client(url=c.url, token=token)
    return c


def _looks_like_query(text: str | None) -> bool:
    return bool(text) and str(text).lstrip().lower().startswith(_QUERY_STARTS)


def query(
    token: str | None = None,
    adql: str | None = None,
    sql: str | None = None,
    fmt: str = "csv",
    out: str | None = None,
    async_: bool = False,
    drop: bool = False,
    profile: str = "default",
    timeout: float | None = None,
    maxrec: int | None = None,
    wait: bool = False,
    poll: float = 1,
    verbose: bool = False,
    **kw: Any,
) -> Any:
    """Run a query the Data Lab way; ``fmt`` names as Data Lab's (csv, ascii, votable,
    pandas, table, array, structarray) plus fits, parquet, arrow, polars.

    ``out='vos://f.csv'``, ``'mydb://t'`` or a local file saves and returns ``'OK'``;
    ``async_=True`` returns the job id (``wait=True``: waits and returns the result).
    """
    async_ = bool(kw.pop("async", async_))
    fmt = kw.pop("format", fmt)
    if kw:
        raise BadRequestError(f"unexpected arguments: {', '.join(sorted(kw))}")
    if sql is None and adql is None and _looks_like_query(token):
        sql, token = token, None
    if sql is None and adql is None:
        raise BadRequestError("No query specified: give sql='...' or adql='...'")
    if adql is not None:
        sql = None
    client = _client(token)
    noheader = fmt == "csv-noheader"
    wanted = "csv" if noheader else canonical(fmt)
    if out in ("", "None"):
        out = None
    if async_:
        job = client.submit(sql=sql, adql=adql, fmt=wanted, maxrec=maxrec, out=out, drop=drop)
        if not wait:
            return job.id
        job.wait(timeout=timeout, progress=verbose)
        return "OK" if out else job.result()
    if out is not None:
        remote = str(out).startswith(("vos://", "mydb://"))
        # Data Lab writes table formats to a local file as CSV.
        file_fmt = "csv" if wanted in TABLE_FORMATS and wanted != "arrow" and not remote else fmt
        client.query(
            sql=sql, adql=adql, fmt=file_fmt, maxrec=maxrec, timeout=timeout, out=out, drop=drop
        )
        return "OK"
    result = client.query(sql=sql, adql=adql, fmt=wanted, maxrec=maxrec, timeout=timeout)
    if noheader:
        return result.strip().split("\n", 1)[1] if "\n" in result.strip() else ""
    return result


def _job_id(optval: str | None, job_id: str | None) -> tuple[str | None, str]:
    """Data Lab's ``f(jobId)`` and ``f(token, jobId)`` forms."""
    if job_id is None:
        if optval is None:
            raise BadRequestError("give the job id")
        return None, optval
    return optval, job_id


def _job(optval: str | None, job_id: str | None) -> Job:
    token, jid = _job_id(optval, job_id)
    return _client(token).job(jid)


def status(optval: str | None = None, jobId: str | None = None, profile: str = "default") -> str:  # noqa: N803 - Data Lab's name
    """The job's phase: QUEUED, EXECUTING, COMPLETED, ERROR, ABORTED ..."""
    phase: str = _job(optval, jobId).info["phase"]
    return phase


def wait(
    optval: str | None = None,
    jobId: str | None = None,  # noqa: N803 - Data Lab's name
    wait: float = 3,
    verbose: bool = False,
    profile: str = "default",
) -> str:
    """Poll every ``wait`` seconds until the job leaves PENDING/QUEUED/EXECUTING."""
    job = _job(optval, jobId)
    while (phase := job.info["phase"]) in ("PENDING", "QUEUED", "EXECUTING"):
        if verbose:
            print(f"job {job.id}: {phase}")
        time.sleep(wait)
        job.refresh()
    return str(phase)


def results(
    optval: str | None = None,
    jobId: str | None = None,  # noqa: N803 - Data Lab's name
    fname: str | None = None,
    delete: bool = True,
    profile: str = "default",
    fmt: str | None = None,
) -> Any:
    """The result of a finished job: text for text formats (``csv`` by default in Data
    Lab), a DataFrame for jobs submitted with a table ``fmt``; ``fname`` saves it."""
    job = _job(optval, jobId)
    if fname:
        job.save(Path(fname))
        return "OK"
    return job.result(fmt)


def error(optval: str | None = None, jobId: str | None = None, profile: str = "default") -> str:  # noqa: N803 - Data Lab's name
    return str(_job(optval, jobId).info.get("error") or "")


def abort(optval: str | None = None, jobId: str | None = None, profile: str = "default") -> str:  # noqa: N803 - Data Lab's name
    _job(optval, jobId).abort()
    return "OK"


def isAlive(svc_url: str | None = None, timeout: float = 5) -> bool:  # noqa: N802 - Data Lab's name
    """True when the server answers."""
    client = Client(url=svc_url, token="") if svc_url else default_client()
    try:
        client.whoami()
    except Exception:
        return False
    return True


def mydb_list(table: str | None = None, token: str | None = None, index: bool = False) -> str:
    """Data Lab's text: table names one per line, or ``column,datatype`` lines of a table."""
    client = _client(token)
    if table:
        cols = client.mydb_describe(table)["columns"]
        return "".join(f"{c['name']},{c['datatype']}\n" for c in cols)
    return "".join(f"{t['name']}\n" for t in client.mydb_list())


def mydb_drop(table: str, token: str | None = None) -> str:
    _client(token).mydb_drop(table)
    return "OK"


def mydb_import(
    table: str,
    data: Any,
    token: str | None = None,
    append: bool = False,
    drop: bool = False,
    **kw: Any,
) -> str:
    """From a DataFrame, an astropy/pyarrow Table, a local CSV/FITS/Parquet/VOTable file,
    CSV text, or a ``vos://`` file."""
    client = _client(token)
    if isinstance(data, str) and not data.startswith("vos://") and not Path(data).is_file():
        if "\n" not in data:
            raise BadRequestError(f"{data!r} is neither a local file, a vos:// path nor CSV text")
        # CSV text, as Data Lab accepts it.
        client.mydb_import(table, data.encode(), drop=drop, append=append, format="csv")
        return "OK"
    client.mydb_import(table, data, drop=drop, append=append)
    return "OK"


def mydb_truncate(table: str, token: str | None = None) -> str:
    _client(token).mydb_truncate(table)
    return "OK"


def mydb_index(
    table: str,
    column: str = "",
    token: str | None = None,
    q3c: str | None = None,
    cluster: bool = False,
    async_: bool = False,
) -> str:
    """Index a column, or with ``q3c='ra,dec'`` sort the table by position."""
    client = _client(token)
    if q3c:
        ra, dec = (s.strip() for s in q3c.split(","))
        client.mydb_index(table, ra=ra, dec=dec)
    else:
        client.mydb_index(table, column)
    return "OK"


def mydb_rename(source: str, target: str, token: str | None = None) -> str:
    _client(token).mydb_rename(source, target)
    return "OK"


def mydb_copy(source: str, target: str, token: str | None = None) -> str:
    _client(token).mydb_copy(source, target)
    return "OK"
