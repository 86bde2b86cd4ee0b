"""Render a ``jupyterhub_config.py`` for Skydock: local processes, Kubernetes or HPC batch.

The rendered file is plain JupyterHub configuration an operator can read and edit. Values
are written as Python literals; secrets never are: the hub's Skydock administrator token
comes from ``SKYDOCK_HUB_API_TOKEN`` and the proxy's token from ``CONFIGPROXY_AUTH_TOKEN``
at run time. Every template shares the same front door: configurable-http-proxy sends
``/hub`` and ``/user`` to JupyterHub and the API's own prefixes to ``skydock serve``, so
a browser, a notebook and TOPCAT all use one base URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SpawnerKind = Literal["local", "kube", "batch"]
SPAWNERS: tuple[SpawnerKind, ...] = ("local", "kube", "batch")

# First path segments the API serves; `skydock up` reads the real list from the app.
DEFAULT_API_PREFIXES = (
    "/api",
    "/auth",
    "/query",
    "/storage",
    "/tap",
    "/docs",
    "/redoc",
    "/openapi.json",
)
HUB_PREFIXES = ("/hub", "/user", "/services")


@dataclass(frozen=True)
class HubSettings:
    """What differs between installations; everything else is fixed in the template."""

    data_dir: Path
    api_url: str = "http://127.0.0.1:8001"
    public_url: str = "http://127.0.0.1:8000"
    bind_url: str = "http://127.0.0.1:8000"
    hub_port: int = 8081
    proxy_api_port: int = 8002
    api_prefixes: tuple[str, ...] = DEFAULT_API_PREFIXES
    storage_root: Path | None = None
    notebooks_fallback: Path | None = None
    cull_timeout: int = 3600
    spawner: SpawnerKind = "local"
    admin_users: tuple[str, ...] = field(default_factory=tuple)


def api_routes(prefixes: tuple[str, ...] | list[str], api_url: str) -> dict[str, str]:
    """Proxy routes for the API: one per first path segment, never over the hub's own."""
    routes: dict[str, str] = {}
    for prefix in prefixes:
        segment = "/" + prefix.strip("/").split("/")[0]
        if segment == "/" or segment in HUB_PREFIXES:
            continue
        routes[segment + "/"] = api_url.rstrip("/")
    return dict(sorted(routes.items()))


_COMMON = """\
# Skydock JupyterHub configuration ({spawner} spawner), rendered by `skydock hub config`.
# Secrets are not in this file: SKYDOCK_HUB_API_TOKEN (a Skydock administrator token,
# used to issue each user's notebook token) and CONFIGPROXY_AUTH_TOKEN come from the
# environment.
import sys

c = get_config()  # noqa: F821 -- provided by JupyterHub's config loader

hub_dir = {hub_dir!r}

# One front door: the proxy listens here; /hub and /user go to JupyterHub, the API's
# prefixes to `skydock serve`.
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = hub_dir + "/proxy.pid"
c.Proxy.extra_routes = {routes!r}

# State of the hub: its database and cookie secret live under <data_dir>/hub.
c.JupyterHub.db_url = "sqlite:///" + hub_dir + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = hub_dir + "/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = hub_dir + "/jupyterhub.pid"

# Logins are Skydock accounts, checked by the API (argon2, lockout).
c.JupyterHub.authenticator_class = "skydock.jupyter.auth.SkydockAuthenticator"
c.SkydockAuthenticator.api_url = {api_url!r}
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {admin_users!r}

# Idle servers are stopped by jupyterhub-idle-culler, a hub-managed service.
c.JupyterHub.services = [
    {{
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout={cull_timeout}"],
    }}
]
c.JupyterHub.load_roles = [
    {{
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }}
]
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
"""

_LOCAL = """
# Embedded default: one local process per user, as the hub's own OS user, HOME at
# <data_dir>/home/<user> (no isolation between users: for a personal or class machine).
c.JupyterHub.spawner_class = "skydock.jupyter.spawner.SkydockSpawner"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.SkydockSpawner.data_dir = {data_dir!r}
c.SkydockSpawner.api_url = {api_url!r}
c.SkydockSpawner.skydock_url = {public_url!r}
c.SkydockSpawner.storage_root = {storage_root!r}
c.SkydockSpawner.notebooks_fallback = {notebooks_fallback!r}
"""

_KUBE = """
# Kubernetes: one pod per user from an image with Skydock, JupyterLab and the clients.
# The hub issues each user's token before the pod starts; the pod's command writes the
# ~/.datalab and ~/.skydock login files from it, then starts the server.
import os

from skydock.jupyter.spawner import issue_notebook_token

os.environ.setdefault("SKYDOCK_HUB_API_URL", {api_url!r})
os.environ.setdefault("SKYDOCK_PUBLIC_URL", {public_url!r})
c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
c.JupyterHub.hub_connect_url = "http://hub:{hub_port}"  # the hub's Service in the cluster
c.Spawner.pre_spawn_hook = issue_notebook_token
c.KubeSpawner.image = "ghcr.io/skydock/notebook:latest"
c.KubeSpawner.cmd = ["python", "-m", "skydock.jupyter.home", "jupyterhub-singleuser"]
c.KubeSpawner.cpu_limit = 2
c.KubeSpawner.mem_limit = "4G"
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.pvc_name_template = "skydock-home-{{username}}"
c.KubeSpawner.storage_capacity = "10Gi"
c.KubeSpawner.volumes = [
    {{"name": "home", "persistentVolumeClaim": {{"claimName": "skydock-home-{{username}}"}}}},
    {{"name": "notebooks", "persistentVolumeClaim": {{"claimName": "skydock-notebooks"}}}},
]
c.KubeSpawner.volume_mounts = [
    {{"name": "home", "mountPath": "/home/jovyan"}},
    {{"name": "notebooks", "mountPath": "/home/jovyan/notebooks-latest", "readOnly": True}},
]
"""

_BATCH = """
# HPC: servers run as batch jobs (Slurm here), with a profile menu as on the DESI
# platform at NERSC (wrapspawner's ProfilesSpawner around batchspawner). Users are real
# system accounts with the same names as their Skydock accounts; homes are theirs.
import os

from skydock.jupyter.spawner import issue_notebook_token

os.environ.setdefault("SKYDOCK_HUB_API_URL", {api_url!r})
os.environ.setdefault("SKYDOCK_PUBLIC_URL", {public_url!r})
c.JupyterHub.spawner_class = "wrapspawner.ProfilesSpawner"
c.JupyterHub.hub_connect_ip = "0.0.0.0"  # compute nodes must reach the hub
c.Spawner.pre_spawn_hook = issue_notebook_token
c.Spawner.cmd = ["python", "-m", "skydock.jupyter.home", "jupyterhub-singleuser"]
c.Spawner.env_keep = ["PATH", "LANG", "LC_ALL"]
c.BatchSpawnerBase.req_partition = "interactive"
c.BatchSpawnerBase.exec_prefix = ""
c.ProfilesSpawner.profiles = [
    ("Login node, shared (no job)", "shared", "jupyterhub.spawner.LocalProcessSpawner",
     {{"ip": "0.0.0.0"}}),
    ("Compute node, 1 hour", "slurm-1h", "batchspawner.SlurmSpawner",
     {{"req_runtime": "01:00:00", "req_nprocs": "4", "req_memory": "8G"}}),
    ("Compute node, 4 hours", "slurm-4h", "batchspawner.SlurmSpawner",
     {{"req_runtime": "04:00:00", "req_nprocs": "16", "req_memory": "32G"}}),
]
"""

_TEMPLATES: dict[SpawnerKind, str] = {"local": _LOCAL, "kube": _KUBE, "batch": _BATCH}


def render_config(settings: HubSettings) -> str:
    """The ``jupyterhub_config.py`` text for ``settings``."""
    data_dir = settings.data_dir.resolve()
    values = {
        "spawner": settings.spawner,
        "hub_dir": str(data_dir / "hub"),
        "data_dir": str(data_dir),
        "bind_url": settings.bind_url,
        "hub_port": settings.hub_port,
        "proxy_api_port": settings.proxy_api_port,
        "routes": api_routes(settings.api_prefixes, settings.api_url),
        "api_url": settings.api_url,
        "public_url": settings.public_url,
        "admin_users": set(settings.admin_users),
        "cull_timeout": int(settings.cull_timeout),
        "storage_root": str(settings.storage_root.resolve()) if settings.storage_root else "",
        "notebooks_fallback": (
            str(settings.notebooks_fallback.resolve()) if settings.notebooks_fallback else ""
        ),
    }
    return _COMMON.format(**values) + _TEMPLATES[settings.spawner].format(**values)
