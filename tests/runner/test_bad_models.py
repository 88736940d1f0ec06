"""Bad models and runs too big to finish: each a clear error, never a traceback or a run
without end. One table, checked through the API and through the command line (exit code 2)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.errors import CarespiralError, FileFormatError, RunTooLargeError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.mdl_text import MAX_COMMENT
from carespiral.pysd_runner.units import check_units

CONTROL = """
FINAL TIME  = 12
\t~\tMonth
\t~\tThe final time for the simulation.
\t|

INITIAL TIME  = 0
\t~\tMonth
\t~\tThe initial time for the simulation.
\t|

SAVEPER  = 1
\t~\tMonth [0,?]
\t~\tThe frequency with which output is stored.
\t|

TIME STEP  = 1
\t~\tMonth [0,?]
\t~\tThe time step for the simulation.
\t|
"""


def mdl(*equations: str) -> str:
    body = "".join(f"{e}\n\t|\n\n" for e in equations)
    return "{UTF-8}\n" + body + CONTROL


VALID = mdl("Rate=\n\t3\n\t~\tWidgets/Month [0,10]\n\t~\tThe rate.",
            "Stock= INTEG (Rate, 0)\n\t~\tWidgets\n\t~\tAccumulates the rate.")


@dataclass(frozen=True)
class Case:
    name: str
    content: str | bytes
    api: Callable[[Path], object]  # what the API call does with the model file
    error: type[Exception]
    says: tuple[str, ...]  # fragments of the message
    cli: tuple[str, ...] = ("run", "{path}")
    cli_says: tuple[str, ...] = field(default_factory=tuple)


def _run(**kw) -> Callable[[Path], object]:
    return lambda path: load(path).run(**kw)


def _batch(**kw) -> Callable[[Path], object]:
    return lambda path: load(path).run_batch(pd.DataFrame({"Rate": [1.0, 2.0]}), **kw)


CASES = [
    Case("simultaneous equations",
         mdl("A=\n\tB + 1\n\t~\tDmnl\n\t~\t", "B=\n\tA * 0.5\n\t~\tDmnl\n\t~\t",
             "S= INTEG (A, 0)\n\t~\tDmnl\n\t~\t"),
         load, FileFormatError, ("simultaneous equations", "B -> A -> B", "stock")),
    Case("constant division by zero",
         mdl("Zero=\n\t0\n\t~\tDmnl\n\t~\t", "Ratio=\n\t1 / Zero\n\t~\tDmnl\n\t~\t",
             "S= INTEG (Ratio, 0)\n\t~\tDmnl\n\t~\t"),
         _run(), CarespiralError, ("'Ratio'", "divides by zero")),
    Case("malformed units range",
         mdl("Rate=\n\t3\n\t~\tPeople/Month [0, c]\n\t~\t", "S= INTEG (Rate, 0)\n\t~\tDmnl\n\t~\t"),
         load, FileFormatError, ("line 2", "'Rate'", "[0, c]", "range")),
    Case("empty file", "", load, FileFormatError, ("model.mdl", "empty"),
         cli=("describe", "{path}")),
    Case("only blank lines", "\n\n  \t\n", load, FileFormatError, ("empty",),
         cli=("describe", "{path}")),
    Case("binary file", bytes(range(256)) * 40, load, FileFormatError, ("not a text file",),
         cli=("describe", "{path}")),
    Case("units check of an empty file", "", check_units, FileFormatError, ("empty",),
         cli=("check", "{path}")),
    Case("units check of a binary file", bytes(range(256)) * 40, check_units, FileFormatError,
         ("not a text file",), cli=("check", "{path}")),
    Case("undefined variable",
         mdl("Rate=\n\tMissing * 2\n\t~\tDmnl\n\t~\t", "S= INTEG (Rate, 0)\n\t~\tDmnl\n\t~\t"),
         load, FileFormatError, ("'missing'", "not defined")),
    Case("code in a lookup range",
         mdl("Effect(\n\t[(0,0)-(1,1)+__import__('os').getcwd()],(0,0),(1,1))\n\t~\tDmnl\n\t~\t",
             "S= INTEG (Effect(1), 0)\n\t~\tDmnl\n\t~\t"),
         load, FileFormatError, ("line 3", "lookup range", "numbers")),
    Case("a stop far away", VALID, _run(stop=1e12), RunTooLargeError,
         ("1,000,000,000,000", "integration steps", "limit", "CARESPIRAL_MAX_STEPS"),
         cli=("run", "{path}", "--stop", "1e12")),
    Case("a tiny time step", VALID, _run(time_step=1e-9), RunTooLargeError,
         ("12,000,000,000", "integration steps"), cli=("run", "{path}", "--time-step", "1e-9")),
    Case("a tiny batch time step", VALID, _batch(time_step=1e-12), RunTooLargeError,
         ("12,000,000,000,000", "integration steps"),
         cli=("run", "{path}", "--time-step", "1e-12")),
    Case("a batch too big to keep", VALID,
         lambda path: load(path).run_batch(pd.DataFrame({"Rate": np.ones(10_000_000)})),
         RunTooLargeError, ("10,000,000 runs", "of results", "over the limit of 1.0 GiB",
                            "CARESPIRAL_MAX_MEMORY"),
         cli=("ensemble", "{path}", "--lhs", "10000000", "--vary", "Rate=1:2")),
]


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "model.mdl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CARESPIRAL_MAX_MEMORY", str(2**30))  # the same limit on any machine


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_api_gives_a_clear_error(tmp_path, case) -> None:
    path = _write(tmp_path, case.content)
    with pytest.raises(case.error) as err:
        case.api(path)
    for fragment in case.says:
        assert fragment in str(err.value), str(err.value)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_gives_a_clear_error_and_exit_code_2(tmp_path, case) -> None:
    path = _write(tmp_path, case.content)
    args = [a.replace("{path}", str(path)) for a in case.cli]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.output.lstrip().startswith("Error: ")
    for fragment in (*case.says, *case.cli_says):
        assert fragment in " ".join(result.output.split()), result.output


def test_a_huge_comment_is_cut_for_documentation_and_the_model_runs(tmp_path) -> None:
    comment = "word " * 10_000_000  # 50 MB
    path = _write(tmp_path, VALID.replace("The rate.", comment))
    m = load(path)
    text = m.doc.loc["Rate", "description"]
    assert len(text) < MAX_COMMENT + 100 and "comment cut: 50,0" in text
    assert m.run(outputs=["Stock"])["Stock"].iloc[-1] == 36
    result = CliRunner().invoke(app, ["describe", str(path)])
    assert result.exit_code == 0, result.output


def test_the_limits_can_be_raised(tmp_path, monkeypatch) -> None:
    path = _write(tmp_path, VALID)
    monkeypatch.setenv("CARESPIRAL_MAX_STEPS", "1000")
    with pytest.raises(RunTooLargeError, match="12,000 integration steps"):
        load(path).run(time_step=1e-3)
    monkeypatch.setenv("CARESPIRAL_MAX_STEPS", "20000")
    df = load(path).run(time_step=1e-3, saveper=1, outputs=["Stock"])
    assert df["Stock"].iloc[-1] == pytest.approx(36)


def test_a_copied_model_keeps_its_folder_in_the_cache_key(tmp_path) -> None:
    a = _write(tmp_path, VALID)
    (tmp_path / "other").mkdir()
    b = tmp_path / "other" / "model.mdl"
    shutil.copyfile(a, b)
    assert load(a).load_info.translated.parent != load(b).load_info.translated.parent


def test_a_model_pysd_cannot_run_is_named_as_pysds_limit_and_the_batch_engines_run_it():
    """A DELAY FIXED with a delay time by subscript: valid Vensim, which PySD 3.14's run-time code
    compares as one number. Loading names the variable and PySD's limit (not "internal error");
    the batch engines run it."""
    from carespiral.errors import ModelRunError
    from carespiral.pysd_runner.batch import compile_model

    mdl = Path(__file__).resolve().parents[1] / "batch" / "models" / "arrays.mdl"
    with pytest.raises(ModelRunError, match=r"cannot run the equation of 'Delayed'.*limit of PySD"):
        load(mdl)
    r = CliRunner().invoke(app, ["ensemble", str(mdl), "--lhs", "2", "--vary", "Base[North]=1:2"])
    assert r.exit_code != 0 and "limit of PySD" in r.output and "Internal error" not in r.output
    ds = compile_model(mdl).run(pd.DataFrame({"Base[North]": [1.0, 2.0]}),
                                outputs=["Delayed[North]"])
    assert np.isfinite(ds["Delayed[North]"].to_numpy()).all()
