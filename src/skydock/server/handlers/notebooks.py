"""The notebook collection's webhook: ``POST /api/notebooks/webhook``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from skydock.errors import QuotaExceededError
from skydock.server.handlers.deps import Services
from skydock.server.services.notebooks import MAX_WEBHOOK_BYTES

router = APIRouter(prefix="/api/notebooks", tags=["notebooks"])


@router.post(
    "/webhook",
    summary="Re-deploy the notebook collection on a git push",
    description="GitHub-style webhook: the body signed with `X-Hub-Signature-256` "
    "(HMAC-SHA256, the shared `notebooks.webhook_secret`). A push to the deployed branch "
    "pulls the collection and swaps it in atomically before answering; `ping`, other "
    "events, other branches and replayed deliveries change nothing and say so. A missing "
    "or wrong signature is a 401.",
)
async def notebooks_webhook(
    request: Request,
    services: Services,
    x_hub_signature_256: Annotated[str | None, Header()] = None,
    x_github_event: Annotated[str | None, Header()] = None,
    x_github_delivery: Annotated[str | None, Header()] = None,
) -> dict[str, str | None]:
    body = await _capped_body(request)
    answer = await run_in_threadpool(
        services.notebook_service().webhook,
        body,
        x_hub_signature_256,
        x_github_event,
        x_github_delivery,
    )
    return answer.body()


async def _capped_body(request: Request) -> bytes:
    """The body, refused past the cap before it is all read: the signature cannot be
    checked until the end, so an unsigned flood must not fill the memory first."""
    refusal = QuotaExceededError(
        f"webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes (GitHub sends at most 25 MB)"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise refusal
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            raise refusal
        chunks.append(chunk)
    return b"".join(chunks)
