"""The defences refuse nothing PySD translates: every model of the project (bundled, test and
vendored conformance models, whatever is there) translates through the safe pipeline, and taking
the comments out changes nothing PySD reads but the documentation."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from carespiral.errors import FileFormatError, UnsafeModelError
from carespiral.pysd_runner.abstract import abstract_model
from carespiral.pysd_runner.translate import translation

ROOT = Path(__file__).parents[2]
SUFFIXES = (".mdl", ".xmile", ".stmx")
MODELS = sorted(
    [p for p in (ROOT / "models").glob("*.mdl")]
    + [p for p in (ROOT / "tests").rglob("*") if p.suffix.lower() in SUFFIXES
       and "security" not in p.parts and p.is_file()])


def test_the_sweep_sees_the_project_models() -> None:
    names = {p.name for p in MODELS}
    assert {"collapse_spiral.mdl", "workforce_spiral.mdl", "teacup.mdl"} <= names
    assert len(MODELS) >= 40


TRANSLATES, FAILS_LATER, CANNOT_TRANSLATE = 0, 3, 4


def _plain_pysd(path: Path, tmp_path: Path) -> int:
    """What PySD alone makes of the model, working on a copy of the model's folder in one other
    process: CANNOT_TRANSLATE, FAILS_LATER (translates, then fails to load or run) or
    TRANSLATES (and runs)."""
    copy = tmp_path / "plain"
    shutil.copytree(path.parent, copy)
    reader = "read_vensim" if path.suffix.lower() == ".mdl" else "read_xmile"
    code = (
        "import sys, warnings, pysd\nwarnings.simplefilter('ignore')\n"
        f"try:\n    m = pysd.{reader}({str(copy / path.name)!r}, initialize=False)\n"
        f"except Exception:\n    sys.exit({CANNOT_TRANSLATE})\n"
        f"try:\n    m.initialize()\n    m.run()\nexcept Exception:\n    sys.exit({FAILS_LATER})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=600)
    assert done.returncode in (TRANSLATES, FAILS_LATER, CANNOT_TRANSLATE), done.stderr[-2000:]
    return done.returncode


@pytest.mark.slow
@pytest.mark.parametrize("path", MODELS, ids=[str(p.relative_to(ROOT)) for p in MODELS])
def test_every_model_passes_the_check(path, tmp_path) -> None:
    try:
        translation(path, allow_external=True)
    except UnsafeModelError as exc:
        pytest.fail(f"the check refuses a model: {exc}")
    except FileFormatError as exc:
        # refused for another reason: only right if PySD cannot translate the model, or
        # translates it but then fails to load or run it (a mistake it finds only late, such
        # as a missing data file or simultaneous equations)
        assert _plain_pysd(path, tmp_path) != TRANSLATES, (
            f"PySD translates and runs {path.name} but carespiral refuses it: {exc}")


def _equations(am) -> object:
    """Everything PySD reads from a model except the documentation, as plain values."""
    out = []
    for section in am.sections:
        out.append((section.name, section.type, section.params, section.returns,
                    [(s.name, s.subscripts, s.mapping) for s in section.subscripts]))
        for el in section.elements:
            out.append((el.name, el.units, el.limits,
                        [(type(c).__name__, c.subscripts, c.ast) for c in el.components]))
    return _plain(out)


def _plain(obj: object) -> object:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__name__, *(_plain(getattr(obj, f.name))
                                      for f in dataclasses.fields(obj)))
    if isinstance(obj, np.ndarray):
        return ("array", obj.shape, _plain(obj.tolist()))
    if isinstance(obj, list | tuple):
        return tuple(_plain(x) for x in obj)
    if isinstance(obj, dict):
        return tuple(sorted((str(k), _plain(v)) for k, v in obj.items()))
    if isinstance(obj, float) and obj != obj:
        return "nan"
    return obj


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in MODELS if p.suffix == ".mdl"],
                         ids=[str(p.relative_to(ROOT)) for p in MODELS if p.suffix == ".mdl"])
def test_taking_comments_out_changes_nothing_else(path) -> None:
    from pysd.translators.vensim.vensim_file import VensimFile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vf = VensimFile(path)
            vf.parse()
            plain = vf.get_abstract_model()
    except Exception:  # PySD cannot parse it: neither can carespiral, with a clear error
        with pytest.raises(FileFormatError):
            abstract_model(path)
        return
    assert _equations(abstract_model(path)) == _equations(plain)
