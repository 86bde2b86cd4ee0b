"""Native async job API: ``/api/jobs`` (docs/api.md, "Jobs")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query
from fastapi.responses import FileResponse, Response

from skydock.server.handlers.deps import Caller, Services
from skydock.server.services.jobs import Job

router = APIRouter(prefix="/api", tags=["jobs"])

Lang = Literal["sql", "adql"]


def render(job: Job) -> dict[str, Any]:
    def iso(moment: Any) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "id": job.id,
        "owner": job.owner,
        "phase": job.phase,
        "language": job.language,
        "query": job.query,
        "format": job.format,
        "max_rows": job.max_rows,
        "out": job.out,
        "created": iso(job.created_at),
        "started": iso(job.started_at),
        "finished": iso(job.finished_at),
        "destruction": iso(job.destruction_at),
        "rows": job.rows,
        "overflow": job.overflow,
        "error": job.error,
        "execution_duration": job.execution_duration_s,
        "run_id": job.run_id,
    }


@router.post(
    "/jobs",
    status_code=201,
    summary="Submit an async query",
    description="Create a job and queue it at once; poll it, or wait on it with ?wait=.",
)
def create_job(
    services: Services,
    caller: Caller,
    q: Annotated[str, Form(min_length=1, description="The SQL or ADQL text.")],
    lang: Annotated[Lang, Form()] = "sql",
    format: Annotated[str, Form(description="Output format, e.g. csv, votable.")] = "csv",
    maxrec: Annotated[int | None, Form(ge=0)] = None,
    out: Annotated[str | None, Form(description="Save to vos://path or mydb://table.")] = None,
    drop: Annotated[bool, Form()] = False,
    run_id: Annotated[str | None, Form()] = None,
    execution_duration: Annotated[int | None, Form(ge=0, description="Seconds.")] = None,
) -> dict[str, Any]:
    job = services.job_service().submit(
        caller,
        q,
        lang,
        format,
        max_rows=maxrec,
        out=out,
        drop=drop,
        run_id=run_id,
        execution_duration_s=execution_duration,
        run=True,
    )
    return render(job)


@router.get("/jobs", summary="List your jobs", description="Newest first.")
def list_jobs(
    services: Services,
    caller: Caller,
    phase: Annotated[str | None, Query(description="Only jobs in this phase.")] = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
) -> list[dict[str, Any]]:
    phases = [phase.upper()] if phase else None
    return [render(j) for j in services.job_service().list(caller, phases, limit=limit)]


@router.get(
    "/jobs/{job_id}",
    summary="Get a job",
    description="With ?wait=N, block up to N s (at most 60) until its phase changes.",
)
async def get_job(
    services: Services,
    caller: Caller,
    job_id: str,
    wait: Annotated[float | None, Query(description="Seconds to wait for a change.")] = None,
) -> dict[str, Any]:
    job = await services.job_service().wait_async(job_id, caller, wait or 0, until="changed")
    return render(job)


@router.get(
    "/jobs/{job_id}/result",
    summary="Get a job's result",
    description="The result in the job's format; 409 unless the job is COMPLETED.",
    response_class=Response,
)
def get_job_result(services: Services, caller: Caller, job_id: str) -> Response:
    result = services.job_service().result(job_id, caller)
    headers = {
        "X-Skydock-Rows": str(result.rows),
        "X-Skydock-Overflow": "true" if result.overflow else "false",
    }
    return FileResponse(
        result.path,
        media_type=result.media_type,
        filename=result.filename,
        content_disposition_type="inline",
        headers=headers,
    )


@router.post("/jobs/{job_id}/abort", summary="Abort a job", description="Stops it if running.")
def abort_job(services: Services, caller: Caller, job_id: str) -> dict[str, Any]:
    return render(services.job_service().abort(job_id, caller))


@router.delete(
    "/jobs/{job_id}",
    status_code=204,
    summary="Delete a job",
    description="The job and its result are gone.",
    response_class=Response,
)
def delete_job(services: Services, caller: Caller, job_id: str) -> Response:
    services.job_service().delete(job_id, caller)
    return Response(status_code=204)
