"""Loading: bundled names and paths, the translation cache, and its invalidation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from carespiral.errors import FileFormatError, UnknownNameError
from carespiral.pysd_runner import catalog, load


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(cache))
    return cache


def test_bundled_models_are_in_the_catalogue_and_load():
    assert {"workforce_spiral", "failure_demand"} <= set(catalog())
    for name in ("workforce_spiral", "failure_demand"):
        m = load(name)
        assert m.name == name
        assert m.mdl_path.is_file()
        assert m.start_date is not None and m.start_date.isoformat() == "2005-04-01"


def test_second_load_hits_the_cache_and_translation_lives_in_the_cache(private_cache):
    first = load("workforce_spiral")
    second = load("workforce_spiral")
    assert first.load_info.cache_hit is False
    assert second.load_info.cache_hit is True
    assert private_cache in first.load_info.translated.parents
    # nothing is written beside the source
    assert not first.mdl_path.with_suffix(".py").exists()


def test_an_edited_model_is_translated_again(private_cache, tmp_path):
    src = load("workforce_spiral").mdl_path
    copy = tmp_path / "wf.mdl"
    shutil.copyfile(src, copy)
    a = load(copy)
    assert load(copy).load_info.cache_hit is True
    text = copy.read_text(encoding="utf-8").replace("Funded Establishment=\n\t150", "Funded Establishment=\n\t120")
    assert text != copy.read_text(encoding="utf-8")
    copy.write_text(text, encoding="utf-8")
    b = load(copy)
    assert b.load_info.cache_hit is False
    assert a.parameter("Funded Establishment").default == 150
    assert b.parameter("Funded Establishment").default == 120
    assert b.run(outputs=["Social Workers"])["Social Workers"].iloc[0] == pytest.approx(120)


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(UnknownNameError) as info:
        load("workforce_spirl")
    msg = str(info.value)
    assert "'workforce_spiral'" in msg and "failure_demand" in msg


def test_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileFormatError, match="no such model file"):
        load(tmp_path / "absent.mdl")


def test_malformed_mdl_names_file_and_line(tmp_path, private_cache):
    bad = tmp_path / "bad.mdl"
    src = load("workforce_spiral").mdl_path.read_text(encoding="utf-8")
    lines = src.splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("Maximum Hiring Rate="))
    lines[target + 1] = "\t3 + * ("
    bad.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(FileFormatError) as info:
        load(bad)
    err = info.value
    assert err.path == bad
    assert err.line == target + 2  # 1-based line of the broken expression
    assert "3 + * (" in str(err) or "+ * (" in str(err)


def test_undefined_reference_is_reported_with_its_name(tmp_path, private_cache):
    bad = tmp_path / "undefined.mdl"
    src = load("workforce_spiral").mdl_path.read_text(encoding="utf-8")
    bad.write_text(src.replace("Social Workers*Cases Closed per FTE", "Social Wrkers*Cases Closed per FTE"),
                   encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"Social Wrkers|social wrkers"):
        load(bad)


def test_variables_are_typed_and_documented():
    m = load("workforce_spiral")
    kinds = {v.name: v.kind for v in m.variables}
    assert set(m.stocks) == {"Open Cases", "Social Workers", "Burnout"}
    assert {"Hiring", "Leaving", "Case Closures", "Referrals Accepted"} <= set(m.flows)
    assert kinds["Funded Establishment"] == "constant"
    for p in m.parameters:
        if p.name == "Months per Year":  # a unit conversion, not a behavioural constant
            continue
        assert p.units, p.name
        assert p.description, p.name
        assert p.lower <= p.default <= p.upper, p.name
        assert p.lower > float("-inf") and p.upper < float("inf"), f"{p.name} has no bounds"
    doc = m.doc
    assert doc.loc["Funded Establishment", "role"] == "establishment"
    assert doc.loc["Funded Establishment", "units"] == "FTE"


def test_names_resolve_from_vensim_python_and_role():
    m = load("workforce_spiral")
    assert m.resolve("Funded Establishment") == "Funded Establishment"
    assert m.resolve("funded_establishment") == "Funded Establishment"
    assert m.resolve("establishment") == "Funded Establishment"
    assert m.resolve("FUNDED establishment") == "Funded Establishment"
    with pytest.raises(UnknownNameError) as info:
        m.resolve("Funded Establishmnt")
    assert "Funded Establishment" in info.value.matches


def test_every_teaching_model_translates_and_runs_without_warnings(tmp_path, monkeypatch):
    import warnings

    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(tmp_path))
    for name in ("workforce_spiral", "failure_demand"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m = load(name)
            m.run()


def test_any_mdl_path_loads_even_outside_the_catalogue(tmp_path):
    copy = tmp_path / "my_model.mdl"
    shutil.copyfile(load("failure_demand").mdl_path, copy)
    m = load(str(copy))
    assert m.name == "my_model" and m.entry is None
    assert m.outputs == {}
    assert Path(m.mdl_path) == copy
    assert len(m.run(outputs=["Open Cases"])) > 10
