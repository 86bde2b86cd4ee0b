"""``skydock jobs list|submit|status|wait|result|abort|delete``: async queries on a server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skydock.cli.remote import Adql, MaxRows, Token, Url, connect, read_query, write_out

app = typer.Typer(help="Async query jobs on a Skydock server.", no_args_is_help=True)
JobId = Annotated[str, typer.Argument(help="The job id (from `skydock jobs submit`).")]


@app.command("list")
def list_jobs(
    url: Url = None,
    token: Token = None,
    phase: Annotated[str | None, typer.Option(help="Only jobs in this phase.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
) -> None:
    """Your jobs: id, phase, rows, created, query."""
    for job in connect(url, token).jobs(phase=phase, limit=limit):
        i = job.info
        rows = "" if i.get("rows") is None else str(i["rows"])
        query = " ".join(str(i.get("query", "")).split())[:60]
        typer.echo(f"{job.id}  {i['phase']:<10} {rows:>9}  {i.get('created') or '':<25}  {query}")


@app.command("submit")
def submit(
    text: Annotated[str, typer.Argument(help="The query; '-' reads it from standard input.")],
    url: Url = None,
    token: Token = None,
    adql: Adql = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="Result format.")] = "csv",
    out: Annotated[
        str | None, typer.Option("--out", help="Save to vos://path or mydb://table.")
    ] = None,
    max_rows: MaxRows = None,
    drop: Annotated[bool, typer.Option("--drop", help="Replace an existing out target.")] = False,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Your label for it.")] = None,
) -> None:
    """Start a job and print its id."""
    text = read_query(text)
    sql, adql_text = (None, text) if adql else (text, None)
    job = connect(url, token).submit(
        sql, adql_text, fmt=fmt, maxrec=max_rows, out=out, drop=drop, run_id=run_id
    )
    typer.echo(job.id)


@app.command("status")
def status(job_id: JobId, url: Url = None, token: Token = None) -> None:
    """Print the phase (and the error of a failed job)."""
    job = connect(url, token).job(job_id)
    typer.echo(job.info["phase"])
    if job.info.get("error"):
        typer.echo(job.info["error"], err=True)


@app.command("wait")
def wait(
    job_id: JobId,
    url: Url = None,
    token: Token = None,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
) -> None:
    """Wait for the job to end; exits non-zero if it failed."""
    job = connect(url, token).job(job_id)
    job.wait(timeout=timeout, progress=True)
    typer.echo(job.info["phase"])


@app.command("result")
def result(
    job_id: JobId,
    url: Url = None,
    token: Token = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")
    ] = None,
) -> None:
    """The result of a finished job, in its own format."""
    job = connect(url, token).job(job_id)
    if out is not None:
        job.save(out)
        typer.echo(f"saved to {out}", err=True)
        return
    fmt = str(job.info.get("format") or "csv")
    if fmt == "arrow":
        raise typer.BadParameter("an arrow result is binary: use --out FILE", param_hint="--out")
    write_out(job.result(fmt))


@app.command("abort")
def abort(job_id: JobId, url: Url = None, token: Token = None) -> None:
    """Stop a queued or running job."""
    typer.echo(connect(url, token).job(job_id).abort().info["phase"])


@app.command("delete")
def delete(job_id: JobId, url: Url = None, token: Token = None) -> None:
    """Delete the job and its result."""
    connect(url, token).job(job_id).delete()
    typer.echo(f"deleted {job_id}")
