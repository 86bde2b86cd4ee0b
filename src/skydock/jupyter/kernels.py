"""Shared Jupyter kernels with pinned software: one virtual environment each.

``<data_dir>/kernels/<name>/`` holds the environment (requirements plus ipykernel) and
``<data_dir>/jupyter/kernels/<name>/kernel.json`` registers it; the hub puts
``<data_dir>/jupyter`` on every user server's ``JUPYTER_PATH``, so every user sees it.
A notebook that names the kernel keeps running on the same versions after the
platform's own environment moves on (what DESI does with its versioned kernels).

The kernelspec is written last, into a hidden directory renamed into place, so a kernel
whose install failed is never visible; its half-built environment is removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from skydock.errors import ConflictError, InvalidRequestError, NotFoundError

KERNEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SPECS_DIR = Path("jupyter") / "kernels"
ENVS_DIR = Path("kernels")
REQUIREMENTS = "skydock-requirements.txt"
FREEZE = "skydock-freeze.txt"
INSTALL_TIMEOUT_S = 1800.0

_PROBE = (
    "import json, platform, ipykernel; "
    "print(json.dumps({'python': platform.python_version(), 'ipykernel': ipykernel.__version__}))"
)


@dataclass(frozen=True)
class KernelInfo:
    """A registered kernel: what ``skydock kernel list`` shows."""

    name: str
    display_name: str
    python: str
    env: Path
    spec: Path
    requested: list[str] = field(default_factory=list)
    installed: dict[str, str] = field(default_factory=dict)

    def pinned(self) -> list[str]:
        """The requested packages with the versions actually installed."""
        out = []
        for line in self.requested:
            key = _dist_name(line)
            version = self.installed.get(key)
            out.append(f"{key}=={version}" if version else line)
        return out


def check_name(name: str) -> str:
    if not KERNEL_NAME.fullmatch(name):
        raise InvalidRequestError(
            f"invalid kernel name {name!r}: use 1-64 lower-case letters, digits, '.', '-' "
            "and '_', starting with a letter or digit"
        )
    return name


def add_kernel(
    data_dir: Path,
    name: str,
    requirements: Path,
    *,
    display_name: str | None = None,
    python: str | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> KernelInfo:
    """Build the environment, install ``requirements`` and ipykernel, register the spec."""
    check_name(name)
    if not requirements.is_file():
        raise NotFoundError(f"no requirements file {requirements}")
    (data_dir / ENVS_DIR).mkdir(parents=True, exist_ok=True)
    # Two builds of one name at once would delete each other's environment.
    with (data_dir / ENVS_DIR / f".{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _add_locked(data_dir, name, requirements, display_name, python, say)


def _add_locked(
    data_dir: Path,
    name: str,
    requirements: Path,
    display_name: str | None,
    python: str | None,
    say: Callable[[str], None],
) -> KernelInfo:
    spec = data_dir / SPECS_DIR / name
    env = data_dir / ENVS_DIR / name
    if spec.exists():
        raise ConflictError(f"a kernel named {name!r} exists; remove it first or pick a new name")
    if env.exists():  # left by an install that died before registering: never visible
        shutil.rmtree(env)
    staging = spec.parent / f".building-{name}-{secrets.token_hex(4)}"
    try:
        env.parent.mkdir(parents=True, exist_ok=True)
        say(f"creating the environment {env}")
        _make_env(env, python or sys.executable)
        say(f"installing {requirements.name} and ipykernel")
        _install(env, requirements)
        probe = json.loads(_run([str(_python(env)), "-c", _PROBE]).strip().splitlines()[-1])
        shutil.copyfile(requirements, env / REQUIREMENTS)
        (env / FREEZE).write_text(_freeze(env))
        staging.mkdir(parents=True)
        _write_spec(staging, env, name, display_name or f"Python {probe['python']} ({name})")
        staging.rename(spec)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(env, ignore_errors=True)
        raise
    say(f"registered {spec / 'kernel.json'}")
    return _info(spec)


def list_kernels(data_dir: Path) -> list[KernelInfo]:
    root = data_dir / SPECS_DIR
    if not root.is_dir():
        return []
    return [
        _info(p)
        for p in sorted(root.iterdir())
        if not p.name.startswith(".") and (p / "kernel.json").is_file()
    ]


def remove_kernel(data_dir: Path, name: str) -> None:
    """Unregister first (nobody can start it any more), then delete the environment."""
    check_name(name)
    spec = data_dir / SPECS_DIR / name
    env = data_dir / ENVS_DIR / name
    if not spec.exists() and not env.exists():
        raise NotFoundError(f"no kernel named {name!r}; `skydock kernel list` shows them")
    if spec.exists():
        gone = spec.parent / f".removing-{name}-{secrets.token_hex(4)}"
        spec.rename(gone)
        shutil.rmtree(gone)
    shutil.rmtree(env, ignore_errors=True)


# -- building -------------------------------------------------------------------------


def _uv() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv

        return [uv.find_uv_bin()]
    except ImportError:
        return None


def _python(env: Path) -> Path:
    return env / "bin" / "python"


def _make_env(env: Path, python: str) -> None:
    uv = _uv()
    if uv is not None:
        _run([*uv, "venv", "--quiet", "--python", python, str(env)])
    else:
        _run([python, "-m", "venv", str(env)])


def _install(env: Path, requirements: Path) -> None:
    uv = _uv()
    if uv is not None:
        cmd = [*uv, "pip", "install", "--python", str(_python(env))]
    else:
        cmd = [str(_python(env)), "-m", "pip", "install", "--disable-pip-version-check"]
    _run([*cmd, "-r", str(requirements), "ipykernel"])


def _freeze(env: Path) -> str:
    uv = _uv()
    if uv is not None:
        return _run([*uv, "pip", "freeze", "--python", str(_python(env))])
    return _run([str(_python(env)), "-m", "pip", "freeze"])


def _run(cmd: list[str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=clean, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidRequestError(f"building the kernel failed: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:]) or "no message"
        raise InvalidRequestError(
            f"building the kernel failed ({Path(cmd[0]).name} {cmd[1]}): {tail}\n"
            "nothing was registered"
        )
    return done.stdout


def _write_spec(spec: Path, env: Path, name: str, display_name: str) -> None:
    body = {
        "argv": [str(_python(env)), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "metadata": {"skydock": {"name": name, "env": str(env)}},
    }
    (spec / "kernel.json").write_text(json.dumps(body, indent=1) + "\n")
    # ipykernel ships its logos; Jupyter shows them in the launcher.
    for logo in env.glob("lib/python*/site-packages/ipykernel/resources/logo-*.png"):
        shutil.copyfile(logo, spec / logo.name)


def _info(spec: Path) -> KernelInfo:
    body = json.loads((spec / "kernel.json").read_text())
    env = Path(body.get("metadata", {}).get("skydock", {}).get("env", spec))
    requested = []
    if (env / REQUIREMENTS).is_file():
        for raw in (env / REQUIREMENTS).read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                requested.append(line)
    installed = {}
    if (env / FREEZE).is_file():
        for line in (env / FREEZE).read_text().splitlines():
            dist, sep, version = line.partition("==")
            if sep:
                installed[_normal(dist)] = version.strip()
    return KernelInfo(
        name=spec.name,
        display_name=body.get("display_name", spec.name),
        python=_python_version(env),
        env=env,
        spec=spec,
        requested=requested,
        installed=installed,
    )


def _python_version(env: Path) -> str:
    try:
        for line in (env / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version_info", "version"):
                return value.strip()
    except FileNotFoundError:
        pass
    return "unknown"


def _dist_name(requirement: str) -> str:
    return _normal(re.split(r"[\s<>=!~;\[@]", requirement, maxsplit=1)[0])


def _normal(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()
