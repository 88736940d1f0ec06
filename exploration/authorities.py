"""The table of every authority: fit, forecast skill, margin to collapse and regime today.

    >>> from carespiral.exploration.authorities import assess_authorities
    >>> table = assess_authorities(fit)          # fit: an AuthoritiesFit     # doctest: +SKIP
    >>> table.ranked().head()                    # nearest to collapse first  # doctest: +SKIP

For each fitted authority, `draws` posterior draws of its parameters (with its own constants
and drivers) are run together (`area_margins.batch_margins`): the margin to collapse for
compliance burden and for need, as a median with a 90% interval over the draws, and the share
of draws in collapse today. Beside them: the fitted parameters with their 95% intervals,
fit statistics (mean MAPE and R² over the published series), the backtest's skill against the
naive rules when a backtest is given (a fit with a fit-until year, or a pooled-vs-unpooled
comparison), the statistical neighbours (DfE groupings) and the region.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.exploration.area_margins import batch_margins
from carespiral.exploration.margin import MARGIN_ROLES
from carespiral.results import Result

__all__ = ["AuthoritiesTable", "assess_authorities", "with_backtest"]

LEVEL = 0.90  # the margin's interval: 5th to 95th percentile over the draws


@dataclass
class AuthoritiesTable(Result):
    """One row per authority (`table`) and the margins of every draw (`margins`)."""

    model: str
    spec: str
    pooling: str
    table: pd.DataFrame
    margins: pd.DataFrame
    parameters: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "authorities"
    tables: ClassVar[dict[str, str]] = {"table": "authorities.csv",
                                        "margins": "margins.parquet",
                                        "parameters": "parameters.csv"}

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def ranked(self, role: str = "compliance_burden") -> pd.DataFrame:
        """Fitted authorities from the nearest to collapse (smallest margin) to the farthest;
        a margin beyond the bounds counts as the largest."""
        t = self.table[self.table["status"] == "ok"].copy()
        key = t[f"{role} margin"].where(~t[f"{role} censored"].astype(bool), np.inf)
        return t.assign(_key=key).sort_values(["_key", "area_name"]).drop(columns="_key")

    def row(self, code: str) -> pd.Series:
        return self.table.set_index("area_code").loc[code]

    def summary(self) -> dict[str, Any]:
        ok = self.table[self.table["status"] == "ok"]
        out: dict[str, Any] = {"model": self.model, "spec": self.spec, "pooling": self.pooling,
                               "authorities": len(self.table), "fitted": len(ok)}
        for role in self.settings.get("roles", []):
            m = ok[f"{role} margin"]
            out[f"median margin ({role})"] = round(float(np.nanmedian(m)), 3)
            out[f"authorities at or past collapse by the horizon ({role})"] = int(
                (m <= 0).sum())
        out["in collapse today"] = int((ok["regime_today"] == "collapse").sum())
        return out


def assess_authorities(fit, draws: int = 24, roles: tuple[str, ...] = MARGIN_ROLES,
                       backtest=None, seed: int = 0, points: int = 8, refine: int = 5,
                       progress: Callable[[str, int], None] | None = None,
                       codes: list[str] | None = None) -> AuthoritiesTable:
    """The table of every authority of `fit` (an `AuthoritiesFit`); `backtest` is an
    `AuthoritiesFit` with a fit-until year or a `PoolingComparison` (skill columns);
    `codes`: only these fitted authorities (the table still lists every authority)."""
    from carespiral.pysd_runner import load

    t0 = time.perf_counter()
    model = load(fit.model)
    roles = tuple(r for r in roles if r in model.roles)
    codes = [c for c in fit.fitted_codes if codes is None or c in set(codes)]
    if not codes:
        from carespiral.errors import CarespiralError

        raise CarespiralError("none of the authorities asked for was fitted")
    base, inputs, owner = _rows(fit, codes, draws, seed)
    today = float(fit.fitted["time"].max())
    scenario = fit.scenario or None
    res = batch_margins(model, base, inputs, roles, scenario=scenario, today=today,
                        points=points, refine=refine,
                        progress=(lambda r: progress("margins", r)) if progress else None,
                        seed=seed)
    long = []
    for role, m in res.margins.items():
        long.append(m.assign(role=role, area_code=np.asarray(codes)[owner],
                             draw=np.tile(np.arange(draws), len(codes))))
    margins = pd.concat(long, ignore_index=True)
    today_tab = res.today.assign(area_code=np.asarray(codes)[owner])
    table = _table(fit, margins, today_tab, roles, backtest)
    return AuthoritiesTable(
        model=fit.model, spec=fit.spec, pooling=fit.pooling, table=table, margins=margins,
        parameters=fit.parameters,
        settings={"draws": draws, "roles": list(roles), "level": LEVEL, "points": points,
                  "refine": refine, "runs": res.runs, "today": today,
                  "seconds": round(time.perf_counter() - t0, 1), "seed": seed,
                  "scenario": fit.scenario, "fit_until": fit.fit_until,
                  "backtest_until": _origin(backtest)})


def with_backtest(table: AuthoritiesTable, backtest) -> AuthoritiesTable:
    """The table with the backtest's skill columns (replacing any it had), margins unchanged:
    `backtest` as for `assess_authorities`."""
    from dataclasses import replace

    skill = _skill(backtest)
    t = table.table.drop(columns=[c for c in table.table.columns if c.startswith("backtest ")])
    if skill is not None:
        t = t.merge(skill, on="area_code", how="left")
    return replace(table, table=t, settings={**table.settings,
                                             "backtest_until": _origin(backtest)})


def _origin(backtest) -> int | None:
    """The year a backtest fitted up to (None without one, or for a rolling comparison)."""
    y = getattr(backtest, "fit_until", None)
    return int(y) if y is not None else None


def _rows(fit, codes: list[str], draws: int, seed: int):
    """One row per authority and draw: its constants and a posterior draw of its parameters;
    per-row drivers over time on a common grid of times."""
    rng = np.random.default_rng(seed)
    frames, owner = [], []
    for a, code in enumerate(codes):
        d = fit.area_draws(code)
        pick = d.iloc[rng.choice(len(d), size=draws, replace=len(d) < draws)]
        consts = fit.constants[fit.constants["area_code"] == code]
        for name, v in zip(consts["parameter"], consts["value"], strict=True):
            pick = pick.assign(**{name: float(v)})
        frames.append(pick.reset_index(drop=True))
        owner += [a] * draws
    base = pd.concat(frames, ignore_index=True)
    owner = np.asarray(owner)
    inputs = {}
    for var, g in fit.drivers.groupby("variable", sort=False):
        times = np.unique(g["time"].to_numpy(dtype=float))
        per_area = np.column_stack([
            np.interp(times, *(lambda h: (h["time"].to_numpy(float), h["value"].to_numpy(float)))(
                g[g["area_code"] == c].sort_values("time"))) for c in codes])
        inputs[str(var)] = (times, per_area[:, owner])
    return base, inputs, owner


def _table(fit, margins: pd.DataFrame, today: pd.DataFrame, roles, backtest) -> pd.DataFrame:
    from carespiral import data as published

    lo_q, hi_q = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    out = fit.areas[["area_code", "area_name", "status", "message", "notes"]].copy()
    out = out[(out["status"] != "ok") | out["area_code"].isin(set(margins["area_code"]))]
    rows = []
    for code, g in margins.groupby("area_code", sort=False):
        r: dict[str, Any] = {"area_code": code}
        for role in roles:
            m = g[g["role"] == role]
            v = np.where(m["censored"], np.inf, m["margin"])
            r[f"{role} margin"] = _quantile(v, 0.5)
            r[f"{role} margin lower"] = _quantile(v, lo_q)
            r[f"{role} margin upper"] = _quantile(v, hi_q)
            r[f"{role} censored"] = bool(np.isinf(r[f"{role} margin"]))
            r[f"{role} bound margin"] = float(m["bound"].iloc[0] / m["value"].median() - 1)
            for key in ("", " lower", " upper"):  # censored: at least the bound's margin
                if np.isinf(r[f"{role} margin{key}"]):
                    r[f"{role} margin{key}"] = r[f"{role} bound margin"]
        t = today[today["area_code"] == code]
        share = float((t["regime"] == "collapse").mean())
        r["collapse_today_share"] = share
        r["regime_today"] = "collapse" if share >= 0.5 else "sustainable"
        crit = t.loc[t["regime"] == "collapse", "criterion"]
        r["today_criterion"] = str(crit.mode().iloc[0]) if len(crit) else ""
        rows.append(r)
    out = out.merge(pd.DataFrame(rows), on="area_code", how="left")
    p = fit.parameters
    wide = p.pivot_table(index="area_code", columns="parameter",
                         values=["estimate", "lower", "upper", "shrinkage"])
    wide.columns = [name if stat == "estimate" else f"{name} {stat}" for stat, name in wide.columns]
    out = out.merge(wide.reset_index(), on="area_code", how="left")
    stats = fit.fit.groupby("area_code").agg(
        mean_mape=("mape", "mean"), **({"mean_r2": ("r2", "mean")} if "r2" in fit.fit else {}))
    out = out.merge(stats.reset_index(), on="area_code", how="left")
    skill = _skill(backtest)
    if skill is not None:
        out = out.merge(skill, on="area_code", how="left")
    info = published.areas()
    info = info[info["level"] == "la"].drop_duplicates("area_code", keep="last")
    out = out.merge(info[["area_code", "region_name", "la_code"]], on="area_code", how="left")
    out["neighbours"] = [_neighbours(c) for c in out["area_code"]]
    return out


def _quantile(v: np.ndarray, q: float) -> float:
    """A quantile of margins where censored ones are +inf: between two censored draws it is
    +inf (numpy's interpolation would give inf - inf = NaN)."""
    with np.errstate(invalid="ignore"):
        out = float(np.quantile(v, q))
    return np.inf if np.isnan(out) and not np.isnan(v).any() else out


def _skill(backtest) -> pd.DataFrame | None:
    """Mean scaled errors per authority from a backtest (model and naive rules)."""
    if backtest is None:
        return None
    by_area = getattr(backtest, "by_area", None)
    if by_area is not None:  # a pooled-vs-unpooled comparison: the pooled fit's skill
        b = by_area[by_area["pooling"] == "partial"].drop(columns="pooling")
    else:
        s = getattr(backtest, "backtest_summary", None)
        if s is None or not len(s):
            return None
        b = s.groupby("area_code").mean(numeric_only=True).reset_index()
    cols = [c for c in b.columns if c.startswith("mase_") or c == "coverage"]
    return b[["area_code", *cols]].rename(columns={c: f"backtest {c}" for c in cols})


def _neighbours(code: str) -> str:
    from carespiral import data as published
    from carespiral.errors import CarespiralError

    try:
        n = published.neighbours(code)
    except CarespiralError:
        return ""
    return " ".join(c for c in n["area_code"] if c)
