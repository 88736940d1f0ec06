"""The result of fitting every authority together: one folder, one kind (`authorities_fit`).

Tables (one row per authority, or per authority and something, keyed by `area_code`):

    areas.csv            status (`ok` or `failed`), the reason, notes, observations, log-posterior
    parameters.csv       per authority and parameter: estimate (posterior mode), median, 95%
                         interval, shrinkage, and the unpooled fit's estimate and interval beside
    population.csv       per parameter: the national distribution (mean and spread on the logit
                         scale, the national value and the range holding 95% of authorities),
                         the spec's prior it started from, and the mean shrinkage
    fitted.csv           per published value: observed, fitted, 95% predictive interval
    fit.csv              fit statistics per authority and series
    forecast.csv         the next years' values: median and 95% predictive interval
    draws.parquet        posterior draws per authority (Laplace on the logit scale)
    constants.csv        the constants each authority's data set (child population, posts)
    drivers.csv          each authority's drivers over model time (indices)
    backtest.csv, backtest_summary.csv   with a fit-until year: forecasts against published
                         values and naive rules (MASE), per authority and series
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.results import Result

__all__ = ["AuthoritiesFit"]


@dataclass
class AuthoritiesFit(Result):
    """Every authority's calibration, fitted together (see the module docstring)."""

    model: str
    spec: str
    pooling: str
    seed: int
    areas: pd.DataFrame
    parameters: pd.DataFrame
    population: pd.DataFrame
    fitted: pd.DataFrame
    fit: pd.DataFrame
    forecast: pd.DataFrame
    draws: pd.DataFrame
    constants: pd.DataFrame
    drivers: pd.DataFrame
    backtest: pd.DataFrame | None = None
    backtest_summary: pd.DataFrame | None = None
    fit_until: int | None = None
    scenario: str = ""
    converged: bool = True
    diagnostics: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "authorities_fit"
    tables: ClassVar[dict[str, str]] = {
        "areas": "areas.csv", "parameters": "parameters.csv", "population": "population.csv",
        "fitted": "fitted.csv", "fit": "fit.csv", "forecast": "forecast.csv",
        "draws": "draws.parquet", "constants": "constants.csv", "drivers": "drivers.csv",
        "backtest": "backtest.csv", "backtest_summary": "backtest_summary.csv",
    }

    def to_frame(self) -> pd.DataFrame:
        """One row per authority: status and each parameter's estimate and interval."""
        wide = self.parameters.pivot_table(index="area_code", columns="parameter",
                                           values=["estimate", "lower", "upper"])
        wide.columns = [f"{p} {stat}" if stat != "estimate" else p for stat, p in wide.columns]
        return self.areas.merge(wide.reset_index(), on="area_code", how="left")

    @property
    def fitted_codes(self) -> list[str]:
        return self.areas.loc[self.areas["status"] == "ok", "area_code"].tolist()

    def area(self, area: str) -> str:
        """The code of an authority of this fit, by code or (part of its) name."""
        from carespiral.errors import UnknownNameError

        a = self.areas
        key = " ".join(str(area).lower().replace(",", " ").replace("-", " ").split())
        names = a["area_name"].astype(str).str.lower().str.replace(",", " ").str.replace(
            "-", " ").str.split().str.join(" ")
        hit = a[(a["area_code"].str.lower() == key) | (names == key)]
        if hit.empty:
            hit = a[names.str.startswith(key + " ") | names.str.endswith(" " + key)]
        if len(hit) != 1:
            raise UnknownNameError("authority", str(area), a["area_name"].astype(str).tolist(),
                                   hint="give its ONS code (E09000014) or its name")
        return str(hit["area_code"].iloc[0])

    def values(self, code: str) -> dict[str, float]:
        """An authority's fitted parameters and its own constants (model names -> values)."""
        p = self.parameters[self.parameters["area_code"] == code]
        c = self.constants[self.constants["area_code"] == code]
        return {**dict(zip(c["parameter"], c["value"].astype(float), strict=True)),
                **dict(zip(p["parameter"], p["estimate"].astype(float), strict=True))}

    def area_draws(self, code: str) -> pd.DataFrame:
        """An authority's posterior draws (one column per fitted parameter)."""
        d = self.draws[self.draws["area_code"] == code]
        return d.drop(columns=["area_code", "draw"]).reset_index(drop=True)

    def area_inputs(self, code: str) -> dict[str, pd.Series]:
        """An authority's drivers over model time, as `Model.run_batch(inputs=...)` takes them."""
        d = self.drivers[self.drivers["area_code"] == code]
        return {str(v): pd.Series(g["value"].to_numpy(dtype=float),
                                  index=g["time"].to_numpy(dtype=float), name=str(v))
                for v, g in d.groupby("variable", sort=False)}

    def summary(self) -> dict[str, Any]:
        ok = self.areas["status"] == "ok"
        out: dict[str, Any] = {
            "model": self.model, "spec": self.spec, "pooling": self.pooling,
            "authorities": len(self.areas), "fitted": int(ok.sum()),
            "not fitted": int((~ok).sum()), "converged": self.converged,
        }
        for _, p in self.population.iterrows():
            out[f"national {p['parameter']}"] = (
                f"{p['national']:.4g} (95% of authorities {p['range_lower']:.4g}-"
                f"{p['range_upper']:.4g}; mean shrinkage {p['shrinkage_mean']:.2f})")
        if self.backtest_summary is not None and len(self.backtest_summary):
            b = self.backtest_summary
            out["mean MASE (model, persistence, trend)"] = ", ".join(
                f"{np.nanmean(b[c]):.2f}" for c in ("mase_model", "mase_persistence",
                                                   "mase_trend"))
        for key in ("seconds", "runs"):
            if key in self.diagnostics:
                out[key] = self.diagnostics[key]
        return out

    def report(self) -> str:
        lines = [f"Every authority fitted together ({self.pooling} pooling): {self.spec}",
                 *[f"  {k}: {v}" for k, v in self.summary().items()]]
        failed = self.areas[self.areas["status"] != "ok"]
        if len(failed):
            lines.append("Not fitted:")
            lines += [f"  {r.area_name} ({r.area_code}): {r.message}"
                      for r in failed.itertuples()]
        return "\n".join(lines)

    @classmethod
    def _from_parts(cls, values, frames, folder):
        for name in ("areas", "parameters"):
            if name in frames:
                frames[name]["area_code"] = frames[name]["area_code"].astype(str)
        for name in ("areas",):
            for col in ("message", "notes"):
                if col in frames[name]:
                    frames[name][col] = frames[name][col].fillna("").astype(str)
        return super()._from_parts(values, frames, folder)
