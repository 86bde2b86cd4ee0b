"""UWS 1.1 at ``/tap/async``: TAP's asynchronous jobs, kept by the shared JobService.

Every state change answers 303 to the resource to read next; scalar resources are
``text/plain``; a job's error is a VOTable error document served with 200.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from skydock.errors import InvalidRequestError
from skydock.server.handlers.deps import Caller, Services
from skydock.server.handlers.tap import XML, tap_base, tap_form, tap_request
from skydock.server.services import tap_documents as docs
from skydock.server.services.auth import Principal
from skydock.server.services.jobs import PHASES

router = APIRouter(prefix="/tap/async", tags=["tap"])
VOTABLE = "application/x-votable+xml"


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _job_url(request: Request, job_id: str) -> str:
    return f"{tap_base(request)}/async/{job_id}"


async def _form(request: Request) -> dict[str, str]:
    """Lower-cased names of the query string and form fields (first value of each)."""
    values: dict[str, str] = {}
    items = list(request.query_params.multi_items())
    if request.method == "POST":
        items += [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    for key, value in items:
        values.setdefault(key.lower(), value)
    return values


def _time(text: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"{name}={text!r} is not an ISO 8601 time; write e.g. 2030-01-01T00:00:00Z"
        ) from None


def _job_xml(request: Request, services: Services, caller: Principal, job_id: str) -> Response:
    tap = services.tap_service()
    job = services.jobs.get(job_id, caller)
    body = docs.job_document(
        job,
        tap_base(request),
        tap.parameters(job, caller),
        media_type=tap.media_type(job.format),
    )
    return Response(body, media_type=XML)


@router.get("", summary="UWS job list", response_class=Response)
def list_tap_jobs(request: Request, services: Services, caller: Caller) -> Response:
    params = [(k.lower(), v) for k, v in request.query_params.multi_items()]
    phases = [v.upper() for k, v in params if k == "phase"] or None
    after = next((_time(v, "AFTER") for k, v in params if k == "after"), None)
    last = next((v for k, v in params if k == "last"), None)
    if last is not None and not last.isdigit():
        raise InvalidRequestError(f"LAST={last!r} must be a whole number of jobs")
    jobs = services.jobs.list(caller, phases, after=after, limit=int(last) if last else None)
    return Response(docs.jobs_document(jobs, tap_base(request)), media_type=XML)


@router.post("", summary="Create a UWS job", response_class=Response)
async def create_tap_job(request: Request, services: Services, caller: Caller) -> Response:
    pairs, files = await tap_form(request, services)
    job = services.tap_service().create_job(caller, pairs, files, tap_base(request))
    return _see(_job_url(request, job.id))


@router.get("/{job_id}", summary="A UWS job", response_class=Response)
async def get_tap_job(
    job_id: str, request: Request, services: Services, caller: Caller
) -> Response:
    form = await _form(request)
    if "wait" in form:
        try:
            wait = float(form["wait"])
        except ValueError:
            wait_text = form["wait"]
            raise InvalidRequestError(f"WAIT={wait_text!r} must be seconds") from None
        limit = services.tap_service().limits.max_wait_s
        wait = limit if wait < 0 else min(wait, limit)
        phase = form.get("phase", "").upper() or None
        if phase is not None and phase not in PHASES:
            raise InvalidRequestError(f"PHASE={phase!r} is not a UWS phase")
        await services.jobs.wait_async(job_id, caller, wait, phase=phase, until="changed")
    return _job_xml(request, services, caller, job_id)


@router.post("/{job_id}", summary="Delete a UWS job (ACTION=DELETE)", response_class=Response)
async def post_tap_job(
    job_id: str, request: Request, services: Services, caller: Caller
) -> Response:
    form = await _form(request)
    if form.get("action", "").upper() != "DELETE":
        raise InvalidRequestError(
            "POST to a job only accepts ACTION=DELETE; set parameters at .../parameters and "
            "the phase at .../phase"
        )
    services.jobs.delete(job_id, caller)
    return _see(f"{tap_base(request)}/async")


@router.delete("/{job_id}", summary="Delete a UWS job", response_class=Response)
def delete_tap_job(job_id: str, request: Request, services: Services, caller: Caller) -> Response:
    services.jobs.delete(job_id, caller)
    return _see(f"{tap_base(request)}/async")


@router.get("/{job_id}/phase", summary="A job's phase", response_class=PlainTextResponse)
def get_tap_phase(job_id: str, services: Services, caller: Caller) -> str:
    return services.jobs.get(job_id, caller).phase


@router.post("/{job_id}/phase", summary="Run or abort a job", response_class=Response)
async def post_tap_phase(
    job_id: str, request: Request, services: Services, caller: Caller
) -> Response:
    phase = (await _form(request)).get("phase", "").upper()
    if phase == "RUN":
        services.jobs.run(job_id, caller)
    elif phase == "ABORT":
        services.jobs.abort(job_id, caller)
    else:
        raise InvalidRequestError(f"PHASE={phase!r}; post PHASE=RUN or PHASE=ABORT")
    return _see(_job_url(request, job_id))


@router.get("/{job_id}/quote", summary="A job's quote", response_class=PlainTextResponse)
def get_tap_quote(job_id: str, services: Services, caller: Caller) -> str:
    services.jobs.get(job_id, caller)
    return ""


@router.get("/{job_id}/owner", summary="A job's owner", response_class=PlainTextResponse)
def get_tap_owner(job_id: str, services: Services, caller: Caller) -> str:
    return docs.owner(services.jobs.get(job_id, caller))


@router.get(
    "/{job_id}/executionduration", summary="Run time limit", response_class=PlainTextResponse
)
def get_tap_duration(job_id: str, services: Services, caller: Caller) -> str:
    return str(services.jobs.get(job_id, caller).execution_duration_s)


@router.post("/{job_id}/executionduration", summary="Set run time limit", response_class=Response)
async def post_tap_duration(
    job_id: str, request: Request, services: Services, caller: Caller
) -> Response:
    value = (await _form(request)).get("executionduration", "")
    if not value.strip().lstrip("-").isdigit():
        raise InvalidRequestError(f"EXECUTIONDURATION={value!r} must be whole seconds")
    services.jobs.update(job_id, caller, execution_duration_s=int(value))
    return _see(_job_url(request, job_id))


@router.get("/{job_id}/destruction", summary="Destruction time", response_class=PlainTextResponse)
def get_tap_destruction(job_id: str, services: Services, caller: Caller) -> str:
    return docs.iso(services.jobs.get(job_id, caller).destruction_at)


@router.post("/{job_id}/destruction", summary="Set destruction time", response_class=Response)
async def post_tap_destruction(
    job_id: str, request: Request, services: Services, caller: Caller
) -> Response:
    value = (await _form(request)).get("destruction", "")
    services.jobs.update(job_id, caller, destruction=_time(value, "DESTRUCTION"))
    return _see(_job_url(request, job_id))


@router.get("/{job_id}/parameters", summary="A job's parameters", response_class=Response)
def get_tap_parameters(job_id: str, services: Services, caller: Caller) -> Response:
    job = services.jobs.get(job_id, caller)
    params = services.tap_service().parameters(job, caller)
    return Response(docs.parameters_document(params), media_type=XML)


@router.post("/{job_id}/parameters", summary="Set parameters (PENDING)", response_class=Response)
async def post_tap_parameters(
    job_id: str, request: Request, services: Services, caller: Caller
) -> Response:
    params = await tap_request(request, services, caller)
    services.tap_service().set_parameters(job_id, caller, params)
    return _see(_job_url(request, job_id))


@router.get("/{job_id}/results", summary="A job's results", response_class=Response)
def get_tap_results(job_id: str, request: Request, services: Services, caller: Caller) -> Response:
    job = services.jobs.get(job_id, caller)
    media_type = services.tap_service().media_type(job.format)
    body = docs.results_document(job, _job_url(request, job_id), media_type=media_type)
    return Response(body, media_type=XML)


@router.get("/{job_id}/results/result", summary="A job's result", response_class=Response)
def get_tap_result(job_id: str, services: Services, caller: Caller) -> Response:
    tap = services.tap_service()
    result = tap.result(job_id, caller)
    job = services.jobs.get(job_id, caller)
    return FileResponse(
        result.path,
        media_type=tap.media_type(job.format),
        filename=result.filename,
        content_disposition_type="inline",
    )


@router.get("/{job_id}/error", summary="A job's error document", response_class=Response)
def get_tap_error(job_id: str, services: Services, caller: Caller) -> Response:
    message = services.tap_service().error(job_id, caller)
    return Response(docs.error_votable(message), media_type=VOTABLE)
