"""Both batch engines against Vensim's own output, over the whole SDXorg conformance suite.

Every model folder listed in `manifest.csv` is either compared (numpy and numba engines, every
column of the reference, the whole run) or listed in `REFUSED` with the reason; a refused model
is checked to be refused by the backend with a clear error naming the construct. See README.md.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch import compile_model

HERE = Path(__file__).parent
MODELS = HERE / "models"
ROWS = list(csv.DictReader((HERE / "manifest.csv").open(encoding="utf-8")))
CONTROL = {"FINAL TIME", "INITIAL TIME", "TIME STEP", "SAVEPER"}
RTOL = 1e-5  # Vensim writes about 6 significant digits
FLOOR = 1e-5  # near zero, values are judged against the series' scale (its largest magnitude)

# Models the batch backend refuses, with the reason (and what its error names). PySD itself
# cannot run the one marked so.
REFUSED: dict[str, tuple[str, str]] = {
    "get_time_value": ("GET TIME VALUE is not supported; PySD cannot run it either "
                       "(NotImplementedError: 'relativeto=1' not implemented)",
                       r"GET TIME VALUE"),
}
# Not compared, and not refused: its variables are data read from another model's output
# (PySD's data files), which the batch backend takes only as time inputs; PySD cannot run it
# either (ValueError: could not broadcast input array from shape (3,2,1) into shape (3,2)).
NOT_COMPARED = {"data_from_other_model"}
# Vensim's ALLOCATE AVAILABLE with the triangular, normal and exponential profiles stops short
# of the level at which the shares add up to the supply (PySD's solve, like ours, reaches it;
# PySD's own suite compares this model at rtol 2e-2): its values are judged within this
# fraction of each series' largest magnitude (the largest gap measured: 4.1e-4; see README.md)
MODEL_FLOOR = {"allocate_available": 5e-4}
# Chaotic: rounding differences (Vensim single precision, ~6 digits) grow until the trajectories
# part; compared up to this time only (see README.md).
COMPARE_UNTIL = {"Roessler_Chaos": 50.0}
# Columns that follow a RANDOM function: Vensim's draws cannot be reproduced, so these are
# judged by their law (test_random_columns_follow_their_law), every other column value by value
RANDOM_COLUMNS = {"Query_file": {"kWhPerStovePerDay", "EnergyConsumptionRate",
                                 "TotalEnergyConsumption"}}
# Control variables that change over time: their columns (FINAL TIME, TIME STEP, ...) are the
# point of these models, so they are compared too (elsewhere they are constants, not outputs)
COMPARE_CONTROL = {"control_vars", "dynamic_final_time"}
INCLUDED = [r for r in ROWS if r["name"] not in REFUSED and r["name"] not in NOT_COMPARED]


def model_file(row: dict[str, str]) -> Path:
    return MODELS / row["name"] / Path(row["source_path"]).name


def read_reference(path: Path) -> pd.DataFrame:
    """The reference as text (so each value's written precision is known), time first."""
    sep = "\t" if path.suffix == ".tab" else ","
    for enc in ("utf-8", "latin-1"):  # some Vensim exports are Latin-1
        try:
            df = pd.read_csv(path, sep=sep, encoding=enc, dtype=str, keep_default_na=False)
            break
        except UnicodeDecodeError:
            continue
    df.columns = [str(c).strip() for c in df.columns]
    return df.set_index(df.columns[0])


_DECIMALS = re.compile(r"^\s*[-+]?\d*\.(\d+)\s*$")


def written_half_unit(texts) -> float:
    """Half a unit in the last decimal the reference file writes. Vensim writes 6 significant
    digits (its trailing zeros dropped), but some exports round to a fixed number of decimals
    (e.g. 5: -0.01116): then a value is only known to half a unit of that decimal."""
    decimals = [len(m.group(1)) for t in texts if (m := _DECIMALS.match(str(t)))]
    return 0.5 * 10.0 ** -max(decimals, default=0) if decimals else 0.0


def compare(name: str, ref: pd.DataFrame, ds, names: dict[str, str], engine: str) -> int:
    half = written_half_unit(ref.to_numpy().ravel())
    t = ds["time"].to_numpy()
    ref_t = pd.to_numeric(pd.Series(ref.index), errors="coerce").to_numpy(dtype=float)
    keep = ref_t <= COMPARE_UNTIL.get(name, np.inf)
    # Vensim rounds written times (10.03125 -> 10.0312): match each to the nearest time
    idx = np.abs(t[None, :] - ref_t[keep][:, None]).argmin(axis=1)
    assert np.abs(t[idx] - ref_t[keep]).max() < 1e-3, f"{name}: time grids differ"
    compared = 0
    for col, var in names.items():
        text = ref[col].to_numpy()[keep]
        expected = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=float)
        got = ds[var].to_numpy()[0, idx]
        ok = ~np.isnan(expected)
        if not ok.any():
            continue
        scale = np.nanmax(np.abs(expected))
        floor = MODEL_FLOOR.get(name, FLOOR) * scale
        tol = np.maximum(np.maximum(RTOL * np.abs(expected), floor), half) + 1e-12
        err = np.abs(got - expected)
        bad = ok & ~(err <= tol)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AssertionError(
                f"{name} ({engine} engine): {col} at time {ref_t[keep][i]:g} is {got[i]!r}, "
                f"Vensim wrote {text[i]!r} (tolerance {tol[i]:.3g}); {int(bad.sum())} of "
                f"{int(ok.sum())} values differ")
        compared += int(ok.sum())
    return compared


_KEPT: dict[str, tuple] = {}  # runs of the models with RANDOM columns, for the test below


def run_both_engines(row: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str], dict]:
    """The reference, its columns' variables and the model's run on each engine (defaults)."""
    name = row["name"]
    if name in _KEPT:
        return _KEPT[name]
    ref = read_reference(MODELS / name / row["reference_file"])
    bm = compile_model(model_file(row))  # lowered once; each engine compiles its code once
    names = {}
    for c in ref.columns:  # every column must name a variable: one that does not is a failure
        if c.strip('"') not in CONTROL or name in COMPARE_CONTROL:
            names[c] = bm.resolve(c.strip('"'))
    runs = {}
    for engine in ("numpy", "numba"):
        runs[engine] = bm.run(outputs=list(dict.fromkeys(names.values())), engine=engine)
        assert runs[engine].attrs["engine"] == engine
    if name in RANDOM_COLUMNS:
        _KEPT[name] = (ref, names, runs)
    return ref, names, runs


@pytest.mark.parametrize("row", INCLUDED, ids=[r["name"] for r in INCLUDED])
def test_matches_vensim_on_both_engines(row: dict[str, str]) -> None:
    name = row["name"]
    ref, names, runs = run_both_engines(row)
    exact = {c: v for c, v in names.items() if c not in RANDOM_COLUMNS.get(name, ())}
    for engine, ds in runs.items():
        assert compare(name, ref, ds, exact, engine) > 0


def test_random_columns_follow_their_law() -> None:
    """Query_file: kWhPerStovePerDay = RANDOM UNIFORM(0.23, 0.53, 1) at every step, the rate
    it times and the stock that accumulates it, on both engines against Vensim's own draws."""
    row = next(r for r in ROWS if r["name"] == "Query_file")
    text, names, runs = run_both_engines(row)
    ref = text.apply(pd.to_numeric, errors="coerce")
    lo, hi = 0.23, 0.53
    working = ref["WorkingProductsInHouseholds"].to_numpy()  # compared value by value
    # the stock's expectation and spread from the known law of the draws (TIME STEP 1)
    mean = np.cumsum(np.r_[0.0, (lo + hi) / 2 * working[:-1]])
    sd = np.sqrt(np.cumsum(np.r_[0.0, (hi - lo) ** 2 / 12 * working[:-1] ** 2]))
    vensim_draws = ref["kWhPerStovePerDay"].to_numpy()
    assert stats.kstest(vensim_draws, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3
    assert abs(ref["TotalEnergyConsumption"].iloc[-1] - mean[-1]) < 5 * sd[-1]
    for ds in runs.values():  # seed 0, the default
        draws, rate, total = (ds[names[c]].to_numpy()[0] for c in (
            "kWhPerStovePerDay", "EnergyConsumptionRate", "TotalEnergyConsumption"))
        assert np.all((draws >= lo) & (draws <= hi))
        assert stats.ks_2samp(draws, vensim_draws).pvalue > 1e-3
        np.testing.assert_allclose(rate, draws * working, rtol=1e-12)
        assert abs(total[-1] - mean[-1]) < 5 * sd[-1]
        assert len(np.unique(draws)) == len(draws)  # a new draw at every step
    np.testing.assert_allclose(runs["numba"][names["kWhPerStovePerDay"]],
                               runs["numpy"][names["kWhPerStovePerDay"]], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_models_are_refused_with_a_reason(name: str) -> None:
    row = next(r for r in ROWS if r["name"] == name)
    with pytest.raises(CarespiralError, match=REFUSED[name][1]):
        compile_model(model_file(row)).run()


def test_every_folder_is_compared_or_refused() -> None:
    folders = {p.name for p in MODELS.iterdir() if p.is_dir()}
    assert folders == {r["name"] for r in ROWS}
    assert set(REFUSED) <= folders
    assert len(INCLUDED) + len(REFUSED) + len(NOT_COMPARED) == len(ROWS) == 144


def test_written_precision() -> None:
    assert written_half_unit(["-0.01116", "0.0496", "4"]) == pytest.approx(5e-6)
    assert written_half_unit(["262144", "1.5e-07"]) == 0.0
