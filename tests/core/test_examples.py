"""The documentation's examples run: every ```python block of the README and the guides (in
order, one namespace per file, in an empty folder) and the `>>>` examples of the modules that
show the way in to each layer. Documentation that drifts from the code fails here."""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "docs/architecture.md", "docs/data.md", "docs/calibration.md",
        "docs/exploration.md"]
MODULES = ["carespiral", "carespiral.data", "carespiral.data.loader",
           "carespiral.pysd_runner.calendar", "carespiral.exploration.designs",
           "carespiral.calibration", "carespiral.results"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(first line, code) of each ```python block."""
    text = path.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in _BLOCK.finditer(text)]


@pytest.fixture
def own_registries(monkeypatch):
    """The examples may add methods and designs: to copies, for this test only."""
    import carespiral.calibration.methods as methods
    import carespiral.exploration.designs as designs

    monkeypatch.setattr(methods, "METHODS", dict(methods.METHODS))
    monkeypatch.setattr(designs, "DESIGNS", dict(designs.DESIGNS))


@pytest.mark.parametrize("doc", DOCS)
def test_the_python_examples_of_the_docs_run(doc, tmp_path, monkeypatch, own_registries):
    blocks = python_blocks(ROOT / doc)
    assert blocks, f"{doc} has no ```python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__example__"}
    for line, code in blocks:
        # a failure points at the document and line: e.g. README.md:60
        exec(compile("\n" * (line - 1) + code, doc, "exec"), namespace)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_a_broken_example_is_caught(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("text\n\n```python\nfrom carespiral.data import lod\n```\n")
    ((line, code),) = python_blocks(doc)
    assert line == 4
    with pytest.raises(ImportError):
        exec(compile("\n" * (line - 1) + code, str(doc), "exec"), {})
