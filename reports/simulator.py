"""The flight simulator: a model compiled to one self-contained web page with levers and shocks.

`simulator_page(model, path, ...)` writes one HTML file holding plotly.js, the model compiled to
JavaScript from the batch backend's lowered equations (`pysd_runner.batch.js_target`), the page's
controls (`assets/simulator_core.js` for the runs, verdict and band, `assets/simulator.js` for
the controls and figures, `assets/simulator.css`) and everything the page shows as JSON
(`simulator_content`): levers with their units, bounds, meaning and tipping point, shock
buttons, the published figures of the area, posterior draws of a calibration and the collapse
criteria. The page runs the model itself in the browser as the levers move; it needs no server
and makes no network request, so it opens from disk or from an email attachment.

Like every report it consumes results: the model's structure, a `CalibrationResult`,
continuation results (`Bifurcation`) and the published table. It never runs a model in Python.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.offline

from carespiral.errors import CarespiralError
from carespiral.reports.page import atomic_write
from carespiral.reports.simulator_content import simulator_content
from carespiral.reports.style import PALETTE

__all__ = ["render_simulator", "simulator_page"]

_ASSETS = Path(__file__).resolve().parent / "assets"


def simulator_page(model: Any, path: str | Path, *, calibration: Any = None,
                   scenarios: Sequence[Any] = (), tipping: Mapping[str, Any] | None = None,
                   data: pd.DataFrame | None = None, area: str | None = None, draws: int = 100,
                   seed: int = 20261202, criteria: Sequence[Any] | None = None,
                   inputs: Mapping[str, pd.Series] | None = None) -> Path:
    """Write the simulator page of `model` to `path` (an .html file) and return the path.

    calibration: a `CalibrationResult` of this model (sliders start at its fitted values; `draws`
    of its posterior draws, at least 100 when it has them, make a 90% band); scenarios: `Scenario`
    objects overlaid on the model (their inputs are the page's starting point); tipping: a
    continuation result (`Bifurcation`) per parameter name, marked on that slider; data: the
    area's rows of the published table (`carespiral.data.load(area=...)`), drawn for orientation
    where they are of the model's size; area: the area's name as the page shows it; inputs:
    series over model time replacing variables' equations (a calibration's drivers, such as the
    area's child population index).
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise CarespiralError(f"{path}: the simulator must be written to an .html file")
    config, js = simulator_content(model, calibration=calibration, scenarios=scenarios,
                                   tipping=tipping, data=data, area=area, draws=draws,
                                   seed=seed, criteria=criteria, inputs=inputs)
    atomic_write(path, render_simulator(config, js.source))
    return path


def _clean(obj: Any) -> Any:
    """JSON-ready: non-finite numbers become null (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _script(text: str) -> str:
    """JavaScript source safe inside a script element (it cannot close it)."""
    return text.replace("</script", "<\\/script")


def _listing(items: list[str]) -> str:
    """"a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def render_simulator(config: dict[str, Any], model_js: str) -> str:
    """The page as one HTML string, from `simulator_content`'s configuration and model source."""
    from carespiral import __version__
    from carespiral.pysd_runner.batch.js_runtime import JS_RUNTIME

    config = {**config, "palette": list(PALETTE)}
    title = f"Flight simulator: {config['title']}"
    sub = []
    if config.get("area"):
        sub.append(config["area"])
    if config.get("calibration"):
        cal = config["calibration"]
        sub.append(f"starting from the values fitted to {cal['area']} "
                   f"({cal['method'].replace('_', ' ')}"
                   + ("" if cal.get("converged", True) else
                      "; the fit did not converge, so treat its band as indicative") + ")")
    if config.get("scenario"):
        sub.append(f"scenario: {config['scenario']}")
    crit = config["criteria"]
    tests = "".join(
        f"<li>{html.escape(c['text'][:1].upper() + c['text'][1:])}: "
        f"{'degraded' if c['kind'] == 'degraded' else 'collapse'}</li>" for c in crit)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%d %B %Y")
    intro = ["Move a lever to see how the service responds; each change applies from the month "
             "you choose beside it."]
    if config["shocks"]:
        intro.append("The shock buttons add " + _listing([sh["label"][:1].lower() +
                                                         sh["label"][1:]
                                                         for sh in config["shocks"]])
                     + " from the month you choose.")
    if crit:
        intro.append("The verdict says whether the service stays sustainable, degrades "
                     "(children wait far longer than it was built for, though the workforce "
                     "holds) or collapses (caseloads, vacancies or the loss of staff pass the "
                     "collapse tests).")
    if any(s["tipping"] for s in config["sliders"]):
        intro.append("A red mark on a slider is a tipping point: beyond it the service cannot "
                     "settle where it started.")
    intro.append("The page runs the model itself; it needs no network and no server, and the "
                 "link under \u201cShare this view\u201d reproduces what you see.")
    intro_text = " ".join(intro)
    cfg = json.dumps(_clean(config), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    cfg = cfg.replace("<", "\\u003c")  # a JSON escape: no text can close the script element
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="carespiral">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{(_ASSETS / 'simulator.css').read_text(encoding='utf-8')}</style>",
        f'<script type="text/javascript">{_script(plotly.offline.get_plotlyjs())}</script>',
        "</head><body>",
        '<header class="cs-head">',
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="cs-subtitle">{html.escape("; ".join(sub))}</p>' if sub else "",
        f'<p class="cs-intro">{html.escape(intro_text)}</p>',
        "</header>",
        '<div class="cs-sim">',
        '<aside class="cs-controls" aria-label="Levers and shocks">',
        '<div class="cs-actions"><button type="button" id="cs-reset">Reset</button>'
        '<label><input type="checkbox" id="cs-compare"> Compare with the untouched run</label>'
        "</div>",
        '<section id="cs-levers-group"><h2>Levers</h2><div id="cs-levers"></div></section>',
        '<section id="cs-demand-group"><h2>Demand</h2><div id="cs-demand"></div></section>',
        '<section id="cs-shocks-group"><h2>Shocks</h2><div id="cs-shocks"></div></section>',
        '<section class="cs-share"><h2>Share this view</h2>'
        '<label for="cs-link">Link to these settings</label>'
        '<input type="text" id="cs-link" readonly>'
        '<button type="button" id="cs-copy">Copy link</button>'
        '<p class="cs-meaning">If you were sent this file with a link, open the file and paste '
        "the link here:</p>"
        '<input type="text" id="cs-paste" aria-label="A shared link">'
        '<button type="button" id="cs-open">Show that view</button></section>',
        "</aside>",
        '<main class="cs-main">',
        '<div id="cs-verdict" class="cs-verdict" data-regime="sustainable" aria-live="polite">'
        '<span id="cs-badge" class="cs-badge"></span><span id="cs-verdict-text"></span></div>',
        (f'<details class="cs-tests"><summary>The collapse tests</summary><ul>{tests}</ul>'
         "<p>They are the tests the project's explorations use, applied to the run with your "
         "settings from its start to its end.</p></details>") if crit else "",
        '<p id="cs-driver" class="cs-driver"></p>',
        '<p id="cs-draws-note" class="cs-draws-note"></p>',
        '<div id="cs-plots" class="cs-plots"></div>',
        "</main></div>",
        f'<footer class="cs-foot">Made by carespiral {html.escape(__version__)} on {stamp} '
        f"from the model {html.escape(config['model'])}. Self-contained: the file itself is "
        "all anyone needs; it makes no network request.</footer>",
        f'<script type="application/json" id="cs-sim-config">{cfg}</script>',
        f"<script>window.CarespiralModel = ({_script(model_js.strip())})"
        f"({_script(JS_RUNTIME.strip())});</script>",
        f"<script>{_script((_ASSETS / 'simulator_core.js').read_text(encoding='utf-8'))}</script>",
        f"<script>{_script((_ASSETS / 'simulator.js').read_text(encoding='utf-8'))}</script>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)
