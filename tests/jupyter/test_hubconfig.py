"""The rendered JupyterHub configurations load in JupyterHub's own config loader, and
name classes that import: the local default, KubeSpawner and batchspawner/wrapspawner."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from traitlets.config import Config as TraitletsConfig
from traitlets.config.loader import PyFileConfigLoader
from typer.testing import CliRunner

from skydock.cli import _register, app
from skydock.jupyter.hubconfig import SPAWNERS, HubSettings, api_routes, render_config


def _load(text: str, tmp_path: Path) -> TraitletsConfig:
    """Load the config as JupyterHub would; the environment it sets is put back after,
    or ``SKYDOCK_PUBLIC_URL`` would reach every later server this worker starts."""
    path = tmp_path / "jupyterhub_config.py"
    path.write_text(text)
    saved = dict(os.environ)
    try:
        loaded: TraitletsConfig = PyFileConfigLoader(path.name, path=str(tmp_path)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return loaded


def _import(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("kind", SPAWNERS)
def test_each_template_loads(kind: str, tmp_path: Path) -> None:
    settings = HubSettings(
        data_dir=tmp_path / "data",
        api_url="http://127.0.0.1:9001",
        public_url="https://sky.example.org",
        bind_url="http://0.0.0.0:8000",
        cull_timeout=900,
        spawner=kind,  # type: ignore[arg-type]
    )
    c = _load(render_config(settings), tmp_path)
    hub_dir = str((tmp_path / "data" / "hub").resolve())
    assert c.JupyterHub.db_url == f"sqlite:///{hub_dir}/jupyterhub.sqlite"
    assert c.JupyterHub.cookie_secret_file == f"{hub_dir}/jupyterhub_cookie_secret"
    assert c.SkydockAuthenticator.api_url == "http://127.0.0.1:9001"
    assert _import(c.JupyterHub.authenticator_class).__name__ == "SkydockAuthenticator"
    spawner = _import(c.JupyterHub.spawner_class)
    assert isinstance(spawner, type)
    culler = c.JupyterHub.services[0]
    assert "--timeout=900" in culler["command"]
    assert "delete:servers" in c.JupyterHub.load_roles[0]["scopes"]
    routes = c.Proxy.extra_routes
    assert routes["/api/"] == "http://127.0.0.1:9001"
    assert routes["/tap/"] == "http://127.0.0.1:9001"
    assert not any(r.startswith(("/hub", "/user")) for r in routes)
    text = render_config(settings)
    assert "SKYDOCK_HUB_API_TOKEN" in text and "token =" not in text.lower()


def test_batch_profiles_name_real_spawners(tmp_path: Path) -> None:
    c = _load(render_config(HubSettings(data_dir=tmp_path, spawner="batch")), tmp_path)
    assert c.JupyterHub.spawner_class == "wrapspawner.ProfilesSpawner"
    classes = {profile[2] for profile in c.ProfilesSpawner.profiles}
    assert "batchspawner.SlurmSpawner" in classes
    for dotted in classes:
        assert isinstance(_import(dotted), type)


def test_kube_issues_tokens_before_the_pod_starts(tmp_path: Path) -> None:
    c = _load(render_config(HubSettings(data_dir=tmp_path, spawner="kube")), tmp_path)
    assert c.Spawner.pre_spawn_hook.__name__ == "issue_notebook_token"
    assert c.KubeSpawner.cmd[:3] == ["python", "-m", "skydock.jupyter.home"]


def test_api_routes_take_first_segments_only() -> None:
    routes = api_routes(["/api", "/api/images", "/sia", "/hub", "/", "/docs"], "http://x:1/")
    assert routes == {"/api/": "http://x:1", "/docs/": "http://x:1", "/sia/": "http://x:1"}


def test_cli_prints_a_config_and_refuses_unknown_spawners(tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    done = runner.invoke(app, ["hub", "config", "--spawner", "kube", "--data-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "kubespawner.KubeSpawner" in done.output
    bad = runner.invoke(app, ["hub", "config", "--spawner", "docker", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2
    said = " ".join(bad.output.replace("│", " ").split())  # rich draws a wrapped box
    assert "'docker'" in said and "local, kube, batch" in said


def test_stack_urls_for_a_public_front_door() -> None:
    from skydock.cli.up import Stack

    local = Stack(Path("d"), host="127.0.0.1", port=8000)
    assert local.url == local.bind_url == "http://127.0.0.1:8000"
    everywhere = Stack(Path("d"), host="0.0.0.0", port=8080)
    assert everywhere.bind_url == "http://0.0.0.0:8080"
    assert everywhere.url == "http://127.0.0.1:8080"  # reachable, unlike 0.0.0.0 elsewhere
    named = Stack(Path("d"), host="0.0.0.0", port=8080, public_url="https://sky.example.org/")
    assert named.url == "https://sky.example.org"
    assert named.local_url == "http://127.0.0.1:8080"
