"""Observation operators against runs with known answers, and against a model's own stocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carespiral import data
from carespiral.data.observe import OPERATORS, observable, observe
from carespiral.data.series import ROLE_SERIES
from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner.calendar import reference_months

ROLES = {"referrals": "Referrals", "children_in_need": "Open Cases",
         "social_workers_fte": "Social Workers", "vacancy_rate": "Vacancy Rate",
         "turnover_rate": "Turnover Rate", "re_referral_rate": "Re Share",
         "agency_rate": "Agency Pct"}
UNITS = {"Vacancy Rate": "Dmnl", "Turnover Rate": "1/Year", "Re Share": "Dmnl",
         "Agency Pct": "%"}


def synthetic_run(step: float = 0.25, stop: float = 240.0) -> pd.DataFrame:
    """Closed-form trajectories: referrals 50 + t/12 a month, cases 100 + 2t, 160 FTE."""
    t = np.arange(0.0, stop + step / 2, step)
    return pd.DataFrame({
        "Referrals": 50 + t / 12, "Open Cases": 100 + 2 * t, "Social Workers": 160.0 + 0 * t,
        "Leaving": 2.0 + 0 * t, "Vacancies": 40.0 + 0 * t, "Re Share": 0.2 + 0 * t,
        "Re-referrals": 0.25 * (50 + t / 12), "Vacancy Rate": 0.1 + 0 * t,
        "Turnover Rate": 0.15 + 0 * t, "Agency Pct": 17.0 + 0 * t,
    }, index=pd.Index(t, name="time"))


def rows(series: str, years=(2013, 2019)) -> pd.DataFrame:
    t = data.load(series=series, area="England")
    return t[t["year"].isin(years)].reset_index(drop=True)


def test_calendar():
    # a published figure refers to the end of its day; model time 0 is 1 April 2005
    got = reference_months(["2013-03-31", "2017-09-30", "2005-04-30", "2005-04-15",
                            "2005-04-01"])
    assert got == pytest.approx([96.0, 150.0, 1.0, 0.5, 1 / 30])


def test_operators_cover_every_role_with_data():
    assert set(OPERATORS) == set(ROLE_SERIES)


def test_flow_is_the_integral_over_the_twelve_months():
    run = synthetic_run()
    out = observe(run, rows("referrals"), ROLES, units=UNITS)
    # year to 31 March Y spans months 12(Y-2006)..12(Y-2005); integral of 50 + t/12
    for y, got in zip(out["year"], out["model"], strict=True):
        a, b = 12 * (y - 2006), 12 * (y - 2005)
        exact = 50 * (b - a) + (b**2 - a**2) / 24
        # the left rule on a linear rate is low by step/2 * slope * 12 months
        assert got == pytest.approx(exact - 0.25 / 2 * (1 / 12) * 12, abs=1e-9)
    trap = observe(run, rows("referrals"), ROLES, method="trapezoid")
    assert trap["model"].iloc[0] == pytest.approx(50 * 12 + (96**2 - 84**2) / 24, abs=1e-9)


def test_stock_is_read_at_the_date():
    out = observe(synthetic_run(step=1.0), rows("children_in_need"), ROLES)
    np.testing.assert_allclose(out["model"], 100 + 2 * out["time"])
    assert out["time"].tolist() == [96.0, 168.0]


def test_rates_are_percent_and_ratios_follow_dfe_definitions():
    run = synthetic_run()
    sw = data.load(series=["vacancy_rate", "turnover_rate", "agency_rate"], area="England")
    sw = sw[sw["year"] == 2019]
    direct = observe(run, sw, ROLES, units=UNITS).set_index("series")["model"]
    assert direct["vacancy_rate"] == pytest.approx(10.0)   # fraction -> %
    assert direct["turnover_rate"] == pytest.approx(15.0)  # mean over the year, %
    assert direct["agency_rate"] == pytest.approx(17.0)    # already % in the model
    comp = observe(run, sw, ROLES, units=UNITS,
                   components={"leavers": "Leaving", "vacancies": "Vacancies"})
    comp = comp.set_index("series")["model"]
    assert comp["turnover_rate"] == pytest.approx(100 * 24 / 160)  # 2 a month / 160 FTE
    assert comp["vacancy_rate"] == pytest.approx(100 * 40 / 200)
    rr = observe(run, rows("re_referral_rate"), ROLES,
                 components={"re_referrals": "Re-referrals"})
    assert rr["model"].tolist() == pytest.approx([25.0, 25.0])


def test_periods_outside_the_run_are_missing():
    t = data.load(series="referrals", area="England")
    out = observe(synthetic_run(stop=120.0), t, ROLES)
    early = out[out["year"] <= 2005]  # starts before model time 0
    late = out[out["year"] > 2015]    # ends after month 120
    assert early["model"].isna().all() and late["model"].isna().all()
    assert out[(out["year"] > 2005) & (out["year"] <= 2015)]["model"].notna().all()


def test_unobservable_series_are_named():
    with pytest.raises(UnknownNameError, match=r"'cp_plans'.*can be compared with"):
        observe(synthetic_run(), rows("cp_plans"), ROLES)
    assert "caseload" not in observable(ROLES)
    assert "caseload" in observable(ROLES, {"cases": "Open Cases",
                                            "case_holders_fte": "Social Workers"})


def test_flows_integrate_to_the_models_own_stock_change():
    """With saveper = time step the flow operator adds exactly what Euler integration adds."""
    from carespiral.pysd_runner import load

    model = load("workforce_spiral")
    run = model.run(params={"Referral Rate": 330}, saveper=0.25, time_step=0.25,
                    outputs=["Social Workers", "Hiring", "Leaving", "Turnover Rate",
                             "Vacancy Rate", "Caseload"])
    sw = data.load(series=["social_workers_fte", "turnover_rate", "vacancy_rate", "caseload"],
                   area="England")
    net = run["Hiring"] - run["Leaving"]
    run = run.assign(**{"Net Hiring": net})
    comps = {"leavers": "Leaving"}
    out = observe(run, sw, model, components=comps)
    stock = out[out["series"] == "social_workers_fte"].set_index("year")["model"]
    flows = observe(run, data.load(series="referrals", area="England").query("year >= 2010"),
                    {"referrals": "Net Hiring"})
    # the Sep census is 6 months after the year to March; compare stock change over DfE years
    s = run["Social Workers"]
    for r in flows.itertuples():
        b = 12 * (r.year - 2005)
        assert r.model == pytest.approx(s.loc[b] - s.loc[b - 12], abs=1e-6)
    assert stock.loc[2019] == pytest.approx(run["Social Workers"].loc[174.0])
    turnover = out[out["series"] == "turnover_rate"]["model"]
    assert (turnover > 0).all() and (turnover < 100).all()


def test_users_monthly_figures_are_observed_over_their_month(tmp_path):
    p = tmp_path / "monthly.csv"
    p.write_text("area_code,series,date,period_start,value,unit\n"
                 "E09000014,referrals,2023-04-30,2023-04-01,301,count\n"
                 "E09000014,referrals,2023-05-31,2023-05-01,290,count\n")
    rows = data.load_csv(p)
    out = observe(synthetic_run(step=1.0), rows, ROLES)
    # April 2023 is month 216..217: the left rule takes the rate at month 216
    assert out["model"].tolist() == pytest.approx([50 + 216 / 12, 50 + 217 / 12])
    assert out["time"].tolist() == [217.0, 218.0]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), step=st.sampled_from([0.0625, 0.25, 0.5, 1.0]),
       year=st.integers(2007, 2023))
def test_twelve_monthly_flows_add_up_to_the_year(seed, step, year):
    """For any trajectory, the months of a DfE year observed one by one sum to the year."""
    t = np.arange(0.0, 240.0 + step / 2, step)
    rate = np.random.default_rng(seed).gamma(2.0, 25.0, size=len(t))
    run = pd.DataFrame({"Referrals": rate}, index=t)
    months = pd.date_range(f"{year - 1}-04-30", periods=12, freq="ME")
    monthly = pd.DataFrame({
        "series": "referrals", "date": months, "period_end": months,
        "period_start": months.to_period("M").to_timestamp(),
    })
    annual = data.load(series="referrals", area="England").query("year == @year")
    m = observe(run, monthly, {"referrals": "Referrals"})["model"].sum()
    a = observe(run, annual, {"referrals": "Referrals"})["model"].item()
    assert m == pytest.approx(a, rel=1e-12)
    # and the year is the left Riemann sum of the saved rates over its months
    b = 12 * (year - 2005)
    assert a == pytest.approx(rate[(t >= b - 12) & (t < b)].sum() * step, rel=1e-12)


def test_main_model_meets_england_data_by_role_with_matching_units():
    """Every canonical role of the main model observed for England 2017-2019 is within a
    factor of two of the published figure: a wrong unit convention (a monthly flow not summed,
    a fraction not turned into %, a % multiplied again) would miss by 12x or 100x."""
    from carespiral.pysd_runner import load

    model = load("collapse_spiral")
    assert set(observable(model)) == set(ROLE_SERIES)
    run = model.run(saveper=0.25, stop=200)
    rows = data.load(series=list(ROLE_SERIES), area="England", dropna=True)
    rows = rows[rows["year"].between(2017, 2019)]
    out = observe(run, rows, model)
    assert set(out["series"]) == set(ROLE_SERIES)
    ratio = out["model"] / out["value"]
    assert ratio.between(0.5, 2.0).all(), out.loc[~ratio.between(0.5, 2.0),
                                                  ["series", "year", "value", "model"]]


def test_batch_equals_single_runs():
    import xarray as xr

    from carespiral.data.observe import observe_batch

    runs = [synthetic_run(step=0.5) * k for k in (0.5, 1.0, 2.0)]
    ds = xr.Dataset({c: (("run", "time"), np.stack([r[c].to_numpy() for r in runs]))
                     for c in runs[0].columns},
                    coords={"run": ["a", "b", "c"], "time": runs[0].index.to_numpy()})
    table = pd.concat([rows("referrals"), rows("children_in_need"),
                       data.load(series=["turnover_rate", "vacancy_rate"], area="haringey")],
                      ignore_index=True)
    comps = {"leavers": "Leaving", "vacancies": "Vacancies"}
    batch = observe_batch(ds, table, ROLES, components=comps, units=UNITS)
    assert list(batch.columns) == ["a", "b", "c"] and len(batch) == len(table)
    for k, run in zip(batch.columns, runs, strict=True):
        single = observe(run, table, ROLES, components=comps, units=UNITS)["model"]
        np.testing.assert_allclose(batch[k].to_numpy(), single.to_numpy(), rtol=1e-12)
    # ratios do not scale with the run; flows and stocks do
    turnover = batch[table["series"] == "turnover_rate"]
    np.testing.assert_allclose(turnover["a"], turnover["c"])
    refs = batch[table["series"] == "referrals"]
    np.testing.assert_allclose(refs["c"], 4 * refs["a"])
    with pytest.raises(CarespiralError, match="run_batch"):
        observe_batch(runs[0], table, ROLES)
