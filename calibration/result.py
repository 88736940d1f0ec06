"""The result of a calibration: a typed object, a text report, and a folder that round-trips.

A result folder (`carespiral.results`: the one format of every result) holds:

    manifest.json       model and data hashes, versions, seed, method, command, diagnostics
    parameters.csv      fitted parameters with intervals, priors, bounds, identifiability
    fitted.csv          per series and period: observed, fitted, 95% predictive interval
    fit.csv             fit statistics per series (R² = 1 - SSE/SST, signed r, trend slopes
                        and sign, MAPE, RMSE, Theil U^M/U^S/U^C, residual autocorrelation)
    correlation.csv     parameter correlations
    draws.parquet       posterior draws (emcee) or draws from the Laplace approximation
    profiles.csv        profile log-posterior per parameter (point methods, if computed)
    backtest.csv        out-of-sample forecasts vs published and naive forecasts (--fit-until)
    backtest_summary.csv  MASE per series for the model, its run alone, persistence, linear
                        trend and mean; coverage of the 95% interval
    rolling_forecasts.csv forecasts of a rolling-origin backtest (`calibrate --origins`)
    report.txt          the text report

The folder is written whole: an interrupted save leaves nothing that looks complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.errors import FileFormatError
from carespiral.results import Result

__all__ = ["CalibrationResult", "load_result"]

_TEXT_COLUMNS = {"parameter", "series", "unit", "prior", "identifiability", "trend_sign",
                 "area"}
_REQUIRED = ("parameters", "fitted", "fit", "correlation")
_LABELS = ("model", "spec", "area", "method", "seed")
_OUTCOME = ("converged", "message", "diagnostics")


# diagnostics in words for the plain-text report
_DIAGNOSTICS = {"runs": "model runs", "seconds": "seconds", "start_logpost":
                "log-posterior at the priors' centres", "best_logpost": "best log-posterior",
                "laplace_positive_definite": "curvature usable for Laplace intervals",
                "acceptance_fraction": "sampler acceptance", "ess": "effective sample size"}


def _cell(value: Any, spec: str, width: int) -> str:
    """A number for a text table, or a dash where the result has none (older results)."""
    try:
        missing = value is None or not np.isfinite(float(value))
    except (TypeError, ValueError):
        missing = True
    return f"{'-':>{width}}" if missing else f"{float(value):>{width}{spec}}"


@dataclass
class CalibrationResult(Result):
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
        rolling: forecasts of a rolling-origin backtest (`calibration.rolling`), if run.
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
    rolling: pd.DataFrame | None = None
    converged: bool = True
    message: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "calibration"
    tables: ClassVar[dict[str, str]] = {
        "parameters": "parameters.csv", "fitted": "fitted.csv", "fit": "fit.csv",
        "correlation": "correlation.csv", "profiles": "profiles.csv",
        "backtest": "backtest.csv", "backtest_summary": "backtest_summary.csv",
        "rolling": "rolling_forecasts.csv", "draws": "draws.parquet",
    }

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
        """A plain-text report: the verdict, parameters, fit statistics and backtest."""
        from carespiral.calibration.verdict import calibration_verdict
        from carespiral.pysd_runner.catalog import label

        def name(series: str) -> str:  # the catalogue's label, never a code name
            return label(series, self.model)[:30]

        lines = [
            calibration_verdict(self), "",
            f"Calibration of {self.model} to {self.area} ({self.spec}), method {self.method}, "
            f"seed {self.seed}",
            ("Optimiser converged. " if self.converged else "WARNING: NOT CONVERGED: ")
            + self.message,
            "",
            "Parameters (95% intervals):",
        ]
        for _, r in self.parameters.iterrows():
            flag = r.get("identifiability", "")
            flag = f"  [{flag}]" if isinstance(flag, str) and flag and flag != "identified" else ""
            bound = "  [at bound]" if bool(r.get("at_bound", False)) else ""
            lines.append(f"  {r['parameter']:<40} {r['estimate']:>12.5g}  "
                         f"[{r['lower']:.5g}, {r['upper']:.5g}]  prior {r['prior']}{flag}{bound}")
        lines += ["", "Fit (R² = 1 - SSE/SST; r signed correlation; trend slopes a year, "
                      "published and fitted; Theil: bias U^M, variation U^S, covariation U^C; "
                      "rho: residual autocorrelation in the error model):",
                  f"  {'series':<30}{'n':>4}{'R²':>8}{'r':>7}{'slope obs':>12}{'slope fit':>12}"
                  f"{'trend':>9}{'MAPE%':>7}{'U^M':>6}{'U^S':>6}{'U^C':>6}{'rho':>6}"]
        for _, r in self.fit.iterrows():
            lines.append(f"  {name(r['series']):<30}{int(r['n']):>4}{r['r2']:>8.3f}"
                         f"{_cell(r.get('r'), '.2f', 7)}{_cell(r.get('slope_observed'), '.4g', 12)}"
                         f"{_cell(r.get('slope_fitted'), '.4g', 12)}"
                         f"{r.get('trend_sign', '')!s:>9}{r['mape']:>7.2f}{r['u_m']:>6.2f}"
                         f"{r['u_s']:>6.2f}{r['u_c']:>6.2f}{r.get('rho', 0.0):>6.2f}")
        wrong = self.fit[self.fit.get("trend_sign", pd.Series(dtype=object)) == "wrong"] \
            if "trend_sign" in self.fit else self.fit.iloc[:0]
        for _, r in wrong.iterrows():
            lines.append(f"  WARNING: {name(r['series'])}: the fitted trend ({r['slope_fitted']:+.4g} "
                         f"a year) runs against the published one ({r['slope_observed']:+.4g})")
        if len(self.correlation) > 1:
            c = self.correlation.to_numpy(dtype=float)
            iu = np.triu_indices_from(c, 1)
            strong = [(self.correlation.index[i], self.correlation.columns[j], c[i, j])
                      for i, j in zip(*iu, strict=True) if abs(c[i, j]) > 0.9]
            if strong:
                lines += ["", "Strongly correlated parameters (|r| > 0.9):"]
                lines += [f"  {a} ~ {b}: {v:+.2f}" for a, b, v in strong]
        if self.backtest_summary is not None and len(self.backtest_summary):
            lines += ["", "Backtest (MASE; below 1 beats the in-sample naive step; model: the "
                          "forecast with the error model, run: the model run alone):",
                      f"  {'series':<30}{'n':>4}{'model':>8}{'run':>8}{'persist':>9}"
                      f"{'trend':>8}{'mean':>8}{'in 95%':>8}"]
            for _, r in self.backtest_summary.iterrows():
                lines.append(f"  {name(r['series']):<30}{int(r['n']):>4}{r['mase_model']:>8.2f}"
                             f"{_cell(r.get('mase_run'), '.2f', 8)}"
                             f"{r['mase_persistence']:>9.2f}{r['mase_trend']:>8.2f}"
                             f"{_cell(r.get('mase_mean'), '.2f', 8)}{r['coverage']:>8.0%}")
        notes = (self.manifest or {}).get("notes") or []
        if notes:
            lines += ["", "Set-up: " + "; ".join(str(n) for n in notes)]
        if self.diagnostics:
            lines += ["", "Diagnostics: " + ", ".join(
                f"{_DIAGNOSTICS.get(k, k.replace('_', ' '))} "
                + (f"{v:.4g}" if isinstance(v, float) else "yes" if v is True
                   else "no" if v is False else f"{v}")
                for k, v in self.diagnostics.items())]
        return "\n".join(lines) + "\n"

    # ---- persistence (the rest is `Result.save` and `Result.load`) -----------------------

    def _manifest_values(self) -> dict[str, Any]:
        """The labels and outcome, then the provenance at the top level of the manifest."""
        own = {k: getattr(self, k) for k in (*_LABELS, *_OUTCOME)}
        return {**own, **{k: v for k, v in self.manifest.items()
                          if k not in own and k not in ("format", "version", "kind", "tables")}}

    @classmethod
    def _from_parts(cls, values: dict[str, Any], frames: dict[str, pd.DataFrame],
                    folder: Path) -> CalibrationResult:
        for key in _LABELS:
            if key not in values:
                raise FileFormatError(folder / "manifest.json", f"missing {key!r}")
        for name in _REQUIRED:
            if name not in frames:
                raise FileFormatError(folder / cls.tables[name],
                                      "missing from the result directory")
        tables: dict[str, pd.DataFrame] = {}
        for name, df in frames.items():
            if name == "correlation":  # parameter names are its index (the CSV's first column)
                df = df.set_index(df.columns[0]).rename_axis(None)
            for col in _TEXT_COLUMNS & set(df.columns):  # CSV reads empty text as NaN
                df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
            tables[name] = df
        _check_tables(tables, folder, cls.tables)
        return cls(
            model=values["model"], spec=values["spec"], area=values["area"],
            method=values["method"], seed=int(values["seed"]),
            converged=bool(values.get("converged", True)), message=str(values.get("message", "")),
            diagnostics=dict(values.get("diagnostics") or {}),
            manifest={k: v for k, v in values.items() if k not in _OUTCOME},
            **tables,  # type: ignore[arg-type]
        )


def _check_tables(tables: dict[str, pd.DataFrame], folder: Path, files: dict[str, str]) -> None:
    """A hand-edited or damaged table names its file, row and column (not a traceback)."""
    from carespiral.schema import check_table

    numeric = {"parameters": ("estimate", "sd", "lower", "upper", "bound_lower", "bound_upper"),
               "fitted": ("observed", "fitted", "lower", "upper", "time")}
    for name, cols in numeric.items():
        check_table(tables[name], folder / files[name], numeric=cols,
                    required=("parameter", "estimate") if name == "parameters" else (),
                    what=f"{name} table")
    if tables.get("draws") is not None:
        check_table(tables["draws"], folder / files["draws"], what="draws table")


def load_result(directory: str | Path) -> CalibrationResult:
    """Read a result folder written by `CalibrationResult.save`."""
    return CalibrationResult.load(directory)
