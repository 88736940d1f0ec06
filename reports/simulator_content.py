"""What the simulator page holds, gathered from results: the levers, shocks, panels, published
data, posterior draws, tipping points and collapse criteria, as one JSON-ready dictionary.

The page's model is compiled to JavaScript once, for one run configuration: the constants a
calibration fits or fixes (and a scenario's overrides) are per-run parameters, and every lever,
shock target and scenario input is a time input (one value per Euler step), so a lever can take
a new value from any month.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError

__all__ = ["PANELS", "SHOCKS", "SLIDER_DRIVERS", "Shock", "first_sentence", "simulator_content",
           "slider_specs", "starting_values"]

# What the page draws: (key, title, output roles), in reading order.
PANELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("backlog", "Children waiting for assessment", ("awaiting_assessment",)),
    ("caseload", "Caseloads", ("caseload",)),
    ("workforce", "Social workers", ("social_workers_fte", "agency_fte")),
    ("rates", "Vacancies, agency staff and turnover", ("vacancy_rate", "agency_rate",
                                                      "turnover_rate")),
    ("re_referrals", "Children referred again", ("re_referral_rate",)),
)


# Drivers that get a slider: demand. The others describe the area or its past (the child
# population, COVID-19, the history switch) and come from a scenario or a calibration.
SLIDER_DRIVERS = ("underlying_need",)


@dataclass(frozen=True)
class Shock:
    """A shock button: `op` ("add" or "scale") `amount` to the first of `targets` (roles or
    variable names) the model has, for `months` months from the month chosen on the page. With
    `amount_from`, a constant of the model that holds the size (the fitted 2008 scandal), the
    amount is that constant's value on the page (its default, a scenario's or the fit's)."""

    key: str
    label: str
    meaning: str
    targets: tuple[str, ...]
    op: str
    amount: float
    months: float
    amount_from: str | None = None


SHOCKS: tuple[Shock, ...] = (
    Shock("scandal", "A scandal of the 2008 size",
          "a national scandal as intense as the death of Peter Connelly made public in "
          "November 2008 (its size as fitted), for six months", ("scandal_shock",), "add",
          1.0, 6.0, amount_from="Scandal 2008 Size"),
    Shock("freeze", "A recruitment freeze", "no new permanent recruits for twelve months",
          ("Vacancy Fill Rate", "Maximum Hiring Rate"), "scale", 0.0, 12.0),
    Shock("surge", "A demand surge", "underlying need a fifth higher for twelve months",
          ("underlying_need",), "scale", 1.2, 12.0),
)


def first_sentence(text: str, limit: int = 140) -> str:
    """A variable's meaning in one line, from its comment: the first sentence (or clause before
    a colon) outside brackets, without a leading role tag ("A driver: ..."); an aside in
    brackets is dropped when the sentence would be longer than `limit`."""
    text = " ".join(re.sub(r"\\\s", " ", text or "").split())  # Vensim's line continuations
    text = re.sub(r"^an? (lever|driver|constant|parameter|output)\s*[:.]\s*", "", text,
                  flags=re.I)
    depth, cut = 0, len(text)
    for i, ch in enumerate(text):
        depth += (ch in "([") - (ch in ")]")
        if (depth == 0 and ch in ".:" and i > 0 and re.match(r"[a-z0-9)%\]]", text[i - 1])
                and (i + 1 == len(text) or text[i + 1] == " ")):
            cut = i
            break
    out = text[:cut].strip()
    if len(out) > limit:  # asides first, then words
        out = re.sub(r"\s*\([^()]*\)", "", out)
    if len(out) > limit:
        out = out[:limit].rsplit(" ", 1)[0] + "..."
    if not out:
        return ""
    out = out[:1].upper() + out[1:]
    return out if out.endswith(("?", "!", "...")) else out.rstrip(".") + "."


def _rle(values: np.ndarray) -> list[list[float]]:
    """Run-length pairs [value, count] of an array (increments are mostly zero)."""
    out: list[list[float]] = []
    for v in values.tolist():
        if out and (out[-1][0] == v or (v != v and out[-1][0] != out[-1][0])):
            out[-1][1] += 1
        else:
            out.append([v, 1])
    return out


def _finite_range(p) -> tuple[float, float]:
    lo, hi = float(p.lower), float(p.upper)
    d = float(p.default)
    if not math.isfinite(lo):
        lo = 0.0 if d >= 0 else 2 * d
    if not math.isfinite(hi):
        hi = max(2 * abs(d), lo + 1.0)
    return lo, hi


def _merge(scenarios: Sequence[Any]):
    from carespiral.pysd_runner.scenario import Scenario

    if not scenarios:
        return None
    if len(scenarios) == 1:
        return scenarios[0]
    params: dict[str, float] = {}
    inputs: list[Any] = []
    for sc in scenarios:
        params.update(sc.params)
        inputs.extend(sc.inputs)
    return Scenario(name=" + ".join(s.name for s in scenarios),
                    title=" + ".join(s.title or s.name for s in scenarios), params=params,
                    inputs=tuple(inputs))


def starting_values(model: Any, calibration: Any = None,
                    scenario: Any = None) -> tuple[dict[str, float], dict[str, float]]:
    """The constants the page starts from that differ from the model's defaults, and the fitted
    ones among them: a scenario's constants, then a calibration's fixed values (such as the
    area's child population), then its fitted values."""
    if isinstance(scenario, list | tuple):
        scenario = _merge(list(scenario))
    base: dict[str, float] = {}
    if scenario is not None:
        for k, v in scenario.params.items():
            base[model.parameter(k).name] = float(v)
    fitted: dict[str, float] = {}
    if calibration is not None:
        for k, v in dict(calibration.manifest.get("fixed", {}) or {}).items():
            base[model.parameter(k).name] = float(v)
        for k, v in calibration.values.items():
            name = model.parameter(k).name
            fitted[name] = float(v)
            base[name] = float(v)
    return base, fitted


def slider_specs(model: Any, base: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """The page's sliders: the catalogue's levers, then its demand driver (shocks are buttons),
    each with its label, unit in words, meaning, bounds and starting value (`base` or the
    default). A model without catalogue levers gets its constants with declared bounds."""
    from carespiral.pysd_runner.catalog import naming

    base = dict(base or {})
    units = {v.name: v.units for v in model.variables}
    descr = {v.name: v.description for v in model.variables}
    params = {p.name: p for p in model.parameters}

    def label_of(name: str) -> Any:
        return naming(name, model.name, units.get(name, ""))

    sliders: list[dict[str, Any]] = []
    roles = [(r, v, "lever") for r, v in model.levers.items()]
    roles += [(r, v, "driver") for r, v in model.drivers.items() if r in SLIDER_DRIVERS]
    for role, var, group in roles:
        if var not in params:
            continue
        p = params[var]
        start = base.get(var, float(p.default))
        lo, hi = _finite_range(p)
        lo, hi = min(lo, start), max(hi, start)
        nm = label_of(role)
        sliders.append({"key": role, "name": var, "group": group, "label": nm.label,
                        "units": nm.unit, "meaning": first_sentence(descr.get(var, "")),
                        "lower": lo, "upper": hi, "start": start, "tipping": None})
    if not model.levers:  # a model of the user's own: its first constants, within their
        for p in model.parameters[:12]:  # declared bounds (else 0 to twice the default)
            lo, hi = float(p.lower), float(p.upper)
            if not (math.isfinite(lo) and math.isfinite(hi)) and p.default != 0:
                d = float(p.default)
                lo, hi = (min(0.0, 2 * d), max(0.0, 2 * d))
            if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
                nm = label_of(p.name)
                start = base.get(p.name, float(p.default))
                sliders.append({"key": re.sub(r"\W+", "_", p.name).strip("_").lower(),
                                "name": p.name, "group": "lever", "label": nm.label,
                                "units": nm.unit, "meaning": first_sentence(p.description),
                                "lower": min(lo, start), "upper": max(hi, start),
                                "start": start, "tipping": None})
    return sliders


def simulator_content(model: Any, *, calibration: Any = None, scenarios: Sequence[Any] = (),
                      tipping: Mapping[str, Any] | None = None, data: pd.DataFrame | None = None,
                      area: str | None = None, draws: int = 100, seed: int = 20261202,
                      criteria: Sequence[Any] | None = None,
                      inputs: Mapping[str, pd.Series] | None = None) -> tuple[dict[str, Any], Any]:
    """The page's configuration (JSON-ready) and the compiled `JsModel`.

    model: a runner `Model`; calibration: a `CalibrationResult` (its fitted values start the
    sliders, its draws make the band); scenarios: `Scenario` objects overlaid; tipping: a
    `Bifurcation` per parameter name (its first loss of stability is marked on the slider);
    data: the area's tidy published table; criteria: collapse criteria (default: the
    exploration defaults for the model); inputs: series over model time (index: model months)
    that replace variables' equations, as a calibration's drivers do (linear between points,
    held beyond them, as `TimeInput`).
    """
    from carespiral.exploration.criteria import INITIAL, Growing, default_criteria
    from carespiral.pysd_runner.batch import compile_model
    from carespiral.pysd_runner.batch.js_target import compile_js
    from carespiral.pysd_runner.catalog import naming

    bm = compile_model(model.mdl_path)
    units = {v.name: v.units for v in model.variables}
    params = {p.name: p for p in model.parameters}
    scenario = _merge(list(scenarios))
    if calibration is not None and calibration.model not in (model.name, model.mdl_path.stem):
        raise CarespiralError(f"the calibration result is for model {calibration.model!r}, not "
                              f"{model.name!r}; give the model it was fitted to")

    def label_of(name: str) -> Any:
        return naming(name, model.name, units.get(name, ""))

    base, fitted = starting_values(model, calibration, scenario)

    sliders = slider_specs(model, base)
    for s in sliders:
        bif = (tipping or {}).get(s["name"])
        if bif is not None:
            s["tipping"] = _tipping_mark(bif, s["start"], s["upper"])

    shocks: list[dict[str, Any]] = []
    for sh in SHOCKS:
        target = next((model.roles.get(t, t) for t in sh.targets
                       if model.roles.get(t, t) in params), None)
        if target is not None:
            amount = sh.amount
            if sh.amount_from is not None and sh.amount_from in params:
                amount = float(base.get(sh.amount_from, params[sh.amount_from].default))
            shocks.append({"key": sh.key, "label": sh.label, "meaning": sh.meaning,
                           "name": target, "op": sh.op, "amount": amount,
                           "months": sh.months})

    # ---- run configuration: time inputs and per-run parameters -------------------------------
    scen_inputs = sorted({model.parameter(i.name).name for i in scenario.inputs}) \
        if scenario is not None else []
    series_in = {bm.resolve(str(k)): v for k, v in (inputs or {}).items()}
    scen_inputs = [n for n in scen_inputs if n not in series_in]  # the given series win
    inputs = list(dict.fromkeys([s["name"] for s in sliders] + [s["name"] for s in shocks]
                                + scen_inputs + list(series_in)))
    per_run = [n for n in dict.fromkeys(list(base) + list(fitted)) if n not in inputs]
    crit = [c.bind(model) for c in (criteria if criteria is not None else
                                     default_criteria(model))]
    outputs = list(model.outputs.values()) or list(model.stocks)
    for c in crit:
        outputs.append(c.variable)
        if getattr(c, "relative_to", None) not in (None, INITIAL):
            outputs.append(c.relative_to)
    outputs = list(dict.fromkeys(outputs))
    js = compile_js(bm, params=per_run, inputs=inputs, outputs=outputs)
    out_index = {name: j for j, name in enumerate(js.outputs)}
    base_all = {n: base.get(n, float(params[n].default)) if n in params else
                float(np.asarray(series_in[n], dtype=float)[0]) for n in per_run + inputs}

    t0, dt = js.t0, js.dt
    t1 = t0 + js.nsteps * dt
    grid = np.arange(t0, model.control("final_time") + dt / 2, dt)
    if len(grid) != js.nsteps + 1:
        grid = t0 + dt * np.arange(js.nsteps + 1)
    scen_specs: dict[str, Any] = {}
    if scenario is not None:
        for name in scen_inputs:
            mine = [i for i in scenario.inputs if model.parameter(i.name).name == name]
            tables = [i for i in mine if i.type == "table"]
            if tables:
                scen_specs[name] = {"table": tables[0].table_values(grid).tolist()}
                continue
            explicit = [i.base for i in mine if i.base is not None]
            scen_specs[name] = {"base": explicit[0] if explicit else None,
                                "incs": [_rle(i.increment(grid, dt)) for i in mine]}

    for name, series in series_in.items():
        knots = np.asarray(series.index, dtype=float)
        scen_specs[name] = {"table": np.interp(grid, knots, np.asarray(series, dtype=float))
                            .tolist()}

    # ---- posterior draws --------------------------------------------------------------------
    draw_block, draws_note = None, ""
    if calibration is not None and calibration.draws is not None and len(calibration.draws):
        frame = calibration.draws
        cols = [model.parameter(c).name for c in frame.columns]
        values = frame.to_numpy(dtype=float)
        if np.all(values == values[:1]):  # a point fit whose spread could not be estimated
            draws_note = ("The calibration's draws are all the same (its uncertainty could not "
                          "be estimated), so the page draws no band around the line.")
        else:
            rng = np.random.default_rng(seed)
            n = min(int(draws), len(frame))
            rows = values[rng.choice(len(frame), size=n, replace=False)]
            draw_block = {"names": cols, "rows": rows.tolist()}
    elif calibration is not None:
        draws_note = "The calibration has no posterior draws, so the page draws no band."

    # ---- calendar, panels and published data --------------------------------------------------
    times = js.times
    calendar = None
    if model.start_date is not None and (getattr(model.entry, "time_unit", "Month") or
                                         "Month").lower().startswith("month"):
        from carespiral.pysd_runner.calendar import months_to_dates

        calendar = {"start": model.start_date.isoformat(),
                    "dates": [d.strftime("%Y-%m-%d") for d in months_to_dates(np.array(times),
                                                                               model.start_date)]}
    panels = _panels(model, out_index, label_of, units, data, area)
    last_data = max((p["date"] for panel in panels for s in panel["series"]
                     for p in s.get("data", [])), default=None)
    policy_start = t0
    if calendar is not None and last_data is not None:
        d = pd.Timestamp(last_data)
        year = d.year + (1 if d.month >= 4 else 0)
        policy_start = float((year - model.start_date.year) * 12 + 4 - model.start_date.month)
        policy_start = min(max(policy_start, t0), t1)

    crit_cfg = []
    for c in crit:
        rel = getattr(c, "relative_to", None)
        kind = "degraded" if (isinstance(c, Growing) or c.variable ==
                              model.outputs.get("awaiting_assessment")) else "collapse"
        crit_cfg.append({"text": _criterion_text(c, label_of, INITIAL), "kind": kind,
                         "output": out_index[c.variable], "months": float(c.months),
                         "type": "growing" if isinstance(c, Growing) else "threshold",
                         "op": getattr(c, "op", ">"), "value": float(getattr(c, "value", 0.0)),
                         "minRate": float(getattr(c, "min_rate", 0.0)),
                         "relative": ("initial" if rel == INITIAL else
                                      (out_index[rel] if rel else None))})
    role_of = {v: r for r, v in model.outputs.items()}
    out_cfg = []
    for name in js.outputs:
        nm = label_of(role_of.get(name, name))
        out_cfg.append({"name": name, "label": nm.label, "units": nm.unit,
                        "role": role_of.get(name, "")})

    config = {
        "model": model.name, "title": model.title, "area": area or "",
        "scenario": (scenario.title or scenario.name) if scenario is not None else "",
        "calibrated": calibration is not None,
        "calibration": ({"area": calibration.area, "method": calibration.method,
                         "fitted": sorted(fitted),
                         "converged": bool(getattr(calibration, "converged", True))}
                        if calibration is not None else None),
        "grid": {"t0": t0, "dt": dt, "nsteps": js.nsteps, "saveEvery": js.save_every,
                 "knots": grid.tolist()},
        "times": times, "calendar": calendar, "policyStart": policy_start,
        "params": js.params, "inputs": js.inputs, "outputs": out_cfg,
        "base": base_all, "sliders": sliders, "shocks": shocks, "scenarioInputs": scen_specs,
        "draws": draw_block, "drawsNote": draws_note, "panels": panels, "criteria": crit_cfg,
    }
    return config, js


def _tipping_mark(bif: Any, start: float, upper: float) -> dict[str, Any] | None:
    """Where the steady state the slider starts in stops (the first fold turning back, or the
    first loss of stability, above the starting value), from a continuation."""
    folds = bif.folds
    if folds is None or not len(folds):
        return None
    edge = folds[((folds["kind"] == "fold") & (folds["direction"] == "upper"))
                 | ((folds["kind"] == "stability") & (folds["direction"] == "loses"))]
    edge = edge[(edge["param"] >= start - 1e-12) & (edge["param"] <= upper)]
    if not len(edge):
        return None
    return {"value": float(edge["param"].min()), "start": float(start)}


def _criterion_text(c: Any, label_of, initial: str) -> str:
    nm = label_of(c.variable)
    what = nm.label[:1].lower() + nm.label[1:]
    months = f"{c.months:g} months"
    if getattr(c, "kind", "") == "growing":
        return f"{what} rising every month for {months}"
    side = "above" if c.op == ">" else "below"
    rel = c.relative_to
    if rel == initial:
        amount = "twice" if c.value == 2 else f"{c.value:g} times"
        return f"{what} {side} {amount} the starting level for {months}"
    if rel:
        ref = label_of(rel).label.lower()
        amount = "half" if c.value == 0.5 else f"{c.value:g} times"
        return f"{what} {side} {amount} the {ref} for {months}"
    unit = "%" if "%" in nm.unit[:2] else ""
    return f"{what} {side} {c.value:g}{unit} for {months}"


def _panels(model: Any, out_index: dict[str, int], label_of, units: dict[str, str],
            data: pd.DataFrame | None, area: str | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    todo = [(key, title, [model.outputs[r] for r in roles if r in model.outputs])
            for key, title, roles in PANELS]
    todo = [t for t in todo if t[2]]
    if not todo:  # no catalogue roles: one panel per stock
        todo = [(f"stock{j}", label_of(s).label, [s]) for j, s in enumerate(model.stocks[:6])]
    role_of = {v: r for r, v in model.outputs.items()}
    for key, title, names in todo:
        series = []
        for name in names:
            role = role_of.get(name, "")
            nm = label_of(role or name)
            item: dict[str, Any] = {"output": out_index[name], "label": nm.label,
                                    "units": nm.unit, "data": []}
            if data is not None and role:
                item["data"] = _published(data, role, units.get(name, ""))
            series.append(item)
        kinds = list(dict.fromkeys(x["units"] for x in series))
        if len(kinds) == 1:
            head, note = kinds[0], ""
        else:  # several units (rates of different bases): say each in the caption
            head = "percent" if all(k.startswith("%") for k in kinds) else "units below"
            note = "; ".join(f"{x['label']}: {x['units']}" for x in series) + "."
        found.append({"key": key, "title": title, "series": series, "units": head,
                      "unitsNote": note, "area": area or ""})
    return found


def _published(data: pd.DataFrame, role: str, model_units: str) -> list[dict[str, Any]]:
    rows = data[(data["series"] == role) & data["value"].notna()]
    if "variant" in rows:
        rows = rows[rows["variant"].fillna("") == ""]
    if rows.empty:
        return []
    rows = rows.sort_values("date")
    percent_model = "%" in model_units or "percent" in model_units.lower()
    scale = 0.01 if (str(rows["unit"].iloc[0]).strip() == "%" and not percent_model) else 1.0
    return [{"date": pd.Timestamp(d).strftime("%Y-%m-%d"), "value": float(v) * scale}
            for d, v in zip(rows["date"], rows["value"], strict=True)]
