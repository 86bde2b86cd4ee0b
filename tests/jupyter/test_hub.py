"""The whole stack as ``skydock up`` runs it: API + JupyterHub + configurable-http-proxy on
one 127.0.0.1 port, a demo account, real spawned JupyterLab servers, and a real browser.

One module-scoped stack is shared by every test here (starting it costs tens of seconds);
its teardown checks that stopping it leaves none of its processes behind.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from skydock.cli.up import Stack, free_port
from skydock.server.services.auth import AuthService
from tests.browser import artifact, chromium

# One hub for the module: every test of it runs on the same xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hub")]

ROWS = 20_000
SPAWN_TIMEOUT_S = 150.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from skydock.demo.build import build_demo

    data_dir = tmp_path_factory.mktemp("hub") / "data"
    build_demo(data_dir, only="objects", rows=ROWS, progress=False)
    s = Stack(data_dir, port=free_port(), cull_timeout=600)
    try:
        s.start()
        yield s
    finally:
        family = [psutil.Process(p.pid) for p in s.procs if p.poll() is None]
        family += [c for p in list(family) for c in p.children(recursive=True)]
        s.stop()
        _, alive = psutil.wait_procs(family, timeout=10)
        assert not alive, f"left running after stop: {[p.cmdline() for p in alive]}"
        assert s.accounts is not None
        assert not _auth(data_dir).token_is_live(s.accounts.hub_token)  # revoked on stop


def _auth(data_dir: Path) -> AuthService:
    from skydock.server.config import Config
    from skydock.server.factory import Factory

    return Factory(Config(data_dir=data_dir)).auth_service()


def _password(stack: Stack) -> str:
    assert stack.accounts is not None and stack.accounts.demo_password
    return stack.accounts.demo_password


def _xsrf(http: httpx.Client) -> str:
    page = http.get("/hub/login")
    found = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def _login(
    stack: Stack, password: str, username: str = "demo"
) -> tuple[httpx.Client, httpx.Response]:
    http = httpx.Client(base_url=stack.url, follow_redirects=True, timeout=60)
    r = http.post(
        "/hub/login", data={"username": username, "password": password, "_xsrf": _xsrf(http)}
    )
    return http, r


def _server_process(stack: Stack) -> psutil.Process:
    """The demo user's single-user server, a child of the hub, once it answers."""
    hub = psutil.Process(stack.procs[-1].pid)
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    while time.monotonic() < deadline:
        for child in hub.children(recursive=True):
            try:
                env = child.environ()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if env.get("JUPYTERHUB_USER") == "demo" and "jupyterhub.singleuser" in " ".join(
                child.cmdline()
            ):
                return child
        time.sleep(0.5)
    pytest.fail("the demo user's server did not start")


def test_one_origin_serves_api_tap_docs_and_hub(stack: Stack) -> None:
    http = httpx.Client(base_url=stack.url, timeout=30)
    tables = http.get("/api/tables")
    assert tables.status_code == 200
    assert "demo.objects" in tables.text
    assert http.get("/tap/capabilities").status_code == 200
    assert http.get("/docs").status_code == 200
    assert http.get("/openapi.json").json()["info"]["title"] == "Skydock"
    assert http.get("/auth").text.lower().startswith("hello world")  # Data Lab isAlive
    landing = http.get("/", follow_redirects=True)
    assert landing.url.path == "/hub/login"
    assert 'name="password"' in landing.text


def test_hub_login_accepts_the_password_and_refuses_others(stack: Stack) -> None:
    _, bad = _login(stack, "not-the-password")
    assert bad.status_code == 403
    assert "Invalid username or password" in bad.text
    _, good = _login(stack, _password(stack))
    assert good.status_code == 200
    # Logged in: straight on to the user's server (spawning it if needed).
    assert good.url.path.startswith(("/hub/spawn", "/user/demo/")), good.url


def test_hub_shares_the_apis_lockout(stack: Stack) -> None:
    """Wrong passwords through the hub lock the account in the API too, and the hub's
    refusal then says why; the API refuses the right password as well."""
    auth = _auth(stack.data_dir)
    auth.add_user("locky", "locky-password")
    limit = auth.policy.max_failed_logins
    for _ in range(limit):
        _, r = _login(stack, "wrong-password", username="locky")
        assert r.status_code == 403
    _, locked = _login(stack, "locky-password", username="locky")
    assert locked.status_code == 429
    assert "try again" in locked.text.lower() or "locked" in locked.text.lower(), locked.text
    api = httpx.post(
        f"{stack.url}/api/auth/login",
        data={"username": "locky", "password": "locky-password"},
        timeout=30,
    )
    assert api.status_code == 429


def test_spawned_server_has_url_and_working_token(stack: Stack) -> None:
    http, _ = _login(stack, _password(stack))
    http.get("/hub/spawn", timeout=SPAWN_TIMEOUT_S)
    server = _server_process(stack)
    env = server.environ()
    assert env["SKYDOCK_URL"] == stack.url
    home = Path(env["HOME"])
    assert home == stack.data_dir / "home" / "demo"
    token = env["SKYDOCK_TOKEN"]
    who = httpx.get(
        f"{stack.url}/api/auth/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ).json()
    assert who == {"username": "demo", "anonymous": False, "admin": False}
    assert (home / "storage").resolve() == (stack.data_dir / "storage" / "demo").resolve()
    assert (home / "notebooks-latest" / "01_GettingStarted" / "FirstQuery.ipynb").exists()
    assert str(stack.data_dir / "jupyter") in env["JUPYTER_PATH"].split(":")

    # The unmodified Data Lab client, in the server's own environment, with no login.
    script = (
        "import json\nfrom dl import authClient as ac, queryClient as qc\n"
        "n = qc.query(sql='SELECT count(*) AS n FROM demo.objects', fmt='csv')\n"
        "print(json.dumps([ac.whoAmI(), n.splitlines()[1]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == ["demo", str(ROWS)]


def test_browser_runs_getting_started(stack: Stack) -> None:
    """Log in as demo in Chromium, open the Getting Started notebook, run it, see a table."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(SPAWN_TIMEOUT_S * 1000)
        try:
            page.goto(f"{stack.url}/")
            page.fill("input[name=username]", "demo")
            page.fill("input[name=password]", _password(stack))
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url(re.compile(r".*/user/demo/lab.*"))
            page.goto(
                f"{stack.url}/user/demo/lab/tree/notebooks-latest/01_GettingStarted/"
                "FirstQuery.ipynb"
            )
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for()
            page.click("li.lm-MenuBar-item:has-text('Run')")
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
            # The last cell's answer: the aggregate as a rendered pandas table.
            table = page.wait_for_selector(".jp-OutputArea-output table.dataframe >> nth=-1")
            assert table is not None
            page.wait_for_function(
                "document.querySelectorAll('.jp-OutputArea-output table.dataframe').length >= 2"
            )
            text = page.inner_text(".jp-Notebook")
            assert "Traceback" not in text
            assert "objects" in text
            headers = page.eval_on_selector_all(
                ".jp-OutputArea-output table.dataframe th", "els => els.map(e => e.innerText)"
            )
            assert "ra" in headers and "n" in headers
        finally:
            page.screenshot(path=str(artifact("hub-getting-started.png")), full_page=True)


def test_idle_culler_runs_as_a_hub_service(stack: Stack) -> None:
    hub = psutil.Process(stack.procs[-1].pid)
    commands = [" ".join(c.cmdline()) for c in hub.children(recursive=True)]
    assert any("jupyterhub_idle_culler" in c and "--timeout=600" in c for c in commands), commands


def test_skydock_up_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    """The command itself: prints the URL and login, then SIGINT leaves nothing running."""
    from skydock.demo.build import build_demo

    data_dir = tmp_path / "data"
    build_demo(data_dir, only="objects", rows=2000, progress=False)
    port = free_port()
    exe = str(Path(sys.executable).with_name("skydock"))
    up = subprocess.Popen(
        [exe, "up", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert up.stdout is not None
    said = []
    try:
        for line in up.stdout:
            said.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(said)
        assert f"Skydock is up on http://127.0.0.1:{port}" in text, text
        password = (data_dir / "hub" / "demo-password").read_text().strip()
        assert f"demo / {password}" in text  # shown once, on creation
        family = psutil.Process(up.pid).children(recursive=True)
        family += [c for p in list(family) for c in p.children(recursive=True)]
        assert httpx.get(f"http://127.0.0.1:{port}/api/tables", timeout=30).status_code == 200
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, rest
    assert "stopped" in rest
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    assert password not in (data_dir / "hub" / "logs" / "hub.log").read_text()
    assert password not in (data_dir / "hub" / "logs" / "api.log").read_text()
