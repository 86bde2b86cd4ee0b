"""Data Lab ``/res``: the job listing behind ``queryClient.jobs()`` (``resClient.findJobs``).

The client reads ``format=json`` by turning every ``'`` into ``"`` and cutting the first
and last character before ``json.loads``. So the answer is a JSON array wrapped in one
character on each side, and no ``'`` appears in it: inside strings it is written
``\\u0027``, which JSON reads back as the same character.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from skydock.errors import AuthenticationError, InvalidRequestError
from skydock.server.handlers.datalab.common import hello_routes, text
from skydock.server.handlers.deps import Caller, Services
from skydock.server.handlers.jobs import render

router = APIRouter(prefix="/res", include_in_schema=False)
hello_routes(router, "resource")

# The client's status names, and the phases each one means.
STATUSES: dict[str, list[str] | None] = {
    "all": None,
    "WAITING": ["PENDING", "QUEUED"],
    "PENDING": ["PENDING"],
    "QUEUED": ["QUEUED"],
    "EXECUTING": ["EXECUTING"],
    "COMPLETED": ["COMPLETED"],
    "ERROR": ["ERROR"],
    "ABORT": ["ABORTED"],
    "ABORTED": ["ABORTED"],
}
FORMATS = ("text", "json")
OPTIONS = ("list", "delete")
TEXT_COLUMNS = ("jobid", "phase", "created", "rows", "query")


@router.get("/findJobs")
def find_jobs(
    caller: Caller,
    services: Services,
    jobid: str | None = None,
    format: str | None = "text",
    status: str | None = "all",
    option: str | None = "list",
) -> Response:
    fmt = _choice(format or "text", FORMATS, "format")
    opt = _choice(option or "list", OPTIONS, "option")
    wanted = (status or "all").strip()
    phases_key = wanted if wanted == "all" else wanted.upper()
    if phases_key not in STATUSES:
        raise InvalidRequestError(f"unknown status {wanted!r}; use one of {', '.join(STATUSES)}")
    if caller.anonymous:
        raise AuthenticationError("log in to list your jobs; anonymous jobs are reached by id")
    jobs_service = services.job_service()
    phases = STATUSES[phases_key]
    if jobid and jobid not in ("*", "None"):
        found = [jobs_service.get(jobid, caller)]
        jobs = [j for j in found if phases is None or j.phase in phases]
    else:
        jobs = jobs_service.list(caller, phases)
    if opt == "delete":
        deleted = [j.id for j in jobs if not j.active]
        for job_id in deleted:
            jobs_service.delete(job_id, caller)
        if fmt == "json":
            return text(_wrapped_json([{"jobid": j} for j in deleted]))
        return text(f"{len(deleted)} job(s) deleted" + "".join(f"\n{j}" for j in deleted))
    # The native API's record of a job, plus the key the Data Lab client looks for.
    records = [{"jobid": j.id, **render(j)} for j in jobs]
    if fmt == "json":
        return text(_wrapped_json(records))
    lines = ["\t".join(TEXT_COLUMNS)]
    lines += ["\t".join(_cell(r[c]) for c in TEXT_COLUMNS) for r in records]
    return text("\n".join(lines))


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    got = value.strip().lower()
    if got not in allowed:
        raise InvalidRequestError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
    return got


def _cell(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def _wrapped_json(records: list[dict[str, Any]]) -> str:
    return "[" + json.dumps(records).replace("'", "\\u0027") + "]"
