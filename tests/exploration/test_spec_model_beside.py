"""An exploration spec may name its model file relative to itself, as a calibration spec may."""

import shutil

import pandas as pd
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.exploration import read_spec, run_experiments
from carespiral.pysd_runner import load

SPEC = ('model = "{model}"\nruns = 6\nchunk = 3\nseed = 2\nstop = 60\n'
        '[uncertainties]\n"Referral Rate" = [200, 450]\n'
        '[[criteria]]\ntype = "above"\nvariable = "Caseload"\nvalue = 25.0\nmonths = 12\n'
        '[[outcomes]]\nname = "peak_caseload"\nvariable = "Caseload"\nstat = "max"\n')


def test_a_model_file_beside_the_spec_is_found_from_any_folder(tmp_path, monkeypatch):
    here = tmp_path / "study"
    here.mkdir()
    shutil.copy(load("workforce_spiral").mdl_path, here / "my_copy.mdl")
    (here / "by_file.toml").write_text(SPEC.format(model="my_copy.mdl"))
    (here / "by_name.toml").write_text(SPEC.format(model="workforce_spiral"))
    monkeypatch.chdir(tmp_path)  # not the spec's folder: "my_copy.mdl" is not here
    by_file = read_spec(here / "by_file.toml")
    assert by_file.model_ref == here / "my_copy.mdl"
    a = run_experiments(by_file).to_frame()
    b = run_experiments(read_spec(here / "by_name.toml")).to_frame()
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    # the command too, to the end (its report's observed ranges load the same model)
    r = CliRunner().invoke(app, ["explore", str(here / "by_file.toml"), "--out", "out"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "manifest.json").is_file()
