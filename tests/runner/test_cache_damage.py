"""The translation cache is not trusted: a damaged entry is translated again, and an unusable
cache folder falls back to a temporary one with one warning."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner import load
from carespiral.pysd_runner.catalog import models_dir


@pytest.fixture
def model(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "wf.mdl"
    shutil.copyfile(models_dir() / "workforce_spiral.mdl", path)
    return path


def _damage(entry: Path, how: str) -> None:
    module = entry / "model.py"
    text = module.read_bytes()
    if how == "truncated":
        module.write_bytes(text[: len(text) // 2])
    elif how == "garbled":
        module.write_bytes(text[:4000] + b"\n)))(((\n" + text[4000:])
    elif how == "edited":  # still valid Python, a different number
        module.write_bytes(text.replace(b"return 150", b"return 151"))
    elif how == "empty":
        module.write_bytes(b"")
    elif how == "binary":
        module.write_bytes(bytes(range(256)) * 8)
    elif how == "missing module":
        module.unlink()
    elif how == "missing manifest":
        (entry / "manifest.json").unlink()
    elif how == "garbled manifest":
        (entry / "manifest.json").write_text("{not json", encoding="utf-8")
    elif how == "old manifest":
        manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
        (entry / "manifest.json").write_text(json.dumps({**manifest, "format": 1}),
                                             encoding="utf-8")
    elif how == "file instead of folder":
        shutil.rmtree(entry)
        entry.write_text("not a folder", encoding="utf-8")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["truncated", "garbled", "edited", "empty", "binary",
                                 "missing module", "missing manifest", "garbled manifest",
                                 "old manifest", "file instead of folder"])
def test_a_damaged_entry_is_translated_again(model, how) -> None:
    fresh = load(model)
    expected = fresh.run(outputs=["Social Workers"])["Social Workers"]
    assert expected.iloc[0] == 150  # Funded Establishment, as written
    entry = fresh.load_info.translated.parent
    _damage(entry, how)
    again = load(model)
    assert again.load_info.cache_hit is False
    pd.testing.assert_series_equal(again.run(outputs=["Social Workers"])["Social Workers"],
                                   expected)
    assert load(model).load_info.cache_hit is True  # repaired


def _unusable(tmp_path: Path, kind: str) -> Path:
    if kind == "under a file":
        blocker = tmp_path / "a_file"
        blocker.write_text("x", encoding="utf-8")
        return blocker / "cache"
    return Path("/proc/carespiral-cache")  # cannot be created, even by root


@pytest.mark.parametrize("kind", ["under a file", "in /proc"])
def test_an_unusable_cache_folder_falls_back_with_one_warning(tmp_path, monkeypatch,
                                                              kind) -> None:
    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(_unusable(tmp_path, kind)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = load("workforce_spiral")
        b = load("failure_demand")
        c = load("workforce_spiral")
    notes = [w for w in caught if "cannot be used" in str(w.message)]
    assert len(notes) == 1 and issubclass(notes[0].category, RuntimeWarning)
    assert c.load_info.cache_hit is True
    for m in (a, b):
        assert m.load_info.translated.is_file()
        assert not str(m.load_info.translated).startswith(str(tmp_path / "a_file"))
    # the batch engines keep their kernels in the same usable folder
    params = pd.DataFrame({"establishment": [150.0, 170.0]})
    fast = a.run_batch(params, engine="numba", outputs=["Social Workers"])
    ref = a.run_batch(params, engine="numpy", outputs=["Social Workers"])
    np.testing.assert_allclose(fast["Social Workers"], ref["Social Workers"], rtol=1e-12)


def test_no_leftovers_after_translating(model) -> None:
    load(model)
    cache = Path(os.environ["CARESPIRAL_CACHE_DIR"])
    names = [p.name for p in cache.iterdir()]
    assert not [n for n in names if n.endswith(".part")], names
