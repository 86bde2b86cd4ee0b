"""The runner's pieces without kernels: discovery, kernels, metadata, requirements."""

from __future__ import annotations

from pathlib import Path

import httpx
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from skydock.errors import SkydockError
from skydock.nbtest import requires as req
from skydock.nbtest.discover import (
    NoNotebooksError,
    choose_kernel,
    display_names,
    find_notebooks,
    parse_kernel_map,
)
from skydock.nbtest.execute import make_workdir
from skydock.nbtest.notebook import (
    BadNotebookError,
    inject_parameters,
    parse_param,
    read_meta,
)


def write_nb(path: Path, **skydock: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell("1")], metadata={"skydock": skydock}), path)
    return path


def test_find_notebooks_dirs_globs_excludes(tmp_path: Path) -> None:
    a = write_nb(tmp_path / "a" / "one.ipynb")
    b = write_nb(tmp_path / "a" / "sub" / "two.ipynb")
    write_nb(tmp_path / "a" / ".ipynb_checkpoints" / "one-checkpoint.ipynb")
    write_nb(tmp_path / "a" / ".hidden" / "x.ipynb")
    c = write_nb(tmp_path / "c" / "three.ipynb")
    assert find_notebooks([str(tmp_path / "a")]) == [a, b]
    assert find_notebooks([str(tmp_path / "*" / "*.ipynb")]) == [a, c]
    assert find_notebooks([str(tmp_path / "**" / "*.ipynb")]) == [a, b, c]
    assert find_notebooks([str(tmp_path)], exclude=["two.ipynb"]) == [a, c]
    assert find_notebooks([str(tmp_path)], exclude=["*/sub/*"]) == [a, c]
    assert find_notebooks([str(a), str(tmp_path / "a")]) == [a, b]  # no duplicates
    with pytest.raises(NoNotebooksError, match="no such notebook"):
        find_notebooks([str(tmp_path / "missing.ipynb")])
    assert display_names([a, b, c]) == ["a/one.ipynb", "a/sub/two.ipynb", "c/three.ipynb"]


def test_kernel_choice_order() -> None:
    kmap = parse_kernel_map(["02_*/*=py-old", "*.ipynb=py-new"])
    p = Path("x/02_HowTos/a.ipynb")
    assert choose_kernel(p, "02_HowTos/a.ipynb", "python3", "forced", kmap) == "py-old"
    assert choose_kernel(p, "01/a.ipynb", "python3", None, kmap) == "py-new"
    assert choose_kernel(p, "01/a.ipynb", "python3", "forced", []) == "forced"
    assert choose_kernel(p, "01/a.ipynb", "python3", None, []) == "python3"
    with pytest.raises(SkydockError, match="GLOB=KERNEL"):
        parse_kernel_map(["nokernel"])


def test_parameters_go_after_the_tagged_cell_or_first() -> None:
    nb = new_notebook(cells=[new_code_cell("a = 1"), new_code_cell("x = 1"), new_code_cell("y")])
    nb.cells[1].metadata["tags"] = ["parameters"]
    inject_parameters(nb, {"x": 2, "name": "m31"})
    assert nb.cells[2].source.endswith("x = 2\nname = 'm31'\n")
    inject_parameters(nb, {"x": 3})  # replaces, does not stack
    assert [c.source.count("x = ") for c in nb.cells].count(1) == 2
    plain = new_notebook(cells=[new_code_cell("y")])
    inject_parameters(plain, {"x": 1})
    assert plain.cells[0].metadata["tags"] == ["injected-parameters"]
    with pytest.raises(BadNotebookError, match="identifier"):
        inject_parameters(plain, {"not valid": 1})
    assert parse_param("n=5") == ("n", 5)
    assert parse_param("names=[1, 2]") == ("names", [1, 2])
    assert parse_param("label=m 31") == ("label", "m 31")


def test_metadata_is_checked() -> None:
    nb = new_notebook(metadata={"skydock": {"requires": "env:X", "timeout": 5, "skip": ""}})
    meta = read_meta(nb)
    assert (meta.requires, meta.timeout, meta.skip) == (["env:X"], 5.0, None)
    for bad, msg in (
        ({"requries": []}, "unknown metadata.skydock keys"),
        ({"timeout": -1}, "seconds > 0"),
        ({"requires": [1]}, "list of strings"),
        ({"parameters": [1]}, "must be an object"),
    ):
        with pytest.raises(BadNotebookError, match=msg):
            read_meta(new_notebook(metadata={"skydock": bad}))


def test_requirements(tmp_path: Path) -> None:
    with pytest.raises(BadNotebookError, match="not understood"):
        req.split("tap")
    with pytest.raises(BadNotebookError, match="unknown service 'tpa'"):
        req.split("service:tpa")
    nobody = req.Platform("http://127.0.0.1:9", None, timeout=2)
    assert req.check(["env:HOME_X"], nobody, {"HOME_X": "1"}) is None
    assert "HOME_Y is not set" in (req.check(["env:HOME_Y"], nobody, {}) or "")
    assert "no Skydock server answers" in (req.check(["service:tap"], nobody, {}) or "")
    assert "cannot list the tables" in (req.check(["table:demo.x"], nobody, {}) or "")
    assert req.modules(["module:numpy", "env:A"]) == ["numpy"]


def test_requirements_against_a_fake_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_get(url: str, headers: dict[str, str], timeout: float) -> httpx.Response:
        path = url.removeprefix("http://sky")
        request = httpx.Request("GET", url)
        if path == "/api/tables":
            return httpx.Response(200, json=[{"name": "demo.smash"}], request=request)
        if path == "/api/storage/quota":
            return httpx.Response(401, json={}, request=request)
        return httpx.Response(404, request=request)

    monkeypatch.setattr(req.httpx, "get", fake_get)
    sky = req.Platform("http://sky", "tok")
    assert req.check(["service:api", "service:storage", "table:DEMO.smash"], sky, {}) is None
    assert "service tap is not offered" in (req.check(["service:tap"], sky, {}) or "")
    assert "table demo.gone is not at" in (req.check(["table:demo.gone"], sky, {}) or "")


def test_workdir_copies_small_files_and_links_directories(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data" / "big.fits").write_bytes(b"x")
    (src / "helper.py").write_text("X = 1\n")
    (src / ".secret").write_text("no")
    nb = write_nb(src / "a.ipynb")
    work = make_workdir(nb, keep_out=[])
    assert (work / "helper.py").read_text() == "X = 1\n"
    assert not (work / "helper.py").is_symlink()
    assert (work / "data").is_symlink() and (work / "data" / "big.fits").exists()
    assert not (work / ".secret").exists()
    (work / "helper.py").write_text("changed")
    assert (src / "helper.py").read_text() == "X = 1\n"
