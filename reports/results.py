"""Results directories: plain result files plus a manifest, re-rendered to reports.

A results directory holds the results of one or more commands as plain files (run outputs as
Parquet or CSV, a model's structure as JSON, parameters and data as CSV/Parquet, calibration
and exploration result folders) and a `manifest.json` in the one result format
(`carespiral.results`) of kind `results`, which says what each item is and how to draw it:

    {"format": "carespiral", "version": 2, "kind": "results", "tables": {}, "title": "...",
     "items": [{"kind": "run", "name": "run", "title": "...", "html": "run.html", ...}, ...]}

`render_results(dir)` turns every item into its HTML report and writes `index.html` linking them;
this is what `carespiral report RESULT_DIR` does. The item fields per kind are documented in
docs/reports.md; the `save_*` functions here write them. The `--out` folder of one command (a
calibration, exploration, tipping or policy result) renders to its own `report.html`; a folder
holding several such folders renders each and writes an `index.html` with one line per result
(its kind, title and verdict) linking to each report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from carespiral.errors import CarespiralError, FileFormatError
from carespiral.pysd_runner.catalog import label as role_label
from carespiral.results import FORMAT, MANIFEST, VERSION, Result, inside, read_table
from carespiral.results import load_result as _load_result
from carespiral.results import write_table as _write_table

from .authorities_report import render_authorities
from .calibration_report import calibration_report
from .data_report import data_report
from .exploration_report import exploration_report
from .model_report import model_report, parameter_table
from .page import PlotlyJs
from .run_report import Shock, run_report
from .structure import Structure, structure_from

__all__ = [
    "KIND_TEXT",
    "MANIFEST",
    "RENDERERS",
    "ResultsIndex",
    "count_reports",
    "implicit_manifest",
    "index_page",
    "load_manifest",
    "render_results",
    "result_folders",
    "save_calibration_results",
    "save_data_results",
    "save_exploration_results",
    "save_model_results",
    "save_run_results",
]


# ------------------------------------------------------------------ the index


@dataclass
class ResultsIndex(Result):
    """The items of a results directory (what each is and how to draw it) and its title."""

    title: str = "carespiral results"
    items: list = field(default_factory=list)

    kind: ClassVar[str] = "results"
    shares_folder: ClassVar[bool] = True  # the directory holds the items' files too

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{k: it.get(k) for k in ("kind", "name", "title", "html")}
                             for it in self.items], columns=["kind", "name", "title", "html"])

    def summary(self) -> dict[str, Any]:
        return {"title": self.title, "items": [f"{it['kind']} {it['name']}: {it['title']}"
                                               for it in self.items]}

    def report(self) -> str:
        lines = [self.title] + [f"  {it['kind']:<12} {it['name']:<20} {it['title']}"
                                for it in self.items]
        return "\n".join(lines)

    def add(self, item: dict[str, Any]) -> None:
        """Add an item, or replace the item of the same name (moving it to the end)."""
        self.items = [it for it in self.items if it["name"] != item["name"]] + [item]

    @classmethod
    def _from_parts(cls, values: dict[str, Any], frames: dict[str, pd.DataFrame],
                    folder: Path) -> ResultsIndex:
        path = folder / MANIFEST
        items = values.get("items")
        if not isinstance(items, list):
            raise FileFormatError(path, "\"items\" must be a list")
        seen: set[str] = set()
        for i, item in enumerate(items):
            where = f"items[{i}]"
            if not isinstance(item, dict):
                raise FileFormatError(path, f"{where} must be an object")
            for key in ("kind", "name", "title"):
                if not isinstance(item.get(key), str) or not item[key]:
                    raise FileFormatError(path, f"{where} needs a non-empty string {key!r}")
            if item["kind"] not in RENDERERS:
                raise FileFormatError(
                    path, f"{where}: unknown kind {item['kind']!r}",
                    hint="known kinds: " + ", ".join(sorted(RENDERERS)),
                )
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", item["name"]):
                raise FileFormatError(path, f"{where}: name {item['name']!r} must be a plain file stem")
            if item["name"] in seen:
                raise FileFormatError(path, f"{where}: name {item['name']!r} is used twice")
            seen.add(item["name"])
            for key in ("runs", "results", "structure", "parameters", "table", "result", "ranges"):
                value = item.get(key)  # the files an item names stay inside this folder
                for rel in (value.values() if isinstance(value, dict) else
                            value if isinstance(value, list) else [value] if value else []):
                    inside(folder, rel, f"{where}: {key}")
        return cls(str(values.get("title") or "carespiral results"), items)


def load_manifest(result_dir: str | Path) -> dict[str, Any]:
    """The manifest of a results directory, checked for the fields every item needs."""
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise CarespiralError(f"{result_dir}: no such results directory")
    if not (result_dir / MANIFEST).exists():
        raise CarespiralError(
            f"{result_dir} has no {MANIFEST} and no saved results; give a results directory, "
            "or the --out folder of calibrate, explore, tipping or optimise"
        )
    index = ResultsIndex.load(result_dir)
    return {"format": FORMAT, "version": VERSION, "title": index.title, "items": index.items}


def _add_item(result_dir: Path, item: dict[str, Any], title: str | None) -> None:
    """Add or replace (by name) one item in the manifest, creating the manifest if needed."""
    index = ResultsIndex.load(result_dir) if (result_dir / MANIFEST).exists() else ResultsIndex()
    if title:
        index.title = title
    index.add(item)
    index.save(result_dir)


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise CarespiralError(f"result name {name!r}: use letters, digits, '_', '-' or '.'")


def _shock_json(shocks: Sequence[Shock]) -> list[list[Any]]:
    out = []
    for at, label in shocks:
        at_json = float(at) if isinstance(at, int | float) else str(pd.Timestamp(at).date())
        out.append([at_json, str(label)])
    return out


# ------------------------------------------------------------------ saving results


def save_run_results(
    result_dir: str | Path,
    runs: Mapping[str, pd.DataFrame],
    *,
    title: str,
    units: Mapping[str, str] | None = None,
    outputs: Sequence[str] | None = None,
    shocks: Sequence[Shock] = (),
    name: str = "run",
    fmt: str = "parquet",
    directory_title: str | None = None,
    model: str | None = None,
    ranges: Any = None,
    children: Mapping[str, float] | None = None,
) -> Path:
    """Save runs (from `Model.run`) as one table per run plus a manifest item of kind "run";
    `model`, `ranges` (a ModelRanges) and `children` (per run) are kept for the report."""
    result_dir = Path(result_dir)
    _check_name(name)
    if fmt not in ("parquet", "csv"):
        raise CarespiralError(f"fmt must be 'parquet' or 'csv', not {fmt!r}")
    if not runs:
        raise CarespiralError("no runs to save")
    files: dict[str, str] = {}
    for label, frame in runs.items():
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "run"
        rel = f"{name}_runs/{stem}.{fmt}"
        out = frame.copy()
        out.index.name = out.index.name or "time"
        _write_table(out, result_dir / rel)
        files[label] = rel
    item = {
        "kind": "run", "name": name, "title": title, "html": f"{name}.html", "runs": files,
        "units": dict(units or {}), "outputs": list(outputs) if outputs else None,
        "shocks": _shock_json(shocks), "model": model,
        "children": {k: float(v) for k, v in children.items()} if children else None,
    }
    if ranges is not None:
        ranges.save(result_dir / f"{name}_ranges")
        item["ranges"] = f"{name}_ranges"
    _add_item(result_dir, item, directory_title)
    return result_dir / MANIFEST


def save_model_results(
    result_dir: str | Path,
    graph: Any,
    parameters: Any,
    *,
    title: str,
    description: str = "",
    loops: Any = None,
    name: str = "model",
    directory_title: str | None = None,
) -> Path:
    """Save a model's structure (JSON) and parameters (CSV) plus a manifest item "model"."""
    result_dir = Path(result_dir)
    _check_name(name)
    st = structure_from(graph, loops)
    st.save(result_dir / f"{name}_structure.json")
    _write_table(parameter_table(parameters).set_index("parameter"),
                result_dir / f"{name}_parameters.csv")
    item = {
        "kind": "model", "name": name, "title": title, "html": f"{name}.html",
        "description": description, "structure": f"{name}_structure.json",
        "parameters": f"{name}_parameters.csv",
    }
    _add_item(result_dir, item, directory_title)
    return result_dir / MANIFEST


def save_data_results(
    result_dir: str | Path,
    table: pd.DataFrame,
    *,
    area: str,
    title: str | None = None,
    series: Sequence[str] | None = None,
    region: str | None = None,
    rank_series: str | None = None,
    name: str = "data",
    directory_title: str | None = None,
    neighbours: Sequence[str] | None = None,
) -> Path:
    """Save the rows of the data table a data report needs plus a manifest item "data"
    (`neighbours`: the area codes of its statistical neighbours, for the ranking)."""
    result_dir = Path(result_dir)
    _check_name(name)
    keep = table if not series else table[table["series"].isin(
        [*series, rank_series, "child_population"])]  # the population: counts per 10,000
    _write_table(keep.reset_index(drop=True), result_dir / f"{name}_table.parquet")
    item = {
        "kind": "data", "name": name, "title": title or f"Published data: {area}",
        "html": f"{name}.html", "table": f"{name}_table.parquet", "area": area,
        "series": list(series) if series else None, "region": region, "rank_series": rank_series,
        "neighbours": list(neighbours) if neighbours else None,
    }
    _add_item(result_dir, item, directory_title)
    return result_dir / MANIFEST


def save_calibration_results(
    result_dir: str | Path,
    result: Any,
    *,
    title: str | None = None,
    name: str = "calibration",
    directory_title: str | None = None,
) -> Path:
    """Save a CalibrationResult in its own folder plus a manifest item "calibration"."""
    result_dir = Path(result_dir)
    _check_name(name)
    result.save(result_dir / f"{name}_result")
    item = {"kind": "calibration", "name": name, "html": f"{name}.html",
            "title": title or f"Calibration of {result.model} to {result.area}",
            "result": f"{name}_result"}
    _add_item(result_dir, item, directory_title)
    return result_dir / MANIFEST


def save_exploration_results(
    result_dir: str | Path,
    results: Sequence[Any],
    *,
    title: str,
    name: str = "exploration",
    map_inputs: Sequence[str] | None = None,
    directory_title: str | None = None,
) -> Path:
    """Save exploration results (experiments, discovery, sensitivity, bifurcation, sweep,
    regime map, policy) each in its own folder plus one manifest item "exploration"."""
    result_dir = Path(result_dir)
    _check_name(name)
    if not results:
        raise CarespiralError("no exploration results to save")
    folders = []
    for r in results:
        if r.kind not in _EXPLORATION_SLOTS:
            raise CarespiralError(f"cannot report an exploration result of kind {r.kind!r}")
        rel = f"{name}_results/{r.kind}"
        n = 2
        while rel in folders:
            rel = f"{name}_results/{r.kind}_{n}"
            n += 1
        r.save(result_dir / rel)
        folders.append(rel)
    item = {"kind": "exploration", "name": name, "title": title, "html": f"{name}.html",
            "results": folders, "map_inputs": list(map_inputs) if map_inputs else None}
    _add_item(result_dir, item, directory_title)
    return result_dir / MANIFEST


# ------------------------------------------------------------------ rendering


def _html_path(result_dir: Path, item: Mapping[str, Any]) -> Path:
    html = str(item.get("html") or f"{item['name']}.html")
    if "/" in html or "\\" in html or not html.endswith(".html"):
        raise FileFormatError(result_dir / MANIFEST, f"item {item['name']!r}: html must be a "
                              "plain .html file name in the results directory")
    return result_dir / html


def _field(result_dir: Path, item: Mapping[str, Any], key: str, kind: type) -> Any:
    value = item.get(key)
    if not isinstance(value, kind):
        raise FileFormatError(result_dir / MANIFEST,
                              f"item {item['name']!r} (kind {item['kind']}) needs {key!r} "
                              f"as a {kind.__name__}")
    return value


def _render_run(result_dir: Path, item: Mapping[str, Any], plotlyjs: PlotlyJs) -> Path:
    files = _field(result_dir, item, "runs", dict)
    runs = {label: read_table(result_dir / rel, index="time") for label, rel in files.items()}
    shocks = [(at, text) for at, text in item.get("shocks") or []]
    ranges = _load_result(result_dir / str(item["ranges"])) if item.get("ranges") else None
    return run_report(runs, _html_path(result_dir, item), title=item["title"],
                      units=item.get("units") or {}, outputs=item.get("outputs"),
                      shocks=shocks, plotlyjs=plotlyjs, model=item.get("model"),
                      ranges=ranges, children=item.get("children"))


def _render_model(result_dir: Path, item: Mapping[str, Any], plotlyjs: PlotlyJs) -> Path:
    st: Structure = Structure.load(result_dir / _field(result_dir, item, "structure", str))
    params = read_table(result_dir / _field(result_dir, item, "parameters", str)).fillna(
        {"unit": "", "description": ""}
    )
    return model_report(st, params, _html_path(result_dir, item), title=item["title"],
                        description=item.get("description") or "", plotlyjs=plotlyjs)


def _render_data(result_dir: Path, item: Mapping[str, Any], plotlyjs: PlotlyJs) -> Path:
    table = read_table(result_dir / _field(result_dir, item, "table", str))
    return data_report(table, _html_path(result_dir, item), area=_field(result_dir, item, "area",
                       str), series=item.get("series"), region=item.get("region"),
                       rank_series=item.get("rank_series"), title=item["title"],
                       plotlyjs=plotlyjs, neighbours=item.get("neighbours"))


def _render_calibration(result_dir: Path, item: Mapping[str, Any], plotlyjs: PlotlyJs) -> Path:
    from carespiral.calibration.result import load_result

    result = load_result(result_dir / _field(result_dir, item, "result", str))
    return calibration_report(result, _html_path(result_dir, item), title=item["title"],
                              plotlyjs=plotlyjs)


# the exploration result kinds and the report argument each fills
_EXPLORATION_SLOTS = {
    "experiments": "experiments", "discovery": "discovery", "sensitivity": "sensitivity",
    "bifurcation": "bifurcation", "sweep": "sweep", "regime_map": "regime_map",
    "policy": "policy",
}


def _render_exploration(result_dir: Path, item: Mapping[str, Any], plotlyjs: PlotlyJs) -> Path:
    import carespiral.exploration  # noqa: F401  (defines the exploration result kinds)

    kwargs: dict[str, Any] = {}
    for rel in _field(result_dir, item, "results", list):
        res = _load_result(result_dir / str(rel))
        slot = _EXPLORATION_SLOTS.get(res.kind)
        if slot is None or slot in kwargs:
            raise FileFormatError(result_dir / MANIFEST, f"item {item['name']!r}: result "
                                  f"{rel!r} of kind {res.kind!r} cannot be (or is already) "
                                  "in this report")
        kwargs[slot] = res
    pair = item.get("map_inputs")
    if item.get("ranges"):
        kwargs["ranges"] = _load_result(result_dir / str(item["ranges"]))
    if "bifurcation" in kwargs or "sweep" in kwargs:
        first = kwargs.get("bifurcation") or kwargs.get("sweep")
        kwargs.setdefault("subtitle", f"against {role_label(first.param, first.model)}")
    if item.get("default") is not None:
        kwargs["tipping_default"] = float(item["default"])
    return exploration_report(_html_path(result_dir, item), title=item["title"],
                              map_inputs=tuple(pair) if pair else None, plotlyjs=plotlyjs,
                              **kwargs)


Renderer = Callable[[Path, Mapping[str, Any], PlotlyJs], Path]
RENDERERS: dict[str, Renderer] = {
    "run": _render_run,
    "model": _render_model,
    "data": _render_data,
    "calibration": _render_calibration,
    "exploration": _render_exploration,
    "authorities": render_authorities,
}

KIND_TEXT = {
    "run": "Model outputs over time, scenarios overlaid.",
    "model": "The model's structure: stocks, flows, loops and parameters.",
    "data": "Published statistics for an area against its region and England.",
    "calibration": "Data against fit, parameter intervals, Theil, profiles, backtest.",
    "exploration": "Regimes, scenario discovery, sensitivity, tipping points and policies.",
    "authorities": "Every authority ranked by margin to collapse, with intervals and briefs.",
}


# rendering a directory, one command's folder or a folder of them (imported last: that module
# uses the renderers above)
from .result_folders import (  # noqa: E402
    count_reports,
    implicit_manifest,
    index_page,
    render_results,
    result_folders,
)
