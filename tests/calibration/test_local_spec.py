"""The bundled `local` spec's prior on Reference Direct Time is what its comment claims: centred
on the model's England value and as wide as the spread of children in need per funded post
across authorities in the first two workforce censuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carespiral import data
from carespiral.calibration.pooling.authorities import with_drivers
from carespiral.calibration.spec import read_spec
from carespiral.pysd_runner import load

NAME = "Reference Direct Time"


def rdt_prior():
    spec = read_spec("local")
    p = next(p for p in spec.parameters if p.name == NAME)
    return spec, p


def test_prior_is_centred_on_the_models_england_value():
    spec, p = rdt_prior()
    assert p.prior.kind == "lognormal"
    england = load(spec.model).parameter(NAME).default
    assert np.exp(p.prior.args["mu"]) == pytest.approx(england, rel=1e-3)
    assert p.lower < england < p.upper


def test_prior_is_as_wide_as_the_spread_across_authorities():
    # sd of log(children in need at 31 March / (FTE in post + vacancies at 30 September))
    # over current authorities, census years 2017 and 2018 (known at the 2018 origin)
    t = data.load()
    t = t[(t["level"] == "la") & (t["variant"].fillna("") == "")]

    def wide(series):
        return t[t["series"] == series].pivot_table(index="area_code", columns="year",
                                                    values="value")

    cin, fte, vac = wide("children_in_need"), wide("social_workers_fte"), \
        wide("sw_vacancies_fte")
    sds = []
    for y in (2017, 2018):
        r = np.log(cin[y] / (fte[y] + vac[y])).replace([np.inf, -np.inf], np.nan).dropna()
        assert len(r) > 140
        sds.append(float(r.std()))
    _, p = rdt_prior()
    assert p.prior.args["sigma"] == pytest.approx(np.mean(sds), abs=0.01)


def test_drivers_keep_it_fitted():
    # the funded-posts driver sets Establishment per Child, not the direct time per case
    spec = with_drivers(read_spec("local"))
    names = [p.name for p in spec.parameters]
    assert NAME in names and "Establishment per Child" not in names


def test_a_spec_with_its_model_file_beside_it_gets_the_drivers(tmp_path):
    # a user's copy of the model, named relative to the spec file: the every-authority drivers
    # read its variables from that file, not from a bundled model of that name
    bundled = load("collapse_spiral").mdl_path
    (tmp_path / "mine.mdl").write_text(Path(bundled).read_text(encoding="utf-8"),
                                       encoding="utf-8")
    text = read_spec("local").text.replace('model = "collapse_spiral"', 'model = "mine.mdl"')
    spec_file = tmp_path / "mine.toml"
    spec_file.write_text(text, encoding="utf-8")
    spec = read_spec(spec_file)
    assert spec.model_ref == tmp_path / "mine.mdl"
    assert with_drivers(spec).drivers == ("child_population", "funded_posts",
                                          "inadequate_judgements")
