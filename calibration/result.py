"""The result of a calibration: a typed object, a text report, and a directory that round-trips.

A result directory holds:

    manifest.json       model and data hashes, versions, seed, method, command, diagnostics
    parameters.csv      fitted parameters with intervals, priors, bounds, identifiability
    fitted.csv          per series and period: observed, fitted, 95% predictive interval
    fit.csv             fit statistics per series (R², MAPE, RMSE, Theil U^M/U^S/U^C, ...)
    correlation.csv     parameter correlations
    draws.parquet       posterior draws (emcee) or draws from the Laplace approximation
    profiles.csv        profile log-posterior per parameter (point methods, if computed)
    backtest.csv        out-of-sample forecasts vs published and naive forecasts (--fit-until)
    backtest_summary.csv  MASE per series for the model, persistence and linear trend
    report.txt          the text report

It is written with `atomic_dir`: an interrupted save leaves no directory that looks complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carespiral._atomic import atomic_dir
from carespiral.errors import FileFormatError

__all__ = ["CalibrationResult", "load_result"]

_TABLES = {  # attribute -> file name
    "parameters": "parameters.csv",
    "fitted": "fitted.csv",
    "fit": "fit.csv",
    "correlation": "correlation.csv",
    "profiles": "profiles.csv",
    "backtest": "backtest.csv",
    "backtest_summary": "backtest_summary.csv",
}

_TEXT_COLUMNS = {"parameter", "series", "unit", "prior", "identifiability"}


@dataclass
class CalibrationResult:
    """Everything a calibration found, with how it was obtained.

    Attributes:
        model: model name; spec: spec name; area: area name (and code); method: method name.
        seed: the random seed; converged: False when the method reports a problem (`message`).
        parameters: one row per parameter: estimate, sd, lower/upper (95%), prior, bounds,
            profile interval, identifiability (`identified`, `one-sided`, `flat`), at_bound.
        fitted: one row per published value: series, year, date, time, observed, fitted,
            lower, upper (95% predictive interval from parameter uncertainty and error model).
        fit: fit statistics per series (see `fit_stats`); correlation: parameter correlations.
        draws: parameter draws (posterior or Laplace), one column per parameter.
        profiles: profile log-posterior per parameter (point methods); None if not computed.
        backtest / backtest_summary: out-of-sample check (only with a fit-until year).
        diagnostics: numbers the method reports (acceptance, autocorrelation, ESS, runs, ...).
        manifest: provenance (hashes, versions, seed, command, times).
    """

    model: str
    spec: str
    area: str
    method: str
    seed: int
    parameters: pd.DataFrame
    fitted: pd.DataFrame
    fit: pd.DataFrame
    correlation: pd.DataFrame
    draws: pd.DataFrame | None = None
    profiles: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None
    backtest_summary: pd.DataFrame | None = None
    converged: bool = True
    message: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    # ---- views ---------------------------------------------------------------------------------

    @property
    def values(self) -> dict[str, float]:
        """Fitted parameter values by model name."""
        return dict(zip(self.parameters["parameter"], self.parameters["estimate"].astype(float),
                        strict=True))

    def to_frame(self) -> pd.DataFrame:
        """The parameter table, indexed by parameter name."""
        return self.parameters.set_index("parameter")

    def summary(self) -> dict[str, Any]:
        """Key facts as plain values (for JSON, logs and tests)."""
        out: dict[str, Any] = {
            "model": self.model, "spec": self.spec, "area": self.area, "method": self.method,
            "seed": self.seed, "converged": self.converged, "message": self.message,
            "parameters": self.values,
            "flat": [str(p) for p, f in zip(self.parameters["parameter"],
                                            self.parameters.get("identifiability", []),
                                            strict=False) if f == "flat"],
        }
        if len(self.fit):
            out["fit"] = {r["series"]: {k: float(r[k]) for k in ("r2", "mape", "u_m", "u_s", "u_c")}
                          for _, r in self.fit.iterrows()}
        if self.backtest_summary is not None and len(self.backtest_summary):
            out["mase"] = {r["series"]: {k: float(r[k]) for k in ("mase_model", "mase_persistence",
                                                                   "mase_trend")}
                           for _, r in self.backtest_summary.iterrows()}
        return out

    def report(self) -> str:
        """A plain-text report: parameters, fit statistics, identifiability and backtest."""
        lines = [
            f"Calibration of {self.model} to {self.area} ({self.spec}), method {self.method}, "
            f"seed {self.seed}",
            ("Converged. " if self.converged else "WARNING: NOT CONVERGED: ") + self.message,
            "",
            "Parameters (95% intervals):",
        ]
        for _, r in self.parameters.iterrows():
            flag = r.get("identifiability", "")
            flag = f"  [{flag}]" if isinstance(flag, str) and flag and flag != "identified" else ""
            bound = "  [at bound]" if bool(r.get("at_bound", False)) else ""
            lines.append(f"  {r['parameter']:<40} {r['estimate']:>12.5g}  "
                         f"[{r['lower']:.5g}, {r['upper']:.5g}]  prior {r['prior']}{flag}{bound}")
        lines += ["", "Fit (R² = squared correlation; Theil: bias U^M, variation U^S, "
                      "covariation U^C):",
                  f"  {'series':<22}{'n':>4}{'R²':>8}{'MAPE%':>8}{'RMSE':>12}{'U^M':>7}"
                  f"{'U^S':>7}{'U^C':>7}{'ACF1':>7}"]
        for _, r in self.fit.iterrows():
            lines.append(f"  {r['series']:<22}{int(r['n']):>4}{r['r2']:>8.3f}{r['mape']:>8.2f}"
                         f"{r['rmse']:>12.4g}{r['u_m']:>7.2f}{r['u_s']:>7.2f}{r['u_c']:>7.2f}"
                         f"{r['resid_acf1']:>7.2f}")
        if len(self.correlation) > 1:
            c = self.correlation.to_numpy(dtype=float)
            iu = np.triu_indices_from(c, 1)
            strong = [(self.correlation.index[i], self.correlation.columns[j], c[i, j])
                      for i, j in zip(*iu, strict=True) if abs(c[i, j]) > 0.9]
            if strong:
                lines += ["", "Strongly correlated parameters (|r| > 0.9):"]
                lines += [f"  {a} ~ {b}: {v:+.2f}" for a, b, v in strong]
        if self.backtest_summary is not None and len(self.backtest_summary):
            lines += ["", "Backtest (MASE; below 1 beats the in-sample naive step):",
                      f"  {'series':<22}{'n':>4}{'model':>9}{'persist':>9}{'trend':>9}"
                      f"{'in 95%':>8}"]
            for _, r in self.backtest_summary.iterrows():
                lines.append(f"  {r['series']:<22}{int(r['n']):>4}{r['mase_model']:>9.2f}"
                             f"{r['mase_persistence']:>9.2f}{r['mase_trend']:>9.2f}"
                             f"{r['coverage']:>8.0%}")
        if self.diagnostics:
            lines += ["", "Diagnostics: " + ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                for k, v in self.diagnostics.items())]
        return "\n".join(lines) + "\n"

    # ---- persistence ---------------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the result directory atomically; returns its path."""
        directory = Path(directory)
        with atomic_dir(directory) as tmp:
            for attr, name in _TABLES.items():
                df = getattr(self, attr)
                if df is None:
                    continue
                df.to_csv(tmp / name, index=attr == "correlation")
            if self.draws is not None:
                self.draws.to_parquet(tmp / "draws.parquet", index=False)
            meta = {
                "model": self.model, "spec": self.spec, "area": self.area,
                "method": self.method, "seed": self.seed, "converged": self.converged,
                "message": self.message, "diagnostics": _jsonable(self.diagnostics),
                **{k: v for k, v in _jsonable(self.manifest).items()
                   if k not in ("model", "spec", "area", "method", "seed")},
            }
            (tmp / "manifest.json").write_text(json.dumps(meta, indent=2) + "\n",
                                               encoding="utf-8")
            (tmp / "report.txt").write_text(self.report(), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> CalibrationResult:
        return load_result(directory)


def load_result(directory: str | Path) -> CalibrationResult:
    """Read a result directory written by `CalibrationResult.save`."""
    d = Path(directory)
    mpath = d / "manifest.json"
    if not mpath.is_file():
        raise FileFormatError(d, "not a calibration result (no manifest.json)",
                              hint="give the directory written by `carespiral calibrate --out`")
    try:
        meta = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FileFormatError(mpath, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    for key in ("model", "spec", "area", "method", "seed"):
        if key not in meta:
            raise FileFormatError(mpath, f"missing {key!r}")
    tables: dict[str, pd.DataFrame | None] = {}
    for attr, name in _TABLES.items():
        p = d / name
        if not p.is_file():
            if attr in ("parameters", "fitted", "fit", "correlation"):
                raise FileFormatError(p, "missing from the result directory")
            tables[attr] = None
            continue
        df = pd.read_csv(p, index_col=0 if attr == "correlation" else None)
        for col in _TEXT_COLUMNS & set(df.columns):  # CSV reads empty text as NaN
            df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
        tables[attr] = df
    if tables["fitted"] is not None and "date" in tables["fitted"]:
        tables["fitted"]["date"] = pd.to_datetime(tables["fitted"]["date"])
    if tables["backtest"] is not None and "date" in tables["backtest"]:
        tables["backtest"]["date"] = pd.to_datetime(tables["backtest"]["date"])
    draws = pd.read_parquet(d / "draws.parquet") if (d / "draws.parquet").is_file() else None
    manifest = {k: v for k, v in meta.items()
                if k not in ("converged", "message", "diagnostics")}
    return CalibrationResult(
        model=meta["model"], spec=meta["spec"], area=meta["area"], method=meta["method"],
        seed=int(meta["seed"]), draws=draws, converged=bool(meta.get("converged", True)),
        message=str(meta.get("message", "")), diagnostics=dict(meta.get("diagnostics", {})),
        manifest=manifest, **tables,  # type: ignore[arg-type]
    )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    return obj
