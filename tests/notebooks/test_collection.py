"""The notebook collection's house rules, checked on the stored files.

Running the notebooks is ``make nbtest``'s job; these checks are the ones a reviewer would
otherwise do by eye, and they are cheap enough to run with the unit tests: stored without
outputs, a first markdown cell that says what the notebook teaches, metadata the runner
accepts, every demo table a notebook queries declared in ``requires`` and built by
``make nbtest``, no secrets, and an index that lists everything.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from skydock.demo import TABLES
from skydock.nbtest.notebook import read_meta
from skydock.nbtest.requires import split

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "notebooks"
NOTEBOOKS = sorted(p for p in COLLECTION.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
DEMO_TABLE = re.compile(r"\bdemo\.([a-z_]+)\b")
# A Data Lab-shaped token with a real secret in it (user.uid.gid.$1$ and 22+ characters).
TOKEN = re.compile(r"[A-Za-z0-9_]+\.\d+\.\d+\.\$1\$[A-Za-z0-9_\-./]{22,}")


def _id(path: Path) -> str:
    return str(path.relative_to(COLLECTION))


def _code(nb: nbformat.NotebookNode) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_the_collection_is_there() -> None:
    folders = {p.parent.name for p in NOTEBOOKS}
    assert {"01_GettingStarted", "02_HowTos", "03_ScienceExamples", "04_Education",
            "05_Contrib"} <= folders  # fmt: skip
    assert (COLLECTION / "05_Contrib" / "Template.ipynb") in NOTEBOOKS
    assert (COLLECTION / "CONTRIBUTING.md").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_is_stored_clean_and_starts_by_saying_what_it_teaches(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"cell {i} has stored outputs; clear them before committing"
            assert cell.execution_count is None, f"cell {i} has an execution count"
    first = nb.cells[0]
    assert first.cell_type == "markdown", "the first cell must be markdown"
    assert first.source.startswith("# "), "the first cell must start with a '# Title'"
    assert re.search(r"learn|teach", first.source, re.IGNORECASE), (
        "the first cell must say what the notebook teaches"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_requires_declares_every_demo_table_the_notebook_queries(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    meta = read_meta(nb)  # raises on metadata the runner would reject
    declared = set()
    for requirement in meta.requires:
        kind, value = split(requirement)
        if kind == "table":
            declared.add(value.lower())
    used = {f"demo.{name}" for name in DEMO_TABLE.findall(_code(nb))}
    assert used <= declared, f"queried but not in requires: {sorted(used - declared)}"
    for table in declared:
        schema, _, name = table.partition(".")
        assert schema == "demo" and name in TABLES, f"{table} is not a demo table"


def test_make_nbtest_builds_every_table_the_collection_requires() -> None:
    makefile = (ROOT / "Makefile").read_text()
    built = set(re.search(r"^NBTEST_TABLES\s*:?=\s*(\S+)", makefile, re.M)[1].split(","))  # type: ignore[index]
    needed = set()
    for path in NOTEBOOKS:
        for requirement in read_meta(nbformat.read(path, as_version=4)).requires:
            kind, value = split(requirement)
            if kind == "table" and value.lower().startswith("demo."):
                needed.add(value.lower().removeprefix("demo."))
    assert needed <= built, f"make nbtest does not build {sorted(needed - built)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_no_secrets_in_the_notebook(path: Path) -> None:
    text = path.read_text()
    assert not TOKEN.search(text), "a token is written into the notebook"
    assert not re.search(r"password\s*=\s*['\"][^'\"]+['\"]", text, re.IGNORECASE)


def test_the_index_lists_every_notebook() -> None:
    index = (COLLECTION / "README.md").read_text()
    links = set(re.findall(r"\]\(([^)]+\.ipynb)\)", index))
    assert links == {_id(p) for p in NOTEBOOKS}, "notebooks/README.md and the files disagree"
