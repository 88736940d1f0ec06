"""`carespiral tipping MODEL --param NAME`: equilibria, folds and hysteresis against a parameter."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import typer

from carespiral.cli._common import FORCE, check_seed, claim_output, console, parse_sets
from carespiral.errors import CarespiralError


def _range(text: str | None, model, name: str, flag: str) -> tuple[float, float]:
    p = model.parameter(name)
    if text is None:
        # Half to twice the default, inside the declared bounds: wide enough to see both regimes.
        lo, hi = (p.default * 0.5, p.default * 2.0) if p.default > 0 else (p.lower, p.upper)
        lo, hi = max(lo, p.lower), min(hi, p.upper)
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
            raise CarespiralError(f"give {flag} LOW:HIGH for {p.name!r} (default {p.default:g})")
        return lo, hi
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*:\s*([-+0-9.eE]+)\s*", text)
    if not m:
        raise CarespiralError(f"{flag} {text!r}: expected LOW:HIGH, e.g. {flag} 200:450")
    lo, hi = float(m.group(1)), float(m.group(2))
    if lo >= hi:
        raise CarespiralError(f"{flag} {text!r}: LOW must be below HIGH")
    p.check(lo)
    p.check(hi)
    return lo, hi


def _check_sizes(m, points: int, hold: float, points2: int | None, shock_months: float) -> None:
    """Refuse a sweep or regime map too long or too big before anything is built (the runner's
    limits: CARESPIRAL_MAX_STEPS, CARESPIRAL_MAX_MEMORY)."""
    from carespiral.pysd_runner.limits import check_size

    if not (np.isfinite(hold) and np.isfinite(shock_months)):
        raise CarespiralError("--hold and --shock-months must be finite numbers of months")
    dt = m.control("time_step")
    if points2 is None:  # one run: every value held `hold` months going up, then down
        steps = 2.0 * points * hold / dt
        check_size(steps, steps * 8, f"the sweep ({points:,} values held {hold:g} months "
                   "each, up and down)", f"(2 x {points:,} x {hold:g} / {dt:g})")
    else:  # two runs per cell (with and without the shock)
        steps = (shock_months + hold) / dt
        runs = 2.0 * points * points2
        check_size(steps, runs * steps * 8, f"the regime map ({points:,} x {points2:,} cells, "
                   "two runs each)", f"(({shock_months:g} + {hold:g}) / {dt:g})")


def tipping(
    model: str = typer.Argument(..., help="A bundled model name or a path to a .mdl file."),
    param: str = typer.Option(..., "--param", help="The parameter to vary (name or role)."),
    range_: str = typer.Option(None, "--range", help="LOW:HIGH for --param (default: half to twice)."),
    param2: str = typer.Option(None, "--param2", help="A second parameter: a regime map by the shock test."),
    range2: str = typer.Option(None, "--range2", help="LOW:HIGH for --param2."),
    points: int = typer.Option(21, "--points", min=2, help="Sweep values of --param."),
    points2: int = typer.Option(9, "--points2", min=2, help="Values of --param2 in the regime map."),
    hold: float = typer.Option(120.0, "--hold", min=1.0, help="Months each value is held in a sweep."),
    shock: float = typer.Option(None, "--shock", help="Regime map: pulse added to --param (default: half its range)."),
    shock_months: float = typer.Option(36.0, "--shock-months", min=1.0, help="Regime map: length of the pulse."),
    set_: list[str] = typer.Option(None, "--set", help="NAME=VALUE fixed override (repeatable)."),
    spec: Path = typer.Option(None, "--spec", help="Take collapse criteria from this exploration spec."),
    loops: float = typer.Option(None, "--loops", help="Also: which feedback loops dominate a run with --param at this value."),
    out: Path = typer.Option(None, "--out", help="Results folder (default: tipping-MODEL-PARAM)."),
    html: bool = typer.Option(False, "--html", help="Also write OUT/report.html."),
    seed: int = typer.Option(0, "--seed", help="Regime map: seed of the model's RANDOM "
                             "functions (every cell draws the same numbers)."),
    force: bool = FORCE,
) -> None:
    """Find tipping points: continuation of equilibria (folds) and up/down sweeps (hysteresis)."""
    from carespiral.exploration import continuation, default_criteria, read_spec, sweep
    from carespiral.pysd_runner import load

    check_seed(seed)
    m = load(model)
    name = m.parameter(param).name
    lo, hi = _range(range_, m, name, "--range")
    fixed = parse_sets(set_)
    criteria = list(read_spec(spec).criteria) if spec else []
    criteria = criteria or default_criteria(m)
    out = out or Path(f"tipping-{m.name}-{re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_')}")
    _check_sizes(m, points, hold, points2 if param2 else None, shock_months)
    if shock is not None and not np.isfinite(shock):
        raise CarespiralError(f"--shock {shock}: expected a finite number")
    if param2 and m.parameter(param2).name == name:
        raise CarespiralError(f"--param2 {param2!r}: a regime map needs a second parameter, "
                              "not --param again")
    if loops is not None:
        m.parameter(name).check(loops)  # before anything runs
    claim = claim_output(out, force=force, inputs=[model, spec])
    from carespiral.cli._progress import estimated, pilot_seconds

    ranges = _ranges(m, fixed)
    if ranges is not None:
        ranges.save(out / "observed_ranges")  # for the report, and for `carespiral report`
    bif = None
    try:
        # no estimate: how long the branch is (its folds) is what the continuation finds out
        with estimated("continuation of equilibria", None):
            bif = continuation(m, name, lo, hi, params=fixed)
        bif.save(out / "bifurcation")
        console.print(f"Continuation: {len(bif.branch)} equilibria, "
                      f"{int(bif.branch['stable'].sum())} stable")
        for r in bif.folds.itertuples(index=False):
            console.print(f"  {r.kind} ({r.direction}) at {name} = {r.param:.5g}")
    except CarespiralError as exc:
        console.print(f"No continuation: {exc}")
    values = np.linspace(lo, hi, points)
    found = None
    if not criteria:
        console.print("No collapse criteria apply to this model (give --spec with [[criteria]]): "
                      "no sweep or regime map.")
    elif param2:
        from carespiral.exploration import shock_map

        name2 = m.parameter(param2).name
        lo2, hi2 = _range(range2, m, name2, "--range2")
        height = (hi - lo) / 2 if shock is None else shock
        with estimated(f"regime map: {points * points2} cells, each with and without a shock",
                       None):
            found = shock_map(m, name, values, name2, np.linspace(lo2, hi2, points2), criteria,
                              shock=height, duration=shock_months, hold=hold, params=fixed,
                              seed=seed)
        found.save(out / "regime_map")
        typer.echo(found.thresholds().to_string(index=False))
    else:
        months = 2 * points * hold  # one run holding each value going up, then down
        with console.status("timing a short run for the estimate"):
            took = pilot_seconds(lambda t: m.run(params={**fixed, name: lo}, stop=t,
                                                 saveper=m.control("time_step"),
                                                 outputs=list(m.outputs.values())[:4] or None),
                                 months)
        with estimated(f"up/down sweep: {points} values held {hold:g} months each", took):
            found = sweep(m, name, values, criteria, hold=hold, params=fixed)
        found.save(out / "sweep")
        typer.echo(found.thresholds().to_string(index=False))
    if loops is not None:
        from carespiral.exploration import loop_dominance

        with console.status("loop dominance (Loops That Matter)"):
            ld = loop_dominance(m, {**fixed, name: loops})
        ld.save(out / "loops")
        console.print(f"Dominant loops with {name} = {loops:g} (spells of 6 months or more):")
        for r in ld.switches(min_months=6).itertuples(index=False):
            typer.echo(f"  month {r.time:g}: {r.to or '(none)'}  {r.variables[:90]}")
    if html and (bif is not None or found is not None):
        from carespiral.reports.exploration import tipping_report

        page = tipping_report(bif, found, out / "report.html", ranges=ranges,
                              default=float(m.parameter(name).default))
        console.print(f"Wrote {page}")
    if bif is not None or found is not None:
        from carespiral.reports.verdicts import (
            sweep_explanation,
            tipping_plausibility,
            tipping_verdict,
        )

        rmap = found if getattr(found, "kind", "") == "regime_map" else None
        sw = None if rmap is not None else found
        kids = getattr(ranges, "children", None)
        words = [tipping_verdict(bif, sw, rmap, float(m.parameter(name).default), kids),
                 tipping_plausibility(bif, sw, ranges), sweep_explanation(bif, sw)]
        console.print("[bold]Verdict[/bold]: " + " ".join(w for w in words if w))
    claim.complete()
    console.print(f"Results in {out}")


def _ranges(m, fixed: dict[str, float]):
    """The ranges English authorities have recorded, in the model's units, for the child
    population of these runs (None for a model without outputs that have published figures)."""
    if not m.outputs:
        return None
    from carespiral.data.ranges import model_ranges

    pop = (m.drivers or {}).get("child_population")
    children = next((float(v) for k, v in fixed.items() if pop and m.parameter(k).name == pop),
                    None)
    with console.status("the ranges English authorities have recorded"):
        ranges = model_ranges(m, children=children)
    return ranges if len(ranges.table) else None


def register(app: typer.Typer) -> None:
    app.command("tipping")(tipping)
