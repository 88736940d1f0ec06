"""Ofsted's inadequate judgements as a local shock: the shipped file, the model's time input,
the model's algebra (a local scandal of calibrated size), what the calibration fits and leaves
out, and recovery of a known size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.drivers import driver_inputs
from carespiral.calibration.engine import build_problem
from carespiral.calibration.pooling.authorities import with_drivers
from carespiral.calibration.spec import read_spec
from carespiral.data import inspections
from carespiral.data.inspections import JUDGEMENT_MONTHS, inadequate_input, judgements
from carespiral.errors import CarespiralError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.calendar import reference_months

MIDDLESBROUGH = "E06000002"
SIZE = "Inadequate Judgement Size"


@pytest.fixture(scope="module")
def model():
    return load("collapse_spiral")


def _local(area_spec: str = "local"):
    return replace(with_drivers(read_spec(area_spec)), calendar="history_calendar.toml")


def test_the_shipped_file_stops_where_the_held_out_years_start():
    j = judgements()
    assert len(j) == 194  # of 271 in Ofsted's workbook as at 31 March 2025
    assert j["publication_date"].max() <= pd.Timestamp("2023-09-30")
    assert j["inspection_date"].min() >= pd.Timestamp("2018-01-01")  # ILACS began in 2018
    assert set(j["overall_effectiveness"]) == {
        "Outstanding", "Good", "Requires improvement to be good", "Inadequate"}
    assert (j["overall_effectiveness"] == "Inadequate").sum() == 27
    # Middlesbrough, Ofsted's workbook row 151: inspected 25 November 2019, published 24 January
    # 2020, inadequate overall
    m = judgements(MIDDLESBROUGH).iloc[0]
    assert (m["inspection_date"], m["publication_date"], m["overall_effectiveness"]) == (
        pd.Timestamp("2019-11-25"), pd.Timestamp("2020-01-24"), "Inadequate")


def test_the_input_is_on_for_six_months_from_publication():
    x = inadequate_input(MIDDLESBROUGH)
    start = float(reference_months(pd.DatetimeIndex(["2020-01-24"]))[0])
    months = np.array([start - 1, start + 0.01, start + 3, start + JUDGEMENT_MONTHS - 0.01,
                       start + JUDGEMENT_MONTHS + 1, 400.0])
    got = np.interp(months, x.index.to_numpy(), x.to_numpy())
    assert got.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    # ex ante: a report published after the cut is not known
    assert inadequate_input(MIDDLESBROUGH, until=pd.Timestamp("2019-12-31")).max() == 0.0
    # an authority never judged inadequate (Kent) has none
    assert inadequate_input("E10000016").max() == 0.0


def test_a_reorganised_authority_inherits_its_predecessors_judgements(monkeypatch):
    # Northamptonshire (E10000021): inspected 17 June 2019, published 29 July 2019, inadequate
    # (Ofsted's workbook row 168); North and West Northamptonshire took over on 1 April 2021
    for successor in ("E06000061", "E06000062"):
        j = judgements(successor)
        assert j["area_code"].tolist() == ["E10000021", successor]
        assert j["overall_effectiveness"].tolist() == ["Inadequate",
                                                       "Requires improvement to be good"]
        start = float(reference_months(pd.DatetimeIndex(["2019-07-29"]))[0])
        x = inadequate_input(successor)
        assert np.interp(start + 1, x.index.to_numpy(), x.to_numpy()) == 1.0
    # Bournemouth's 2018 report (requires improvement) passes to BCP, beside BCP's own
    assert judgements("E06000058")["area_code"].tolist() == ["E06000028", "E06000058"]
    # a predecessor's report published after the successor existed does not pass on
    late = pd.DataFrame({"area_code": ["E10000021"] * 2, "area_name": "Northamptonshire",
                         "inspection_date": pd.to_datetime(["2021-01-10", "2021-02-20"]),
                         "publication_date": pd.to_datetime(["2021-03-31", "2021-04-01"]),
                         "overall_effectiveness": "Inadequate"})
    monkeypatch.setattr(inspections, "_all", lambda: late)
    assert judgements("E06000061")["publication_date"].tolist() == [pd.Timestamp("2021-03-31")]


def test_overlapping_judgements_make_one_spell(monkeypatch):
    # two inadequate reports three months apart: on from the first for nine months, not off
    # between them
    rows = pd.DataFrame({"area_code": [MIDDLESBROUGH] * 2, "area_name": "Middlesbrough",
                         "inspection_date": pd.to_datetime(["2019-01-10", "2019-04-10"]),
                         "publication_date": pd.to_datetime(["2019-02-15", "2019-05-15"]),
                         "overall_effectiveness": "Inadequate"})
    monkeypatch.setattr(inspections, "_all", lambda: rows)
    x = inadequate_input(MIDDLESBROUGH)
    first, second = reference_months(pd.DatetimeIndex(["2019-02-15", "2019-05-15"]))
    months = np.linspace(first + 0.01, second + JUDGEMENT_MONTHS - 0.01, 200)
    assert np.interp(months, x.index.to_numpy(), x.to_numpy()).min() == 1.0
    after = second + JUDGEMENT_MONTHS + 0.01
    assert np.interp(after, x.index.to_numpy(), x.to_numpy()) == 0.0
    assert x.index.is_monotonic_increasing


def test_an_unknown_area_is_an_error_not_silence():
    with pytest.raises(CarespiralError, match="not an area code"):
        inadequate_input("Middlesbrough")  # a name, not a code


def test_the_pulse_lasts_as_long_as_the_models_scandal(model):
    assert model.parameter("Scandal Duration").default == JUDGEMENT_MONTHS


def test_the_driver_gives_the_input_and_says_so():
    d = driver_inputs(["child_population", "inadequate_judgements"], MIDDLESBROUGH)
    assert "Inadequate Judgement" in d.inputs
    assert any("1 inadequate judgement" in n for n in d.notes)
    with pytest.raises(CarespiralError, match="not known"):
        driver_inputs(["inspections"], MIDDLESBROUGH)


@pytest.mark.parametrize("backend", ["batch", "pysd"])
def test_a_judgement_is_a_local_scandal_of_its_size(model, backend):
    # Scandal Intensity = national calendar + size x input: between the national scandals
    # (months 43-49 and 200-206) it is size x input exactly
    x = inadequate_input(MIDDLESBROUGH)
    params = pd.DataFrame({SIZE: [0.0, 1.7]})
    r = model.run_batch(params, outputs=["Scandal Intensity", "S47 Enquiries"], saveper=0.25,
                        scenario="baseline", inputs={"Inadequate Judgement": x},
                        backend=backend)
    t = r["time"].to_numpy().astype(float)
    inside = (t > 100) & (t < 195)
    on = np.interp(t, x.index.to_numpy(), x.to_numpy())
    got = r["Scandal Intensity"].to_numpy()
    assert np.allclose(got[1, inside], 1.7 * on[inside], atol=1e-9)
    assert np.allclose(got[0, inside], 0.0, atol=1e-12)
    # and it acts: more section 47 enquiries after it than without
    s47 = r["S47 Enquiries"].to_numpy()
    later = t > float(x.index[x > 0][0]) + 12
    assert (s47[1, later] > s47[0, later]).all()


def test_the_size_is_fitted_only_where_there_was_a_judgement():
    spec = _local()
    assert "inadequate_judgements" in spec.drivers
    kent, _, _ = build_problem(spec, "Kent", fit_until=2021)
    assert SIZE not in kent.names and kent.fixed[SIZE] == 0.0
    assert any(SIZE in n and "not fitted" in n for n in kent.notes)
    boro, _, _ = build_problem(spec, "Middlesbrough", fit_until=2020)
    assert SIZE in boro.names
    # ex ante at 2019 the January 2020 report is not known yet
    before, _, _ = build_problem(spec, "Middlesbrough", fit_until=2019)
    assert SIZE not in before.names
    # a pooled fit fits the same parameters everywhere
    pooled, _, _ = build_problem(spec, "Kent", fit_until=2021, fit_idle_events=True)
    assert SIZE in pooled.names
    # without the driver (the bundled spec fitted alone) there is nothing to size
    alone, _, _ = build_problem(read_spec("local"), "Middlesbrough")
    assert SIZE not in alone.names and alone.fixed[SIZE] == 0.0
    assert any("does not name the driver 'inadequate_judgements'" in n for n in alone.notes)


def test_a_spec_without_the_size_gets_no_judgement_driver(tmp_path):
    text = read_spec("local").text
    start = text.index('[parameters."Inadequate Judgement Size"]')
    end = text.index("[series.referrals]")
    path = tmp_path / "local_without.toml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert "inadequate_judgements" not in with_drivers(read_spec(path)).drivers


def test_a_known_size_is_recovered(fitted_to_own_output):
    # synthetic Middlesbrough: the model's own output at known parameters with a judgement of
    # size 2.5 and no noise; the fit frees the size and need's level, the rest held at the truth
    problem, _, _ = build_problem(_local(), "Middlesbrough", fit_until=2022)
    result, truth = fitted_to_own_output(problem, {SIZE: 2.5}, ("Underlying Need", SIZE))
    est = result.to_frame()["estimate"]
    assert est[SIZE] == pytest.approx(2.5, abs=0.1), result.report()
    assert est["Underlying Need"] == pytest.approx(truth["Underlying Need"], rel=0.02)


def test_the_reported_interval_stays_inside_the_bounds():
    # Middlesbrough fitted to 2020: the January 2020 report is known with no figure after it,
    # so the size sits at its lower bound 0 and its normal (Laplace) interval reaches below 0
    from carespiral.calibration.engine import calibrate

    r = calibrate(_local(), "Middlesbrough", fit_until=2020, horizon=1, budget=300,
                  profiles=False, seed=0)
    t = r.to_frame()
    assert t.loc[SIZE, "laplace_lower"] < 0 <= t.loc[SIZE, "lower"]
    assert (t["lower"] >= t["bound_lower"]).all() and (t["upper"] <= t["bound_upper"]).all()


def test_a_spec_naming_an_unknown_driver_is_refused_with_its_line(tmp_path):
    from carespiral.errors import FileFormatError

    text = read_spec("local").text.replace(
        'method = "differential_evolution"',
        'method = "differential_evolution"\ndrivers = ["child_population", "inspections"]')
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"unknown driver.*'inspections'") as err:
        read_spec(path)
    line = text.splitlines().index('drivers = ["child_population", "inspections"]') + 1
    assert f"line {line}" in str(err.value) and "inadequate_judgements" in str(err.value)
