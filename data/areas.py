"""Local authority reorganisations, and finding areas by code or name.

Areas are identified by their ONS code (`E09000014`), which changes when a boundary changes.
The loader never joins two codes into one series; `AREA_CHANGES` records which codes replaced
which and when, and whether the boundary moved (a split or merger) or only the code changed
(a county council becoming a unitary authority with the same area). DfE keeps its three-digit
LA number (`la_code`) across code-only changes and gives a new one after a boundary change.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from carespiral.errors import UnknownNameError

__all__ = ["AREA_CHANGES", "AreaChange", "find_areas"]


@dataclass(frozen=True)
class AreaChange:
    """One reorganisation: `old` codes stop and `new` codes start on `effective` (1 April)."""

    effective: pd.Timestamp
    kind: str  # "boundary change" or "code change"
    old: tuple[str, ...]
    new: tuple[str, ...]
    description: str

    @property
    def same_boundary(self) -> bool:
        return self.kind == "code change"


AREA_CHANGES: tuple[AreaChange, ...] = (
    AreaChange(
        pd.Timestamp("2013-04-01"), "code change", ("E06000048", "E08000020"),
        ("E06000057", "E08000037"),
        "A small boundary adjustment between Northumberland (929) and Gateshead (390) gave both "
        "new codes. The c4 file still used the old codes for 2013-2019; the loader recodes "
        "them to the new codes, which every other file uses for those years.",
    ),
    AreaChange(
        pd.Timestamp("2019-04-01"), "boundary change",
        ("E10000009", "E06000028", "E06000029"), ("E06000059", "E06000058"),
        "Dorset County (835), Bournemouth (837) and Poole (836) became Dorset (838) and "
        "Bournemouth, Christchurch and Poole (839); Christchurch moved from the county to BCP.",
    ),
    AreaChange(
        pd.Timestamp("2020-04-01"), "code change", ("E10000002",), ("E06000060",),
        "Buckinghamshire county became a unitary authority on the same boundary (LA 825 kept).",
    ),
    AreaChange(
        pd.Timestamp("2021-04-01"), "boundary change",
        ("E10000021",), ("E06000061", "E06000062"),
        "Northamptonshire (928) split into North (940) and West (941) Northamptonshire. One "
        "children's trust serves both, so the workforce census reports them together as "
        "'E06000061 / E06000062' (2021-2023).",
    ),
    AreaChange(
        pd.Timestamp("2023-04-01"), "boundary change",
        ("E10000006",), ("E06000063", "E06000064"),
        "Cumbria (909) split into Cumberland (942) and Westmorland and Furness (943).",
    ),
    AreaChange(
        pd.Timestamp("2023-04-01"), "code change", ("E10000023",), ("E06000065",),
        "North Yorkshire county became a unitary authority on the same boundary (LA 815 kept).",
    ),
    AreaChange(
        pd.Timestamp("2023-04-01"), "code change", ("E10000027",), ("E06000066",),
        "Somerset county became a unitary authority on the same boundary (LA 933 kept).",
    ),
)


def _norm(s: str) -> str:
    return " ".join(s.lower().replace(",", " ").replace("-", " ").split())


def find_areas(query: str, areas: pd.DataFrame) -> list[str]:
    """Area codes matching `query`: a code (ONS or DfE three-digit) or a name, ignoring case.

    `areas` has columns area_code, area_name, la_code. A name can match several codes (Dorset
    before and after 2019; North Northamptonshire alone and in the workforce census's joint
    row with West Northamptonshire); all are returned, in the order of `areas`. Raises UnknownNameError
    with suggestions when nothing matches.
    """
    q = _norm(query)
    codes = areas["area_code"].astype(str)
    hit = areas[(codes.str.lower() == q) | (areas["la_code"].astype(str) == q)]
    if hit.empty:
        names = areas["area_name"].astype(str).map(_norm)
        # a joint row ("North Northamptonshire / West Northamptonshire") matches either name
        parts = areas["area_name"].astype(str).str.split(" / ").map(lambda p: {_norm(x) for x in p})
        hit = areas[(names == q) | parts.map(lambda p: q in p)]
        if hit.empty:  # "haringey" for "Haringey", "herefordshire" for "Herefordshire, County of"
            starts = areas[names.str.startswith(q + " ") | names.str.endswith(" " + q)]
            if starts["area_name"].nunique() == 1:
                hit = starts
    if hit.empty:
        raise UnknownNameError(
            "area", query, list(areas["area_name"].astype(str).unique()),
            hint="Use an ONS code (E09000014), a DfE LA number (309) or a name; "
                 "`carespiral data list` lists the areas.",
        )
    return list(dict.fromkeys(hit["area_code"].astype(str)))
