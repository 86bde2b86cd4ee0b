"""``skydock kernel add|list|remove``: a real environment built with uv, registered as a
kernelspec, started by jupyter_client and asked which versions it runs."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel
from typer.testing import CliRunner

from skydock.cli import _register
from skydock.cli import app as cli_app
from skydock.errors import ConflictError, InvalidRequestError, NotFoundError
from skydock.jupyter.kernels import add_kernel, list_kernels, remove_kernel

pytestmark = pytest.mark.slow

PIN = "six==1.16.0"  # tiny, pure Python, in the uv cache; not the version we run


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One kernel built once for the module (the install is the slow part)."""
    data = tmp_path_factory.mktemp("data")
    req = data / "requirements.txt"
    req.write_text(f"# pinned for the course\n{PIN}\n")
    _register()
    r = CliRunner().invoke(
        cli_app, ["kernel", "add", "course-2027", "-r", str(req), "--data-dir", str(data)]
    )
    assert r.exit_code == 0, r.output
    assert "six==1.16.0" in r.output
    return data


def run_in_kernel(data: Path, name: str, code: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Found the way a user server finds it: ``<data_dir>/jupyter`` on JUPYTER_PATH."""
    monkeypatch.setenv("JUPYTER_PATH", str(data / "jupyter"))
    assert name in KernelSpecManager().find_kernel_specs()
    km, kc = start_new_kernel(kernel_name=name, startup_timeout=60)
    out: list[str] = []

    def hook(msg: dict[str, object]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream" and isinstance(content, dict):
            out.append(str(content["text"]))

    try:
        reply = kc.execute_interactive(code, output_hook=hook, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return "".join(out)


def test_the_kernel_runs_the_pinned_versions_in_its_own_environment(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = json.loads((built / "jupyter" / "kernels" / "course-2027" / "kernel.json").read_text())
    env = built / "kernels" / "course-2027"
    assert spec["argv"][0] == str(env / "bin" / "python")
    assert spec["language"] == "python"
    code = (
        "import sys, six, importlib.util\n"
        "print(six.__version__, sys.prefix, importlib.util.find_spec('skydock') is None)"
    )
    version, prefix, isolated = run_in_kernel(built, "course-2027", code, monkeypatch).split()
    assert version == "1.16.0"
    assert Path(prefix) == env
    assert isolated == "True"  # the platform's own packages are not in it


def test_list_shows_python_and_pins(built: Path) -> None:
    [k] = list_kernels(built)
    assert k.name == "course-2027"
    assert k.python == platform.python_version()  # built from the running interpreter
    assert k.pinned() == [PIN]
    r = CliRunner().invoke(cli_app, ["kernel", "list", "--data-dir", str(built)])
    assert r.exit_code == 0 and "course-2027" in r.output and PIN in r.output
    logos = sorted(p.name for p in k.spec.glob("logo-*.png"))
    assert logos == ["logo-32x32.png", "logo-64x64.png"]


def test_names_and_duplicates_are_refused(built: Path, tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text(PIN)
    with pytest.raises(ConflictError, match="exists"):
        add_kernel(built, "course-2027", req)
    for bad in ("../escape", "Upper", "", "a/b"):
        with pytest.raises(InvalidRequestError, match="invalid kernel name"):
            add_kernel(built, bad, req)
    with pytest.raises(NotFoundError, match="no requirements file"):
        add_kernel(built, "fine", tmp_path / "missing.txt")


def test_a_failed_install_registers_nothing(tmp_path: Path) -> None:
    req = tmp_path / "r.txt"
    req.write_text(f"{tmp_path / 'no-such-project'}\n")  # a local path: fails offline
    with pytest.raises(InvalidRequestError, match="nothing was registered") as caught:
        add_kernel(tmp_path, "broken", req, python=sys.executable)
    assert "pip" in str(caught.value)  # the environment was made; the install failed
    assert list_kernels(tmp_path) == []
    assert not (tmp_path / "kernels" / "broken").exists()
    specs = tmp_path / "jupyter" / "kernels"
    assert not specs.exists() or list(specs.iterdir()) == []


def test_remove_deletes_spec_and_environment(built: Path) -> None:
    req = built / "requirements.txt"
    add_kernel(built, "scratch", req)
    assert (built / "kernels" / "scratch" / "bin" / "python").exists()
    r = CliRunner().invoke(cli_app, ["kernel", "remove", "scratch", "--data-dir", str(built)])
    assert r.exit_code == 0, r.output
    assert not (built / "kernels" / "scratch").exists()
    assert not (built / "jupyter" / "kernels" / "scratch").exists()
    assert [k.name for k in list_kernels(built)] == ["course-2027"]
    with pytest.raises(NotFoundError):
        remove_kernel(built, "scratch")
