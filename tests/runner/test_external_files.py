"""External data files (GET DIRECT ...): found beside the model, part of the cache key, kept
inside the model's folder unless allowed, and a clear error when missing or malformed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from carespiral.errors import FileFormatError
from carespiral.pysd_runner import load

MODEL = Path(__file__).parent / "models" / "external"


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A copy of the model and its data file, and a private translation cache."""
    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CARESPIRAL_ALLOW_EXTERNAL", raising=False)
    shutil.copytree(MODEL, tmp_path / "model")
    return tmp_path / "model"


def _expected(t: np.ndarray, level: float = 5.0, slope: float = 0.2) -> np.ndarray:
    # Demand = 1 + slope * t (data points interpolated); Euler with dt 1 sums it from 0 to t-1
    return level + t + slope * t * (t - 1) / 2


def test_files_are_read_beside_the_model_also_from_the_cache(folder) -> None:
    first = load(folder / "reads_csv.mdl")
    second = load(folder / "reads_csv.mdl")
    assert (first.load_info.cache_hit, second.load_info.cache_hit) == (False, True)
    for m in (first, second):
        df = m.run(outputs=["Stock"])
        np.testing.assert_allclose(df["Stock"], _expected(df.index.to_numpy()))


def test_a_changed_data_file_invalidates_the_translation(folder) -> None:
    load(folder / "reads_csv.mdl")
    (folder / "data" / "inputs.csv").write_text("time,level,demand\n0,7,1\n10,7,5\n20,7,9\n",
                                                encoding="utf-8")
    m = load(folder / "reads_csv.mdl")
    assert m.load_info.cache_hit is False
    df = m.run(outputs=["Stock"])
    np.testing.assert_allclose(df["Stock"], _expected(df.index.to_numpy(), 7.0, 0.4))


def _outside(folder: Path) -> Path:
    """The model one folder down, reading `../data/inputs.csv`."""
    sub = folder / "sub"
    sub.mkdir()
    text = (folder / "reads_csv.mdl").read_text(encoding="utf-8")
    (sub / "m.mdl").write_text(text.replace("'data/inputs.csv'", "'../data/inputs.csv'"),
                               encoding="utf-8")
    return sub / "m.mdl"


def test_files_outside_the_models_folder_are_refused_unless_allowed(folder,
                                                                    monkeypatch) -> None:
    path = _outside(folder)
    with pytest.raises(FileFormatError) as err:
        load(path)
    msg = str(err.value)
    assert "outside the model's folder" in msg and "'Level'" in msg
    assert "CARESPIRAL_ALLOW_EXTERNAL" in msg and "allow_external" in msg
    m = load(path, allow_external=True)
    np.testing.assert_allclose(m.run(outputs=["Stock"])["Stock"].iloc[-1], _expected(20.0))
    with pytest.raises(FileFormatError, match="outside the model's folder"):
        load(path)  # the cached translation does not lift the rule
    monkeypatch.setenv("CARESPIRAL_ALLOW_EXTERNAL", "1")
    assert load(path).load_info.cache_hit is True


@pytest.mark.parametrize("written", ["/etc/passwd", "../../../../../../etc/passwd"])
def test_a_system_file_is_never_read(folder, written) -> None:
    text = (folder / "reads_csv.mdl").read_text(encoding="utf-8")
    path = folder / "evil.mdl"
    path.write_text(text.replace("'data/inputs.csv'", f"'{written}'"), encoding="utf-8")
    with pytest.raises(FileFormatError, match="outside the model's folder"):
        load(path)


def test_a_link_out_of_the_folder_counts_as_outside(folder, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere.csv"
    shutil.copyfile(folder / "data" / "inputs.csv", elsewhere)
    (folder / "data" / "inputs.csv").unlink()
    (folder / "data" / "inputs.csv").symlink_to(elsewhere)
    with pytest.raises(FileFormatError, match="outside the model's folder"):
        load(folder / "reads_csv.mdl")


def test_a_missing_file_names_the_model_the_variable_and_the_file(folder) -> None:
    (folder / "data" / "inputs.csv").unlink()
    with pytest.raises(FileFormatError) as err:
        load(folder / "reads_csv.mdl")
    msg = str(err.value)
    assert "reads_csv.mdl" in msg and "'Level'" in msg and "'data/inputs.csv'" in msg
    assert "does not exist" in msg


@pytest.mark.parametrize("content", [b"\x8c\x9f\x00\xff" * 50, b"time,level\n0,abc\n"])
def test_a_malformed_file_names_the_variable_and_the_file(folder, content) -> None:
    (folder / "data" / "inputs.csv").write_bytes(content)
    with pytest.raises(FileFormatError) as err:
        load(folder / "reads_csv.mdl").run()
    msg = str(err.value)
    assert "reads_csv.mdl" in msg and "'data/inputs.csv'" in msg
    assert "'Level'" in msg or "'Demand'" in msg


@pytest.mark.parametrize("name,mdl", [("with_lookup", "test_with_lookup.mdl"),
                                      ("vector_order", "test_vector_order.mdl")])
def test_conformance_models_with_spreadsheets_match_vensim_from_the_cache(name, mdl, tmp_path,
                                                                         monkeypatch) -> None:
    """SDXorg's models that read .xlsx files beside them: translated, then from the cache."""
    import warnings

    import pandas as pd

    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(tmp_path / "cache"))
    folder = Path(__file__).parents[1] / "conformance" / "models" / name
    ref = pd.read_csv(folder / "output.tab", sep="\t", index_col=0)
    for hit in (False, True):
        m = load(folder / mdl)
        assert m.load_info.cache_hit is hit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = m.run()
        cols = [c for c in ref.columns if c in df.columns]
        assert len(cols) > 10
        t = ref.index.to_numpy(dtype=float)
        for c in cols:
            want = ref[c].to_numpy(dtype=float)
            known = np.isfinite(want)  # Vensim writes a constant at the first time only
            np.testing.assert_allclose(df.loc[t, c].to_numpy(dtype=float)[known], want[known],
                                       rtol=1e-5, atol=1e-9, err_msg=c)
