"""Human names and units from the catalogue: every role of every bundled model has them."""

from __future__ import annotations

import re

import pytest

from carespiral.pysd_runner import load
from carespiral.pysd_runner.catalog import (
    catalog,
    code_names,
    label,
    naming,
    plain_unit,
    published_unit,
    unit,
)

MODELS = sorted(catalog())


@pytest.mark.parametrize("model", MODELS)
def test_every_output_lever_and_driver_has_a_label_and_a_unit(model):
    entry = catalog()[model]
    assert entry.roles, f"{model} has no roles"
    for role, var in entry.roles.items():
        for name in (role, var):
            n = naming(name, model)
            assert n.role == role
            assert n.label and "_" not in n.label, (model, name, n)
            assert n.label != role
            assert n.unit and "dmnl" not in n.unit.lower(), (model, name, n)
            assert "_" not in n.unit


def test_flows_and_stocks_of_the_main_model_say_their_period():
    entry = catalog()["collapse_spiral"]
    for role in ("referrals", "assessments", "s47_enquiries"):
        assert unit(role, "collapse_spiral").endswith("a month")
    for role in ("children_in_need", "cp_plans", "awaiting_assessment", "social_workers_fte"):
        assert "at the date shown" in unit(role, "collapse_spiral")
    # every observed output says how DfE publishes it, with its reference date
    for role in entry.outputs:
        if role == "workload_pressure":  # not published
            assert published_unit(role) == ""
            continue
        assert re.search(r"31 March|30 September", published_unit(role)), role
    assert published_unit("referrals") == "referrals in the year to 31 March"
    assert published_unit("children_in_need") == "children in need on 31 March"
    assert published_unit("social_workers_fte") == "FTE in post at 30 September"


def test_a_model_can_give_a_role_its_own_meaning():
    # failure_demand's re-referral role is a share of incoming cases, not DfE's percent
    n = naming("re_referral_rate", "failure_demand")
    assert n.label == "Failure demand share" and "(0 to 1)" in n.unit and n.published == ""
    assert naming("Failure Demand Share") == n  # found by its Vensim name too
    assert label("Re Referral Rate") == "Re-referral rate"
    assert label("re_referral_rate") == "Re-referral rate"  # the role itself


@pytest.mark.parametrize("model", MODELS)
def test_every_variable_gets_a_unit_in_words(model):
    m = load(model)
    for v in m.variables:
        words = unit(v.name, model, v.units)
        assert words and "dmnl" not in words.lower(), (v.name, v.units, words)


@pytest.mark.parametrize(("units", "name", "words"), [
    ("Children/Month", "Referrals", "children a month"),
    ("Hours/(Children*Month)", "Direct Time per Case", "hours per child a month"),
    ("FTE/Children", "Establishment per Child", "FTE per child"),
    ("FTE*Month/Month", "Experience Gained", "FTE-months a month"),
    ("FTE*Month", "Total Experience", "FTE-months"),
    ("1/Month", "Normal Leaving Rate", "share a month"),
    ("Month", "Normal Case Duration", "months"),
    ("Percent", "Agency Rate", "%"),
    ("Dmnl", "Effect of Burnout on Leaving", "multiplier (1 = no effect)"),
    ("Dmnl", "Normal S47 Fraction", "share (0 to 1)"),
    ("Dmnl", "Relative Backlog", "ratio to the reference level (1 = reference)"),
    ("", "x", "unit not given"),
])
def test_vensim_units_in_words(units, name, words):
    assert plain_unit(units, name) == words


def test_code_names_are_the_snake_case_roles():
    names = code_names()
    assert "re_referral_rate" in names and "social_workers_fte" in names
    assert all("_" in n for n in names)
    assert naming("not_a_variable").label == "Not a variable"  # never shown raw
