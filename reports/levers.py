"""Lever settings in words a director understands.

"Funded posts per child 0.0031 -> 0.0030" means little to a reader; "about 1,200 fewer funded
posts (-4%)" does. "Compliance burden 1.116" becomes "recording load 12% above the 2013-19
level". The words come from each lever's catalogue role and unit, and, for levers set per child,
the run's child population (passed in by the command with the result; never looked up here).
A lever of a model outside the catalogue keeps its label and value.
"""

from __future__ import annotations

import math

from carespiral.pysd_runner.catalog import naming

__all__ = ["lever_change", "lever_level", "lever_range"]


def _num(v: float) -> str:
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:,.3g}" if a >= 1 else f"{v:.2g}"


def _round(v: float) -> str:
    """A count rounded as a person would say it: 1,234 -> 1,200; 87 -> 87."""
    a = abs(v)
    if a >= 1000:
        digits = 10 ** (int(math.log10(a)) - 1)
        return f"{round(a / digits) * digits:,.0f}"
    return f"{a:,.0f}"


def _pct(v: float) -> str:
    return f"{abs(v) * 100:.0f}%"


def _index(v: float, what: str, ref: str = "the 2013-19 level") -> str:
    """An index with 1 = reference: "recording load 12% above the 2013-19 level"."""
    if abs(v - 1) < 0.005:
        return f"{what} at {ref}"
    return f"{what} {_pct(v - 1)} {'above' if v > 1 else 'below'} {ref}"


def _role(name: str, model: str | None) -> tuple[str, str, str]:
    nm = naming(str(name), model)
    return nm.role, nm.label, nm.unit


def _posts(value: float, unit: str, children: float | None) -> float | None:
    if "per child" in unit:
        return None if not children else value * children
    return value


def lever_level(name: str, value: float, model: str | None = None,
                children: float | None = None) -> str:
    """One setting of a lever in words ("recording load 12% above the 2013-19 level")."""
    role, label, unit = _role(name, model)
    v = float(value)
    if role == "establishment":
        posts = _posts(v, unit, children)
        if posts is None:
            return f"{label.lower()}: {v:.3g} {unit}"
        per = f" ({v * 10_000:.0f} per 10,000 children)" if "per child" in unit else ""
        return f"about {_round(posts)} funded social worker posts{per}"
    if role == "compliance_burden":
        if "share" in unit:
            return f"{_pct(v)} of working time on recording and compliance"
        return _index(v, "recording load")
    if role == "referral_threshold":
        return _index(v, "threshold for accepting a referral", "its 2013-19 level")
    if role == "upstream_failure_demand":
        return (f"{v * 100:.0f} referrals caused by other services' failures for every 100 "
                "referrals from need")
    if role == "agency_cap":
        return f"agency social workers capped at {_pct(v)} of posts"
    if role == "retention_measures":
        return ("no retention package beyond 2013-19 practice" if v <= 0.005 else
                f"retention package at {_pct(v)} of full strength")
    if role == "redesign":
        return ("no systems redesign" if v <= 0.005 else
                f"systems redesign {_pct(v)} of the way to a full one")
    if role == "underlying_need":
        if "per child" in unit:
            return f"{v * 10_000:,.0f} first-time referrals from need a year per 10,000 children"
        return f"{label.lower()} {_num(v)} {unit}"
    return f"{label.lower()} {_num(v)}" + (f" {unit}" if unit and "not given" not in unit else "")


def lever_change(name: str, value: float, default: float, model: str | None = None,
                 children: float | None = None) -> str:
    """A lever moved from its default, in words ("about 1,200 fewer funded posts (-4%)")."""
    role, label, unit = _role(name, model)
    v, d = float(value), float(default)
    if abs(v - d) <= 1e-9 * max(1.0, abs(d)):
        return f"{label.lower()} unchanged"
    share = (v - d) / d if d else 0.0
    # a change under half a per cent would read "(-0%)": say it is under 1%
    rel = "" if not d else f" ({share:+.0%})" if abs(share) >= 0.005 else " (under 1%)"
    if role == "establishment":
        a, b = _posts(v, unit, children), _posts(d, unit, children)
        if a is None or b is None:
            return f"{abs(v - d) / d:.0%} {'more' if v > d else 'fewer'} funded posts per child"
        return (f"about {_round(a - b)} {'more' if v > d else 'fewer'} funded social worker "
                f"posts{rel}")
    if role in ("compliance_burden", "referral_threshold", "retention_measures", "redesign",
                "agency_cap", "upstream_failure_demand", "underlying_need"):
        return lever_level(name, v, model, children)
    return f"{label.lower()} from {_num(d)} to {_num(v)}{rel}"


def lever_range(name: str, lower: float, upper: float, model: str | None = None,
                children: float | None = None) -> str:
    """A range of a lever in words, when its role has a way to say it ("recording load from
    10% to 40% above the 2013-19 level"); "" otherwise."""
    role, _, unit = _role(name, model)
    lo, hi = float(lower), float(upper)
    if role == "compliance_burden" and "share" not in unit:
        if lo >= 1 and hi > 1:
            return f"recording load {_pct(lo - 1)} to {_pct(hi - 1)} above the 2013-19 level"
        if hi <= 1:
            return f"recording load {_pct(1 - hi)} to {_pct(1 - lo)} below the 2013-19 level"
        return (f"recording load from {_pct(1 - lo)} below to {_pct(hi - 1)} above the 2013-19 "
                "level")
    if role == "establishment":
        a, b = _posts(lo, unit, children), _posts(hi, unit, children)
        if a is not None and b is not None:
            return f"about {_round(a)} to {_round(b)} funded social worker posts"
    if role in ("retention_measures", "redesign", "agency_cap"):
        return f"{_pct(lo)} to {_pct(hi)} of " + {
            "retention_measures": "a full retention package",
            "redesign": "a full systems redesign",
            "agency_cap": "posts as the agency cap"}[role]
    if unit.endswith(" per child"):  # a rate per child reads better per 10,000 children
        return (f"{_num(lo * 1e4)} to {_num(hi * 1e4)} "
                f"{unit.removesuffix(' per child')} per 10,000 children")
    return ""
