"""A workspace of bad inputs for the hardening tests: files and folders in the way, specs and
scenarios of the wrong shape, hand-edited result folders."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
V1_CALIBRATION = ROOT / "tests" / "core" / "v1_results" / "calibration"

EXPLORE = """model = "workforce_spiral"
runs = 12
chunk = 5
seed = 3
stop = 120
{extra}
[uncertainties]
"Referral Rate" = [200, 450]
{tables}
"""

SCENARIO = 'title = "bad"\n{body}\n'

CALIBRATE = """model = "workforce_spiral"
period = [2018, 2023]
area = "England"
[parameters."Normal Leaving Rate"]
lower = 0.005
upper = 0.03
[parameters."Reference Caseload"]
lower = 10
upper = 30
[series.social_workers_fte]
error = "normal"
{options}
"""


CONTROL = "".join(
    f"{name}  = {value}\n\t~\t{units}\n\t~\t\n\t|\n\n"
    for name, value, units in (("FINAL TIME", 12, "Month"), ("INITIAL TIME", 0, "Month"),
                               ("SAVEPER", 1, "Month [0,?]"), ("TIME STEP", 1, "Month [0,?]")))


def mdl(*equations: str) -> str:
    """A small Vensim model: the equations given (with a constant Rate to vary) and controls."""
    body = "".join(f"{e}\n\t|\n\n" for e in
                   ("Rate=\n\t3\n\t~\tWidgets/Month [0,10]\n\t~\t", *equations))
    return "{UTF-8}\n" + body + CONTROL


# bad models, each the case of one class of model mistake
MODELS: dict[str, str | bytes] = {
    "m_cycle.mdl": mdl("A=\n\tB + Rate\n\t~\tWidgets/Month\n\t~\t",
                       "B=\n\tA * 0.5\n\t~\tWidgets/Month\n\t~\t",
                       "S= INTEG (A, 0)\n\t~\tWidgets\n\t~\t"),
    "m_units.mdl": mdl("Other=\n\t3\n\t~\tWidgets/Month [0, c]\n\t~\t",
                       "S= INTEG (Rate + Other, 0)\n\t~\tWidgets\n\t~\t"),
    "m_binary.mdl": bytes(range(256)) * 40,
    "m_missing_data.mdl": mdl("Level=\n\tGET DIRECT CONSTANTS('data/inputs.csv', ',', 'B2')"
                              "\n\t~\tWidgets\n\t~\t",
                              "S= INTEG (Rate, Level)\n\t~\tWidgets\n\t~\t"),
    "m_outside.mdl": mdl("Level=\n\tGET DIRECT CONSTANTS('/etc/passwd', ':', 'C1')"
                         "\n\t~\tWidgets\n\t~\t",
                         "S= INTEG (Rate, Level)\n\t~\tWidgets\n\t~\t"),
}


def explore_spec(extra: str = "", tables: str = "") -> str:
    return EXPLORE.format(extra=extra, tables=tables)


FILES: dict[str, str | bytes] = {
    "afile": "not a folder\n",
    "existing.csv": "a,b\n1,2\n",
    "existing.html": "<p>mine</p>\n",
    "existing.mdl": "{UTF-8}\n",
    "samples.csv": "Referral Rate\n250\n300\n",
    "twice.csv": "Referral Rate,referral_rate\n250,300\n",
    "words.csv": "Referral Rate\n250\nmany\n",
    "s_bounds.csv": "Referral Rate\n250\n1e9\n",
    "s_nan.csv": "Referral Rate\nnan\n",
    # scenarios
    "sc_params_number.toml": SCENARIO.format(body="params = 5"),
    "sc_params_text.toml": SCENARIO.format(body='params = "x"'),
    "sc_inputs_number.toml": SCENARIO.format(body="inputs = 5"),
    "sc_input_number.toml": SCENARIO.format(body="inputs = [5]"),
    "sc_pulse.toml": SCENARIO.format(body='[[inputs]]\nname = "Referral Rate"\ntype = "pulse"\n'
                                          "height = 50\nstart = 10\nduration = -3"),
    "sc_nan.toml": SCENARIO.format(body='[params]\n"Referral Rate" = nan'),
    "sc_latin1.toml": 'title = "Sc\xe9nario"\n'.encode("latin-1"),
    "sc_unknown.toml": SCENARIO.format(body='[params]\n"Referal Rate" = 300'),
    "sc_bounds.toml": SCENARIO.format(body='[params]\n"Referral Rate" = 1e9'),
    "sc_input_name.toml": SCENARIO.format(body='[[inputs]]\nname = "Nosuch"\ntype = "step"\n'
                                                "height = 3\nstart = 5"),
    # exploration specs
    "ex_seed.toml": explore_spec().replace("seed = 3", 'seed = "x"'),
    "ex_seed_negative.toml": explore_spec().replace("seed = 3", "seed = -1"),
    "ex_uncertainties.toml": 'model = "workforce_spiral"\nuncertainties = 5\n',
    "ex_stop.toml": explore_spec().replace("stop = 120", "stop = -1"),
    "ex_stop_huge.toml": explore_spec().replace("stop = 120", "stop = 1e12"),
    "ex_runs_huge.toml": explore_spec().replace("runs = 12", "runs = 10000000000000"),
    "ex_chunk.toml": explore_spec().replace("chunk = 5", "chunk = 0"),
    "ex_population.toml": explore_spec(tables="[optimise]\npopulation = 8.5\n"
                                              "[levers]\nestablishment = [120, 200]"),
    "ex_criterion_nan.toml": explore_spec(tables='[[criteria]]\ntype = "above"\n'
                                                 'variable = "caseload"\nvalue = nan'),
    "ex_saltelli.toml": explore_spec('design = "saltelli"').replace("runs = 12", "runs = 3"),
    "ex_latin1.toml": explore_spec().encode().replace(b"runs = 12",
                                                      b'title = "r\xe9gime"\nruns = 12'),
    "ex_good.toml": explore_spec(),
    "ex_levers.toml": explore_spec(tables="[levers]\nestablishment = [120, 200]"),
    # calibration specs
    "cal_option.toml": CALIBRATE.format(options="[options.differential_evolution]\nfoo = 1"),
    "cal_walkers_text.toml": CALIBRATE.format(options='[options.emcee]\nwalkers = "x"'),
    "cal_walkers_nan.toml": CALIBRATE.format(options="[options.emcee]\nwalkers = nan"),
    "cal_good.toml": CALIBRATE.format(options=""),
    "empty.mdl": "",
}
FILES.update(MODELS)
for _name in ("m_cycle", "m_units", "m_missing_data"):
    FILES[f"ex_{_name}.toml"] = (f'model = "{_name}.mdl"\nruns = 5\nchunk = 5\nseed = 1\n'
                                 '[uncertainties]\nRate = [1, 5]\n')
FOLDERS = ("d.csv", "d.html", "d.mdl", "full", "full/inside")


def _edited_result(folder: Path, edit) -> None:
    shutil.copytree(V1_CALIBRATION, folder)
    edit(folder)


def _estimate(folder: Path, old: str, new: str) -> None:
    p = folder / "parameters.csv"
    p.write_text(p.read_text().replace(old, new, 1))


def _column_of_words(folder: Path) -> None:
    p = folder / "fitted.csv"
    lines = p.read_text().splitlines()
    head = lines[0].split(",")
    k = head.index("observed")
    rows = [line.split(",") for line in lines[1:]]
    for r in rows:
        r[k] = "many"
    p.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")


def _own_model(folder: Path) -> None:
    """A result calibrated on a user's model file beside it (`mine.mdl`)."""
    mdl = folder.parent / "mine.mdl"
    shutil.copy(ROOT / "models" / "workforce_spiral.mdl", mdl)
    meta = json.loads((folder / "manifest.json").read_text())
    meta.update(model="mine.mdl", model_path=str(mdl),
                model_sha256=hashlib.sha256(mdl.read_bytes()).hexdigest())
    (folder / "manifest.json").write_text(json.dumps(meta, indent=2))


RESULTS = {
    "res_words": lambda f: _estimate(f, ",26.130822151580738,", ",abc,"),
    "res_nan": lambda f: _estimate(f, ",26.130822151580738,", ",,"),
    "res_negative": lambda f: _estimate(f, ",26.130822151580738,", ",-5,"),
    "res_empty": lambda f: (f / "parameters.csv").write_text(""),
    "res_strings": _column_of_words,
    "res_own_model": _own_model,
    "res_good": lambda f: None,
}


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad_inputs")
    for name, content in FILES.items():
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    for name in FOLDERS:
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "full" / "inside" / "x.txt").write_text("x")
    for name, edit in RESULTS.items():
        _edited_result(root / name, edit)
    incomplete = root / "interrupted"
    shutil.copytree(V1_CALIBRATION, incomplete)
    (incomplete / "INCOMPLETE.txt").write_text('{"pid": 1, "started": "then", "command": "x"}')
    return root

