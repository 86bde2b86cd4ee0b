"""``skydock up``: the whole platform on one host and port, stopped by Ctrl-C.

Starts ``skydock serve`` on an internal port and JupyterHub (which starts its
configurable-http-proxy) on the public one, so the API and the notebooks share one base
URL. The accounts it needs are made here, where the server's services are at hand: the
demo user, and ``hub_service``, the administrator account whose token the hub uses to
issue each notebook server its own token. Every child runs in its own session so that
Ctrl-C reaches only this process, which then stops them in order (the hub stops the
servers it spawned and its proxy), leaving no orphans.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Annotated, Any

import httpx
import typer

from skydock.cli.options import DataDir
from skydock.jupyter.home import write_private
from skydock.jupyter.hubconfig import HubSettings, render_config
from skydock.server.services.notebooks import SOURCE_NOTEBOOKS

HUB_ACCOUNT = "hub_service"
HUB_TOKEN_TTL = timedelta(days=30)
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0  # the hub stops each user server and service in turn
DEBIAN_NODE_LIBS = "/usr/share/nodejs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Accounts:
    """The demo login (password ``None`` when it existed before) and the hub's token."""

    demo_user: str
    demo_password: str | None
    hub_token: str


def ensure_accounts(data_dir: Path, demo_user: str | None) -> Accounts:
    """Create the demo and hub accounts if missing; issue the hub a fresh token."""
    from skydock.server.config import Config
    from skydock.server.factory import Factory

    factory = Factory(Config(data_dir=data_dir))
    try:
        auth = factory.auth_service()
        password = None
        if demo_user and not auth.user_exists(demo_user):
            password = secrets.token_urlsafe(12)
            auth.add_user(demo_user, password)
            write_private(data_dir / "hub" / "demo-password", password + "\n")
        if not auth.user_exists(HUB_ACCOUNT):
            # Nobody logs in with this password: the hub uses tokens issued here.
            auth.add_user(HUB_ACCOUNT, secrets.token_urlsafe(32), admin=True)
        token = auth.issue_token(HUB_ACCOUNT, ttl=HUB_TOKEN_TTL, label="hub")
    finally:
        factory.close()
    return Accounts(demo_user or "", password, token)


def _route_paths(routes: list[Any], prefix: str = "") -> Iterator[str]:
    """Every path under ``routes``, through included routers of any FastAPI version."""
    for route in routes:
        if isinstance(getattr(route, "path", None), str):
            yield prefix + route.path
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.165
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _route_paths(inner.routes, prefix + getattr(context, "prefix", ""))


def api_prefixes(data_dir: Path) -> tuple[str, ...]:
    """The first path segment of every route the API serves, read from the app itself.

    Routes other branches add (``/sia``, ``/api/images``) are covered with no change here.
    """
    from skydock.server.config import Config
    from skydock.server.main import create_app

    app = create_app(Config(data_dir=data_dir))
    found = set()
    for path in _route_paths(list(app.routes)):
        segment = path.strip("/").split("/")[0]
        if segment and "{" not in segment:
            found.add("/" + segment)
    return tuple(sorted(found))


def storage_root(data_dir: Path) -> Path | None:
    """The local folder holding users' storage, or ``None`` for an object store."""
    from skydock.server.config import Config, LocalStorageConfig
    from skydock.server.factory import STORAGE_DIR

    storage = Config(data_dir=data_dir).storage
    if not isinstance(storage, LocalStorageConfig):
        return None
    return (storage.root or data_dir / STORAGE_DIR).resolve()


def _node_path(existing: str | None) -> str:
    """Debian's proxy needs its libraries in /usr/share/nodejs, which a Node.js not built
    by Debian (NodeSource, nvm) does not search on its own."""
    parts = [p for p in (existing or "").split(os.pathsep) if p]
    if Path(DEBIAN_NODE_LIBS).is_dir() and DEBIAN_NODE_LIBS not in parts:
        parts.append(DEBIAN_NODE_LIBS)
    return os.pathsep.join(parts)


def _wait_http(url: str, procs: list[subprocess.Popen[bytes]], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"{what} exited while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer {url} within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.25)


def _default_signals() -> None:
    """Children get default SIGINT handling even when started from a shell's background
    job (which ignores it, and the ignoring is inherited): the hub stops its servers and
    services with SIGINT, and one ignoring it costs a timeout on every stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL to the whole session if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything left in its session


def _stop_pid_file(path: Path) -> None:
    """SIGTERM the proxy named in a pid file, if that pid still is a proxy."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text().strip())
        if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)


@dataclass
class Stack:
    """API + hub + proxy on ``host:port``, as one context manager (tests use it too)."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    demo_user: str | None = "demo"
    cull_timeout: int = 3600
    notebooks: Path | None = SOURCE_NOTEBOOKS
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    accounts: Accounts | None = None
    api_url: str = ""
    _logs: list[IO[bytes]] = field(default_factory=list)

    public_url: str | None = None

    @property
    def bind_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The one base URL users, notebooks and TOPCAT use."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def local_url(self) -> str:
        """Where this machine reaches the front door (for the start-up checks)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def hub_dir(self) -> Path:
        return self.data_dir / "hub"

    @property
    def log_dir(self) -> Path:
        return self.hub_dir / "logs"

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs.append(log)
        proc = subprocess.Popen(
            args,
            cwd=self.hub_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.hub_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.log_dir.mkdir(exist_ok=True)
        self.accounts = ensure_accounts(self.data_dir, self.demo_user)
        api_port = free_port()
        self.api_url = f"http://127.0.0.1:{api_port}"
        env = {**os.environ, "SKYDOCK_PUBLIC_URL": self.url}
        env.pop("SKYDOCK_DATA_DIR", None)
        serve = [sys.executable, "-c", "from skydock.cli import main; main()", "serve"]
        where = ["--data-dir", str(self.data_dir), "--host", "127.0.0.1", "--port", str(api_port)]
        self._spawn("api", [*serve, *where], env)
        settings = HubSettings(
            data_dir=self.data_dir,
            api_url=self.api_url,
            public_url=self.url,
            bind_url=self.bind_url,
            hub_port=free_port(),
            proxy_api_port=free_port(),
            api_prefixes=api_prefixes(self.data_dir),
            storage_root=storage_root(self.data_dir),
            notebooks_fallback=self.notebooks,
            cull_timeout=self.cull_timeout,
        )
        config = self.hub_dir / "jupyterhub_config.py"
        config.write_text(render_config(settings))
        _wait_http(f"{self.api_url}/api/tables", self.procs, "skydock serve")
        hub_env = {
            **env,
            "NODE_PATH": _node_path(env.get("NODE_PATH")),
            "SKYDOCK_HUB_API_TOKEN": self.accounts.hub_token,
            "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
        }
        self._spawn("hub", [sys.executable, "-m", "jupyterhub", "-f", str(config)], hub_env)
        _wait_http(f"{self.local_url}/hub/api", self.procs, "JupyterHub")
        _wait_http(f"{self.local_url}/api/tables", self.procs, "the proxy's route to the API")

    def stop(self) -> None:
        if not self.procs:
            return
        api, *hub = self.procs
        for proc in reversed(hub):  # the hub (and its servers, services, proxy) first
            _stop(proc)
        _stop_pid_file(self.hub_dir / "proxy.pid")  # a proxy the hub could not stop
        if self.accounts and api.poll() is None:
            # The hub's token dies with the hub rather than living out its 30 days.
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(
                    f"{self.api_url}/api/auth/logout",
                    headers={"Authorization": f"Bearer {self.accounts.hub_token}"},
                    timeout=10,
                )
        _stop(api)
        self.procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def failed(self) -> str | None:
        """Which child has died, if one has."""
        names = ("skydock serve", "JupyterHub")
        for name, proc in zip(names, self.procs, strict=False):
            if proc.poll() is not None:
                return f"{name} exited with status {proc.returncode}"
        return None

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        try:
            self.start()
            yield self
        finally:
            self.stop()


def _interrupt(signum: int, frame: object) -> None:
    # Ignore further signals first: `uv run` or `make` forward the same Ctrl-C again.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def up(
    data_dir: DataDir,
    host: Annotated[str, typer.Option(help="Address the one front door listens on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port of the front door (API and hub).")] = 8000,
    demo_user: Annotated[
        str, typer.Option(help="Account created on first start ('' for none).")
    ] = "demo",
    cull_timeout: Annotated[
        int, typer.Option(help="Seconds of inactivity before a notebook server is stopped.")
    ] = 3600,
    public_url: Annotated[
        str | None,
        typer.Option(help="The URL users reach the front door at, if not http://HOST:PORT."),
    ] = None,
) -> None:
    """Start the API, JupyterHub and the proxy on one URL; Ctrl-C stops everything."""
    from skydock.engine.catalog import CatalogStore

    if not CatalogStore.for_data_dir(data_dir).list():
        typer.echo(f"no catalogs in {data_dir}: run `skydock demo build` (or `make up`) first")
    stack = Stack(data_dir, host=host, port=port, demo_user=demo_user or None)
    stack.cull_timeout = cull_timeout
    stack.public_url = public_url
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        typer.echo("starting the Skydock API, JupyterHub and the proxy ...")
        try:
            stack.start()
        except RuntimeError as exc:
            typer.echo(f"error: {exc}; logs in {stack.log_dir}", err=True)
            raise typer.Exit(1) from exc
        _announce(stack)
        while (problem := stack.failed()) is None:
            time.sleep(1)
        typer.echo(f"error: {problem}; logs in {stack.log_dir}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("\nstopping ...")
    finally:
        # A second Ctrl-C (impatient user, or a wrapper such as `uv run` forwarding it)
        # must not abandon the children half-way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
    typer.echo("stopped")


def _announce(stack: Stack) -> None:
    assert stack.accounts is not None
    url = stack.url
    user = stack.accounts.demo_user
    typer.echo(f"\nSkydock is up on {url}")
    typer.echo(f"  JupyterLab:  {url}/hub/login")
    if user:
        if stack.accounts.demo_password:
            typer.echo(
                f"  log in as:   {user} / {stack.accounts.demo_password}"
                "   (shown once; also in the file below)"
            )
        else:
            typer.echo(f"  log in as:   {user}  (existing account)")
        saved = stack.hub_dir / "demo-password"
        if saved.exists():
            typer.echo(f"  password in: {saved} (readable by you only)")
    typer.echo(f"  API docs:    {url}/docs")
    typer.echo(f"  TAP:         {url}/tap   (TOPCAT, pyvo)")
    typer.echo(f"  Data Lab:    {url}/auth, {url}/query, {url}/storage")
    typer.echo(f"  logs:        {stack.log_dir}")
    typer.echo("Ctrl-C stops everything.")
