"""`--data`: a DfE open-data release (a SYNTHETIC one in the published layout) or a tidy file,
added to the shipped series; forecasts made before it scored against it.

The 2024 and 2025 rows written here are made up (England's 2023 values times a round factor):
they are not DfE figures, which the project keeps aside for an independent check.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.calibration.result import load_result
from carespiral.cli import app
from carespiral.data import load
from carespiral.data.published import data_dir
from carespiral.data.releases import read_release, with_releases
from carespiral.errors import FileFormatError
from carespiral.results import load_result as load_any

C1 = "c1_children_in_need_referrals_and_rereferrals_2013_to_2023.csv"
runner = CliRunner()
FACTOR = {2024: 1.10, 2025: 1.25}  # synthetic growth over 2023


def synthetic_release(folder: Path, years=(2024, 2025), revise_2023: float | None = None,
                      drop: tuple[str, ...] = ()) -> Path:
    """A file with the header of the shipped c1 release (minus `drop` columns) and made-up
    national rows: England's 2023 counts and rates times FACTOR."""
    src = data_dir() / "dfe" / C1
    with open(src, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = [c for c in rows[0] if c not in drop]
    eng = next(r for r in rows if r["time_period"] == "2023"
               and r["geographic_level"] == "National")
    out = []
    for y in years:
        r = dict(eng, time_period=str(y))
        for c in ("referral_count", "rereferral_count"):
            r[c] = str(round(float(eng[c]) * FACTOR[y]))
        r["rereferral_percent"] = f"{float(eng['rereferral_percent']) * FACTOR[y]:.1f}"
        out.append(r)
    if revise_2023 is not None:
        out.append(dict(eng, referral_count=str(revise_2023)))
    path = folder / "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerows(out)
    return path


def test_a_release_is_recognised_by_its_columns_and_read_as_published(tmp_path):
    path = synthetic_release(tmp_path, drop=("not_in_need_count", "not_in_need_percent"))
    t = read_release(path)
    ref = t[(t["series"] == "referrals") & (t["area_code"] == "E92000001")]
    shipped = load(series="referrals", area="England")
    base = float(shipped.loc[shipped["year"] == 2023, "value"].iloc[0])
    assert sorted(ref["year"]) == [2024, 2025]
    np.testing.assert_allclose(ref.sort_values("year")["value"],
                               [round(base * 1.10), round(base * 1.25)])
    assert (ref["date"] == pd.to_datetime(["2024-03-31", "2025-03-31"])).all()
    assert set(t["series"]) >= {"referrals", "re_referrals", "re_referral_rate"}
    assert "referrals_not_in_need" not in set(t["series"])  # a column the release lacks
    assert (t["file"] == str(path)).all()


def test_a_release_adds_later_years_and_revises_earlier_ones(tmp_path):
    path = synthetic_release(tmp_path, revise_2023=123456)
    t = with_releases([path])
    ref = t[(t["series"] == "referrals") & (t["area_code"] == "E92000001")
            & (t["variant"] == "")]
    assert ref["year"].is_unique and ref["year"].max() == 2025
    assert float(ref.loc[ref["year"] == 2023, "value"].iloc[0]) == 123456
    assert float(ref.loc[ref["year"] == 2022, "value"].iloc[0]) == float(
        load(series="referrals", area="England").set_index("year").loc[2022, "value"])


def test_a_file_that_is_neither_format_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "mystery.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"mystery\.csv.*not a DfE open-data file"):
        read_release(bad)
    res = runner.invoke(app, ["calibrate", "national", "--data", str(bad), "--out",
                              str(tmp_path / "o")])
    assert res.exit_code == 2 and "mystery.csv" in res.output
    assert not (tmp_path / "o" / "manifest.json").exists()


SPEC = """\
model = "collapse_spiral"
area = "England"
period = [2014, 2023]
scenario = "baseline"
drivers = ["child_population", "funded_posts"]

[parameters."Underlying Need"]
lower = 0.02
upper = 0.045

[parameters."Normal Re Referral Fraction"]
lower = 0.1
upper = 0.4

[series.referrals]
error = "lognormal"

[series.re_referral_rate]
error = "normal"
"""


# No calendar of events: with one, each origin fixes a different set of later events at size 0,
# so every warm-up fit of the nested forecasts compiles its own kernel (4 compiles, about two
# thirds of this module's time); the calendar's ex-ante handling is not what is checked here.


@pytest.fixture(scope="module")
def small_spec(tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    (d / "referrals.toml").write_text(SPEC, encoding="utf-8")
    return d / "referrals.toml", synthetic_release(d)


def test_fit_until_the_last_shipped_year_scores_the_new_release(small_spec, tmp_path):
    spec, release = small_spec
    out = tmp_path / "cal"
    res = runner.invoke(app, ["calibrate", str(spec), "--fit-until", "2023", "--data",
                              str(release), "--budget", "60", "--no-profiles", "--out", str(out)])
    assert res.exit_code == 0, res.output
    r = load_result(out)
    assert r.fitted["year"].max() == 2023
    bt = r.backtest.set_index(["series", "year"])
    assert sorted(bt.loc["referrals"].index) == [2024, 2025]
    t = read_release(release)
    want = t[(t["series"] == "referrals") & (t["area_code"] == "E92000001")].set_index("year")
    np.testing.assert_allclose(bt.loc["referrals", "observed"], want["value"])
    assert set(r.backtest_summary["series"]) == {"referrals", "re_referral_rate"}
    assert "--data" in r.manifest["command"] and str(release) in r.manifest["command"]
    # the verdict ends the command's output, in words
    assert "Fitted to the figures up to 2023" in res.output.split("Wrote")[-1]


def test_backtest_command_scores_each_origin_against_the_release(small_spec, tmp_path):
    spec, release = small_spec
    out = tmp_path / "bt"
    # one fit per origin (ar1): the nested default's warm-up fits are tested in
    # test_forecast_nested.py, and the default is taken by calibrate --fit-until above
    res = runner.invoke(app, ["backtest", str(spec), "--origins", "2022:2023", "--horizon",
                              "2", "--data", str(release), "--budget", "40", "--out", str(out),
                              "--forecast-mode", "ar1", "--html"])
    assert res.exit_code == 0, res.output
    bt = load_any(out)
    f = bt.forecasts.set_index(["origin", "series", "year"]).sort_index()
    assert sorted(f.loc[(2023, "referrals")].index) == [2024, 2025]
    assert sorted(f.loc[(2022, "referrals")].index) == [2023, 2024]
    assert (out / "report.html").is_file() and (out / "forecasts.csv").is_file()
    assert res.output.strip().splitlines()[-1].startswith("Fitted at each origin from 2022")
