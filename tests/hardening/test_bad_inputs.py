"""Bad inputs to every command: each is a clear error (the expected message, exit code 2), never
a traceback, never a run without end (sizes are refused before anything runs), and never a
file left behind: the workspace holds the same files, unchanged, after the command as before.

One row per case: (class, command line, expected message fragment). Paths are relative to the
workspace made in `conftest.py`; `{data}` is a data file shipped with carespiral and `{models}`
the folder of the bundled models.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carespiral.cli import app

RUN = ["run", "workforce_spiral"]
SHOW = ["data", "show", "referrals"]
PLOT = ["data", "plot", "referrals"]
ENS = ["ensemble", "workforce_spiral", "--samples", "samples.csv"]
LHS = ["ensemble", "workforce_spiral", "--lhs", "10", "--vary", "Referral Rate=200:300"]
TIP = ["tipping", "workforce_spiral", "--param", "Referral Rate"]
CAL = ["calibrate", "cal_good.toml"]
SIM = ["simulator", "workforce_spiral", "--no-tipping"]
BACK = ["backtest", "cal_good.toml"]
BRIEF = ["brief", "--area", "Haringey", "--from"]

CASES: list[tuple[str, list[str], str]] = [
    # ---- output paths: a folder in the way, a path under a file, places that hold no files,
    # an existing output without --force; for every command that writes
    ("output", [*RUN, "--out", "d.csv"], "d.csv: is a folder"),
    ("output", [*RUN, "--html", "d.html"], "d.html: is a folder"),
    ("output", [*RUN, "--out", "afile/x.csv"], "afile is a file, not a folder"),
    ("output", [*RUN, "--out", "/proc/x.csv"], "cannot write in /proc"),
    ("output", [*RUN, "--out", "/dev/full/x.csv"], "/dev/full is a file, not a folder"),
    ("output", [*RUN, "--out", "existing.csv"], "the file exists; add --force"),
    ("output", [*SHOW, "--out", "d.csv"], "d.csv: is a folder"),
    ("output", [*SHOW, "--out", "afile/x.csv"], "afile is a file, not a folder"),
    ("output", [*SHOW, "--out", "/proc/x.csv"], "cannot write in /proc"),
    ("output", [*SHOW, "--out", "existing.csv"], "the file exists; add --force"),
    ("output", [*PLOT, "--html", "d.html"], "d.html: is a folder"),
    ("output", [*PLOT, "--html", "afile/x.html"], "afile is a file, not a folder"),
    ("output", [*PLOT, "--html", "/dev/full/x.html"], "/dev/full is a file, not a folder"),
    ("output", [*PLOT, "--html", "existing.html"], "the file exists; add --force"),
    ("output", [*CAL, "--out", "afile"], "afile: is a file, not a folder"),
    ("output", [*CAL, "--out", "afile/x"], "afile is a file, not a folder"),
    ("output", [*CAL, "--out", "/proc/x"], "cannot write in /proc"),
    ("output", [*CAL, "--out", "full"], "the folder exists and is not empty"),
    ("output", ["export", "res_good", "--mdl", "d.mdl"], "d.mdl: is a folder"),
    ("output", ["export", "res_good", "--mdl", "afile/x.mdl"], "afile is a file, not a folder"),
    ("output", ["export", "res_good", "--mdl", "/proc/x.mdl"], "cannot write in /proc"),
    ("output", ["export", "res_good", "--mdl", "existing.mdl"], "the file exists; add --force"),
    ("output", ["explore", "ex_good.toml", "--out", "afile"], "afile: is a file, not a folder"),
    ("output", ["explore", "ex_good.toml", "--out", "afile/x"], "afile is a file, not a folder"),
    ("output", ["explore", "ex_good.toml", "--out", "/proc/x"], "cannot write in /proc"),
    ("output", ["explore", "ex_good.toml", "--out", "full"], "add --resume to continue it"),
    ("output", [*ENS, "--out", "d.csv"], "d.csv: is a folder"),
    ("output", [*ENS, "--out", "afile/x.csv"], "afile is a file, not a folder"),
    ("output", [*ENS, "--out", "/dev/full/x.csv"], "/dev/full is a file, not a folder"),
    ("output", [*ENS, "--out", "existing.csv"], "the file exists; add --force"),
    ("output", [*TIP, "--out", "afile"], "afile: is a file, not a folder"),
    ("output", [*TIP, "--out", "afile/x"], "afile is a file, not a folder"),
    ("output", [*TIP, "--out", "/proc/x"], "cannot write in /proc"),
    ("output", [*TIP, "--out", "full"], "the folder exists and is not empty"),
    ("output", ["optimise", "ex_levers.toml", "--out", "afile"], "afile: is a file"),
    ("output", ["optimise", "ex_levers.toml", "--out", "/proc/x"], "cannot write in /proc"),
    ("output", ["optimise", "ex_levers.toml", "--out", "full"], "is not empty"),
    ("output", [*SIM, "--out", "d.html"], "d.html: is a folder"),
    ("output", [*SIM, "--out", "afile/x.html"], "afile is a file, not a folder"),
    ("output", [*SIM, "--out", "/proc/x.html"], "cannot write in /proc"),
    ("output", [*SIM, "--out", "existing.html"], "the file exists; add --force"),
    ("output", ["describe", "workforce_spiral", "--html", "d.html"], "d.html: is a folder"),
    ("output", ["describe", "workforce_spiral", "--html", "/dev/full/x.html"],
     "/dev/full is a file"),
    ("output", ["describe", "workforce_spiral", "--html", "existing.html"], "add --force"),
    ("output", [*BACK, "--out", "afile"], "afile: is a file, not a folder"),
    ("output", [*BACK, "--out", "afile/x"], "afile is a file, not a folder"),
    ("output", [*BACK, "--out", "/proc/x"], "cannot write in /proc"),
    ("output", [*BACK, "--out", "full"], "the folder exists and is not empty"),
    # ---- data loss: an input of the command, a packaged file, an unfinished folder
    ("data loss", ["export", "res_own_model", "--mdl", "mine.mdl", "--force"],
     "would write over the calibrated model"),
    ("data loss", ["export", "res_good", "--mdl", "{models}/workforce_spiral.mdl", "--force"],
     "inside carespiral's installed files"),
    ("data loss", [*ENS, "--out", "samples.csv", "--force"],
     "would write over samples.csv, an input of this command"),
    ("data loss", [*SHOW, "--out", "{data}", "--force"], "inside carespiral's installed files"),
    ("data loss", ["report", "interrupted"], "was left incomplete"),
    ("data loss", ["export", "interrupted", "--mdl", "new.mdl"], "was left incomplete"),
    # ---- scenario, exploration and calibration files of the wrong shape
    ("file shape", [*RUN, "--scenario", "sc_params_number.toml"],
     "line 2: key params: expected a table, found 5"),
    ("file shape", [*RUN, "--scenario", "sc_params_text.toml"],
     "key params: expected a table, found text 'x'"),
    ("file shape", [*RUN, "--scenario", "sc_inputs_number.toml"],
     "key inputs: expected a list [...], found 5"),
    ("file shape", [*RUN, "--scenario", "sc_input_number.toml"],
     "key inputs, item 1: expected a table, found 5"),
    ("file shape", [*RUN, "--scenario", "sc_pulse.toml"],
     "line 7: [[inputs]] number 1 (pulse), key duration: expected a number greater than 0, "
     "found -3"),
    ("file shape", [*ENS, "--scenario", "sc_pulse.toml"], "key duration: expected a number"),
    ("file shape", [*RUN, "--scenario", "sc_nan.toml"], "expected a finite number"),
    ("file shape", [*RUN, "--scenario", "sc_latin1.toml"], "line 1: not UTF-8 text"),
    ("file shape", [*RUN, "--scenario", "sc_unknown.toml"],
     "sc_unknown.toml, line 3: [params]: unknown variable 'Referal Rate'; did you mean "
     "'Referral Rate'"),
    ("file shape", [*LHS, "--scenario", "sc_bounds.toml"],
     "sc_bounds.toml, line 3: [params]: Referral Rate = 1e+09 is outside its bounds"),
    ("file shape", [*RUN, "--scenario", "sc_input_name.toml"],
     "sc_input_name.toml, line 2: [[inputs]] number 1: unknown variable 'Nosuch'"),
    ("file shape", [*ENS, "--scenario", "sc_input_name.toml"], "line 2: [[inputs]] number 1"),
    ("file shape", ["explore", "ex_seed.toml"],
     "line 4: key seed: expected a whole number, found text 'x'"),
    ("file shape", ["explore", "ex_seed_negative.toml"],
     "key seed: expected a number of at least 0, found -1"),
    ("file shape", ["explore", "ex_uncertainties.toml"],
     "line 2: key uncertainties: expected a table, found 5"),
    ("file shape", ["explore", "ex_chunk.toml"], "key chunk: expected a number of at least 1"),
    ("file shape", ["explore", "ex_stop.toml"], "stop = -1 must come after the start (0)"),
    ("file shape", ["optimise", "ex_population.toml"],
     "[optimise], key population: expected a whole number, found 8.5"),
    ("file shape", ["explore", "ex_criterion_nan.toml"],
     "[[criteria]] number 1 (above), key value: expected a finite number"),
    ("file shape", [*TIP, "--spec", "ex_criterion_nan.toml"], "key value: expected a finite"),
    ("file shape", ["explore", "ex_saltelli.toml"], "needs at least 24 runs"),
    ("file shape", ["explore", "ex_latin1.toml"], "not UTF-8 text"),
    ("file shape", ["calibrate", "cal_option.toml"],
     "[options.differential_evolution], key foo: unknown key (expected one of polish, "
     "popsize, tol)"),
    ("file shape", ["calibrate", "cal_walkers_text.toml"],
     "[options.emcee], key walkers: expected a whole number, found text 'x'"),
    ("file shape", ["calibrate", "cal_walkers_nan.toml"], "key walkers: expected a whole number, "
     "found nan"),
    ("file shape", [*ENS[:2], "--samples", "twice.csv"],
     "twice.csv, line 1: columns 'Referral Rate' and 'referral_rate' both set 'Referral Rate'"),
    ("file shape", [*ENS[:2], "--samples", "existing.csv"],
     "existing.csv, line 1, column a: unknown variable 'a'"),
    ("file shape", [*ENS[:2], "--samples", "s_bounds.csv"],
     "s_bounds.csv, line 3, column Referral Rate: Referral Rate = 1e+09 is outside its bounds"),
    ("file shape", [*ENS[:2], "--samples", "s_nan.csv"],
     "s_nan.csv, line 2, column Referral Rate: Referral Rate = nan: expected a finite number"),
    ("file shape", [*ENS[:2], "--samples", "words.csv"], "column 'Referral Rate' is not numeric"),
    ("file shape", ["check", "empty.mdl"], "empty.mdl"),
    ("file shape", ["describe", "empty.mdl"], "empty.mdl"),
    ("values", [*BRIEF, "nosuch"], "--from nosuch: no pooled fit there"),
    ("values", [*BRIEF, "nosuch", "--seed", "-1"], "--seed -1: expected a whole number from 0"),
    ("values", [*BRIEF, "nosuch", "--budget", "0"], "give £ million a year, above 0 and below 1,000"),
    ("values", [*BRIEF, "nosuch", "--draws", "1"], "Invalid value for '--draws'"),
    ("data loss", [*BRIEF, "interrupted"], "was left incomplete"),
    ("file shape", [*BRIEF, "res_good"], "--from res_good: not a pooled fit of every authority"),
    # ---- bad models, through every command that opens one
    ("model", ["run", "m_cycle.mdl"], "m_cycle.mdl: simultaneous equations: B -> A -> B"),
    ("model", ["check", "m_cycle.mdl"], "simultaneous equations: B -> A -> B"),
    ("model", ["ensemble", "m_cycle.mdl", "--lhs", "5", "--vary", "Rate=1:2"],
     "simultaneous equations"),
    ("model", ["tipping", "m_cycle.mdl", "--param", "Rate"], "simultaneous equations"),
    ("model", ["explore", "ex_m_cycle.toml"], "m_cycle.mdl: simultaneous equations"),
    ("model", ["simulator", "m_cycle.mdl", "--out", "s.html"], "simultaneous equations"),
    ("model", ["describe", "m_units.mdl"],
     "m_units.mdl, line 8: variable 'Other': cannot read the range in its units field"),
    ("model", ["check", "m_units.mdl"], "m_units.mdl, line 8: variable 'Other'"),
    ("model", ["explore", "ex_m_units.toml"], "m_units.mdl, line 8: variable 'Other'"),
    ("model", ["run", "m_binary.mdl"], "m_binary.mdl: not a text file"),
    ("model", ["tipping", "m_binary.mdl", "--param", "Rate"], "not a text file"),
    ("model", ["describe", "m_missing_data.mdl"],
     "variable 'Level' reads the external data file 'data/inputs.csv', which does not exist"),
    ("model", ["explore", "ex_m_missing_data.toml"], "'data/inputs.csv', which does not exist"),
    ("model", ["ensemble", "m_outside.mdl", "--lhs", "5", "--vary", "Rate=1:2"],
     "variable 'Level' reads '/etc/passwd' (/etc/passwd), which is outside the model's folder"),
    ("model", ["simulator", "m_outside.mdl", "--out", "s.html"], "outside the model's folder"),
    # ---- option values
    ("values", [*CAL, "--method", "emcee", "--walkers", "3"], "--walkers 3: emcee needs at least"),
    ("values", [*CAL, "--budget", "0"], "--budget 0: expected a number of model runs"),
    ("values", [*CAL, "--budget", "-1"], "--budget -1"),
    ("values", [*CAL, "--seed", "-1"], "--seed -1: expected a whole number from 0 up"),
    ("values", [*CAL, "--area", "all", "--scheduler", "bogus"], "--scheduler 'bogus'"),
    ("values", [*LHS, "--seed", "-1"], "--seed -1: expected a whole number from 0 up"),
    ("values", [*ENS, "--chunk-size", "0"], "--chunk-size 0: expected a positive number"),
    ("values", [*ENS, "--chunk-size", "-3"], "--chunk-size -3"),
    ("values", [*ENS, "--scheduler", "bogus"], "--scheduler 'bogus'"),
    ("values", ["explore", "ex_good.toml", "--scheduler", "bogus"], "--scheduler 'bogus'"),
    ("values", ["explore", "ex_good.toml", "--seed", "-1"],
     "--seed -1: expected a whole number from 0 up"),
    ("values", ["explore", "ex_good.toml", "--seed", "4294967296"],
     "--seed 4294967296: expected a whole number from 0 up (at most 4,294,967,295)"),
    ("values", [*TIP, "--loops", "-5"], "outside its bounds"),
    ("values", [*TIP, "--param2", "Funded Establishment", "--shock", "nan"],
     "--shock nan: expected a finite number"),
    ("values", [*TIP, "--param2", "referral_rate"], "needs a second parameter, not --param again"),
    ("values", [*TIP, "--range", "5:1"], "--range '5:1': LOW must be below HIGH"),
    ("values", [*LHS, "--period-offset", "nan"], "--period-offset nan: expected a finite time"),
    ("values", [*LHS, "--period-offset", "-5"], "--period-offset -5"),
    ("values", [*LHS[:5], "Referral Rate=300:200"], "LO must be below HI"),
    ("values", [*RUN, "--start", "100", "--stop", "10"], "stop (10) must be after start (100)"),
    ("values", [*RUN, "--time-step", "0"], "time step and saveper must be positive"),
    ("values", [*RUN, "--saveper", "1e-9"], "cannot be shorter than the time step"),
    ("values", [*CAL, "--fit-until", "1900"], "--fit-until 1900 is before the spec's period"),
    ("values", [*RUN, "--set", "Referral Rate=nan"], "expected a finite number"),
    ("values", ["models", "extra"], "unexpected extra argument"),
    ("values", [*BACK, "--origins", "2016:2022"], "origins must be after the spec's first year"),
    ("values", [*BACK, "--seed", "-1"], "--seed -1: expected a whole number from 0 up"),
    ("values", [*BACK, "--budget", "0"], "--budget 0: expected a number of model runs"),
    ("values", [*BACK, "--horizon", "0"], "--horizon 0: expected a number of years of at least 1"),
    ("values", [*BACK, "--origins", "abc"], "--origins 'abc': expected FIRST:LAST"),
    ("values", [*BACK, "--origins", "2022:2016"], "no years (is FIRST after LAST?)"),
    ("file shape", ["backtest", "cal_walkers_text.toml"], "key walkers: expected a whole"),
    ("file shape", [*BACK, "--data", "words.csv"],
     "words.csv, line 1: not a DfE open-data file carespiral knows"),
    # ---- sizes: refused with the figure and the limit before anything runs
    ("size", [*TIP, "--points", "1000000000"], "1,000,000,000 values held 120 months"),
    ("size", [*TIP, "--points", "1e9"], "Invalid value for '--points'"),
    ("size", [*TIP, "--hold", "1e12"], "over the limit of 5,000,000"),
    ("size", [*LHS[:3], "100000000000", *LHS[4:]], "over the limit of"),
    ("size", ["explore", "ex_runs_huge.toml"], "10,000,000,000,000 runs would keep about"),
    ("size", ["explore", "ex_stop_huge.toml"], "4,000,000,000,000 integration steps per run"),
    ("size", [*RUN, "--stop", "1e12"], "integration steps per run"),
    # ---- hand-edited result folders: the file, row and column
    ("result edited", ["report", "res_words"],
     "parameters.csv, line 3: row 2, column 'estimate': expected a number, found text 'abc'"),
    ("result edited", ["export", "res_words", "--mdl", "new.mdl"],
     "row 2, column 'estimate': expected a number"),
    ("result edited", ["report", "res_empty"], "parameters.csv: cannot read the table"),
    ("result edited", ["export", "res_empty", "--mdl", "new.mdl"], "parameters.csv"),
    ("result edited", ["report", "res_strings"],
     "fitted.csv, line 2: row 1, column 'observed': expected a number, found text 'many'"),
    ("result edited", ["export", "res_nan", "--mdl", "new.mdl"],
     "row 2 (Reference Caseload): estimate nan is not a finite number within its bounds"),
    ("result edited", ["export", "res_negative", "--mdl", "new.mdl"],
     "estimate -5 is not a finite number within its bounds [10, 30]"),
]


def _args(args: list[str]) -> list[str]:
    data = next(iter(sorted((Path(str(resources.files("carespiral.data"))) / "dfe")
                            .glob("*.csv"))))
    models = Path(str(resources.files("carespiral.models")))
    return [a.replace("{data}", str(data)).replace("{models}", str(models)) for a in args]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("kind", "args", "message"), CASES,
                         ids=[f"{k}: {' '.join(a)}" for k, a, _ in CASES])
def test_bad_input_is_a_clear_error(workspace, monkeypatch, tmp_path, kind, args, message):
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("CARESPIRAL_CRASH_DIR", str(tmp_path / "crashes"))
    packaged = Path(_args(args)[args.index("{data}")]) if "{data}" in args else None
    args = _args(args)
    before = snapshot(workspace)
    shipped = packaged.read_bytes() if packaged else None
    r = CliRunner().invoke(app, args)
    assert "Traceback" not in r.output and "Internal error" not in r.output, r.output
    assert r.exit_code == 2, (r.exit_code, r.output)
    assert message in " ".join(r.output.split()), r.output
    assert snapshot(workspace) == before  # nothing written, nothing half-written
    assert not (tmp_path / "crashes").exists()
    if packaged:
        assert packaged.read_bytes() == shipped


def test_every_command_has_a_case():
    from carespiral.cli import COMMAND_MODULES

    covered = {a[0] for _, a, _ in CASES}
    assert set(COMMAND_MODULES) <= covered, set(COMMAND_MODULES) - covered
