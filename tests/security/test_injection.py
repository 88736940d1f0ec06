"""A model file cannot run code: free text is taken out before PySD translates it, and the
translated module is checked before it is imported.

The matrix: every free-text vector of `vectors` (comments, macro comments, units, group
names and comments, lookups, external file and sheet names, variable names, the file name, an
XMILE <doc>) through `load` and a run; the comment vectors through every command (describe, run,
ensemble on both batch engines, tipping, check, calibrate) and every `run_batch` backend.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.errors import CarespiralError, FileFormatError
from carespiral.pysd_runner import load

# ---- the vectors: a payload that creates a marker file, in one free-text field each ---------

CONTROL = """
********************************************************
\t.Control
********************************************************~
\t\tSimulation Control Parameters
\t|

FINAL TIME  = 24
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

\\\\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
"""

RATE = "Rate=\n\t3\n\t~\t{units}\n\t~\t{comment}\n\t|\n\n"
STOCK = "Stock= INTEG (\n\t{flow},\n\t\t0)\n\t~\tWidgets\n\t~\tAccumulates the rate.\n\t|\n\n"


def double_quoted(marker: Path) -> str:
    """Closes a docstring, runs the payload, opens another."""
    return f'""" ; __import__(\'pathlib\').Path(r\'{marker}\').touch() ; """'


def single_quoted(marker: Path) -> str:
    """Closes a '...' string literal, runs the payload, opens another."""
    return f"' + str(__import__('pathlib').Path(r'{marker}').touch()) + '"


@dataclass(frozen=True)
class Vector:
    name: str
    text: str  # the whole .mdl file
    loads: bool  # whether the model is valid once its free text is made harmless
    file_name: str = "model.mdl"


def vectors(marker: Path) -> list[Vector]:
    dq, sq = double_quoted(marker), single_quoted(marker)

    def model(units: str = "Widgets/Month [0,10]", comment: str = "The rate.",
              flow: str = "Rate", extra: str = "", control: str = CONTROL) -> str:
        return ("{UTF-8}\n" + extra + RATE.format(units=units, comment=comment)
                + STOCK.format(flow=flow) + control)

    macro = (":MACRO: DOUBLE(x)\nDOUBLE = 2 * x\n\t~\tWidgets/Month\n\t~\t" + dq
             + "\n\t|\n\n:END OF MACRO:\n\n")
    lookup = ("Effect(\n\t[(0,0)-(10,10)],(0,0),(10,10))\n\t~\tDmnl\n\t~\t" + dq
              + "\n\t|\n\n")
    return [
        Vector("comment", model(comment=dq), True),
        Vector("comment, single quotes", model(comment=dq.replace('"', "'")), True),
        Vector("comment with a backslash", model(comment="\\" + dq + "\\"), True),
        Vector("comment with a line break", model(comment='"""\n' + dq[3:]), True),
        Vector("macro comment", model(extra=macro, flow="DOUBLE(Rate)"), True),
        Vector("units", model(units=f"Widgets{dq} [0,10]"), True),
        Vector("group name", model(control=CONTROL.replace(".Control", ".Control" + dq)), True),
        Vector("group comment",
               model(control=CONTROL.replace("Simulation Control Parameters", dq)), True),
        Vector("lookup comment", model(extra=lookup, flow="Effect(Rate)"), True),
        Vector("lookup range",
               model(extra=f"Effect(\n\t[{sq[4:-4]}],(0,0),(10,10))\n\t~\tDmnl\n\t~\t\n\t|\n\n",
                     flow="Effect(Rate)"), False),
        Vector("WITH LOOKUP range",
               model(extra=f"Effect=\n\tWITH LOOKUP(Rate, ([{sq[4:-4]}],(0,0),(10,10)))\n"
                     "\t~\tDmnl\n\t~\t\n\t|\n\n", flow="Effect"), False),
        Vector("lookup sheet name",
               model(extra=f"Table(\n\tGET DIRECT LOOKUPS('data.csv', '{sq}', 'A', 'B2'))\n"
                     "\t~\tDmnl\n\t~\t\n\t|\n\n", flow="Table(Rate)"), False),
        Vector("external file name",
               model(extra=f"Level=\n\tGET DIRECT CONSTANTS('x.csv{sq}', ',', 'B2')\n"
                     "\t~\tWidgets\n\t~\t\n\t|\n\n", flow="Rate + Level"), False),
        Vector("data variable name",
               model(extra=f'"Data{sq}x":INTERPOLATE:\n\t~\tWidgets\n\t~\t\n\t|\n\n',
                     flow=f'Rate + "Data{sq}x"'), False),
        Vector("subscript range name",
               model(extra=f'"Dim{sq}": A, B\n\t~\t\n\t~\t\n\t|\n\n'
                     f'Parts["Dim{sq}"]=\n\t1, 2\n\t~\tWidgets/Month\n\t~\t\n\t|\n\n',
                     flow=f'Rate + SUM(Parts["Dim{sq}"!])'), False),
        Vector("macro name",
               model(extra=f':MACRO: "M{sq}"(x)\n"M{sq}" = 2 * x\n\t~\t\n\t~\t\n\t|\n\n'
                     ":END OF MACRO:\n\n", flow=f'"M{sq}"(Rate)'), False),
        Vector("model file name", model(), True, file_name='m""" ; x ; """.mdl'),
    ]


def xmile(marker: Path) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
  <header><vendor>test</vendor><name>Injected</name></header>
  <sim_specs><stop>10</stop><start>0</start><dt>1</dt></sim_specs>
  <model><variables>
    <stock name="Stock"><doc>{double_quoted(marker)}</doc><inflow>Rate</inflow><eqn>0</eqn>
    </stock>
    <flow name="Rate"><doc>{double_quoted(marker)}</doc><eqn>3</eqn></flow>
  </variables></model>
</xmile>
"""


IDS = [v.name for v in vectors(Path("x"))]


def _write(tmp_path: Path, v: Vector) -> Path:
    path = tmp_path / v.file_name
    path.write_text(v.text, encoding="utf-8")
    (tmp_path / "data.csv").write_text("x,y\n0,0\n1,1\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["comment", "macro comment", "data variable name",
                                  "lookup range", "subscript range name"])
def test_plain_pysd_runs_the_payload(tmp_path, marker, name) -> None:
    """The threat is real: PySD alone translates these files into code that runs the payload."""
    v = next(v for v in vectors(marker) if v.name == name)
    path = _write(tmp_path, v)
    code = ("import warnings, pysd; warnings.simplefilter('ignore'); "
            f"pysd.read_vensim({str(path)!r}).run()")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, timeout=300)
    assert marker.exists()


@pytest.mark.parametrize("index", range(len(IDS)), ids=IDS)
def test_no_free_text_runs_code_when_loading_and_running(tmp_path, marker, private_cache,
                                                         index) -> None:
    v = vectors(marker)[index]
    path = _write(tmp_path, v)
    if v.loads:
        m = load(path)
        df = m.run(outputs=["Stock"])
        assert df["Stock"].iloc[-1] > 0  # the model still computes: a stock fed by Rate
        if "comment" in v.name and "group" not in v.name and "macro" not in v.name:
            # the comment is kept, as written, for documentation
            assert any("__import__('pathlib')" in v.description for v in m.variables)
        if v.name == "units":
            assert "__import__('pathlib')" in m.doc.loc["Rate", "units"]
    else:
        with pytest.raises(CarespiralError):
            load(path)
    assert not marker.exists()
    for f in private_cache.rglob("*.py"):  # no payload reaches the cache either
        assert "__import__" not in f.read_text(encoding="utf-8")


def test_an_xmile_doc_runs_nothing(tmp_path, marker, private_cache) -> None:
    path = tmp_path / "injected.xmile"
    path.write_text(xmile(marker), encoding="utf-8")
    m = load(path)
    assert m.run(outputs=["Stock"])["Stock"].iloc[-1] == pytest.approx(30)
    assert "__import__('pathlib')" in m.doc.loc["Rate", "description"]
    assert not marker.exists()


@pytest.mark.parametrize("backend,engine", [("pysd", None), ("batch", "numpy"),
                                            ("batch", "numba"), ("auto", None)])
@pytest.mark.parametrize("name", ["comment", "macro comment"])
def test_no_backend_runs_the_payload(tmp_path, marker, private_cache, backend, engine,
                                     name) -> None:
    path = _write(tmp_path, next(v for v in vectors(marker) if v.name == name))
    m = load(path)
    options = {"engine": engine} if engine else {}
    ds = m.run_batch(pd.DataFrame({"Rate": [1.0, 2.0]}), backend=backend, **options)
    factor = 2 if name == "macro comment" else 1  # the macro doubles the rate
    assert list(ds["Stock"].to_numpy()[:, -1]) == [24.0 * factor, 48.0 * factor]
    if name == "comment":  # PySD's macros have no numeric state for the rate function
        assert m.rate_function({"Rate": 2.0})(ds["Stock"].to_numpy()[:1, -1]) == [2.0]
    assert not marker.exists()


def _calibration_spec(tmp_path: Path, model: Path) -> Path:
    spec = tmp_path / "spec.toml"
    spec.write_text(f'model = "{model.name}"\narea = "Nowhere at all"\nperiod = [2011, 2020]\n'
                    '[parameters.Rate]\nlower = 1\nupper = 5\n[roles]\ncaseload = "Stock"\n'
                    "[series.caseload]\nerror = \"lognormal\"\n", encoding="utf-8")
    return spec


COMMANDS = {
    "describe": (lambda p, t: ["describe", str(p), "--html", str(t / "m.html")], (0,)),
    "run": (lambda p, t: ["run", str(p), "--out", str(t / "r.csv")], (0,)),
    "ensemble numpy": (lambda p, t: ["ensemble", str(p), "--lhs", "4", "--vary", "Rate=1:5",
                                     "--engine", "numpy"], (0,)),
    "ensemble numba": (lambda p, t: ["ensemble", str(p), "--lhs", "4", "--vary", "Rate=1:5",
                                     "--engine", "numba"], (0,)),
    "tipping": (lambda p, t: ["tipping", str(p), "--param", "Rate", "--range", "1:5",
                              "--points", "3", "--hold", "12", "--out", str(t / "tip")],
                (0,)),
    # Simlin reads the file itself: units it cannot read are an error (exit 2)
    "check": (lambda p, t: ["check", str(p)], (0, 1, 2)),
    # the spec names an area without data: the command fails after loading the model
    "calibrate": (lambda p, t: ["calibrate", str(_calibration_spec(t, p)), "--out",
                                str(t / "cal")], (2,)),
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("name", ["comment", "macro comment", "group comment", "units"])
def test_no_command_runs_the_payload(tmp_path, marker, private_cache, command, name) -> None:
    path = _write(tmp_path, next(v for v in vectors(marker) if v.name == name))
    args, codes = COMMANDS[command]
    result = CliRunner().invoke(app, args(path, tmp_path))
    assert result.exit_code in codes, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    if command == "calibrate":
        assert "Nowhere at all" in result.output  # it got past loading the model
    assert not marker.exists()


def test_an_edited_cache_entry_is_rebuilt_not_run(tmp_path, marker, private_cache) -> None:
    path = _write(tmp_path, vectors(marker)[0])
    entry = load(path).load_info.translated.parent
    module = entry / "model.py"
    payload = f"__import__('pathlib').Path(r'{marker}').touch()\n"
    module.write_text(module.read_text(encoding="utf-8") + payload, encoding="utf-8")
    again = load(path)
    assert again.load_info.cache_hit is False  # rebuilt, not run
    assert payload not in module.read_text(encoding="utf-8")
    assert not marker.exists()
    # the same edit with a manifest forged to match is refused by the check and rebuilt too
    module.write_text(module.read_text(encoding="utf-8") + payload, encoding="utf-8")
    manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"]["model.py"] = hashlib.sha256(module.read_bytes()).hexdigest()
    (entry / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    third = load(path)
    assert third.load_info.cache_hit is False
    assert third.run(outputs=["Stock"])["Stock"].iloc[-1] == 72
    assert not marker.exists()


def test_an_xmile_external_entity_is_not_read(tmp_path, private_cache) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret", encoding="utf-8")
    path = tmp_path / "entity.xmile"
    text = xmile(tmp_path / "unused").replace(
        '<xmile version', f'<!DOCTYPE xmile [<!ENTITY s SYSTEM "file://{secret}">]>\n<xmile version'
    ).replace("<flow name=\"Rate\"><doc>", "<flow name=\"Rate\"><doc>&s;")
    path.write_text(text, encoding="utf-8")
    # refused by rule, whatever the installed lxml does with entities (6.2 changed it)
    with pytest.raises(FileFormatError) as err:
        load(path)
    message = str(err.value)
    assert "declares XML entities (s)" in message and "line 2" in message
    assert "the secret" not in message
    # the same file without the entity loads
    plain = tmp_path / "plain.xmile"
    plain.write_text(xmile(tmp_path / "unused"), encoding="utf-8")
    assert "Rate" in {v.name for v in load(plain).variables}
