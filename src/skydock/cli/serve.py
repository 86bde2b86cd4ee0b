"""``skydock serve``: the web service on one host and port."""

from __future__ import annotations

from typing import Annotated

import typer

from skydock.cli.options import DataDir


def serve(
    data_dir: DataDir,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Start the Skydock web service (Ctrl-C stops it)."""
    import uvicorn

    from skydock.engine.catalog import CatalogStore
    from skydock.server.config import Config
    from skydock.server.main import create_app

    config = Config(data_dir=data_dir)
    tables = CatalogStore.for_data_dir(data_dir).list()
    base = f"http://{host}:{port}"
    typer.echo(f"Skydock on {base}  ({len(tables)} catalog tables in {data_dir})")
    typer.echo(f"  API docs:  {base}/docs")
    typer.echo(f"  tables:    {base}/api/tables")
    typer.echo(f"  a query:   {base}/api/query?q=SELECT+count(*)+FROM+demo.objects")
    typer.echo(f"  Data Lab:  {base}/auth, {base}/query, {base}/storage")
    typer.echo(
        "  accounts:  `skydock user add NAME` creates one; anonymous callers may query "
        "the public catalogs"
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")
