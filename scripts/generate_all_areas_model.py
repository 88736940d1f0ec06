"""Write models/generated/collapse_spiral_all_areas.mdl: collapse_spiral with one element per
local authority (the authorities current in the project's area table), derived by
carespiral.pysd_runner.batch.all_areas. Run it again whenever models/collapse_spiral.mdl changes
(tests/batch/test_all_areas.py fails until it is up to date)."""

from __future__ import annotations

from pathlib import Path

from carespiral.data.loader import areas
from carespiral.pysd_runner.batch.all_areas import subscript_by_area

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "models" / "collapse_spiral.mdl"
TARGET = REPO / "models" / "generated" / "collapse_spiral_all_areas.mdl"


def authorities() -> list[str]:
    """Local authorities current in the area table (those reported in its latest year)."""
    table = areas()
    la = table[table["level"] == "la"]
    return sorted(la.loc[la["last_year"] == la["last_year"].max(), "area_name"])


def main() -> None:
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(subscript_by_area(SOURCE, authorities()), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO)}")


if __name__ == "__main__":
    main()
