"""Take a calibration away: the model file with the fitted constants written in, and a `.cin`.

`export_mdl(result_dir, "out.mdl")` copies the calibrated model's `.mdl` with each fitted
constant (and each constant the calibration fixed, such as a local authority's child
population) replaced by its value, and writes a Vensim changes file `out.cin` with the same
assignments, which Vensim applies on top of the original model. The original model must be the
one calibrated: its hash is checked against the result's manifest.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

from carespiral._atomic import atomic_path
from carespiral.calibration.result import load_result
from carespiral.errors import CarespiralError, FileFormatError

__all__ = ["calibrated_constants", "export_mdl", "replace_constants"]

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def calibrated_constants(result) -> dict[str, float]:
    """Fitted values and the calibration's fixed constants, by Vensim name."""
    values = dict(result.manifest.get("fixed", {}) or {})
    values.update(result.values)
    return {str(k): float(v) for k, v in values.items()}


def replace_constants(text: str, values: dict[str, float], where: str = "model") -> str:
    """`text` (a Vensim .mdl) with the constant equations of `values` set to the given numbers.

    Raises FileFormatError when a name has no constant equation (e.g. it is a stock or a
    formula), so an export never silently leaves a fitted value out.
    """
    out = text
    for name, value in values.items():
        words = [re.escape(w) for w in re.split(r"[\s_]+", name.strip()) if w]
        pattern = re.compile(
            r"(^|\n|\|)([ \t]*)(" + r"[\s_]+".join(words) + r")([ \t]*=[ \t]*)"
            r"((?:[^~|]|\\\n)*?)(\s*~)", re.IGNORECASE)
        hits = [m for m in pattern.finditer(out)
                if _NUMBER.match(m.group(5).replace("\\\n", "").strip() or "x")]
        if len(hits) != 1:
            raise FileFormatError(where, f"{name!r} is not a single numeric constant equation",
                                  hint="only constants can take calibrated values")
        m = hits[0]
        # keep the equation's layout: Vensim puts a constant's value on its own indented line
        lead = "\n\t" if "\n" in m.group(5) or m.group(4).endswith("=") else ""
        out = out[:m.start(5)] + lead + f"{value:.10g}" + out[m.end(5):]
    return out


def export_mdl(result_dir: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write the calibrated model to `out` (.mdl) and its changes file beside it (.cin)."""
    out = Path(out)
    if out.suffix.lower() != ".mdl":
        raise CarespiralError(f"--mdl {out}: expected a file name ending in .mdl")
    result = load_result(result_dir)
    source = _model_file(result)
    if out.resolve() in (source.resolve(), source.resolve().with_suffix(".cin")):
        raise CarespiralError(f"--mdl {out}: would write over the calibrated model {source}; "
                              "choose another file name")
    _check_values(result, result_dir)
    data = source.read_bytes()
    want = result.manifest.get("model_sha256", "")
    if want and hashlib.sha256(data).hexdigest() != want:
        raise CarespiralError(
            f"{source} has changed since the calibration in {result_dir} (its hash differs from "
            "the manifest's model_sha256); re-run the calibration on the current model")
    values = calibrated_constants(result)
    text = replace_constants(data.decode("utf-8"), values, where=str(source))
    cin = out.with_suffix(".cin")
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
        with atomic_path(cin) as tmp_cin:
            tmp_cin.write_text("".join(f"{k} = {v:.10g}\n" for k, v in values.items()),
                               encoding="utf-8")
    return out, cin


def _check_values(result, result_dir: str | Path) -> None:
    """Every estimate written into the model is a finite number inside its bounds."""
    table = result.parameters
    for i, row in enumerate(table.itertuples(index=False)):
        value = float(row.estimate)
        lo = float(getattr(row, "bound_lower", float("-inf")))
        hi = float(getattr(row, "bound_upper", float("inf")))
        if not (math.isfinite(value) and lo <= value <= hi):
            raise FileFormatError(Path(result_dir) / "parameters.csv",
                                  f"row {i + 1} ({row.parameter}): estimate {value:g} is not a "
                                  f"finite number within its bounds [{lo:g}, {hi:g}]",
                                  line=i + 2, hint="the result was changed or damaged; "
                                  "calibrate again")


def _model_file(result) -> Path:
    from carespiral.pysd_runner import catalog

    entries = catalog()
    if result.model in entries:  # bundled: wherever this installation keeps it
        return entries[result.model].path
    path = result.manifest.get("model_path")
    if path and Path(path).is_file():
        return Path(path)
    raise CarespiralError(f"cannot find the model file of {result.model!r} (not bundled, and "
                          f"{path or 'no model_path'} in the manifest does not exist)")
