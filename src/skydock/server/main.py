"""``create_app(config)``: the Skydock web application."""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response

from skydock import __version__
from skydock.server import logs
from skydock.server.config import Config
from skydock.server.factory import Factory
from skydock.server.handlers import (
    auth,
    errors,
    images,
    jobs,
    mydb,
    notebooks,
    query,
    sia,
    spectra,
    storage,
    tap,
    uws,
)
from skydock.server.handlers.datalab import auth as dl_auth
from skydock.server.handlers.datalab import query as dl_query
from skydock.server.handlers.datalab import res as dl_res
from skydock.server.handlers.datalab import storage as dl_storage


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config()
    factory = Factory(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded at start-up lives as long as the process: taking it out of
        # the collector's sight keeps full collections (milliseconds with astropy,
        # pandas and sqlglot loaded) out of query latencies.
        factory.start()
        gc.collect()
        gc.freeze()
        yield
        factory.close()
        gc.unfreeze()

    app = FastAPI(
        title="Skydock",
        version=__version__,
        description="Survey catalogs through SQL and ADQL, next to the data.",
        lifespan=lifespan,
    )
    app.state.factory = factory
    logs.install()
    routers = (
        auth.router,
        query.router,
        jobs.router,
        mydb.router,
        storage.router,
        notebooks.router,
        spectra.router,
        dl_auth.router,
        dl_query.router,
        dl_storage.router,
        dl_res.router,
        tap.router,
        uws.router,
        sia.router,
        images.router,
    )
    for router in routers:
        app.include_router(router)
    errors.install(app)

    @app.middleware("http")
    async def server_header(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.scope["path"]
        if (
            path.startswith(("/tap", "/sia", "/soda")) and "//" in path
        ):  # pyvo joins base/ and /sync
            request.scope["path"] = re.sub("/{2,}", "/", path)
        response = await call_next(request)
        response.headers["Server"] = f"Skydock/{__version__}"
        return response

    @app.get("/", summary="Where to go", include_in_schema=False)
    def index() -> dict[str, object]:
        return {
            "service": "Skydock",
            "version": __version__,
            "links": {"docs": "/docs", "tables": "/api/tables", "query": "/api/query?q=..."},
        }

    return app
