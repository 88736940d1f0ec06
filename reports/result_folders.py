"""Rendering folders of results: a results directory, one command's --out folder, or a folder
holding several of them (each drawn to its own report, with an index of one line per result:
its kind, title and verdict, read back from the page it was written with)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import carespiral.data.ranges  # noqa: F401  (registers the observed_ranges kind saved beside results)
from carespiral.errors import FileFormatError
from carespiral.pysd_runner.catalog import catalog
from carespiral.results import FORMAT, MANIFEST, VERSION, read_manifest

from .page import Page, PlotlyJs, page_verdict
from .results import _EXPLORATION_SLOTS, KIND_TEXT, RENDERERS, _html_path, load_manifest

__all__ = ["count_reports", "implicit_manifest", "index_page", "render_results",
           "result_folders"]


def render_results(
    result_dir: str | Path,
    *,
    plotlyjs: PlotlyJs = "beside",
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Re-render every report of a results directory and its index page; returns the files.

    A results directory (a manifest of kind "results") draws each item and `index.html`; the
    `--out` folder of one command draws its `report.html`; a folder of such folders draws each
    one's report and an `index.html` with one line per result. With plotlyjs="beside" (the
    default here) each folder holds one plotly.min.js that its pages use; "inline" makes each
    page a standalone file.
    """
    result_dir = Path(result_dir)
    manifest = implicit_manifest(result_dir)
    if manifest is None and not (result_dir / MANIFEST).exists():
        folders = result_folders(result_dir)
        if folders:
            return _render_collection(result_dir, folders, plotlyjs, progress)
    manifest = manifest or load_manifest(result_dir)
    written = []
    for item in manifest["items"]:
        if progress:
            progress(item["name"])
        written.append(RENDERERS[item["kind"]](result_dir, item, plotlyjs))
    if not manifest.get("implicit"):
        written.append(index_page(result_dir, manifest=manifest))
    return written


def count_reports(result_dir: str | Path) -> int:
    """How many pages `render_results` will write (for a progress bar); checks the folder."""
    result_dir = Path(result_dir)
    manifest = implicit_manifest(result_dir)
    if manifest is None and not (result_dir / MANIFEST).exists():
        folders = result_folders(result_dir)
        if folders:
            return sum(count_reports(f) for f in folders) + 1
    manifest = manifest or load_manifest(result_dir)
    return len(manifest["items"]) + (0 if manifest.get("implicit") else 1)


# Result kinds a command writes at the top of its --out folder, and what the folder is then.
_TOP_KINDS = {"calibration": "calibration", "experiments": "exploration",
              "policy": "policy search", "results": "results directory",
              "authorities": "every authority"}
# Result kinds a command writes in subfolders of its --out folder (parts of one report).
_PART_KINDS = ("discovery", "sensitivity", "bifurcation", "sweep", "regime_map", "loops",
               "observed_ranges")
_TIPPING_PARTS = ("bifurcation", "sweep", "regime_map")


def _folder_kind(folder: Path) -> str | None:
    """What one command's --out folder holds ("calibration", "exploration", "tipping points",
    "policy search", "results directory"), or None for any other folder."""
    kind = _kind_of(folder)
    if kind in _TOP_KINDS:
        return _TOP_KINDS[kind]
    if kind in _EXPLORATION_SLOTS:
        return "tipping points" if kind in _TIPPING_PARTS else "exploration"
    parts = {_kind_of(p) for p in _subfolders(folder)} & set(_PART_KINDS)
    if parts & set(_TIPPING_PARTS):
        return "tipping points"
    return "exploration" if parts - {"loops", "observed_ranges"} else None


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def result_folders(result_dir: str | Path) -> list[Path]:
    """The subfolders of a folder that each hold one command's results (a calibration, an
    exploration, tipping points, a policy search or a results directory)."""
    return [p for p in _subfolders(Path(result_dir)) if _folder_kind(p) is not None]


def implicit_manifest(result_dir: str | Path) -> dict[str, Any] | None:
    """A manifest for the `--out` folder of one command, or None for anything else (a results
    directory, or a folder of several commands' folders).

    A calibration result (`carespiral calibrate --out`) gives one calibration item; an
    exploration, tipping or policy folder (`explore`/`tipping`/`optimise --out`: an exploration
    result at the top and/or in subfolders, with the observed ranges beside it) gives one
    exploration item. Either renders to DIR/report.html.
    """
    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        return None
    kind = _kind_of(result_dir, quiet=False)
    if kind == "authorities":  # every authority's margins: the ranked view
        return {"format": FORMAT, "version": VERSION, "implicit": True, "items": [
            {"kind": "authorities", "name": "report", "html": "report.html", "result": ".",
             "title": "Every authority, ranked by margin to collapse"}]}
    if kind == "calibration":
        meta = read_manifest(result_dir)
        area = re.sub(r"\s*\([A-Z]\d{8}\)$", "", str(meta.get("area")))
        until = f", fitted to the figures up to {meta['fit_until']}" if meta.get("fit_until") \
            else ""
        cal = {"kind": "calibration", "name": "report", "html": "report.html", "result": ".",
               "title": f"Calibration of {_model_title(meta.get('model'))} to {area}{until}"}
        return {"format": FORMAT, "version": VERSION, "implicit": True, "items": [cal]}
    if kind == "results" or kind not in (None, *_EXPLORATION_SLOTS):
        return None
    found = ["."] if kind in _EXPLORATION_SLOTS else []
    subs = {p.name: _kind_of(p) for p in _subfolders(result_dir)}
    if kind is None and any(k in _TOP_KINDS for k in subs.values()):
        return None  # a folder of several commands' folders, not the parts of one
    found += [name for name, k in subs.items() if k in _EXPLORATION_SLOTS]
    if not found:
        return None
    first = read_manifest(result_dir / found[0])
    kinds = [kind] if kind else []
    kinds += [subs[f] for f in found if f != "."]
    what = ("Tipping points" if set(kinds) & set(_TIPPING_PARTS) else
            "Robust policies" if "policy" in kinds else "Exploration")
    model = first.get("model")
    title = f"{what} of {_model_title(model)}" if model else what
    item: dict[str, Any] = {"kind": "exploration", "name": "report", "html": "report.html",
                            "results": found, "title": title}
    ranges = [name for name, k in subs.items() if k == "observed_ranges"]
    if ranges:
        item["ranges"] = ranges[0]
    return {"format": FORMAT, "version": VERSION, "implicit": True, "items": [item]}


def _model_title(model: Any) -> str:
    entry = catalog().get(str(model))
    return "the " + entry.title.split(" (")[0].lower() + " model" if entry else str(model)


def _kind_of(folder: Path, quiet: bool = True) -> str | None:
    """The kind of result a folder holds (None without one; `quiet` hides malformed ones)."""
    if not ((folder / MANIFEST).is_file() or (folder / "result.json").is_file()):
        return None
    try:
        return str(read_manifest(folder)["kind"])
    except FileFormatError:
        if quiet:
            return None
        raise


def _render_collection(result_dir: Path, folders: Sequence[Path], plotlyjs: PlotlyJs,
                       progress: Callable[[str], None] | None) -> list[Path]:
    """Each folder's report, then an index with one line per result."""
    from carespiral._atomic import check_complete

    written: list[Path] = []
    lines = []
    for folder in folders:
        check_complete(folder)
        kind = _folder_kind(folder) or "result"

        def step(name: str, folder: Path = folder) -> None:
            if progress:
                progress(f"{folder.name}/{name}")

        pages = render_results(folder, plotlyjs=plotlyjs, progress=step)
        written += pages
        main = pages[-1]  # report.html, or the index of a results directory
        lines.append({"kind": kind, "folder": folder.name, "page": main,
                      "title": _page_title(main) or folder.name, "verdict": page_verdict(main)})
    if progress:
        progress("index")
    written.append(_collection_index(result_dir, lines))
    return written


def _page_title(path: Path) -> str:
    import html as _html

    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError:
        return ""
    m = re.search(r"<title>(.*?)</title>", head, re.S)
    return _html.unescape(m.group(1)).strip() if m else ""


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.!?])(\s|$)", text.strip())
    return m.group(1) if m else text.strip()


def _collection_index(result_dir: Path, lines: list[dict[str, Any]]) -> Path:
    name = result_dir.resolve().name
    page = Page(f"Results in {name}", f"{len(lines)} result{'s' if len(lines) != 1 else ''}, "
                "one line each: what it is, its title and its verdict.")
    summary = [(ln["title"] if ln["title"].lower().startswith(ln["kind"].lower()) else
                f"{ln['kind'].capitalize()} ({ln['title']})") + ": "
               f"{_first_sentence(ln['verdict']) or 'no verdict on its page.'}"
               for ln in lines]
    page.section("Verdict", "\n\n".join(summary) + "\n\nEach report below says what can and "
                 "cannot be concluded from its result; open it for the evidence.")
    page.section("Results").links([
        (f"{ln['folder']}/{ln['page'].name}", ln["title"],
         f"{ln['kind'].capitalize()}, in {ln['folder']}/. " + (ln["verdict"] or ""))
        for ln in lines])
    return page.write(result_dir / "index.html")


def index_page(result_dir: str | Path, *, manifest: Mapping[str, Any] | None = None) -> Path:
    """Write `index.html` linking every report of a results directory (manifest items first),
    each with its kind, title and the verdict its page was written with."""
    result_dir = Path(result_dir)
    manifest = manifest or load_manifest(result_dir)
    page = Page(str(manifest.get("title") or "carespiral results"),
                f"Reports in {result_dir.resolve().name}")
    links = []
    listed = set()
    verdicts = []
    for item in manifest["items"]:
        html = _html_path(result_dir, item)
        listed.add(html.name)
        verdict = page_verdict(html) if html.exists() else ""
        state = "" if html.exists() else " (not rendered yet: run carespiral report)"
        links.append((html.name, item["title"], f"{item['kind'].capitalize()} report. "
                      f"{verdict or KIND_TEXT.get(item['kind'], '')}{state}"))
        if verdict:
            verdicts.append(f"{item['title']}: {_first_sentence(verdict)}")
    if verdicts:
        page.section("Verdict", "\n\n".join(verdicts))
    sec = page.section("Reports")
    if links:
        sec.links(links)
    else:
        sec.note("The manifest lists no results yet.")
    extra = sorted(p.name for p in result_dir.glob("*.html")
                   if p.name not in listed and p.name != "index.html")
    if extra:
        page.section("Other pages in this directory").links([(n, n, "") for n in extra])
    return page.write(result_dir / "index.html")
