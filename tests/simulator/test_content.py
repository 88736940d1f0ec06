"""What the page's controls say (no browser): a slider for every catalogue lever and the demand
driver, with its unit in words, its declared bounds and a one-line meaning from the model."""

from __future__ import annotations

import pytest

from carespiral.reports.simulator_content import first_sentence, slider_specs


@pytest.mark.parametrize("name", ["collapse_spiral", "workforce_spiral", "failure_demand"])
def test_every_catalogue_lever_is_a_slider_with_units_bounds_and_meaning(name):
    from carespiral.pysd_runner import load

    m = load(name)
    sliders = slider_specs(m)
    assert [s["key"] for s in sliders] == [*m.levers, "underlying_need"]
    for s in sliders:
        p = m.parameter(s["name"])
        assert s["units"] and s["label"] and "Dmnl" not in s["units"]
        assert (s["lower"], s["upper"]) == (p.lower, p.upper)
        assert s["lower"] <= s["start"] == p.default <= s["upper"]
        # one line of the model's own comment, not a role tag or half a bracket
        assert 10 < len(s["meaning"]) <= 143 and "\n" not in s["meaning"]
        assert s["meaning"].count("(") == s["meaning"].count(")")
        assert not s["meaning"].lower().startswith(("a driver", "a lever"))
        assert s["meaning"].split()[0].lower().strip(".,") in p.description.lower()


def test_first_sentence_reads_a_comment_outside_brackets():
    text = ("Most agency FTE allowed, as a share of the establishment (not binding at the "
            "reference: agency 5,754 FTE over 36,700 posts). A lever.")
    assert first_sentence(text) == ("Most agency FTE allowed, as a share of the establishment "
                                    "(not binding at the reference: agency 5,754 FTE over "
                                    "36,700 posts).")
    assert first_sentence("A driver: 1 replays history (" + "x " * 80 + "); 0 holds it. More.") \
        == "1 replays history; 0 holds it."
    assert first_sentence("Funded posts: at 2019. Other") == "Funded posts."
    assert first_sentence("Rate of 0.5 a month. Then") == "Rate of 0.5 a month."
    assert first_sentence("word " * 60).endswith("...")
    assert first_sentence("") == ""


def test_the_2008_scandal_button_has_the_models_2008_size():
    """The button says "a scandal of the 2008 size": it adds the model's own Scandal 2008 Size
    (the fitted one), not a fixed number, and a scenario that changes that size changes it."""
    from carespiral.pysd_runner import load
    from carespiral.pysd_runner.scenario import Scenario
    from carespiral.reports.simulator_content import simulator_content

    m = load("collapse_spiral")
    size = m.parameter("Scandal 2008 Size").default
    cfg, _ = simulator_content(m)
    shock = next(s for s in cfg["shocks"] if s["key"] == "scandal")
    assert shock["amount"] == size and shock["name"] == m.resolve("scandal_shock")
    bigger = Scenario(name="big", params={"Scandal 2008 Size": 2 * size})
    cfg, _ = simulator_content(m, scenarios=[bigger])
    assert next(s for s in cfg["shocks"] if s["key"] == "scandal")["amount"] == 2 * size
